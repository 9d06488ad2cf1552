"""Every read of patient data in pages, API, feeds, exports and PDFs writes an audit row.

The routes come from the URL patterns (a resolver walk, like the isolation test) and from the
OpenAPI document of the API root. Each route is either patient data, because it names a
patient-data object (`patient_id`, `session_id`, … see PATIENT_KWARGS) or is one of the
listed views of many patients (PATIENT_LISTS), or it is deliberately not patient data and
named in NOT_PATIENT_DATA with the reason. A route in none of them fails the test, so a new
route must be classified; a patient-data route that writes no audit row fails it too.

Each patient-data route is called with real demo data (the demo clinic, objects of one
patient) as the first role allowed to see it; POST-only pages are posted empty, and only a
write that went through must be audited (a refused form changed nothing). Writes through the
API are audited by the services they call (each service's own tests), as are POSTs with data.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db.models import Model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from anagen.accounts.models import Clinic, Membership, Role
from anagen.accounts.services import api_token_create
from anagen.api import api
from anagen.audit.chain import verify_all
from anagen.audit.models import AuditEvent

# A URL keyword or API path parameter that names patient data (or an object under a patient).
PATIENT_KWARGS = {
    "patient_id", "version", "screening_id", "consent_id", "plan_id", "appointment_id",
    "session_id", "delivery_id", "event_id", "batch_id", "set_id", "photo_id", "job_id",
    "file_id", "quote_id", "invoice_id", "line_id", "sale_id", "payment_id", "lot_id", "token",
    "code", "rid", "import_id", "export_id",
}  # fmt: skip

# Pages and API operations without such a keyword that show many patients' data.
PATIENT_LISTS = {
    "patients/",  # the patient list and search
    "patients/deleted/",  # deleted patients
    "calendar/",  # appointments with patients' names
    "outcomes/reports/",  # report batches: the patients each covers
    "analytics/export.csv",  # per-patient rows (de-identified), leaves the system
    "billing/",  # open invoices and balances by patient
    "billing/reports/",  # takings and revenue, CSV with patients' invoices
    "fhir/R4/<str:rtype>",  # FHIR search (Patient, Observation, …)
    "imports/patients/",  # patient imports: files and the people they held
    "scheduling/reminders/log/",  # reminders sent: to which patients, at which address
    # the worklist's sections in full (the home page shows their first rows), searchable
    "today/arrivals/",
    "today/waiting/",
    "today/in-progress/",
    "today/to-sign/",
    "today/assessments-to-sign/",
    "today/screenings/",
    "today/follow-ups/",
    "today/recalls/",
    # API creates: writes of patient data, audited by the services they call (each app's tests)
    "POST /api/v1/patients",
    "POST /api/v1/procedures/sessions",
    "POST /api/v1/scheduling/appointments",
    "POST /api/v1/scheduling/plans",
    "POST /api/v1/outcomes/reports",
    "GET /api/v1/outcomes/reports",  # report batches: the patients each covers
    "GET /api/v1/patients",  # search
    "GET /api/v1/scheduling/plans",
    "GET /api/v1/scheduling/appointments",
    "GET /api/v1/procedures/sessions",
    "GET /api/v1/billing/invoices",
}

# Routes that are deliberately not patient data (or are audited otherwise). Keep the reason.
NOT_PATIENT_DATA = {
    "": "the day's worklist (names and times of today's visits), open all day and polled; "
    "opening any patient from it is audited",
    "healthz": "health check",
    "today/worklist/": "the day's worklist, polled (see the home page)",
    "today/lots/": "lots expiring soon (stock, no patients)",
    "session/ping": "keeps the session alive",
    "calendar/closures/": "days the clinic is closed",
    "calendar/slot/": "a free slot of the calendar (its patient search is audited as a search)",
    "fhir/R4/metadata": "FHIR capability statement",
    "login/": "sign-in (audited as login success/failure)",
    "logout/": "sign-out",
    "clinic/switch/": "choosing the active clinic",
    "account/tokens/": "the user's own API tokens (creation and revocation are audited)",
    "staff/": "staff, not patients",
    "staff/<int:membership_id>/role/": "staff role change (audited by the service)",
    "staff/<int:membership_id>/active/": "staff (de)activation (audited by the service)",
    "staff/<int:membership_id>/two-factor-reset/": "staff two-factor reset (audited)",
    "staff/two-factor/": "the clinic's two-factor rule (audited)",
    "clinic/settings/": "the clinic's own settings and logo (changes audited)",
    "clinic/logo/": "the clinic's logo picture",
    "login/verify/": "the two-factor code step of sign-in (failures audited)",
    "account/": "the signed-in person's own account page",
    "account/two-factor/": "setting up two-factor sign-in (audited)",
    "account/recovery-codes/": "the person's recovery codes (replacing them is audited)",
    "account/password/": "password change (audited)",
    "password-reset/": "asking for a password reset link",
    "password-reset/sent/": "the same answer for every address",
    "password-reset/<uidb64>/<reset_key>/": "choosing a new password (audited)",
    "password-reset/done/": "password set",
    "audit/": "the audit trail itself (reading it is not a patient-data read)",
    "patients/new/": "an empty registration form (the creation is audited)",
    "care/salt/": "SALT calculator preview, no patient",
    "care/consent-texts/": "consent texts, no patient",
    "care/sheets/": "the list of sheets for patients (aftercare, what to expect), no patient",
    "care/aftercare/<slug:procedure>/": "an aftercare sheet per procedure, no patient",
    "care/aftercare/<slug:procedure>/pdf/": "an aftercare sheet per procedure (PDF, audited)",
    "care/what-to-expect/<slug:procedure>/": "a what-to-expect page per procedure, no patient",
    "care/what-to-expect/<slug:procedure>/pdf/": "a what-to-expect page (PDF, audited)",
    "care/consent-texts/<slug:kind>/publish/": "publishing a consent text (audited)",
    "calendar/feeds/": "practitioners' feed addresses (rotation is audited)",
    "scheduling/resources/": "rooms, devices and practitioners",
    "scheduling/resources/<int:resource_id>/": "a room's or practitioner's hours",
    "scheduling/reminders/": "reminder rules and their messages",
    "scheduling/reminders/preview/": "a message rendered for a made-up appointment",
    "analytics/operations/": "aggregate operational figures (no row per patient)",
    "inventory/": "stock of products and lots",
    "formulations/": "mesotherapy formulations",
    "analytics/": "aggregate statistics (no row per patient)",
    "analytics/chart.svg": "aggregate chart",
    "ratings/": "rating panels (names and counts)",
    "ratings/<int:panel_id>/": "the blinded rating page (its images are audited photo reads)",
    "ratings/<int:panel_id>/results/": "aggregate agreement statistics",
    "billing/prices/": "price list",
    "billing/settings/": "billing settings",
    "GET /api/v1/care/consent-templates": "consent texts, no patient",
    "POST /api/v1/scheduling/plans/preview": "a plan preview computed from dates, no patient",
    "GET /api/v1/procedures/lots": "stock of lots",
    "POST /api/v1/procedures/lots": "receiving a lot (audited by the service)",
    "GET /api/v1/outcomes/analytics": "aggregate statistics",
    "GET /api/v1/billing/prices": "price list",
    "GET /api/v1/audit/events": "the audit trail itself (as the audit page)",
    "GET /api/v1/procedures/formulations": "mesotherapy formulations",
    "GET /api/v1/procedures/products": "products in stock",
    "POST /api/v1/procedures/products": "adding a product (audited by the service)",
    "settings/retention/": "the clinic's retention periods",
    "POST /api/v1/billing/prices": "setting a price (audited by the service)",
    "GET /api/v1/billing/package-definitions": "packages on sale, no patient",
    "POST /api/v1/billing/package-definitions": "defining a package (audited by the service)",
    "POST /api/v1/billing/invoices": "drafting an invoice (audited by the service)",
    "POST /api/v1/billing/quotes": "quoting a plan (audited by the service)",
}

# Patient data whose audit is tested where its objects exist, not on the demo clinic: the
# asynchronous bulk exports (a kick-off, its status and its files need a finished export).
AUDITED_ELSEWHERE = {
    "fhir/R4/$export": "anagen/fhir/tests: the kick-off is audited by the export service",
    "fhir/R4/Patient/$export": "anagen/fhir/tests: the kick-off is audited by the export service",
    "fhir/R4/Group/<str:group_id>/$export": "anagen/fhir/tests: kick-off audited by the service",
    "fhir/R4/$export-status/<str:key>": "anagen/fhir/tests: progress of an export, no patient data",
    "fhir/R4/$export-file/<str:key>/<str:name>": "anagen/fhir/tests: each file download audited",
    # a patient's own export (right of access): needs a finished export job
    "exports/<int:export_id>/download/": "anagen/imports/tests: the download is audited",
    # a patient's record archive brought in (needs an archive file): audited by the import
    "imports/archive/": "anagen/imports/tests: the import is audited by patient_archive_import",
}

# Routes whose id keyword usually names patient data but here does not (said why).
NOT_PATIENT_DATA_DESPITE_ID = {
    "GET /api/v1/procedures/lots/{lot_id}": "a lot's stock, expiry and recall (no patients)",
}

ROLE_ORDER = [Role.PHYSICIAN, Role.NURSE, Role.FRONT_DESK, Role.CLINIC_ADMIN]


def _patterns(entries: list[Any] | None = None, prefix: str = "") -> Iterator[str]:
    for entry in entries if entries is not None else get_resolver().url_patterns:
        if isinstance(entry, URLResolver):
            if "api/v1" in str(entry.pattern):
                continue  # the API is walked through its OpenAPI document below
            yield from _patterns(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern)


@functools.cache
def _schema() -> dict[str, Any]:
    return api.get_openapi_schema(path_prefix="/api/v1")  # type: ignore[no-any-return]


def _api_operations() -> Iterator[tuple[str, str]]:
    for path, methods in _schema()["paths"].items():
        for method in methods:
            yield method.upper(), path


def _required_query(path: str) -> list[str]:
    """Required query parameters of a GET operation (e.g. the patient of a list)."""
    operation = _schema()["paths"][path]["get"]
    return [
        p["name"]
        for p in operation.get("parameters", [])
        if p["in"] == "query" and p.get("required")
    ]


def _kwargs_of(route: str) -> set[str]:
    return set(re.findall(r"<(?:\w+:)?(\w+)>", route)) | set(re.findall(r"\{(\w+)\}", route))


def _is_patient_data(key: str) -> bool:
    if key in NOT_PATIENT_DATA_DESPITE_ID:
        return False
    return (
        bool(_kwargs_of(key) & PATIENT_KWARGS) or key in PATIENT_LISTS or key in AUDITED_ELSEWHERE
    )


PAGES = sorted(set(_patterns()))
API_OPS = sorted(set(_api_operations()))
ALL_KEYS = PAGES + [f"{m} {p}" for m, p in API_OPS]
PATIENT_PAGES = [p for p in PAGES if _is_patient_data(p) and p not in AUDITED_ELSEWHERE]
PATIENT_API_OPS = [(m, p) for m, p in API_OPS if _is_patient_data(f"{m} {p}")]


def test_every_route_is_classified():
    unclassified = [
        k
        for k in ALL_KEYS
        if not _is_patient_data(k)
        and k not in NOT_PATIENT_DATA
        and k not in NOT_PATIENT_DATA_DESPITE_ID
    ]
    assert unclassified == [], (
        "classify these routes: patient data (add the keyword to PATIENT_KWARGS or the route "
        f"to PATIENT_LISTS) or NOT_PATIENT_DATA with the reason: {unclassified}"
    )
    both = [k for k in NOT_PATIENT_DATA if _is_patient_data(k)]
    assert both == [], f"listed as not patient data but names patient data: {both}"
    listed = set(NOT_PATIENT_DATA) | set(AUDITED_ELSEWHERE) | set(NOT_PATIENT_DATA_DESPITE_ID)
    stale = sorted(listed - set(ALL_KEYS))
    assert stale == [], f"routes that no longer exist: {stale}"


def test_the_walk_finds_the_routes_of_every_app():
    assert len(PATIENT_PAGES) > 40 and len(PATIENT_API_OPS) > 20
    routers = {p.split("/")[3] for _, p in PATIENT_API_OPS}
    assert {"patients", "care", "scheduling", "procedures", "outcomes", "billing"} <= routers


# --- real objects for every keyword -----------------------------------------------------------


class NoDemoObject(LookupError):
    pass


MISSING_ID = 999_999_999


def _rich_patient(clinic: Clinic) -> Any:
    """A demo patient with photos and measurements (and so a progress chart)."""
    from anagen.outcomes.models import MeasurementSet, PhotoSet
    from anagen.patients.models import Patient

    photographed = PhotoSet.objects.values("patient_id")
    measured = MeasurementSet.objects.values("patient_id")
    patient = (
        Patient.objects.filter(clinic=clinic, pk__in=photographed)
        .filter(pk__in=measured)
        .order_by("pk")
        .first()
    )
    assert patient is not None, "the demo clinic has no patient with photos and measurements"
    return patient


def _complete_the_demo(clinic: Clinic) -> None:
    """What the demo does not hold yet: an import preview, a rating panel, a report batch."""
    from anagen.accounts.access import Actor
    from anagen.outcomes import services as outcomes
    from anagen.outcomes.models import ImportBatch, PhotoSet, RatingPanel, ReportFile

    def actor(role: Role) -> Actor:
        membership = Membership.objects.filter(clinic=clinic, role=role, is_active=True).first()
        assert membership is not None
        return Actor(user=membership.user, membership=membership)

    patient = _rich_patient(clinic)
    with_photos = PhotoSet.objects.filter(patient=patient).order_by("pk").first()
    assert with_photos is not None
    if not ImportBatch.objects.filter(patient__clinic=clinic).exists():
        outcomes.import_preview(
            actor=actor(Role.NURSE),
            patient=patient,
            filename="device.csv",
            content=b"Site;Date;Density [n/cm2]\nVertex dot;2025-01-10;141,9\n",
            mapping=dict(outcomes.IMPORT_FIELDS),
        )
    if not RatingPanel.objects.filter(clinic=clinic).exists():
        doctor = actor(Role.PHYSICIAN)
        outcomes.rating_panel_create(
            actor=doctor, name="Coverage", view=with_photos.photos.first().view,  # type: ignore[union-attr]
            rater_ids=[doctor.user.pk], seed=1,
        )  # fmt: skip
    from anagen.imports.models import PatientImport
    from anagen.imports.services import patient_import_upload

    if not PatientImport.objects.filter(clinic=clinic).exists():
        patient_import_upload(
            actor=actor(Role.CLINIC_ADMIN),
            raw=b"given_name,family_name,birth_date\nAna,Lopes,1980-01-02\n",
        )
    if not ReportFile.objects.filter(patient__clinic=clinic).exists():
        from anagen.outcomes.tasks import generate_reports

        job = outcomes.report_job_start(actor=actor(Role.PHYSICIAN), patients=[patient])
        generate_reports.call(job.pk)  # what the task worker does


def _demo_objects(clinic: Clinic) -> dict[str, Callable[[str], dict[str, Any]]]:
    """For each keyword: given the route, the values of it and of the keywords it sits under."""
    from anagen.billing.models import Invoice, InvoiceLine, PackageSale, Payment, Quote
    from anagen.care.models import Assessment, Consent, ScreeningRecord
    from anagen.outcomes.models import ImportBatch, Photo, PhotoSet, RatingPair, ReportFile
    from anagen.patients.models import Intake
    from anagen.procedures.models import (
        AdverseEvent,
        LotUse,
        MesotherapyDelivery,
        TreatmentSession,
    )
    from anagen.scheduling.models import Appointment, TreatmentPlan
    from anagen.scheduling.services import feed_token_rotate

    def first(qs: Any) -> Model:
        obj = qs.order_by("-pk").first()
        if obj is None:
            raise NoDemoObject(f"the demo clinic has no {qs.model.__name__}")
        return obj

    def own(model: type[Model], **extra: Any) -> Model:
        return first(model.objects.filter(patient__clinic=clinic, **extra))  # type: ignore[attr-defined]

    def version(route: str) -> dict[str, Any]:
        obj: Any = own(Assessment) if "assessments" in route else own(Intake)
        return {"version": obj.version, "patient_id": obj.patient_id}

    def session_child(model: type[Model], key: str) -> Callable[[str], dict[str, Any]]:
        def values(route: str) -> dict[str, Any]:
            try:
                obj: Any = first(model.objects.filter(session__clinic=clinic))  # type: ignore[attr-defined]
            except NoDemoObject:
                # The demo holds none (a POST-only removal or follow-up): an id that names
                # nothing, under a real session, must be refused.
                return {key: MISSING_ID}
            return {key: obj.pk, "session_id": obj.session_id, "patient_id": obj.session.patient_id}

        return values

    def with_patient(model: type[Model], key: str, **extra: Any) -> Callable[[str], dict[str, Any]]:
        def values(route: str) -> dict[str, Any]:
            obj: Any = own(model, **extra)
            return {key: obj.pk, "patient_id": obj.patient_id}

        return values

    def photo(route: str) -> dict[str, Any]:
        obj: Any = first(Photo.objects.filter(photo_set__patient__clinic=clinic))
        return {
            "photo_id": obj.pk,
            "set_id": obj.photo_set_id,
            "patient_id": obj.photo_set.patient_id,
        }

    def report_file(route: str) -> dict[str, Any]:
        obj: Any = own(ReportFile)
        return {"file_id": obj.pk, "job_id": obj.job_id}

    def line(route: str) -> dict[str, Any]:
        obj: Any = first(InvoiceLine.objects.filter(invoice__patient__clinic=clinic))
        return {"line_id": obj.pk, "invoice_id": obj.invoice_id}

    def lot(route: str) -> dict[str, Any]:
        return {"lot_id": first(LotUse.objects.filter(session__clinic=clinic)).lot_id}  # type: ignore[attr-defined]

    def pair(route: str) -> dict[str, Any]:
        obj: Any = first(RatingPair.objects.filter(panel__clinic=clinic))
        return {"code": obj.code, "panel_id": obj.panel_id, "side": "left"}

    def token(route: str) -> dict[str, Any]:
        appt: Any = first(Appointment.objects.filter(clinic=clinic))
        membership = Membership.objects.get(pk=appt.practitioner.membership_id)
        from anagen.accounts.access import Actor

        raw = feed_token_rotate(
            actor=Actor(user=membership.user, membership=membership), resource=appt.practitioner
        )
        return {"token": raw}

    def patient_import(route: str) -> dict[str, Any]:
        from anagen.imports.models import PatientImport

        return {"import_id": first(PatientImport.objects.filter(clinic=clinic)).pk}  # type: ignore[attr-defined]

    return {
        # the most specific keyword first: it decides the keywords above it
        "delivery_id": session_child(MesotherapyDelivery, "delivery_id"),
        "event_id": session_child(AdverseEvent, "event_id"),
        "line_id": line,
        "file_id": report_file,
        "photo_id": photo,
        "code": pair,
        "batch_id": with_patient(ImportBatch, "batch_id"),
        "set_id": with_patient(PhotoSet, "set_id"),
        "version": version,
        "screening_id": with_patient(ScreeningRecord, "screening_id"),
        "consent_id": with_patient(Consent, "consent_id"),
        "session_id": with_patient(TreatmentSession, "session_id"),
        "plan_id": with_patient(TreatmentPlan, "plan_id"),
        "appointment_id": with_patient(Appointment, "appointment_id"),
        "quote_id": with_patient(Quote, "quote_id"),
        "invoice_id": with_patient(Invoice, "invoice_id"),
        "sale_id": with_patient(PackageSale, "sale_id"),
        "payment_id": with_patient(Payment, "payment_id"),
        "job_id": lambda route: {"job_id": own(ReportFile).job_id},  # type: ignore[attr-defined]
        "lot_id": lot,
        "token": token,
        "kind": lambda route: {"kind": own(Consent).kind},  # type: ignore[attr-defined]
        "rid": lambda route: {"rid": str(own(ScreeningRecord).patient_id), "rtype": "Patient"},  # type: ignore[attr-defined]
        "rtype": lambda route: {"rtype": "Patient"},
        "import_id": patient_import,
        # the patient with photos and measurements (the one _complete_the_demo used)
        "patient_id": lambda route: {"patient_id": _rich_patient(clinic).pk},
    }


def _fill(route: str, objects: dict[str, Callable[[str], dict[str, Any]]]) -> str:
    wanted = _kwargs_of(route)
    values: dict[str, Any] = {}
    for key, resolve in objects.items():
        if key in wanted and key not in values:
            for k, v in resolve(route).items():
                values.setdefault(k, v)
    missing = wanted - set(values)
    assert not missing, f"no demo value for {missing} in {route}: add it to _demo_objects"
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), route)
    path = re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), path)
    return path if path.startswith("/") else "/" + path


# --- the calls ------------------------------------------------------------------------------


def _clients(clinic: Clinic) -> list[tuple[Role, Client]]:
    clients = []
    for role in ROLE_ORDER:
        membership = Membership.objects.filter(clinic=clinic, role=role, is_active=True).first()
        if membership is not None:
            client = Client(raise_request_exception=False)
            client.force_login(membership.user)
            clients.append((role, client))
    return clients


def _audited(call: Callable[[], Any]) -> tuple[Any, list[AuditEvent]]:
    last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    response = call()
    return response, list(AuditEvent.objects.filter(id__gt=last).order_by("id"))


def _chart_series(url: str) -> str:
    from anagen.outcomes.selectors import series_for
    from anagen.patients.models import Patient

    patient = Patient.objects.get(pk=int(url.split("/")[2]))
    membership = Membership.objects.filter(clinic=patient.clinic, role=Role.PHYSICIAN).first()
    from anagen.accounts.access import Actor

    assert membership is not None
    actor = Actor(user=membership.user, membership=membership)
    return "?series=" + series_for(actor=actor, patient=patient)[0].key


# Pages that need a query string to show anything.
QUERY = {"patients/<int:patient_id>/outcomes/chart.svg": _chart_series}


def _check_page(
    route: str, objects: dict[str, Any], clients: list[tuple[Role, Client]], tokens: list[Any]
) -> str:
    try:
        url = _fill(route, objects)
    except NoDemoObject as exc:
        return f"{route}: {exc}"
    if route in QUERY:
        url += QUERY[route](url)
    if route.startswith("fhir/"):  # FHIR answers bearer tokens
        for role, raw in tokens:  # noqa: B007 - the role is reported below
            response, rows = _audited(
                functools.partial(Client().get, url, headers={"Authorization": f"Bearer {raw}"})
            )
            if response.status_code not in (401, 403):
                break
        return (
            ""
            if response.status_code == 200 and rows
            else (f"{url}: {response.status_code} as {role.label}, {len(rows)} rows")
        )
    if "<str:token>" in route:  # the iCalendar feed: the token is the only credential
        response, rows = _audited(functools.partial(Client().get, url))
        return (
            ""
            if response.status_code == 200 and rows
            else f"{url}: {response.status_code}, {len(rows)} rows"
        )
    post_only = False
    for role, client in clients:
        response, rows = _audited(functools.partial(client.get, url))
        if response.status_code == 405:  # POST-only: posted empty
            post_only = True
            response, rows = _audited(functools.partial(client.post, url))
            if response.status_code in (400, 403, 404, 405, 409, 422):
                continue  # refused: nothing was read or written
        if response.status_code in (401, 403):
            continue
        if response.status_code >= 400:
            return f"{url}: {response.status_code} as {role.label}"
        if not rows:
            return f"{url}: no audit row as {role.label} ({response.status_code})"
        return ""
    # Refusing an empty post changes nothing; a page no role may open is a broken fixture.
    return "" if post_only else f"{url}: refused to every role"


@pytest.mark.django_db
def test_every_patient_data_route_writes_an_audit_row(monkeypatch):
    from anagen.demo import seed_demo

    # Signed in with force_login: the second factor is not what this test is about.
    monkeypatch.setattr(
        "anagen.accounts.middleware.mfa_pending", lambda request: None, raising=False
    )
    seed_demo()
    clinic = Clinic.objects.get(slug="north")
    _complete_the_demo(clinic)
    objects = _demo_objects(clinic)
    clients = _clients(clinic)
    tokens = []
    for role in ROLE_ORDER:
        membership = Membership.objects.filter(clinic=clinic, role=role, is_active=True).first()
        if membership is not None:
            tokens.append((role, api_token_create(membership=membership, name="coverage")[1]))
    failures = []
    for route in PATIENT_PAGES:
        problem = _check_page(route, objects, clients, tokens)
        if problem:
            failures.append(problem)
    client = Client(raise_request_exception=False)
    api_reads = [(m, p) for m, p in PATIENT_API_OPS if m == "GET"]
    for _method, path in api_reads:
        try:
            url = _fill(path, objects)
            query = {n: _fill(f"{{{n}}}", objects).lstrip("/") for n in _required_query(path)}
        except NoDemoObject as exc:
            failures.append(f"GET {path}: {exc}")
            continue
        for role, raw in tokens:  # noqa: B007 - the role is reported below
            headers = {"Authorization": f"Bearer {raw}"}
            response, rows = _audited(functools.partial(client.get, url, query, headers=headers))
            if response.status_code != 403:
                break
        if str(MISSING_ID) in url and response.status_code == 404:
            continue  # the demo holds no such object: an id naming nothing is refused
        if response.status_code != 200 or not rows:
            failures.append(f"GET {url}: {response.status_code} as {role.label}, {len(rows)} rows")
    unexercised = []
    for key in [*PATIENT_PAGES, *(p for _, p in api_reads)]:
        try:
            if str(MISSING_ID) in _fill(key, objects):
                unexercised.append(key)
        except NoDemoObject:
            pass
    total = len(PATIENT_PAGES) + len(api_reads) - len(unexercised)
    covered = total - len(failures)
    print(
        f"audit coverage: {covered}/{total} patient-data routes write an audit row; "
        f"{len(unexercised)} more (no such object in the demo) refuse an unknown id: {unexercised}"
    )
    assert failures == [], f"{covered}/{total} audited; not audited:\n" + "\n".join(failures)
    # Every row written above (real pages' changes, lists, feeds) is sealed in an intact chain.
    assert [r for r in verify_all() if r.brk is not None] == []
