"""Background patient imports (Django Tasks API, run by `anagen db_worker`)."""

from __future__ import annotations

from django.tasks import task

from anagen.accounts.access import Actor
from anagen.accounts.clinic_time import clinic_time
from anagen.accounts.models import Membership
from anagen.imports.models import PatientImport


@task()
def run_patient_import(job_id: int) -> dict[str, int]:
    """Check and import one uploaded file, all rows or none, in the clinic's time zone."""
    from anagen.imports.services import patient_import_run

    job = PatientImport.objects.select_related("clinic", "created_by").get(pk=job_id)
    membership = Membership.objects.select_related("user", "clinic").get(
        user=job.created_by, clinic=job.clinic
    )
    actor = Actor(user=job.created_by, membership=membership, via="task")
    with clinic_time(job.clinic):
        done = patient_import_run(actor=actor, job=job)
    return {"created": done.created_count, "already_here": done.matched_count}


@task()
def run_patient_export(export_id: int) -> str:
    """Make one patient's archive in the clinic's time zone; returns its status."""
    from anagen.imports.export import patient_export_run
    from anagen.imports.models import PatientExport

    job = PatientExport.objects.select_related("clinic", "patient", "requested_by").get(
        pk=export_id
    )
    membership = Membership.objects.select_related("user", "clinic").get(
        user=job.requested_by, clinic=job.clinic
    )
    actor = Actor(user=job.requested_by, membership=membership, via="task")
    with clinic_time(job.clinic):
        return patient_export_run(actor=actor, job=job).status


@task()
def run_erasure_purges() -> int:
    """Purge every record whose erasure is due (schedule daily); returns how many."""
    from anagen.imports.erasure import erasure_run

    return len(erasure_run(via="task"))
