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
