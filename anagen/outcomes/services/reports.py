"""Writes: batch PDF report jobs (rendered by the task worker, see ``outcomes.tasks``)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from anagen.accounts.access import Actor
from anagen.accounts.permissions import Perm
from anagen.audit.services import audit_record
from anagen.outcomes.models import ReportFile, ReportJob
from anagen.outcomes.services._common import _check_patient
from anagen.patients.models import Patient

# --- report jobs -------------------------------------------------------------------------------

MAX_REPORT_BATCH = 500


def report_job_start(*, actor: Actor, patients: list[Patient]) -> ReportJob:
    """Queue PDF reports for many patients; the task worker renders and stores them."""
    actor.require(Perm.CLINICAL_VIEW)
    actor.require(Perm.OUTCOMES_RECORD)
    if not patients:
        raise ValidationError({"patients": "Choose at least one patient."})
    if len(patients) > MAX_REPORT_BATCH:
        raise ValidationError({"patients": f"At most {MAX_REPORT_BATCH} patients per batch."})
    for p in patients:
        _check_patient(actor, p)
    with transaction.atomic():
        job = ReportJob.objects.create(
            clinic=actor.clinic,
            requested_by=actor.user,
            patient_ids=[p.pk for p in patients],
            total=len(patients),
        )
        audit_record(
            action="report_job.create", actor=actor, obj=job, changes={"patients": job.patient_ids}
        )
        job_id = job.pk
        transaction.on_commit(lambda: _enqueue(job_id))
    return job


def _enqueue(job_id: int) -> None:
    from anagen.outcomes.tasks import generate_reports

    generate_reports.enqueue(job_id)


def report_file_read(*, actor: Actor, stored: ReportFile, patient: Patient) -> bytes:
    """The stored PDF of one report, audited (``Http404`` when its file is gone)."""
    from django.http import Http404

    from anagen.outcomes.imaging import alert_missing_file

    actor.require(Perm.CLINICAL_VIEW)
    _check_patient(actor, patient)
    try:
        with stored.file.open("rb") as fh:
            data = fh.read()
    except (FileNotFoundError, ValueError):
        alert_missing_file("report", stored.pk, stored.file.name)
        raise Http404("The file of this report is missing from storage.") from None
    with transaction.atomic():
        audit_record(action="outcome_report.read", actor=actor, patient=patient, obj=stored)
    return data
