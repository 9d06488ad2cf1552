"""Writes: batch PDF report jobs (rendered by the task worker, see ``outcomes.tasks``)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from anagen.accounts.access import Actor
from anagen.accounts.permissions import Perm
from anagen.audit.services import audit_record
from anagen.outcomes.models import ReportJob
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
