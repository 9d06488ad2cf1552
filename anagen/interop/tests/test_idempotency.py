"""`Idempotency-Key` on API creates: a retry replays the first answer and writes nothing again."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client

from anagen.accounts.models import Membership
from anagen.accounts.services import api_token_create
from anagen.interop.models import IdempotencyKey
from anagen.patients.models import Patient

pytestmark = pytest.mark.django_db

NEW = {
    "given_name": "Idris",
    "family_name": "Okonkwo",
    "birth_date": "1979-07-01",
    "sex": "male",
    "phone": "+44 7700 900777",
}


@pytest.fixture
def post(clinic_a):
    _, raw = api_token_create(
        membership=Membership.objects.get(user=clinic_a.front_desk), name="retry"
    )

    def call(body: dict[str, Any], key: str | None = "create-idris-1", token: str = raw):
        headers = {"Authorization": f"Bearer {token}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return Client().post(
            "/api/v1/patients",
            data=json.dumps(body),
            content_type="application/json",
            headers=headers,
        )

    return call


def test_two_identical_posts_create_one_patient(post):
    first = post(NEW)
    assert first.status_code == 201, first.content
    second = post(NEW)
    assert second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert second["Content-Type"] == first["Content-Type"]
    assert Patient.objects.filter(family_name="Okonkwo").count() == 1


def test_without_a_key_nothing_is_remembered(post):
    assert post(NEW, key=None).status_code == 201
    assert IdempotencyKey.objects.count() == 0


def test_the_same_key_with_another_body_is_a_422_problem(post):
    assert post(NEW).status_code == 201
    other = post({**NEW, "given_name": "Ifeoma", "sex": "female"})
    assert other.status_code == 422
    assert other["Content-Type"] == "application/problem+json"
    assert other.json()["errors"][0]["field"] == "header.Idempotency-Key"
    assert Patient.objects.filter(family_name="Okonkwo").count() == 1


def test_a_key_still_running_is_a_409(post):
    # The first request holds the key (its answer not stored yet): a concurrent twin waits out.
    first = post(NEW)
    IdempotencyKey.objects.update(status=None, body=b"")
    again = post(NEW)
    assert again.status_code == 409
    assert "still running" in again.json()["detail"]
    assert Patient.objects.filter(family_name="Okonkwo").count() == 1
    assert first.status_code == 201


def test_keys_are_per_caller(post, clinic_a):
    _, other_token = api_token_create(
        membership=Membership.objects.get(user=clinic_a.admin), name="other"
    )
    assert post(NEW).status_code == 201
    # another caller with the same key is not answered with the first caller's data
    response = post(NEW, token=other_token)
    assert response.get("Idempotent-Replayed") is None


def test_keys_expire_after_a_day(post):
    assert post(NEW).status_code == 201
    IdempotencyKey.objects.update(created_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    again = post(NEW)
    assert again.get("Idempotent-Replayed") is None  # a new request, judged afresh
    assert IdempotencyKey.objects.filter(created_at__year=2020).count() == 0


def test_a_malformed_key_is_refused(post):
    response = post(NEW, key="x" * 300)
    assert response.status_code == 422
    assert Patient.objects.filter(family_name="Okonkwo").count() == 0
