"""One patient's whole record as plain data (`record-data.json` in the archive), and back.

The FHIR Bundle (`record.json`) is the record other systems read; it is a clinical summary and
leaves out what only this software needs to rebuild the record exactly (the values as entered,
the workflow times of a session, screening inputs and results, consent snapshots, amendment
before/after states …). `record_dump` writes every row the patient owns, field by field, with
references between rows as archive-local keys (`procedures.TreatmentSession#2`: the second
session by creation) instead of database ids, so two dumps of the same record are identical in
any database. `record_restore` writes those rows back into a clinic.

Things the clinic owns but the record points to are matched by what names them in the target
clinic, or created when absent (documented in `REFERENCE_RULES`):
staff by user name (with the same name), practitioners/rooms/centrifuges by kind and name,
products by name, lots by product and lot number, mesotherapy formulations by name, consent
templates by kind and version. What is created is created switched off or unusable (staff cannot
sign in, resources cannot be booked, formulations cannot be chosen, lots hold no stock), so an
import never adds working accounts or stock to a clinic.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import models

from anagen.accounts.models import Clinic, Membership, User
from anagen.care.models import Assessment, Consent, ConsentTemplate, ScreeningRecord
from anagen.outcomes.models import (
    Measurement,
    MeasurementSet,
    MeasurementSite,
    OutcomeSummary,
    Photo,
    PhotoSet,
    ReportFile,
    ReportJob,
)
from anagen.patients.models import (
    Intake,
    IntakeAllergy,
    IntakeLab,
    IntakeMedication,
    IntakePriorProcedure,
    IntakePriorTreatment,
    Patient,
)
from anagen.procedures.models import (
    AdverseEvent,
    AdverseEventFollowUp,
    Amendment,
    DeliveryZone,
    FormulationIngredient,
    Lot,
    LotUse,
    MesotherapyDelivery,
    MesotherapyFormulation,
    Preparation,
    Product,
    TopicalApplication,
    TreatmentSession,
)
from anagen.scheduling.models import Appointment, Recall, Resource, ResourceBooking, TreatmentPlan

FORMAT = "anagen-record"
VERSION = 1
FILE_NAME = "record-data.json"

# Every patient-owned model the archive carries, in the order they are written back (a row only
# points to rows of models above it, or to earlier rows of its own model), and how it reaches
# the patient.
PARTS: tuple[tuple[type[models.Model], str], ...] = (
    (Patient, "pk"),
    (Intake, "patient"),
    (IntakeMedication, "intake__patient"),
    (IntakeAllergy, "intake__patient"),
    (IntakeLab, "intake__patient"),
    (IntakePriorProcedure, "intake__patient"),
    (IntakePriorTreatment, "intake__patient"),
    (Assessment, "patient"),
    (ScreeningRecord, "patient"),
    (Consent, "patient"),
    (TreatmentPlan, "patient"),
    (Appointment, "patient"),
    (ResourceBooking, "appointment__patient"),
    (Recall, "patient"),
    (TreatmentSession, "patient"),
    (Preparation, "session__patient"),
    (DeliveryZone, "session__patient"),
    (TopicalApplication, "session__patient"),
    (MesotherapyDelivery, "session__patient"),
    (LotUse, "session__patient"),
    (AdverseEvent, "patient"),
    (AdverseEventFollowUp, "event__patient"),
    (Amendment, "session__patient"),
    (MeasurementSite, "patient"),
    (MeasurementSet, "patient"),
    (Measurement, "measurement_set__patient"),
    (OutcomeSummary, "patient"),
    (PhotoSet, "patient"),
    (Photo, "photo_set__patient"),
    (ReportFile, "patient"),
)
PART_MODELS = {model for model, _ in PARTS}

# Fields left out of the dump, and why (the reasons are repeated in archive.NOT_CARRIED).
SKIPPED: dict[tuple[type[models.Model], str], str] = {
    (MeasurementSet, "import_batch"): "the uploaded spreadsheet a visit came from",
    (Photo, "thumbnail"): "made again from the photo on import",
}

# How each kind of clinic-owned thing the record points to is found (or made) in the target.
REFERENCE_RULES = {
    "staff": "a user with the same user name and name; else a new account that cannot sign in",
    "resources": "a practitioner, room or centrifuge of the same kind and name; else a new one, "
    "switched off (it cannot be booked until someone switches it on); a new practitioner is "
    "linked to the staff member through a membership of this clinic that is switched off too",
    "products": "a product with the same name; else a new one, switched off",
    "lots": "the lot with the same product and lot number; else a new one that holds no stock "
    "(its quantity is what this patient used)",
    "formulations": "a formulation with the same name; else a new one, switched off",
    "consent_templates": "the template with the same kind and version (this clinic's, then the "
    "standard one); else a new one, not in use, dated by its first signature (the signed text "
    "itself is the consent's snapshot, with its hash)",
    "report_jobs": "a finished report batch for this patient is made for each report",
}

Row = dict[str, Any]


def _label(model: type[models.Model]) -> str:
    return str(model._meta.label)


def _value(field: models.Field[Any, Any], value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _out(model: type[models.Model], name: str, value: Any) -> Any:
    return _value(model._meta.get_field(name), value)  # type: ignore[arg-type]


def _in(model: type[models.Model], name: str, value: Any) -> Any:
    return _python(model._meta.get_field(name), value)  # type: ignore[arg-type]


def _staff_row(user: User) -> Row:
    return {
        "username": user.get_username(),
        "first_name": user.first_name,
        "last_name": user.last_name,
    }


def _field_kind(field: models.Field[Any, Any]) -> str:
    """How a relation is written: `part`, `patient`, `clinic` or a reference kind."""
    target = field.related_model
    if target is Patient:
        return "patient"
    if target is Clinic:
        return "clinic"
    if target in PART_MODELS:
        return "part"
    kinds: dict[Any, str] = {
        User: "staff",
        Resource: "resources",
        Product: "products",
        Lot: "lots",
        MesotherapyFormulation: "formulations",
        ConsentTemplate: "consent_templates",
        ReportJob: "report_jobs",
    }
    return kinds.get(target, "")


def _fields(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    return [
        f
        for f in model._meta.concrete_fields
        if not f.primary_key and (model, f.name) not in SKIPPED
    ]


# --- dump -------------------------------------------------------------------------------------


def record_dump(patient: Patient) -> Row:
    """Every row the patient owns, with archive-local keys (see the module's docstring)."""
    rows_of: dict[type[models.Model], list[models.Model]] = {}
    keys: dict[tuple[str, int], str] = {}
    for model, path in PARTS:
        found = list(model._base_manager.filter(**{path: patient.pk}).order_by("pk"))
        rows_of[model] = found
        for n, row in enumerate(found, start=1):
            keys[(_label(model), row.pk)] = f"{_label(model)}#{n}"

    # Clinic-owned things the rows point to, gathered first so their keys follow a stable order.
    wanted: dict[str, set[int]] = {}
    for model, found in rows_of.items():
        for f in _fields(model):
            if not f.is_relation:
                continue
            kind = _field_kind(f)
            if kind in ("patient", "clinic", "part", ""):
                continue
            wanted.setdefault(kind, set()).update(
                pk for row in found if (pk := getattr(row, f.attname)) is not None
            )
    refs = _references(wanted)
    ref_keys = {
        kind: {pk: key for key, (pk, _) in entries.items()} for kind, entries in refs.items()
    }

    parts: dict[str, list[Row]] = {}
    for model, found in rows_of.items():
        out = []
        for row in found:
            data: Row = {"key": keys[(_label(model), row.pk)]}
            for f in _fields(model):
                kind = _field_kind(f) if f.is_relation else "value"
                raw = getattr(row, f.attname)
                if kind == "clinic":
                    continue
                if kind == "value":
                    data[f.name] = None if isinstance(f, models.FileField) else _value(f, raw)
                elif kind == "patient":
                    data[f.name] = None if raw is None else "patients.Patient#1"
                elif kind == "part":
                    target = f.related_model
                    assert target is not None
                    data[f.name] = None if raw is None else keys[(_label(target), raw)]
                elif kind:
                    data[f.name] = None if raw is None else ref_keys[kind][raw]
                else:  # a new relation nobody decided about: fail loudly, never drop it
                    raise RuntimeError(f"{_label(model)}.{f.name}: not carried and not skipped")
            out.append(data)
        parts[_label(model)] = out
    return {
        "format": FORMAT,
        "version": VERSION,
        "references": {
            kind: {key: data for key, (_, data) in entries.items()}
            for kind, entries in refs.items()
        },
        "parts": parts,
    }


def _references(wanted: dict[str, set[int]]) -> dict[str, dict[str, tuple[int, Row]]]:
    """kind → key → (pk here, what names and describes it). Staff last: the others name staff."""
    out: dict[str, dict[str, tuple[int, Row]]] = {}
    staff = set(wanted.get("staff", set()))

    def keyed(kind: str, items: list[tuple[int, Row]]) -> None:
        out[kind] = {f"{kind}#{n}": item for n, item in enumerate(items, start=1)}

    resources = list(
        Resource.objects.filter(pk__in=wanted.get("resources", set()))
        .select_related("membership")
        .order_by("kind", "name", "pk")
    )
    staff.update(r.membership.user_id for r in resources if r.membership is not None)
    lots = list(
        Lot.objects.filter(pk__in=wanted.get("lots", set()))
        .select_related("product")
        .order_by("product__name", "lot_number", "pk")
    )
    product_ids = set(wanted.get("products", set())) | {lot.product_id for lot in lots}
    products = Product.objects.filter(pk__in=product_ids).order_by("name", "pk")
    keyed(
        "products",
        [
            (p.pk, {"name": p.name, "category": p.category, "manufacturer": p.manufacturer})
            for p in products
        ],
    )
    product_key = {pk: key for key, (pk, _) in out["products"].items()}
    for lot in lots:
        if lot.recalled_by_id:
            staff.add(lot.recalled_by_id)
    formulations = (
        MesotherapyFormulation.objects.filter(pk__in=wanted.get("formulations", set()))
        .prefetch_related("ingredients")
        .order_by("name", "pk")
    )
    keyed(
        "formulations",
        [
            (
                f.pk,
                {
                    "name": f.name,
                    "vial": f.vial,
                    "indications": f.indications,
                    "notes": f.notes,
                    "ingredients": [
                        {
                            "name": i.name,
                            "code": i.code,
                            "unit": i.unit,
                            "concentration": _out(
                                FormulationIngredient, "concentration", i.concentration
                            ),
                        }
                        for i in sorted(f.ingredients.all(), key=lambda i: i.pk)
                    ],
                },
            )
            for f in formulations
        ],
    )
    templates = ConsentTemplate.objects.filter(pk__in=wanted.get("consent_templates", set()))
    templates_sorted = sorted(templates, key=lambda t: (t.kind, t.version, t.pk))
    jobs = ReportJob.objects.filter(pk__in=wanted.get("report_jobs", set())).order_by("pk")
    for job in jobs:
        staff.add(job.requested_by_id)
    users = sorted(User.objects.filter(pk__in=staff), key=lambda u: (u.get_username(), u.pk))
    keyed("staff", [(u.pk, _staff_row(u)) for u in users])
    staff_key = {pk: key for key, (pk, _) in out["staff"].items()}
    keyed(
        "resources",
        [
            (
                r.pk,
                {
                    "kind": r.kind,
                    "name": r.name,
                    "licensed_procedures": r.licensed_procedures,
                    "rotor_radius_cm": _out(Resource, "rotor_radius_cm", r.rotor_radius_cm),
                    # A practitioner is a staff member: who, and in which role.
                    "staff": staff_key[r.membership.user_id] if r.membership else None,
                    "role": r.membership.role if r.membership else None,
                },
            )
            for r in resources
        ],
    )
    keyed(
        "lots",
        [
            (
                lot.pk,
                {
                    "product": product_key[lot.product_id],
                    "lot_number": lot.lot_number,
                    "expires_on": _out(Lot, "expires_on", lot.expires_on),
                    "received_on": _out(Lot, "received_on", lot.received_on),
                    "recalled_at": _out(Lot, "recalled_at", lot.recalled_at),
                    "recalled_by": staff_key.get(lot.recalled_by_id or 0),
                    "recall_reason": lot.recall_reason,
                },
            )
            for lot in lots
        ],
    )
    keyed(
        "consent_templates",
        [
            (
                t.pk,
                {
                    "kind": t.kind,
                    "version": t.version,
                    "title": t.title,
                    "body": t.body,
                },
            )
            for t in templates_sorted
        ],
    )
    keyed(
        "report_jobs",
        [
            (
                job.pk,
                {
                    "requested_by": staff_key[job.requested_by_id],
                    "created_at": _out(ReportJob, "created_at", job.created_at),
                    "finished_at": _out(ReportJob, "finished_at", job.finished_at),
                },
            )
            for job in jobs
        ],
    )
    return out


# --- restore ----------------------------------------------------------------------------------


@dataclass
class Restored:
    patient: Patient
    counts: dict[str, int]
    created: dict[str, int]  # clinic-owned things made because the clinic had none


def _python(field: models.Field[Any, Any], value: Any) -> Any:
    if value is None:
        return None
    if isinstance(field, models.JSONField):
        return value
    return field.to_python(value)


def _match_staff(data: Row) -> User:
    user = User.objects.filter(
        username=data["username"], first_name=data["first_name"], last_name=data["last_name"]
    ).first()
    if user is not None:
        return user
    username = str(data["username"])
    n = 1
    while User.objects.filter(username=username).exists():
        n += 1
        username = f"{data['username']}-{n}"
    return User.objects.create(
        username=username,
        first_name=data["first_name"],
        last_name=data["last_name"],
        is_active=False,
        password=make_password(None),  # cannot sign in
    )


class _Restorer:
    def __init__(self, clinic: Clinic, data: Row, files: dict[str, bytes]) -> None:
        self.clinic = clinic
        self.data = data
        self.files = files  # sha256 → bytes of every file in the archive
        self.refs: dict[str, dict[str, Any]] = {}
        self.pks: dict[str, int] = {}
        self.created: dict[str, int] = {}

    def _made(self, kind: str) -> None:
        self.created[kind] = self.created.get(kind, 0) + 1

    def references(self, patient_uses: dict[str, int]) -> None:
        refs = self.data.get("references", {})
        staff: dict[str, Any] = {}
        for key, row in refs.get("staff", {}).items():
            before = User.objects.count()
            staff[key] = _match_staff(row)
            if User.objects.count() > before:
                self._made("staff")
        self.refs["staff"] = staff
        resources = {}
        for key, row in refs.get("resources", {}).items():
            found = Resource.objects.filter(
                clinic=self.clinic, kind=row["kind"], name=row["name"]
            ).first()
            if found is None:
                found = Resource.objects.create(
                    clinic=self.clinic,
                    kind=row["kind"],
                    name=row["name"],
                    is_active=False,
                    membership=self._membership(staff.get(row.get("staff") or ""), row),
                    licensed_procedures=row.get("licensed_procedures") or [],
                    rotor_radius_cm=_in(Resource, "rotor_radius_cm", row.get("rotor_radius_cm")),
                )
                self._made("resources")
            resources[key] = found
        self.refs["resources"] = resources
        products = {}
        for key, row in refs.get("products", {}).items():
            product = Product.objects.filter(clinic=self.clinic, name=row["name"]).first()
            if product is None:
                product = Product.objects.create(
                    clinic=self.clinic,
                    name=row["name"],
                    category=row["category"],
                    manufacturer=row["manufacturer"],
                    is_active=False,
                )
                self._made("products")
            products[key] = product
        self.refs["products"] = products
        lots = {}
        for key, row in refs.get("lots", {}).items():
            product = products[row["product"]]
            lot = Lot.objects.filter(product=product, lot_number=row["lot_number"]).first()
            if lot is None:
                used = patient_uses.get(key, 0)
                recalled_by = staff.get(row.get("recalled_by") or "")
                lot = Lot.objects.create(
                    product=product,
                    lot_number=row["lot_number"],
                    expires_on=dt.date.fromisoformat(row["expires_on"]),
                    received_on=dt.date.fromisoformat(row["received_on"]),
                    quantity=used,
                    used=used,
                    recalled_at=_in(Lot, "recalled_at", row.get("recalled_at")),
                    recalled_by=recalled_by,
                    recall_reason=row.get("recall_reason", ""),
                )
                self._made("lots")
            lots[key] = lot
        self.refs["lots"] = lots
        formulations = {}
        for key, row in refs.get("formulations", {}).items():
            formulation = MesotherapyFormulation.objects.filter(
                clinic=self.clinic, name=row["name"]
            ).first()
            if formulation is None:
                formulation = MesotherapyFormulation.objects.create(
                    clinic=self.clinic,
                    name=row["name"],
                    vial=row["vial"],
                    indications=row["indications"],
                    notes=row["notes"],
                    is_active=False,
                )
                for ing in row.get("ingredients", []):
                    FormulationIngredient.objects.create(
                        formulation=formulation,
                        name=ing["name"],
                        code=ing["code"],
                        unit=ing["unit"],
                        concentration=_in(
                            FormulationIngredient, "concentration", ing["concentration"]
                        ),
                    )
                self._made("formulations")
            formulations[key] = formulation
        self.refs["formulations"] = formulations
        templates = {}
        for key, row in refs.get("consent_templates", {}).items():
            template = (
                ConsentTemplate.objects.filter(
                    clinic=self.clinic, kind=row["kind"], version=row["version"]
                ).first()
                or ConsentTemplate.objects.filter(
                    clinic=None, kind=row["kind"], version=row["version"]
                ).first()
            )
            if template is None:
                template = ConsentTemplate.objects.create(
                    clinic=self.clinic,
                    kind=row["kind"],
                    version=row["version"],
                    title=row["title"],
                    body=row["body"],
                    is_active=False,
                    published_at=self._first_signed(key),
                )
                self._made("consent_templates")
            templates[key] = template
        self.refs["consent_templates"] = templates
        self.refs["report_jobs"] = {
            key: row for key, row in refs.get("report_jobs", {}).items()
        }  # made with the reports (they name the new patient)

    def _first_signed(self, template_key: str) -> dt.datetime:
        """When a template made here was published: no later than its first signature (the
        archive names the text, not when the old clinic published it)."""
        stamps = [
            _in(Consent, "signed_at", c["signed_at"])
            for c in self.data.get("parts", {}).get(_label(Consent), [])
            if c.get("template") == template_key
        ]
        return min(stamps) if stamps else dt.datetime.now(dt.UTC)

    def _membership(self, user: User | None, row: Row) -> Membership | None:
        """A practitioner's membership here: theirs if they have one, else a switched-off one
        (it grants nothing until an administrator switches it on)."""
        if user is None:
            return None
        found = Membership.objects.filter(user=user, clinic=self.clinic).first()
        if found is None:
            found = Membership.objects.create(
                user=user, clinic=self.clinic, role=row.get("role") or "", is_active=False
            )
            self._made("memberships")
        return found

    def _report_job(self, key: str, patient: Patient) -> ReportJob:
        row = self.refs["report_jobs"][key]
        if isinstance(row, ReportJob):
            return row
        job = ReportJob.objects.create(
            clinic=self.clinic,
            requested_by=self.refs["staff"][row["requested_by"]],
            patient_ids=[patient.pk],
            status="done",
            total=1,
            done_count=1,
        )
        ReportJob.objects.filter(pk=job.pk).update(
            created_at=_in(ReportJob, "created_at", row["created_at"]),
            finished_at=_in(ReportJob, "finished_at", row.get("finished_at")),
        )
        self.refs["report_jobs"][key] = job
        return job

    def rows(self, patient_hook: Callable[[Patient], None]) -> Restored:
        parts = self.data.get("parts", {})
        counts: dict[str, int] = {}
        patient: Patient | None = None
        for model, _path in PARTS:
            rows = parts.get(_label(model), [])
            counts[_label(model)] = len(rows)
            fields = _fields(model)
            stamps = [
                f
                for f in fields
                if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
            ]
            deferred: list[tuple[int, dict[str, Any]]] = []
            for row in rows:
                kw: dict[str, Any] = {}
                later: dict[str, Any] = {}
                for f in fields:
                    if f.name not in row and not f.is_relation:
                        continue
                    value = row.get(f.name)
                    if isinstance(f, models.FileField):
                        continue
                    if not f.is_relation:
                        kw[f.attname] = _python(f, value)
                        continue
                    kind = _field_kind(f)
                    if kind == "clinic":
                        kw[f.attname] = self.clinic.pk
                    elif value is None:
                        kw[f.attname] = None
                    elif kind in ("patient", "part"):
                        if value not in self.pks:
                            if f.related_model is model:
                                later[f.attname] = value
                                continue
                            raise ValidationError(
                                f"The archive's record refers to a missing row ({value})."
                            )
                        kw[f.attname] = self.pks[value]
                    elif kind == "report_jobs":
                        assert patient is not None
                        kw[f.attname] = self._report_job(value, patient).pk
                    elif kind:
                        kw[f.attname] = self.refs[kind][value].pk
                obj = model(**kw)
                if model is Patient:
                    patient_hook(obj)  # type: ignore[arg-type]
                if isinstance(obj, Photo):
                    self._attach_photo(obj)
                if isinstance(obj, ReportFile):
                    self._attach_report(obj)
                obj.save()
                self.pks[row["key"]] = obj.pk
                if model is Patient:
                    patient = obj  # type: ignore[assignment]
                if stamps:
                    model._base_manager.filter(pk=obj.pk).update(
                        **{f.attname: _python(f, row.get(f.name)) for f in stamps}
                    )
                if later:
                    deferred.append((obj.pk, later))
            for pk, later in deferred:
                model._base_manager.filter(pk=pk).update(
                    **{name: self.pks[value] for name, value in later.items()}
                )
        if patient is None:
            raise ValidationError("The archive's record has no patient.")
        # Derived, not carried: the latest measurement date the home page's follow-ups read.
        from anagen.outcomes.services.last_measured import last_measurements_refresh

        last_measurements_refresh(patient_ids=[patient.pk])
        patient.refresh_from_db()
        return Restored(patient=patient, counts=counts, created=self.created)

    def _content(self, sha256: str, what: str) -> bytes:
        content = self.files.get(sha256)
        if content is None:
            raise ValidationError(f"The archive lacks the file of a {what}.")
        return content

    def _attach_photo(self, photo: Photo) -> None:
        from anagen.outcomes import imaging

        content = self._content(photo.sha256, "photo")
        name = secrets.token_hex(16)
        photo.file.save(f"{name}.jpg", ContentFile(content), save=False)
        photo.thumbnail.save(
            f"{name}.jpg", ContentFile(imaging.decode(content).thumbnail), save=False
        )

    def _attach_report(self, report: ReportFile) -> None:
        content = self._content(report.sha256, "report")
        report.file.save(f"{secrets.token_hex(16)}.pdf", ContentFile(content), save=False)


RECORD_NUMBER = re.compile(r"^(?P<prefix>.*?)(?P<seq>\d+)$")


def record_restore(*, clinic: Clinic, data: Row, files: dict[str, bytes]) -> Restored:
    """Write the dump back into `clinic` (the caller holds the transaction and checks rights)."""
    if data.get("format") != FORMAT or data.get("version") != VERSION:
        raise ValidationError("The archive's record data is of a kind this version cannot read.")
    patient_rows = data.get("parts", {}).get(_label(Patient), [])
    if len(patient_rows) != 1:
        raise ValidationError("The archive must hold exactly one patient.")
    uses: dict[str, int] = {}
    for use in data["parts"].get(_label(LotUse), []):
        uses[use["lot"]] = uses.get(use["lot"], 0) + int(use["quantity"])
    restorer = _Restorer(clinic, data, files)
    restorer.references(uses)

    def keep_number(patient: Patient) -> None:
        from anagen.patients.services import _next_record_number

        taken = Patient.all_objects.filter(clinic=clinic, record_number=patient.record_number)
        if not patient.record_number or taken.exists():
            patient.record_number = _next_record_number(clinic)
            return
        match = RECORD_NUMBER.match(patient.record_number)
        if match and match["prefix"] == clinic.record_prefix:
            # New numbers must not run into the one kept here.
            Clinic.objects.filter(pk=clinic.pk, record_seq__lt=int(match["seq"])).update(
                record_seq=int(match["seq"])
            )

    return restorer.rows(keep_number)


def record_export_data(patient: Patient) -> Row:
    """The dump plus where it comes from (`export`: not part of the record; the importer uses
    it to recognise an archive it has already imported, and to create the clinic if asked)."""
    from django.conf import settings
    from django.utils import timezone

    clinic = patient.clinic
    out = record_dump(patient)
    out["export"] = {
        "site": getattr(settings, "SITE_URL", ""),
        "clinic": clinic.slug,
        "patient": patient.pk,
        "at": timezone.now().astimezone(dt.UTC).isoformat(),
        "clinic_details": {
            "name": clinic.name,
            "organisation": clinic.organisation.name,
            "organisation_slug": clinic.organisation.slug,
            "record_prefix": clinic.record_prefix,
            "timezone": clinic.timezone,
            "currency": clinic.currency,
            "default_phone_region": clinic.default_phone_region,
            "holiday_country": clinic.holiday_country,
            "holiday_region": clinic.holiday_region,
        },
    }
    return out
