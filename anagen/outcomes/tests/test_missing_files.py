"""A photo or report whose stored file is gone: pages say so, downloads are 404, never a 500."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import override_settings

from anagen.outcomes import report, services
from anagen.outcomes.models import Photo, ReportFile, ReportJob
from anagen.outcomes.tests.helpers import jpeg, photo_consent

pytestmark = pytest.mark.django_db
IMMEDIATE = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def _two_sets_and_lose_the_first(staff, patient) -> Photo:
    photo_consent(staff, patient)
    nurse = staff.actor(staff.nurse)
    for on in (dt.date(2025, 6, 1), dt.date(2025, 12, 1)):
        ps = services.photo_set_create(actor=nurse, patient=patient, taken_on=on)
        services.photo_add(actor=nurse, photo_set=ps, view="vertex", content=jpeg())
    lost = Photo.objects.order_by("pk").first()
    assert lost is not None
    lost.file.storage.delete(str(lost.file.name))
    lost.thumbnail.storage.delete(str(lost.thumbnail.name))
    return lost


def test_missing_photo_pages_show_it_and_download_is_404(clinic_a, patient_a):
    lost = _two_sets_and_lose_the_first(clinic_a, patient_a)
    c = clinic_a.client(clinic_a.physician)
    page = c.get(f"/patients/{patient_a.pk}/photos/")
    assert page.status_code == 200
    assert "File missing" in page.content.decode()
    url = f"/patients/{patient_a.pk}/photos/file/{lost.pk}/"
    assert c.get(url).status_code == 404
    assert c.get(url + "?thumb=1").status_code == 404
    compare = c.get(f"/patients/{patient_a.pk}/photos/compare/?view=vertex")
    assert compare.status_code == 200 and 'id="photo-missing"' in compare.content.decode()
    # The capture page of a new set: the lost photo would be the overlay.
    nurse = clinic_a.actor(clinic_a.nurse)
    ps = services.photo_set_create(actor=nurse, patient=patient_a, taken_on=dt.date(2026, 1, 5))
    capture = clinic_a.client(clinic_a.nurse).get(
        f"/patients/{patient_a.pk}/photos/{ps.pk}/capture/?view=vertex"
    )
    assert capture.status_code == 200
    # The overlay is the latest earlier photo (still there), so the page shows it.
    assert 'id="ghost"' in capture.content.decode()
    with pytest.raises(services.PhotoFileMissing):
        services.photo_read(actor=clinic_a.actor(clinic_a.physician), photo=lost)


def test_missing_overlay_says_so(clinic_a, patient_a):
    photo_consent(clinic_a, patient_a)
    nurse = clinic_a.actor(clinic_a.nurse)
    first = services.photo_set_create(actor=nurse, patient=patient_a, taken_on=dt.date(2025, 6, 1))
    photo = services.photo_add(actor=nurse, photo_set=first, view="vertex", content=jpeg())
    photo.file.storage.delete(str(photo.file.name))
    second = services.photo_set_create(actor=nurse, patient=patient_a, taken_on=dt.date(2025, 7, 1))
    page = clinic_a.client(clinic_a.nurse).get(
        f"/patients/{patient_a.pk}/photos/{second.pk}/capture/?view=vertex"
    )
    assert page.status_code == 200 and 'id="ghost-missing"' in page.content.decode()


def test_report_with_a_missing_photo_still_renders(clinic_a, patient_a):
    _two_sets_and_lose_the_first(clinic_a, patient_a)
    actor = clinic_a.actor(clinic_a.physician)
    text = report.document_text(
        report.render_document(report.report_html(actor=actor, patient=patient_a))
    )
    assert "photo could not be found" in text  # plain words for the patient
    r = clinic_a.client(clinic_a.physician).get(f"/patients/{patient_a.pk}/outcomes/report.pdf")
    assert r.status_code == 200


@override_settings(TASKS=IMMEDIATE)
def test_missing_report_file_is_404(clinic_a, patient_a, django_capture_on_commit_callbacks):
    nurse = clinic_a.actor(clinic_a.nurse)
    with django_capture_on_commit_callbacks(execute=True):
        job = services.report_job_start(actor=nurse, patients=[patient_a])
    stored = ReportFile.objects.get(job=job)
    stored.file.storage.delete(str(stored.file.name))
    c = clinic_a.client(clinic_a.nurse)
    assert c.get(f"/outcomes/reports/{job.pk}/").status_code == 200
    assert c.get(f"/outcomes/reports/{job.pk}/{stored.pk}.pdf").status_code == 404
    assert ReportJob.objects.get().status == "done"
