"""Reads: device import batches, batch report jobs and their stored PDFs."""

from __future__ import annotations

from django.db.models import QuerySet

from anagen.accounts.access import Actor
from anagen.accounts.permissions import Perm
from anagen.audit.reads import note_list, note_read
from anagen.outcomes.models import ImportBatch, MeasurementSet, ReportFile, ReportJob
from anagen.patients.models import Patient

RECENT_REPORT_JOBS = 20


def import_get(*, actor: Actor, patient: Patient, batch_id: int) -> ImportBatch | None:
    actor.require(Perm.CLINICAL_VIEW)
    return ImportBatch.objects.filter(pk=batch_id, patient=patient).first()


def report_job_get(*, actor: Actor, job_id: int) -> ReportJob | None:
    actor.require(Perm.CLINICAL_VIEW)
    job = ReportJob.objects.filter(pk=job_id, clinic=actor.clinic).first()
    if job is not None:
        note_read(actor, obj=job)  # audited (anagen/audit/reads.py)
    return job


def report_jobs_for(actor: Actor) -> list[ReportJob]:
    """The clinic's most recent report batches."""
    actor.require(Perm.CLINICAL_VIEW)
    note_list(actor, what="Report batches")  # audited (anagen/audit/reads.py)
    return list(ReportJob.objects.filter(clinic=actor.clinic)[:RECENT_REPORT_JOBS])


def report_files(job: ReportJob) -> QuerySet[ReportFile]:
    return job.files.select_related("patient")


def report_file_get(*, actor: Actor, job: ReportJob | None, file_id: int) -> ReportFile | None:
    actor.require(Perm.CLINICAL_VIEW)
    if job is None or job.clinic_id != actor.clinic.pk:
        return None
    return ReportFile.objects.filter(pk=file_id, job=job).select_related("patient").first()


def measured_patient_ids(actor: Actor) -> set[int]:
    """Ids of the clinic's (not deleted) patients with at least one measurement visit."""
    actor.require(Perm.CLINICAL_VIEW)
    return set(
        MeasurementSet.objects.filter(
            patient__clinic=actor.clinic, patient__deleted_at__isnull=True
        )
        .values_list("patient_id", flat=True)
        .distinct()
    )


def report_files_for(actor: Actor) -> QuerySet[ReportFile]:
    """Every generated outcome report of the clinic's live patients (FHIR)."""
    actor.require(Perm.CLINICAL_VIEW)
    return ReportFile.objects.filter(
        job__clinic=actor.clinic, patient__deleted_at__isnull=True
    ).select_related("patient", "job__requested_by")
