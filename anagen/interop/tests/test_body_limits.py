"""An API body over the limit is a 413 problem document, in development and in production."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from anagen.accounts.models import Membership
from anagen.accounts.services import api_token_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(clinic_a):
    _, raw = api_token_create(
        membership=Membership.objects.get(user=clinic_a.front_desk), name="limits"
    )
    return raw


def _post(token: str, size: int):
    body = json.dumps({"given_name": "x" * size, "family_name": "Big"})
    return Client(raise_request_exception=False).post(
        "/api/v1/patients",
        data=body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


@pytest.mark.parametrize("debug", [True, False])
def test_a_ten_megabyte_body_is_a_413_problem(settings, token, debug):
    settings.DEBUG = debug
    response = _post(token, 10 * 1024 * 1024)
    assert response.status_code == 413
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 413 and problem["title"] == "Content too large"
    assert "at most 2,621,440 bytes" in problem["detail"]


def test_the_limit_is_a_setting(settings, token):
    settings.ANAGEN_API_MAX_BODY = 1000
    assert _post(token, 2000).status_code == 413
    response = _post(token, 10)
    assert response.status_code != 413  # a small body reaches the API (which validates it)


def test_pages_are_not_affected(client):
    response = client.get("/healthz")
    assert response.status_code == 200


# --- the OpenAPI document says so; a method a path does not take is a problem too -------------


def _operations():
    schema = Client().get("/api/v1/openapi.json").json()
    for path, item in schema["paths"].items():
        for method, op in item.items():
            if method in {"get", "put", "post", "patch", "delete"}:
                yield method, path, op


def test_every_operation_with_a_body_documents_the_413_problem():
    with_body = [(m, p, op) for m, p, op in _operations() if "requestBody" in op]
    assert len(with_body) > 40
    for method, path, op in with_body:
        response = op["responses"].get("413")
        assert response is not None, (method, path)
        assert list(response["content"]) == ["application/problem+json"], (method, path)
        assert "ANAGEN_API_MAX_BODY" in response["description"]
    for method, path, op in _operations():
        if "requestBody" not in op:
            assert "413" not in op["responses"], (method, path)


def test_every_post_documents_the_idempotency_key_header():
    posts = [(p, op) for m, p, op in _operations() if m == "post"]
    assert len(posts) > 30
    for path, op in posts:
        headers = {h["name"]: h for h in op.get("parameters", []) if h["in"] == "header"}
        key = headers.get("Idempotency-Key")
        assert key is not None, path
        assert key["required"] is False and key["schema"]["maxLength"] == 255
        assert "replays the first answer" in key["description"]
        for status in ("409", "422"):  # a reused key, a key still running
            assert "application/problem+json" in op["responses"][status]["content"], path
    for method, path, op in _operations():
        if method != "post":
            names = [h["name"] for h in op.get("parameters", []) if h["in"] == "header"]
            assert "Idempotency-Key" not in names, (method, path)


def test_a_method_the_path_does_not_take_is_a_405_problem(token):
    response = Client().put(
        "/api/v1/patients", data="{}", content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )  # fmt: skip
    assert response.status_code == 405
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 405 and response.json()["title"] == "Method not allowed"
    allowed = {m.strip() for m in response["Allow"].split(",")}
    assert {"GET", "POST"} <= allowed
    assert "PUT" in response.json()["detail"]
