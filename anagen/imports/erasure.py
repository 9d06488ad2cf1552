"""Erasure (GDPR article 17): restrict a record at once, purge it when its retention has run out.

1. A request restricts the record immediately: `patient_for` / `patients_for` (the one door,
   anagen/accounts/access.py) no longer hand the patient out; opening it says that it is
   restricted, since when, by whom, and until when it is kept (`restriction_notice`).
2. The clinic's retention rule (`RetentionRule`, years after the last visit; the legal figures
   and their sources are in anagen/clinical/data/retention.json, and there is no default) fixes
   the end date when the request is made.
3. `anagen erasure run` (cron or the task worker) purges every request whose end date has
   passed: every row that belongs to the patient (the model graph walk of
   anagen/scale/graph.py, billing included), their simple-history rows, their files (photos,
   thumbnails, reports, archives), the chart cache and the bulk FHIR export files that held the
   patient; then it writes one audit row (counts only).

Decision on the audit trail (documented here and in the report):
- Audit rows are never deleted or changed by a purge: the hash chain must keep verifying
  (`anagen audit verify`), PostgreSQL's trigger refuses UPDATE/DELETE, and the trail is itself
  a record the clinic must keep (accountability, GDPR art. 5(2); art. 17(3)(b)). Their VALUES
  (what changed: names, e-mail, notes …) live apart (audit.AuditChangeValues; the chain hashes
  a salted digest of them), and the purge deletes them: the patient's events, and the events
  about no one patient (searches, lists) whose values name the patient, listed in the purge's
  own row. The page then says "Erased with the patient's record"; `anagen audit verify` still
  passes.
- The audit row's patient link has no database constraint (audit migration 0013), so the rows
  outlive the patient row; after the purge `patient_id` is an opaque number that names no one
  (the patient row, its history and the request's personal data are gone). Object ids likewise.
- The purge's own audit row holds counts and the end date only.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import Max, Q
from django.http import Http404
from django.utils import timezone

from anagen.accounts.access import Actor, record_id
from anagen.accounts.clinic_time import human_date, local_today
from anagen.accounts.permissions import Perm
from anagen.audit.models import AuditEvent
from anagen.audit.reads import note_read
from anagen.audit.services import audit_record, audit_values_erase, audit_values_mentioning
from anagen.imports.models import ErasureRequest, ErasureStatus, RetentionRule
from anagen.patients.models import Patient
from anagen.scheduling import calendar_version

logger = logging.getLogger(__name__)

RETENTION_DATA = Path(settings.BASE_DIR) / "anagen" / "clinical" / "data" / "retention.json"
# Kept through a purge: the audit trail (hash-chained, append-only) and the request itself
# (ids, dates and counts: the proof that the record was erased).
KEPT = {"audit.AuditEvent", "imports.ErasureRequest"}
RESTRICTED_REASON = "Restricted: the patient asked for the record to be erased (GDPR art. 17)."


# --- the retention rule --------------------------------------------------------------------


@dataclass(frozen=True)
class KnownRule:
    code: str
    label: str
    years: int
    after: str
    source: str

    @property
    def basis(self) -> str:
        return f"{self.label}: {self.source}"


def known_rules() -> list[KnownRule]:
    """The legal retention periods the project knows, with their sources (versioned data)."""
    data = json.loads(RETENTION_DATA.read_text(encoding="utf-8"))
    return [
        KnownRule(code, r["label"], int(r["years"]), r["after"], r["source"])
        for code, r in sorted(data["rules"].items())
    ]


def retention_rule_get(*, actor: Actor) -> RetentionRule | None:
    actor.require(Perm.PATIENT_ERASE)
    return RetentionRule.objects.filter(clinic=actor.clinic).first()


def retention_rule_set(*, actor: Actor, years: int, basis: str) -> RetentionRule:
    actor.require(Perm.PATIENT_ERASE)
    basis = (basis or "").strip()
    errors: dict[str, str] = {}
    if not 1 <= int(years) <= 100:
        errors["years"] = "Give a period between 1 and 100 years."
    if not basis:
        errors["basis"] = "Say which law or policy sets this period."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        old = RetentionRule.objects.select_for_update().filter(clinic=actor.clinic).first()
        rule, _ = RetentionRule.objects.update_or_create(
            clinic=actor.clinic, defaults={"years": years, "basis": basis, "set_by": actor.user}
        )
        audit_record(
            action="retention.set",
            actor=actor,
            obj=rule,
            changes={"years": [old.years if old else None, years]},
        )
    return rule


# --- the request and the restriction -------------------------------------------------------


def erasure_patient_get(*, actor: Actor, patient_id: int | str) -> Patient:
    """The patient an erasure request is about, restricted or not (the erasure page only)."""
    actor.require(Perm.PATIENT_ERASE)
    pk = record_id(patient_id, "No such patient.")
    patient = Patient.all_objects.filter(clinic=actor.clinic, pk=pk).first()
    if patient is None:
        raise Http404("No such patient.")
    note_read(actor, patient=patient)  # audited (anagen/audit/reads.py)
    return patient


def erasure_request_of(*, actor: Actor, patient: Patient) -> ErasureRequest | None:
    actor.require(Perm.PATIENT_ERASE)
    return (
        ErasureRequest.objects.filter(clinic=actor.clinic, patient_id=patient.pk)
        .select_related("requested_by")
        .first()
    )


def last_visit_on(patient: Patient) -> dt.date:
    """The patient's last visit in the clinic's calendar: the latest appointment they came to or
    treatment session, else the day they were registered."""
    from anagen.accounts.clinic_time import zone_of
    from anagen.procedures.models import TreatmentSession
    from anagen.scheduling.models import Appointment, AppointmentStatus

    zone = zone_of(patient.clinic)
    came = Appointment.objects.filter(
        patient_id=patient.pk,
        status__in=(AppointmentStatus.CHECKED_IN, AppointmentStatus.COMPLETED),
    ).aggregate(m=Max("starts_at"))["m"]
    treated = TreatmentSession.objects.filter(patient_id=patient.pk).aggregate(m=Max("started_at"))[
        "m"
    ]
    instants = [i for i in (came, treated, patient.created_at) if i is not None]
    latest = max(instants) if instants else timezone.now()
    return latest.astimezone(zone).date()


def add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February into a common year
        return day.replace(year=day.year + years, day=28)


def erasure_request(*, actor: Actor, patient: Patient, received_on: dt.date) -> ErasureRequest:
    """Restrict the record now; it is purged the day after `keep_until`."""
    actor.require(Perm.PATIENT_ERASE)
    if patient.clinic_id != actor.clinic.pk:
        raise Http404("No such patient.")
    rule = RetentionRule.objects.filter(clinic=actor.clinic).first()
    if rule is None:
        raise ValidationError(
            "Set how long this clinic keeps records (the retention period) before accepting "
            "an erasure request."
        )
    if received_on > actor.today():
        raise ValidationError({"received_on": "The request cannot come from the future."})
    with transaction.atomic():
        Patient.all_objects.select_for_update().filter(pk=patient.pk).first()
        if ErasureRequest.objects.filter(patient_id=patient.pk).exists():
            raise ValidationError("This record is already restricted for erasure.")
        last = last_visit_on(patient)
        # Hidden like a soft-deleted record too, so every selector that scopes by live
        # patients (assessments, sessions, appointments, FHIR, bulk export) leaves it out.
        Patient.all_objects.filter(pk=patient.pk, deleted_at__isnull=True).update(
            deleted_at=timezone.now(), deleted_by=actor.user, deleted_reason=RESTRICTED_REASON
        )
        calendar_version.bump(patient.clinic_id)  # the calendar drops them (update(): no signal)
        request = ErasureRequest.objects.create(
            clinic=actor.clinic,
            patient=patient,
            requested_by=actor.user,
            received_on=received_on,
            retention_years=rule.years,
            retention_basis=rule.basis,
            last_visit_on=last,
            keep_until=add_years(last, rule.years),
        )
        audit_record(
            action="erasure.request",
            actor=actor,
            patient=patient,
            obj=request,
            changes={"retention_years": rule.years, "keep_until": request.keep_until},
        )
    return request


def restriction_text(request: ErasureRequest) -> str:
    who = request.requested_by.get_full_name() or request.requested_by.get_username()
    return (
        "This record is restricted: the patient asked for it to be erased. "
        f"Restricted by {who} on {human_date(timezone.localtime(request.requested_at))}; "
        f"it is kept until {human_date(request.keep_until)} as the law requires, then deleted."
    )


def restriction_notice(actor: Actor, patient_pk: int) -> None:
    """Raise PermissionDenied saying who restricted the record, if this clinic's patient
    `patient_pk` is under an erasure request (called by `patient_for`, the one door)."""
    request = (
        ErasureRequest.objects.filter(
            clinic=actor.clinic, patient_id=patient_pk, status=ErasureStatus.RESTRICTED
        )
        .select_related("requested_by")
        .first()
    )
    if request is not None:
        raise PermissionDenied(restriction_text(request))


# --- the purge ------------------------------------------------------------------------------


@dataclass
class Owned:
    """Every row (by model, ids) and file of one patient."""

    ids: dict[type[models.Model], set[Any]]
    history: dict[type[models.Model], Q]
    files: set[tuple[Any, str]]


def _file_names(qs: models.QuerySet[Any], model: type[models.Model]) -> set[tuple[Any, str]]:
    fields = [f for f in model._meta.concrete_fields if isinstance(f, models.FileField)]
    found: set[tuple[Any, str]] = set()
    if not fields:
        return found
    for row in qs.values(*[f.attname for f in fields]):
        for f in fields:
            if row[f.attname]:
                found.add((f.storage, row[f.attname]))
    return found


def owned_by(patient_id: int) -> Owned:
    """Walk the model graph from the patient (anagen/scale/graph.py) and collect what is theirs."""
    from anagen.scale.graph import history_model_of, owned_models

    ids: dict[type[models.Model], set[Any]] = {}
    history: dict[type[models.Model], Q] = {}
    files: set[tuple[Any, str]] = set()
    for om in owned_models(exclude=KEPT):
        model = om.model
        pk_name = model._meta.pk.attname
        if model is Patient:
            cond = Q(pk=patient_id)
        else:
            cond = Q(pk__in=[])
            for attname, target in om.owned_fks:
                if ids.get(target):
                    cond |= Q(**{f"{attname}__in": ids[target]})
        qs = model._base_manager.filter(cond)
        ids[model] = set(qs.values_list("pk", flat=True))
        files |= _file_names(model._base_manager.filter(pk__in=ids[model]), model)
        shadow = history_model_of(model)
        if shadow is not None:
            # By the row's id, and by the owning keys (rows deleted earlier keep history too).
            hq = Q(**{f"{pk_name}__in": ids[model]})
            for attname, target in om.owned_fks:
                if ids.get(target):
                    hq |= Q(**{f"{attname}__in": ids[target]})
            history[shadow] = hq
            files |= _file_names(shadow._base_manager.filter(hq), shadow)
    return Owned(ids, history, files)


def _bulk_exports_with(patient_id: int, clinic_id: int) -> list[Any]:
    from anagen.fhir.models import BulkExport

    keys = AuditEvent.objects.filter(
        clinic_id=clinic_id, patient_id=patient_id, action="fhir.export.patient"
    ).values_list("object_id", flat=True)
    return list(BulkExport.objects.filter(clinic_id=clinic_id, pk__in=list(keys)))


def _identifiers(patient_id: int) -> list[str]:
    """What names the patient in free text: name, e-mail, phone."""
    patient = Patient.all_objects.filter(pk=patient_id).first()
    if patient is None:
        return []
    found = [patient.family_name, f"{patient.given_name} {patient.family_name}"]
    found += [getattr(patient, name, "") or "" for name in ("email", "phone", "phone_digits")]
    return [str(v) for v in found if v]


def erasure_purge(*, request: ErasureRequest, today: dt.date, via: str = "cli") -> dict[str, int]:
    """Delete everything of the request's patient, once its end date has passed."""
    if request.status != ErasureStatus.RESTRICTED:
        raise ValidationError("This record was already erased.")
    if today <= request.keep_until:
        raise ValidationError(
            f"The record must be kept until {human_date(request.keep_until)}; "
            "it cannot be erased before then."
        )
    patient_id = request.patient_id
    with transaction.atomic():
        locked = ErasureRequest.objects.select_for_update().get(pk=request.pk)
        if locked.status != ErasureStatus.RESTRICTED:
            raise ValidationError("This record was already erased.")
        owned = owned_by(patient_id)
        counts = {m._meta.label_lower: len(v) for m, v in owned.ids.items() if v}
        history_rows = 0
        exports = _bulk_exports_with(patient_id, request.clinic_id)
        # Uploaded CSV files that brought the patient in hold their row: the text goes (the
        # import's counts and the other patients it created stay).
        from anagen.imports.models import ImportedRecord, PatientImport

        uploads = set(
            ImportedRecord.objects.filter(patient_id=patient_id).values_list("source_id", flat=True)
        )
        # Searches and lists that name the patient (no one patient's events): erased too.
        mentions = audit_values_mentioning(
            clinic_id=request.clinic_id, needles=_identifiers(patient_id)
        )
        purge_event = audit_record(
            action="erasure.purge",
            clinic=request.clinic,
            patient=Patient(pk=patient_id),
            obj=locked,
            via=via,
            username="erasure job",
            changes={
                "keep_until": request.keep_until,
                "rows": sum(counts.values()),
                "files": len(owned.files),
                "bulk_exports": len(exports),
                **({"list_events_erased": mentions} if mentions else {}),
            },
        )
        counts["audit_values"] = audit_values_erase(
            patient_id=patient_id, purge_event=purge_event, also=mentions
        )
        # Children first; deleting also writes "deleted" history rows, removed just after.
        for model in reversed(list(owned.ids)):
            if owned.ids[model]:
                model._base_manager.filter(pk__in=owned.ids[model]).delete()
        for shadow, hq in owned.history.items():
            rows = shadow._base_manager.filter(hq)
            history_rows += rows.count()
            rows._raw_delete(rows.db)
        counts["history"] = history_rows
        counts["files"] = len(owned.files)
        counts["import_files"] = PatientImport.objects.filter(pk__in=uploads).update(
            content="", errors=[]
        )
        ErasureRequest.objects.filter(pk=locked.pk).update(
            status=ErasureStatus.PURGED, purged_at=timezone.now(), purged_counts=counts
        )
    _remove_files(owned.files, exports)
    return counts


def _remove_files(files: set[tuple[Any, str]], exports: list[Any]) -> None:
    from anagen.fhir.models import BulkExport
    from anagen.fhir.services import export_folder
    from anagen.outcomes.charts import chart_dir

    for storage, name in files:
        try:
            storage.delete(name)
        except OSError:
            logger.exception("erasure: could not delete a stored file")
    # Charts are a content-addressed cache (redrawn on demand): emptied whole.
    shutil.rmtree(chart_dir(), ignore_errors=True)
    for job in exports:
        shutil.rmtree(export_folder(job), ignore_errors=True)
        BulkExport.objects.filter(pk=job.pk).update(
            output=[], error="Removed: a patient in this export has since been erased."
        )


def erasure_run(
    *, today: dt.date | None = None, via: str = "cli", raise_failures: bool = True
) -> list[int]:
    """Purge every request whose end date has passed (each clinic's own today); a failure is
    logged, the others still run, and the run then raises (exit status 1 for cron)."""
    done: list[int] = []
    failed: list[int] = []
    due = ErasureRequest.objects.filter(status=ErasureStatus.RESTRICTED).select_related("clinic")
    for request in due.order_by("keep_until", "pk"):
        day = today or local_today(request.clinic)
        if day <= request.keep_until:
            continue
        try:
            erasure_purge(request=request, today=day, via=via)
        except Exception:  # one record that cannot be purged must not stop the others
            logger.exception("erasure: request %s could not be purged", request.pk)
            failed.append(request.pk)
            continue
        done.append(request.pk)
    if failed and raise_failures:
        raise RuntimeError(f"{len(failed)} record(s) could not be erased; the log says why.")
    return done
