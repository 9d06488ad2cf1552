"""Background report generation (Django Tasks API, run by `anagen db_worker`)."""

from __future__ import annotations

import hashlib

from django.core.files.base import ContentFile
from django.db import transaction
from django.tasks import task
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.accounts.models import Membership
from anagen.outcomes.models import ReportFile, ReportJob, ReportStatus
from anagen.patients.models import Patient


@task()
def generate_reports(job_id: int) -> dict[str, int]:
    """Render one PDF per patient of the job, storing each as it is done (progress is visible)."""
    from anagen.outcomes.report import report_pdf

    job = ReportJob.objects.select_related("clinic", "requested_by").get(pk=job_id)
    membership = Membership.objects.get(user=job.requested_by, clinic=job.clinic)
    actor = Actor(user=job.requested_by, membership=membership, via="task")
    ReportJob.objects.filter(pk=job.pk).update(status=ReportStatus.RUNNING)
    patients = Patient.objects.filter(
        pk__in=job.patient_ids, clinic=job.clinic, deleted_at__isnull=True
    ).order_by("pk")
    done = 0
    try:
        for patient in patients:
            pdf = report_pdf(actor=actor, patient=patient)
            with transaction.atomic():
                ReportFile.objects.create(
                    job=job,
                    patient=patient,
                    file=ContentFile(pdf, name=f"report-{job.pk}-{patient.pk}.pdf"),
                    sha256=hashlib.sha256(pdf).hexdigest(),
                )
                done += 1
                ReportJob.objects.filter(pk=job.pk).update(done_count=done)
    except Exception as exc:
        ReportJob.objects.filter(pk=job.pk).update(
            status=ReportStatus.FAILED, error=str(exc)[:500], finished_at=timezone.now()
        )
        raise
    ReportJob.objects.filter(pk=job.pk).update(
        status=ReportStatus.DONE, done_count=done, finished_at=timezone.now()
    )
    return {"done": done}
