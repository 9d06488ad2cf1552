import json
from typing import Any

import pytest
from django.test import Client

from anagen.accounts.models import Membership
from anagen.accounts.services import api_token_create
from anagen.audit.models import AuditEvent


@pytest.fixture
def api(clinic_a):
    _, raw = api_token_create(
        membership=Membership.objects.get(user=clinic_a.front_desk), name="booking"
    )
    client = Client()

    def call(method, url, body=None, token=raw, headers=None):
        kwargs: dict[str, Any] = {"content_type": "application/json"}
        kwargs["headers"] = dict(headers or {})
        if token:
            kwargs["headers"]["Authorization"] = f"Bearer {token}"
        if body is not None:
            kwargs["data"] = json.dumps(body) if not isinstance(body, str) else body
        return getattr(client, method)(url, **kwargs)

    return call


NEW = {
    "given_name": "Zoë",
    "family_name": "Ní Bhriain",
    "birth_date": "1990-02-03",
    "sex": "female",
    "phone": "+44 7700 900456",
    "email_reminders": False,
}


def test_create_read_update_and_list(api, clinic_a):
    created = api("post", "/api/v1/patients", NEW)
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["phone"] == "+447700900456" and body["record_number"] == "A000001"
    pid = body["id"]
    read = api("get", f"/api/v1/patients/{pid}")
    assert read.json()["given_name"] == "Zoë"
    updated = api(
        "patch",
        f"/api/v1/patients/{pid}",
        {"email": "zoe@example.com", "email_reminders": True},
        headers={"If-Match": read["ETag"]},
    )
    assert updated.status_code == 200 and updated.json()["email_reminders"] is True
    listed = api("get", "/api/v1/patients?q=zoe%20bhriain")
    assert listed.json()["count"] == 1 and listed.json()["results"][0]["id"] == pid
    actions = set(AuditEvent.objects.filter(patient_id=pid).values_list("action", "via"))
    assert {
        ("patient.create", "api"),
        ("patient.read", "api"),
        ("patient.update", "api"),
    } <= actions


def test_validation_problems_name_the_field(api):
    response = api("post", "/api/v1/patients", {**NEW, "birth_date": "03/02/1990", "sex": "yes"})
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"body.birth_date", "body.sex"}


def test_service_rule_errors_name_the_field(api):
    response = api("post", "/api/v1/patients", {**NEW, "birth_date": "2999-01-01", "phone": "12"})
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"body.birth_date", "body.phone"}


def test_duplicate_is_a_conflict_until_confirmed(api):
    assert api("post", "/api/v1/patients", NEW).status_code == 201
    conflict = api("post", "/api/v1/patients", NEW)
    assert (
        conflict.status_code == 409 and "already exists" in conflict.json()["errors"][0]["message"]
    )
    assert api("post", "/api/v1/patients", {**NEW, "confirm_duplicate": True}).status_code == 201


@pytest.mark.parametrize("body", ["{not json", "[]", '"x"', "null"])
def test_malformed_json_is_a_problem_not_a_500(api, body):
    response = api("post", "/api/v1/patients", body)
    assert 400 <= response.status_code < 500
    assert response.json()["status"] == response.status_code


def test_patch_rejects_null_for_required_fields(api, clinic_a):
    pid = api("post", "/api/v1/patients", NEW).json()["id"]
    response = api(
        "patch", f"/api/v1/patients/{pid}", {"given_name": None}, headers={"If-Match": "*"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.given_name"


def test_bad_paging_and_ids(api):
    assert api("get", "/api/v1/patients?page=0").status_code == 422
    assert api("get", "/api/v1/patients?page_size=1000").status_code == 422
    assert api("get", "/api/v1/patients/abc").status_code == 422
    assert api("get", "/api/v1/patients/999999").status_code == 404


def test_unauthenticated_and_revoked(api, clinic_a):
    assert api("get", "/api/v1/patients", token=None).status_code == 401
    assert api("get", "/api/v1/patients", token="ang_wrong").status_code == 401
    Membership.objects.filter(user=clinic_a.front_desk).update(is_active=False)
    assert api("get", "/api/v1/patients").status_code == 401


def test_session_auth_needs_csrf_for_writes(clinic_a):
    client = Client(enforce_csrf_checks=True)
    client.force_login(clinic_a.nurse)
    assert client.get("/api/v1/patients").status_code == 200
    response = client.post("/api/v1/patients", json.dumps(NEW), content_type="application/json")
    assert response.status_code in (401, 403)


def test_openapi_schema_is_served(db):
    schema = Client().get("/api/v1/openapi.json").json()
    assert "/api/v1/patients" in schema["paths"]
