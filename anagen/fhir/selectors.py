"""What each FHIR resource type is made of, and how it is searched.

Every row comes from the owning app's selectors (scoped to the actor's clinic and its live
patients); this module only narrows them (patient, date, _since), orders and pages them. A type
may be made of several kinds of rows (Observation: labs, scales, visit measures, site measures);
their logical ids carry a prefix (``lab-12``), single-source types use the row's primary key.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404

from anagen.accounts.access import Actor, patient_for, patients_for, record_id
from anagen.fhir import build
from anagen.fhir.models import BulkExport, ExportStatus

# --- the row sources of each type -------------------------------------------------------------


def _patients(actor: Actor) -> QuerySet[Any]:
    return patients_for(actor).select_related("clinic")


def _assessments(actor: Actor) -> QuerySet[Any]:
    from anagen.care.selectors import assessments_for

    return assessments_for(actor)


def _scaled_assessments(actor: Actor) -> QuerySet[Any]:
    return _assessments(actor).exclude(scale_id="")


def _signed_assessments(actor: Actor) -> QuerySet[Any]:
    return _assessments(actor).filter(signed_at__isnull=False)


def _intake(kind: str) -> Callable[[Actor], QuerySet[Any]]:
    def rows(actor: Actor) -> QuerySet[Any]:
        from anagen.patients.selectors import intake_rows_for

        return intake_rows_for(actor, kind)

    return rows


def _measurement_sets(actor: Actor) -> QuerySet[Any]:
    from anagen.outcomes.selectors.measurements import measurement_sets_for

    return measurement_sets_for(actor)


def _measurements(actor: Actor) -> QuerySet[Any]:
    from anagen.outcomes.selectors.measurements import measurements_for

    return measurements_for(actor)


def _sessions(actor: Actor) -> QuerySet[Any]:
    from anagen.procedures.selectors import sessions_for

    return (
        sessions_for(actor)
        .select_related("patient", "started_by", "signed_by", "appointment")
        .prefetch_related("zones", "lot_uses__lot__product")
    )


def _signed_sessions(actor: Actor) -> QuerySet[Any]:
    from anagen.procedures.selectors import sessions_for

    return (
        sessions_for(actor)
        .filter(signed_at__isnull=False)
        .select_related("patient", "signed_by", "preparation")
    )


def _preparations(actor: Actor) -> QuerySet[Any]:
    from anagen.procedures.selectors import preparations_for

    return preparations_for(actor)


def _consents(actor: Actor) -> QuerySet[Any]:
    from anagen.care.selectors import consents_for

    return consents_for(actor).select_related("patient__clinic")


def _plans(actor: Actor) -> QuerySet[Any]:
    from anagen.scheduling.selectors import plans_for

    return plans_for(actor).prefetch_related("appointments")


def _appointments(actor: Actor) -> QuerySet[Any]:
    from anagen.scheduling.selectors import appointments_for

    return appointments_for(actor)


def _adverse_events(actor: Actor) -> QuerySet[Any]:
    from anagen.procedures.selectors import adverse_events_for

    return adverse_events_for(actor)


def _photos(actor: Actor) -> QuerySet[Any]:
    """Photos only of patients whose consent to clinical photos covers today."""
    from anagen.care.selectors import patient_ids_with_valid_consent
    from anagen.outcomes.selectors.photos import photos_for

    allowed = patient_ids_with_valid_consent(actor, "photo_clinical")
    return photos_for(actor).filter(photo_set__patient_id__in=allowed)


def _reports(actor: Actor) -> QuerySet[Any]:
    from anagen.outcomes.selectors.reports import report_files_for

    return report_files_for(actor)


@dataclass(frozen=True)
class Source:
    prefix: str  # "" = ids are the plain primary key
    rows: Callable[[Actor], QuerySet[Any]]
    build: Callable[[Any, build.Ctx], build.Json]
    patient: str  # attribute path from the row to its Patient ("" = the row is the patient)
    date: str  # lookup the `date` (or `birthdate`) parameter compares
    date_is_instant: bool
    since: tuple[str, ...]  # lookups compared with _since (any of them)

    @property
    def patient_lookup(self) -> str:
        return f"{self.patient.replace('.', '__')}_id" if self.patient else "pk"

    def patient_of(self, row: Any) -> Any:
        return attrgetter(self.patient)(row) if self.patient else row

    def logical_id(self, pk: int) -> str:
        return f"{self.prefix}-{pk}" if self.prefix else str(pk)


S = Source
RESOURCES: dict[str, tuple[Source, ...]] = {
    "Patient": (S("", _patients, build.patient, "", "birth_date", False, ("updated_at",)),),
    "Condition": (
        S("", _assessments, build.condition, "patient", "visit_on", False, ("updated_at",)),
    ),
    "Observation": (
        S(
            "lab",
            _intake("labs"),
            build.obs_lab,
            "intake.patient",
            "taken_on",
            False,
            ("intake__recorded_at",),
        ),
        S(
            "scale",
            _scaled_assessments,
            build.obs_scale,
            "patient",
            "visit_on",
            False,
            ("updated_at",),
        ),
        S(
            "visit",
            _measurement_sets,
            build.obs_visit,
            "patient",
            "measured_on",
            False,
            ("recorded_at",),
        ),
        S(
            "site",
            _measurements,
            build.obs_site,
            "measurement_set.patient",
            "measurement_set__measured_on",
            False,
            ("measurement_set__recorded_at",),
        ),
    ),
    "MedicationStatement": (
        S(
            "",
            _intake("medications"),
            build.medication_statement,
            "intake.patient",
            "intake__recorded_at",
            True,
            ("intake__recorded_at",),
        ),
    ),
    "AllergyIntolerance": (
        S(
            "",
            _intake("allergies"),
            build.allergy,
            "intake.patient",
            "intake__recorded_at",
            True,
            ("intake__recorded_at",),
        ),
    ),
    "Procedure": (
        S("", _sessions, build.procedure, "patient", "started_at", True, ("updated_at",)),
    ),
    "BiologicallyDerivedProduct": (
        S(
            "",
            _preparations,
            build.bdp,
            "session.patient",
            "session__started_at",
            True,
            ("updated_at",),
        ),
    ),
    "Consent": (
        S(
            "",
            _consents,
            build.consent,
            "patient",
            "signed_at",
            True,
            ("signed_at", "withdrawn_at"),
        ),
    ),
    "CarePlan": (S("", _plans, build.careplan, "patient", "start_on", False, ("created_at",)),),
    "Appointment": (
        S("", _appointments, build.appointment, "patient", "starts_at", True, ("updated_at",)),
    ),
    "AdverseEvent": (
        S("", _adverse_events, build.adverse_event, "patient", "onset_at", True, ("recorded_at",)),
    ),
    "DocumentReference": (
        S(
            "photo",
            _photos,
            build.docref_photo,
            "photo_set.patient",
            "uploaded_at",
            True,
            ("uploaded_at",),
        ),
        S("report", _reports, build.docref_report, "patient", "created_at", True, ("created_at",)),
    ),
    "Provenance": (
        S(
            "assessment",
            _signed_assessments,
            build.prov_assessment,
            "patient",
            "signed_at",
            True,
            ("signed_at",),
        ),
        S(
            "session",
            _signed_sessions,
            build.prov_session,
            "patient",
            "signed_at",
            True,
            ("signed_at",),
        ),
        S("consent", _consents, build.prov_consent, "patient", "signed_at", True, ("signed_at",)),
    ),
}
del S

# name → (type, what it compares), per resource type: what metadata lists and search accepts.
SEARCH_PARAMS: dict[str, dict[str, tuple[str, str]]] = {
    rtype: (
        {
            "_id": ("token", "The logical id."),
            "birthdate": ("date", "Birth date; prefixes eq, ge, gt, le, lt."),
        }
        if rtype == "Patient"
        else {
            "patient": ("reference", "The patient: Patient/<id> or <id>."),
            "date": (
                "date",
                "The record's clinical date or instant; prefixes eq, ge, gt, le, lt.",
            ),
        }
    )
    for rtype in RESOURCES
}
RESULT_PARAMS = ("_count", "_offset")
DEFAULT_COUNT, MAX_COUNT, MAX_OFFSET = 50, 200, 10_000_000


class SearchError(ValueError):
    """A search or export parameter we cannot honour (a 400 OperationOutcome)."""


# --- dates ------------------------------------------------------------------------------------

_DATE = re.compile(r"^(?P<prefix>eq|ne|gt|lt|ge|le|sa|eb|ap)?(?P<value>\d{4}(-\d{2}(-\d{2})?)?)$")
_INSTANT = re.compile(
    r"^(?P<prefix>eq|ne|gt|lt|ge|le|sa|eb|ap)?"
    r"(?P<value>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))$"
)
SUPPORTED_PREFIXES = ("eq", "ge", "gt", "le", "lt")


def _date_span(text: str) -> tuple[dt.date, dt.date]:
    parts = [int(p) for p in text.split("-")]
    if len(parts) == 1:
        return dt.date(parts[0], 1, 1), dt.date(parts[0] + 1, 1, 1)
    if len(parts) == 2:
        start = dt.date(parts[0], parts[1], 1)
        nxt = dt.date(parts[0] + (parts[1] == 12), parts[1] % 12 + 1, 1)
        return start, nxt
    start = dt.date(parts[0], parts[1], parts[2])
    return start, start + dt.timedelta(days=1)


def parse_instant(text: str) -> dt.datetime:
    """A FHIR instant (with its zone), or SearchError."""
    match = _INSTANT.match(text.replace(" ", "+"))
    if not match or match.group("prefix"):
        raise SearchError(f"{text!r} is not an instant such as 2026-11-30T09:00:00Z.")
    try:
        return dt.datetime.fromisoformat(match.group("value").replace("Z", "+00:00"))
    except ValueError:
        raise SearchError(f"{text!r} is not a valid instant.") from None


def date_filter(source: Source, raw: str, tz: dt.tzinfo) -> Q:
    """One `date=` value as a filter on the source's date lookup (clinic-local days)."""
    field = source.date
    text = raw.replace(" ", "+")  # a '+' in a query string arrives as a space
    m_date, m_instant = _DATE.match(text), _INSTANT.match(text)
    match = m_date or m_instant
    if match is None:
        raise SearchError(f"date={raw!r}: use YYYY, YYYY-MM, YYYY-MM-DD or a full instant.")
    prefix = match.group("prefix") or "eq"
    if prefix not in SUPPORTED_PREFIXES:
        raise SearchError(f"date prefix {prefix!r} is not supported (use eq, ge, gt, le, lt).")
    if m_instant:
        moment = parse_instant(match.group("value"))
        if source.date_is_instant:
            op = {"eq": "exact", "ge": "gte", "gt": "gt", "le": "lte", "lt": "lt"}[prefix]
            return Q(**{f"{field}__{op}": moment})
        local = moment.astimezone(tz).date()
        start, end = local, local + dt.timedelta(days=1)
    else:
        try:
            start, end = _date_span(match.group("value"))
        except ValueError:
            raise SearchError(f"date={raw!r} is not a calendar date.") from None
    lo: dt.date | dt.datetime = start
    hi: dt.date | dt.datetime = end
    if source.date_is_instant:
        lo = dt.datetime.combine(start, dt.time(), tzinfo=tz)
        hi = dt.datetime.combine(end, dt.time(), tzinfo=tz)
    if prefix == "ge":
        return Q(**{f"{field}__gte": lo})
    if prefix == "gt":
        return Q(**{f"{field}__gte": hi})
    if prefix == "le":
        return Q(**{f"{field}__lt": hi})
    if prefix == "lt":
        return Q(**{f"{field}__lt": lo})
    return Q(**{f"{field}__gte": lo, f"{field}__lt": hi})


# --- search -----------------------------------------------------------------------------------


@dataclass
class Query:
    patient_id: int | None = None
    no_match: bool = False  # a patient outside the clinic: an empty result, not an error
    dates: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    since: dt.datetime | None = None
    count: int = DEFAULT_COUNT
    offset: int = 0


def _int_param(name: str, raw: str, low: int, high: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise SearchError(f"{name} must be a whole number.") from None
    if not low <= value <= high:
        raise SearchError(f"{name} must be between {low} and {high}.")
    return value


def parse_query(actor: Actor, rtype: str, params: Any) -> Query:
    """The search parameters of a request (a QueryDict) for ``rtype``, or SearchError."""
    allowed = SEARCH_PARAMS[rtype]
    query = Query()
    for name in params:
        values = params.getlist(name)
        if name == "_count":
            query.count = _int_param("_count", values[-1], 0, MAX_COUNT)
        elif name == "_offset":
            query.offset = _int_param("_offset", values[-1], 0, MAX_OFFSET)
        elif name not in allowed:
            known = ", ".join([*allowed, *RESULT_PARAMS])
            raise SearchError(f"Unknown search parameter {name!r} for {rtype} (known: {known}).")
        elif name in ("date", "birthdate"):
            query.dates += tuple(values)
        elif name == "_id":
            query.ids += tuple(v for raw in values for v in raw.split(",") if v)
        elif name == "patient":
            raw = values[-1]
            pid = raw.removeprefix("Patient/")
            try:
                query.patient_id = patient_for(actor, pid).pk
            except Http404:
                query.no_match = True
    return query


def _narrow(actor: Actor, source: Source, query: Query) -> QuerySet[Any]:
    qs = source.rows(actor)
    if query.no_match:
        return qs.none()
    if query.patient_id is not None:
        qs = qs.filter(**{source.patient_lookup: query.patient_id})
    for raw in query.dates:
        qs = qs.filter(date_filter(source, raw, actor.tz))
    if query.ids:
        pks = []
        for rid in query.ids:
            prefix, _, number = rid.rpartition("-")
            if prefix == source.prefix and number.isdigit() and 0 < int(number) < 2**63:
                pks.append(int(number))
        qs = qs.filter(pk__in=pks)
    if query.since is not None:
        cond = Q()
        for lookup in source.since:
            cond |= Q(**{f"{lookup}__gt": query.since})
        qs = qs.filter(cond)
    return qs.order_by("pk")


@dataclass
class Page:
    total: int
    rows: list[tuple[Source, Any]]


def search(actor: Actor, rtype: str, query: Query) -> Page:
    """One page of ``rtype`` rows matching ``query``, across the type's sources in order."""
    querysets = [(source, _narrow(actor, source, query)) for source in RESOURCES[rtype]]
    counts = [qs.count() for _, qs in querysets]
    rows: list[tuple[Source, Any]] = []
    skip, room = query.offset, query.count
    for (source, qs), n in zip(querysets, counts, strict=True):
        if room <= 0:
            break
        if skip >= n:
            skip -= n
            continue
        chunk = list(qs[skip : skip + room])
        rows += [(source, row) for row in chunk]
        room -= len(chunk)
        skip = 0
    return Page(total=sum(counts), rows=rows)


def read(actor: Actor, rtype: str, rid: str) -> tuple[Source, Any]:
    """The row behind ``rtype/rid`` in the actor's clinic, or Http404."""
    sources = RESOURCES.get(rtype)
    if sources is None:
        raise Http404("Unknown resource type.")
    prefix, _, number = rid.rpartition("-")
    for source in sources:
        if source.prefix == prefix:
            row = source.rows(actor).filter(pk=record_id(number)).first()
            if row is not None:
                return source, row
    raise Http404(f"No {rtype} with id {rid} in this clinic.")


def rows_for_export(
    actor: Actor,
    rtype: str,
    since: dt.datetime | None,
    patient_ids: list[int] | None = None,
) -> Iterator[tuple[Source, Any]]:
    """Every row of ``rtype`` in the clinic (changed after ``since``; of ``patient_ids`` only
    when given), streamed in chunks."""
    query = Query(since=since)
    for source in RESOURCES[rtype]:
        qs = _narrow(actor, source, query)
        if patient_ids:
            qs = qs.filter(**{f"{source.patient_lookup}__in": patient_ids})
        for row in qs.iterator(chunk_size=500):
            yield source, row


def export_patient_ids(actor: Actor, references: list[str]) -> list[int]:
    """The patients an export's `patient` parameter names (`Patient/<id>`), or SearchError
    naming the references that are no patient of the caller's clinic."""
    found: set[int] = set()
    unknown: list[str] = []
    for reference in references:
        kind, _, pid = reference.partition("/")
        try:
            if kind != "Patient" or not pid:
                raise Http404
            found.add(patient_for(actor, pid).pk)
        except Http404:
            unknown.append(reference)
    if unknown:
        raise SearchError(f"Not a patient of this clinic: {', '.join(unknown)}.")
    return sorted(found)


# --- bulk exports ------------------------------------------------------------------------------


def export_for(actor: Actor, key: object) -> BulkExport:
    """The export with this key that the caller asked for (anyone else's, in this clinic or
    another, is a 404)."""
    import uuid

    try:
        parsed = uuid.UUID(str(key))
    except ValueError:
        raise Http404("No such export.") from None
    job = BulkExport.objects.filter(
        key=parsed, clinic=actor.clinic, requested_by=actor.user
    ).first()
    if job is None:
        raise Http404("No such export.")
    return job


def export_get(export_id: int) -> BulkExport:
    return BulkExport.objects.select_related("clinic", "requested_by").get(pk=export_id)


def exports_expired(now: dt.datetime) -> QuerySet[BulkExport]:
    """Finished exports whose files are due for deletion."""
    return BulkExport.objects.filter(status=ExportStatus.DONE, expires_at__lte=now)


def export_status(export_id: int) -> str:
    return str(BulkExport.objects.filter(pk=export_id).values_list("status", flat=True).first())
