"""PDF report (WeasyPrint) and batch generation through the task worker."""

import datetime as dt

import pytest
from django.test import override_settings

from anagen.outcomes import report, services
from anagen.outcomes.models import ReportJob
from anagen.outcomes.tests.helpers import jpeg, photo_consent, record

pytestmark = pytest.mark.django_db
IMMEDIATE = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def _history(staff, patient):
    record(staff, patient, dt.date(2025, 6, 1), "baseline", 141.9)
    record(staff, patient, dt.date(2025, 12, 1), "follow_up", 177.5)


def test_report_text_and_photos_only_with_consent(clinic_a, patient_a):
    _history(clinic_a, patient_a)
    actor = clinic_a.actor(clinic_a.physician)
    text = report.document_text(
        report.render_document(report.report_html(actor=actor, patient=patient_a))
    )
    assert "Your treatment progress" in text and patient_a.record_number in text
    assert "went up by 35.6 hairs per cm² (25.1 %)" in text
    assert "more than the normal measuring difference" in text
    assert "not with people who had no treatment" in text
    assert "no consent to clinical photos" in text
    photo_consent(clinic_a, patient_a)
    nurse = clinic_a.actor(clinic_a.nurse)
    for on, colour in ((dt.date(2025, 6, 1), "red"), (dt.date(2025, 12, 1), "blue")):
        ps = services.photo_set_create(actor=nurse, patient=patient_a, taken_on=on)
        services.photo_add(actor=nurse, photo_set=ps, view="vertex", content=jpeg(colour))
    doc = report.render_document(report.report_html(actor=actor, patient=patient_a))
    assert "Vertex: 1 Jun 2025 and 1 Dec 2025" in report.document_text(doc)
    pdf = doc.write_pdf()
    assert pdf.startswith(b"%PDF") and len(doc.pages) >= 1


def test_report_view(clinic_a, clinic_b, patient_a):
    _history(clinic_a, patient_a)
    r = clinic_a.client(clinic_a.physician).get(f"/patients/{patient_a.pk}/outcomes/report.pdf")
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    assert r.content.startswith(b"%PDF")
    assert (
        clinic_b.client(clinic_b.physician)
        .get(f"/patients/{patient_a.pk}/outcomes/report.pdf")
        .status_code
        == 404
    )


@override_settings(TASKS=IMMEDIATE)
def test_batch_reports_through_the_task(
    clinic_a, clinic_b, patient_a, django_capture_on_commit_callbacks
):
    _history(clinic_a, patient_a)
    c = clinic_a.client(clinic_a.physician)
    with django_capture_on_commit_callbacks(execute=True):
        r = c.post("/outcomes/reports/", {"all_measured": "1"})
    assert r.status_code == 302
    job = ReportJob.objects.get()
    assert job.status == "done" and job.done_count == 1
    page = c.get(r["Location"]).content.decode()
    assert "Done: 1 of 1" in page
    f = job.files.get()
    dl = c.get(f"/outcomes/reports/{job.pk}/{f.pk}.pdf")
    assert dl.status_code == 200 and b"".join(dl.streaming_content).startswith(b"%PDF")
    assert clinic_b.client(clinic_b.physician).get(r["Location"]).status_code == 404
    assert c.post("/outcomes/reports/", {}).status_code == 200  # nothing chosen: message, no job
    assert ReportJob.objects.count() == 1
