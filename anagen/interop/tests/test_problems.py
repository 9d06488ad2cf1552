"""One table maps domain errors to problem documents; the OpenAPI document lists them."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError
from django.http import Http404
from django.test import Client
from ninja.errors import AuthenticationError, HttpError

from anagen.accounts.models import Membership
from anagen.accounts.services import api_token_create
from anagen.interop.errors import problem_for
from anagen.interop.problems import PROBLEM_MEDIA_TYPE


def _body(exc: Exception) -> tuple[int, dict]:
    response = problem_for(exc)
    assert response is not None
    assert response["Content-Type"] == PROBLEM_MEDIA_TYPE
    body = json.loads(response.content)
    assert body["status"] == response.status_code and body["title"]
    return response.status_code, body


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (ValidationError({"phone": "Too short."}), 422),
        (ValidationError("Already signed.", code="locked"), 422),
        (ValidationError("A patient like this exists.", code="duplicate"), 409),
        (ValidationError({"starts_at": ["Room 1 is booked."]}, code="conflict"), 409),
        (PermissionDenied("Your role cannot sign treatment sessions."), 403),
        (Http404("No such patient."), 404),
        (AuthenticationError(), 401),
        (HttpError(400, "Cannot parse request body"), 400),
        (OverflowError("Python int too large to convert to SQLite INTEGER"), 422),
        (IntegrityError("CHECK constraint failed: salt_range"), 422),
        (IntegrityError("UNIQUE constraint failed: lot.lot_number"), 409),
    ],
)
def test_each_domain_error_has_one_status(exc, status):
    assert _body(exc)[0] == status


def test_field_errors_name_the_field_and_keep_the_words():
    _, body = _body(ValidationError({"phone": "Too short.", "__all__": "Pick one."}))
    assert body["errors"] == [
        {"field": "body.phone", "message": "Too short."},
        {"field": "body", "message": "Pick one."},
    ]
    _, body = _body(ValidationError({"query.rule": "Unknown responder rule."}))
    assert body["errors"][0]["field"] == "query.rule"


def test_framework_and_database_words_do_not_reach_people():
    for exc in (
        HttpError(400, "Cannot parse request body"),
        HttpError(403, "CSRF check Failed"),
        OverflowError("Python int too large to convert to SQLite INTEGER"),
        IntegrityError("UNIQUE constraint failed: procedures_lot.lot_number"),
        Http404("No Patient matches the given query."),
    ):
        text = json.dumps(_body(exc)[1])
        for word in ("SQLite", "Python", "constraint", "procedures_lot", "Patient matches"):
            assert word not in text, (exc, text)


def test_unknown_errors_are_not_mapped():
    assert problem_for(RuntimeError("boom")) is None


@pytest.fixture
def openapi(db):
    return Client().get("/api/v1/openapi.json").json()


def test_every_operation_documents_its_problems(openapi):
    assert {"Problem", "ProblemError"} <= set(openapi["components"]["schemas"])
    for path, item in openapi["paths"].items():
        for method, op in item.items():
            codes = {int(c) for c in op["responses"]}
            assert {401, 403} <= codes, (method, path)
            if "{" in path:
                assert {404, 422} <= codes, (method, path)
            if "requestBody" in op:
                assert {400, 422} <= codes, (method, path)
            for code, response in op["responses"].items():
                if code.startswith("4"):
                    assert response["content"] == {
                        PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}
                    }, (method, path, code)


def test_conflicts_are_documented_where_they_happen(openapi):
    paths = openapi["paths"]
    assert "409" in paths["/api/v1/patients"]["post"]["responses"]
    assert "409" in paths["/api/v1/scheduling/appointments"]["post"]["responses"]
    assert "409" in paths["/api/v1/scheduling/plans"]["post"]["responses"]
    assert "409" not in paths["/api/v1/patients"]["get"]["responses"]


@pytest.fixture
def call(clinic_a):
    _, raw = api_token_create(
        membership=Membership.objects.get(user=clinic_a.front_desk), name="strict"
    )
    client = Client()

    def call(method, url, body=None):
        return getattr(client, method)(
            url,
            data=json.dumps(body) if body is not None else None,
            content_type="application/json",
            headers={"Authorization": f"Bearer {raw}"},
        )

    return call


def test_bodies_are_held_to_their_documented_json_types(call):
    new = {"given_name": "Ann", "family_name": "Lee", "birth_date": "1990-02-03", "sex": "female"}
    r = call("post", "/api/v1/patients", {**new, "sms_reminders": 0, "birth_date": 19900203})
    assert r.status_code == 422
    errors = {e["field"]: e["message"] for e in r.json()["errors"]}
    assert set(errors) == {"body.sms_reminders", "body.birth_date"}
    assert not any(m.startswith("Value error") for m in errors.values())
    assert call("post", "/api/v1/patients", new).status_code == 201


def test_query_instants_are_iso_8601(call):
    r = call("get", "/api/v1/scheduling/appointments?from=0.5")
    assert r.status_code == 422
    assert (
        call("get", "/api/v1/scheduling/appointments?from=2026-01-01T09:00:00Z").status_code == 200
    )
