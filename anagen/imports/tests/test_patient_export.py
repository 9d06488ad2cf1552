"""Data out: one patient's whole record as one archive, made by the task worker."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest
from fhir.resources.R4B.bundle import Bundle

from anagen.audit.models import AuditEvent
from anagen.care.tests.helpers import assess, consent, record_intake
from anagen.imports.models import ExportStatus, PatientExport

IMMEDIATE = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture(autouse=True)
def _immediate_tasks(settings, tmp_path):
    settings.TASKS = IMMEDIATE
    settings.MEDIA_ROOT = tmp_path


def test_the_archive_holds_the_record_the_files_and_who_saw_it(
    clinic_a, patient_a, django_capture_on_commit_callbacks
):
    record_intake(clinic_a, patient_a, allergies=[{"substance": "Lidocaine", "reaction": "rash"}])
    assess(clinic_a, patient_a)
    consent(clinic_a, patient_a)
    client = clinic_a.client(clinic_a.physician)
    assert client.get(f"/patients/{patient_a.pk}/").status_code == 200  # a chart read
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(f"/patients/{patient_a.pk}/export/")
    assert r.status_code == 302
    job = PatientExport.objects.get()
    assert job.status == ExportStatus.DONE and job.resources > 0
    page = client.get(f"/patients/{patient_a.pk}/export/").content.decode()
    assert "Ready" in page and f"/exports/{job.pk}/download/" in page

    download = client.get(f"/exports/{job.pk}/download/")
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(download.content))
    assert {"README.txt", "record.json", "access-log.csv"} <= set(archive.namelist())
    bundle = json.loads(archive.read("record.json"))
    Bundle.model_validate(bundle)  # a valid FHIR R4 Bundle
    types = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert {"Patient", "Condition", "AllergyIntolerance", "Consent"} <= types
    patient = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    )
    assert patient["name"][0]["family"] == "Álvarez"
    log = list(csv.DictReader(io.StringIO(archive.read("access-log.csv").decode())))
    assert any(row["What"] == "Chart opened" and row["Who"] == "a Physician" for row in log)
    assert "Álvarez" in archive.read("README.txt").decode()
    actions = set(AuditEvent.objects.filter(patient=patient_a).values_list("action", flat=True))
    assert {"patient_export.start", "patient_export.create", "patient_export.download"} <= actions


def test_only_physicians_and_only_their_clinic(clinic_a, clinic_b, patient_a, patient_b):
    assert (
        clinic_a.client(clinic_a.admin).get(f"/patients/{patient_a.pk}/export/").status_code == 403
    )
    assert (
        clinic_a.client(clinic_a.nurse).get(f"/patients/{patient_a.pk}/export/").status_code == 403
    )
    job = PatientExport.objects.create(
        clinic=clinic_b.clinic,
        patient=patient_b,
        requested_by=clinic_b.physician,
        status=ExportStatus.DONE,
    )
    assert (
        clinic_a.client(clinic_a.physician).get(f"/exports/{job.pk}/download/").status_code == 404
    )


@pytest.mark.parametrize("method", ["get", "post"])
def test_another_clinics_patient_is_404(clinic_a, patient_b, method):
    client = clinic_a.client(clinic_a.physician)
    response = getattr(client, method)(f"/patients/{patient_b.pk}/export/")
    assert response.status_code == 404 and b"Beatriz" not in response.content
    assert not PatientExport.objects.exists()
