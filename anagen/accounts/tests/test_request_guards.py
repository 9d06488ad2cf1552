"""Responses with patient data are never cached; NUL text is refused before the database."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from django.test import Client

from anagen.accounts.models import Membership
from anagen.accounts.services import api_token_create
from anagen.patients.models import Patient


def _bearer(staff, user) -> dict[str, str]:
    membership = Membership.objects.get(user=user, clinic=staff.clinic)
    _, key = api_token_create(membership=membership, name="test")
    return {"Authorization": f"Bearer {key}"}


def test_signed_in_pages_and_api_answers_are_no_store(clinic_a, patient_a):
    client = clinic_a.client(clinic_a.physician)
    for url in ("/patients/", f"/patients/{patient_a.pk}/", f"/api/v1/patients/{patient_a.pk}"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "no-store" in response["Cache-Control"], url
    token_call = Client().get(
        f"/api/v1/patients/{patient_a.pk}", headers=_bearer(clinic_a, clinic_a.nurse)
    )
    assert token_call.status_code == 200 and "no-store" in token_call["Cache-Control"]


def test_nul_in_a_search_is_refused_not_a_server_error(clinic_a, patient_a):
    client = clinic_a.client(clinic_a.front_desk)
    assert client.get("/patients/?q=%00").status_code == 400
    api = client.get("/api/v1/patients/?q=a%00b")
    assert api.status_code == 422
    assert api.json()["errors"][0]["field"] == "query.q"


def test_nul_in_a_json_body_names_the_field_and_stores_nothing(clinic_a):
    before = Patient.objects.count()
    response = Client().post(
        "/api/v1/patients/",
        data=json.dumps({"given_name": "a\u0000b", "family_name": "X", "names": [{"x": "\u0000"}]}),
        content_type="application/json",
        headers=_bearer(clinic_a, clinic_a.front_desk),
    )
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    fields = [e["field"] for e in response.json()["errors"]]
    assert fields == ["body.given_name", "body.names[0].x"]
    assert Patient.objects.count() == before


def test_nul_in_a_form_field_is_refused(clinic_a):
    client = clinic_a.client(clinic_a.front_desk)
    response = client.post("/patients/new/", {"given_name": "a\x00b", "family_name": "X"})
    assert response.status_code == 400
    assert b"cannot be stored" in response.content


def test_production_settings_pass_the_deploy_check_with_no_warning():
    env = {
        **os.environ,
        "ANAGEN_ENV": "production",
        "SECRET_KEY": "x" * 64 + "-a-long-random-production-secret-for-the-check",
        "ALLOWED_HOSTS": "clinic.example",
    }
    env.pop("ANAGEN_STRICT_TEMPLATES", None)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set for Playwright only, never in production
    result = subprocess.run(
        [sys.executable, "-m", "anagen", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
