"""The Bulk Data export, run by the task worker (`anagen db_worker`), and the deletion of its
files when they expire."""

from __future__ import annotations

from django.tasks import task

from anagen.accounts.access import Actor
from anagen.accounts.clinic_time import clinic_time
from anagen.accounts.selectors import membership_active_for
from anagen.fhir import selectors, services
from anagen.fhir.models import BulkExport, ExportStatus


@task()
def run_export(export_id: int) -> str:
    """Write the NDJSON files of one export in the clinic's time zone; returns its status."""
    job = selectors.export_get(export_id)
    membership = membership_active_for(user=job.requested_by, clinic_id=job.clinic_id)
    if membership is None or membership.clinic_id != job.clinic_id:
        services.export_fail(job.pk, "The person who asked for it no longer works here.")
        return ExportStatus.FAILED
    actor = Actor(user=job.requested_by, membership=membership, via="task")
    with clinic_time(job.clinic):
        services.export_run(job, actor)
    return selectors.export_status(export_id)


@task()
def expire_export(export_id: int) -> bool:
    """Delete one export's files when they expire (enqueued to run at `expires_at`)."""
    try:
        job = selectors.export_get(export_id)
    except BulkExport.DoesNotExist:
        return False
    return services.export_expire(job)


@task()
def expire_exports() -> int:
    """Delete the files of every export whose time is up (a sweep; returns how many)."""
    return services.exports_expire_due()
