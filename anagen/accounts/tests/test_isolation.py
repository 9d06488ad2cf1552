"""A user of clinic A gets a 404 for a patient of clinic B on every patient page and endpoint."""

import json

import pytest
from django.urls import get_resolver

from anagen.accounts.models import Membership
from anagen.accounts.services import api_token_create
from anagen.patients.services import IntakeData, intake_record

PATIENT_PAGES = [
    "/patients/{id}/",
    "/patients/{id}/edit/",
    "/patients/{id}/intake/new/",
    "/patients/{id}/intake/1/",
]
PATIENT_ENDPOINTS = [
    ("get", "/api/v1/patients/{id}", None),
    ("patch", "/api/v1/patients/{id}", {"email": "x@example.com"}),
]


def test_every_patient_page_is_covered_by_this_test():
    # If a new patient page is added, it must be added to PATIENT_PAGES above.
    patterns = {
        str(p.pattern) for p in get_resolver().url_patterns if "<int:patient_id>" in str(p.pattern)
    }
    listed = {
        p.replace("{id}", "<int:patient_id>").lstrip("/").replace("/1/", "/<int:version>/")
        for p in PATIENT_PAGES
    }
    assert patterns == listed


@pytest.mark.parametrize("url", PATIENT_PAGES)
@pytest.mark.parametrize("method", ["get", "post"])
def test_pages_404_for_another_clinics_patient(clinic_a, clinic_b, patient_b, url, method):
    intake_record(actor=clinic_b.actor(clinic_b.nurse), patient=patient_b, data=IntakeData())
    client = clinic_a.client(clinic_a.physician)
    response = getattr(client, method)(url.format(id=patient_b.pk))
    assert response.status_code == 404
    assert b"Beatriz" not in response.content
    # …and the same page works for clinic B's own physician.
    own = clinic_b.client(clinic_b.physician).get(url.format(id=patient_b.pk))
    assert own.status_code == 200


@pytest.mark.parametrize(("method", "url", "body"), PATIENT_ENDPOINTS)
def test_api_404_for_another_clinics_patient(clinic_a, clinic_b, patient_b, method, url, body):
    _, raw = api_token_create(membership=Membership.objects.get(user=clinic_a.physician), name="t")
    client = clinic_a.client(clinic_a.physician)
    kwargs = {"content_type": "application/json", "headers": {"Authorization": f"Bearer {raw}"}}
    if body is not None:
        kwargs["data"] = json.dumps(body)
    response = getattr(client, method)(url.format(id=patient_b.pk), **kwargs)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert "Beatriz" not in response.content.decode()


def test_api_list_never_shows_another_clinics_patients(clinic_a, patient_a, patient_b):
    _, raw = api_token_create(membership=Membership.objects.get(user=clinic_a.nurse), name="t")
    response = clinic_a.client(clinic_a.nurse).get(
        "/api/v1/patients", headers={"Authorization": f"Bearer {raw}"}
    )
    ids = [p["id"] for p in response.json()["results"]]
    assert ids == [patient_a.pk]


def test_user_of_two_clinics_switches_and_sees_each_clinics_patients(
    clinic_a, clinic_b, patient_a, patient_b
):
    both = clinic_a.physician
    Membership.objects.create(user=both, clinic=clinic_b.clinic, role="physician")
    client = clinic_a.client(both)
    assert b"Beatriz" not in client.get("/patients/").content
    assert client.get(f"/patients/{patient_b.pk}/").status_code == 404
    assert client.post("/clinic/switch/", {"clinic": clinic_b.clinic.pk}).status_code == 302
    assert b"Beatriz" in client.get("/patients/").content
    assert client.get(f"/patients/{patient_b.pk}/").status_code == 200
    assert client.get(f"/patients/{patient_a.pk}/").status_code == 404


def test_cannot_switch_to_a_clinic_one_is_not_a_member_of(clinic_a, clinic_b):
    client = clinic_a.client(clinic_a.nurse)
    assert client.post("/clinic/switch/", {"clinic": clinic_b.clinic.pk}).status_code == 404
    assert client.post("/clinic/switch/", {"clinic": "nonsense"}).status_code == 404
