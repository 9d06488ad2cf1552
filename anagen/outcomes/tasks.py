"""Background report generation (Django Tasks API, run by `anagen db_worker`)."""

from __future__ import annotations

import hashlib
import logging

from django.core.files.base import ContentFile
from django.db import transaction
from django.tasks import task
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.accounts.clinic_time import clinic_time
from anagen.accounts.models import Membership
from anagen.outcomes.models import ReportFile, ReportJob, ReportStatus
from anagen.patients.models import Patient

logger = logging.getLogger(__name__)


@task()
def generate_reports(job_id: int) -> dict[str, int]:
    """Render one PDF per patient of the job, storing each as it is done (progress is visible).

    Runs in the clinic's time zone, so the PDFs show the clinic's dates and times.
    """
    job = ReportJob.objects.select_related("clinic", "requested_by").get(pk=job_id)
    with clinic_time(job.clinic):
        return _generate(job)


def _generate(job: ReportJob) -> dict[str, int]:
    from anagen.outcomes.report import report_pdf

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
    except Exception:
        logger.exception("report batch %s failed", job.pk)
        ReportJob.objects.filter(pk=job.pk).update(
            status=ReportStatus.FAILED,
            # Words for staff; the technical detail goes to the log.
            error=(
                f"The batch stopped after {done} of {job.total} reports: a report could not "
                "be made. Start the batch again; if it stops again, tell your administrator."
            ),
            finished_at=timezone.now(),
        )
        raise
    ReportJob.objects.filter(pk=job.pk).update(
        status=ReportStatus.DONE, done_count=done, finished_at=timezone.now()
    )
    return {"done": done}
