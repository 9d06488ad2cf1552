"""Export -> import into an empty clinic -> compare: 0 differences over what an archive carries.

The archive made by the task worker (FHIR Bundle + record data + files) is read back by
`patient_archive_import`, which writes the record back into the importing clinic;
`record_compare` compares the two records row by row and field by field (ids replaced by
archive-local keys) and names each difference. What an archive does not carry is listed in
`archive.NOT_CARRIED`. The whole record into an empty database: test_archive_complete.py.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from anagen.audit.models import AuditEvent
from anagen.care.tests.helpers import assess, record_intake
from anagen.imports import archive
from anagen.imports.models import PatientExport
from anagen.outcomes import services as outcomes
from anagen.outcomes.models import Measurement
from anagen.patients import services as patients
from anagen.patients.models import IntakeLab, Patient

IMMEDIATE = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.TASKS = IMMEDIATE
    settings.MEDIA_ROOT = tmp_path


def _archive_of(staff, patient, capture) -> bytes:
    with capture(execute=True):
        staff.client(staff.physician).post(f"/patients/{patient.pk}/export/")
    job = PatientExport.objects.filter(patient=patient).latest("pk")
    with job.file.open("rb") as fh:
        return bytes(fh.read())


def _rich_patient(staff, patient) -> Patient:
    patients.patient_update(
        actor=staff.actor(staff.physician),
        patient=patient,
        data={"phone": "+34 612 345 678", "email": "ana@example.org", "address": "Calle 1\nMadrid",
              "preferred_language": "es"},
    )  # fmt: skip
    record_intake(
        staff,
        patient,
        allergies=[{"substance": "Lidocaine", "reaction": "rash"}],
        medications=[
            {"name": "Finasteride", "category": "finasteride", "prescribed": True, "dose": "1 mg daily",
             "last_dose_on": None},
            {"name": "Biotin", "category": "supplement", "prescribed": False, "dose": "",
             "last_dose_on": timezone.localdate() - dt.timedelta(days=10)},
        ],
    )  # fmt: skip
    assess(staff, patient, notes="Vertex thinning since 2020.")
    assess(staff, patient, sign=False, scale_value="IV")
    assess(staff, patient, diagnosis_code="alopecia_areata", scale_id="salt", scale_value="",
           salt_vertex=Decimal("10"), salt_posterior=Decimal("20"), salt_right=Decimal("5"),
           salt_left=Decimal("0"))  # fmt: skip
    nurse = staff.actor(staff.nurse)
    today = timezone.localdate()
    outcomes.measurement_set_record(
        actor=nurse,
        patient=patient,
        values=outcomes.VisitValues(
            measured_on=today - dt.timedelta(days=90), visit_label="baseline",
            method="phototrichogram", device="Dermoscope X", pull_test_pulled=60,
            pull_test_shed=6, salt=12.5, notes="Baseline photos under the same light.",
            sites=[outcomes.SiteValues(site_name="Vertex tattoo dot", hair_count=120, area=0.65,
                                       mean_diameter_um=61.5, terminal_pct=80.0, anagen_pct=85.0)],
        ),
    )  # fmt: skip
    outcomes.measurement_set_record(
        actor=nurse,
        patient=patient,
        values=outcomes.VisitValues(
            measured_on=today - dt.timedelta(days=1), visit_label="follow_up",
            method="phototrichogram", wash_test_count=40, global_photo_rating=1, satisfaction=4,
            sites=[outcomes.SiteValues(site_name="Vertex tattoo dot", hair_count=131, area=0.65),
                   outcomes.SiteValues(site_name="Frontal dot", location="frontal", density=150)],
        ),
    )  # fmt: skip
    return Patient.objects.get(pk=patient.pk)


def test_export_import_compare_has_no_differences(
    clinic_a, clinic_b, patient_a, django_capture_on_commit_callbacks
):
    original = _rich_patient(clinic_a, patient_a)
    data = _archive_of(clinic_a, original, django_capture_on_commit_callbacks)
    assert not Patient.all_objects.filter(clinic=clinic_b.clinic).exists()  # an empty clinic
    copy = archive.patient_archive_import(actor=clinic_b.actor(clinic_b.physician), data=data)
    assert copy.pk != original.pk and copy.clinic_id == clinic_b.clinic.pk
    result = archive.record_compare(original, copy)
    assert result.differences == []
    # Every compared part of the record really came back.
    assert IntakeLab.objects.filter(intake__patient=copy).count() == 2
    assert Measurement.objects.filter(measurement_set__patient=copy).count() == 3
    assert copy.assessments.count() == 3 and copy.assessments.filter(signed_at=None).count() == 1
    assert AuditEvent.objects.filter(action="patient_archive.import", patient=copy).exists()
    # What is not carried back is named, not hidden.
    assert "audit.AuditEvent" in result.not_compared and "care.Consent" not in result.not_compared


def test_the_comparison_names_what_differs(
    clinic_a, clinic_b, patient_a, django_capture_on_commit_callbacks
):
    original = _rich_patient(clinic_a, patient_a)
    data = _archive_of(clinic_a, original, django_capture_on_commit_callbacks)
    copy = archive.patient_archive_import(actor=clinic_b.actor(clinic_b.physician), data=data)
    IntakeLab.objects.filter(intake__patient=copy, analyte="platelets").update(
        value=Decimal("251000")
    )
    Patient.objects.filter(pk=copy.pk).update(email="other@example.org")
    differences = archive.record_compare(original, copy).differences
    assert len(differences) == 2
    assert "parts.patients.Patient[patients.Patient#1].email: 'ana@example.org' ≠ " in (
        differences[0] + differences[1]
    )
    assert any(
        d.startswith("parts.patients.IntakeLab[patients.IntakeLab#") and ".value: " in d
        for d in differences
    )


def test_a_file_that_is_not_an_archive_is_refused(clinic_b):
    with pytest.raises(ValidationError, match="not a record archive"):
        archive.patient_archive_import(actor=clinic_b.actor(clinic_b.physician), data=b"nope")
    with pytest.raises(Exception, match="cannot"):
        archive.patient_archive_import(actor=clinic_b.actor(clinic_b.nurse), data=b"nope")


def test_the_import_page(clinic_a, clinic_b, patient_a, django_capture_on_commit_callbacks):
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = _archive_of(
        clinic_a, _rich_patient(clinic_a, patient_a), django_capture_on_commit_callbacks
    )
    c = clinic_b.client(clinic_b.physician)
    page = c.get("/imports/archive/")
    assert page.status_code == 200 and "Not brought over" in page.content.decode()
    bad = c.post("/imports/archive/", {"archive": SimpleUploadedFile("x.zip", b"nope")})
    assert bad.status_code == 400 and "not a record archive" in bad.content.decode()
    r = c.post("/imports/archive/", {"archive": SimpleUploadedFile("r.zip", data)})
    copy = Patient.objects.get(clinic=clinic_b.clinic)
    assert r.status_code == 302 and r["Location"] == f"/patients/{copy.pk}/"
    assert clinic_b.client(clinic_b.nurse).get("/imports/archive/").status_code == 403
