"""API: sessions, preparation, lot use, lots and adverse events with the pages' rules."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from anagen.accounts.models import Membership
from anagen.accounts.services import api_token_create
from anagen.care.tests.helpers import assess, record_intake
from anagen.procedures import services
from anagen.procedures.tests.helpers import complete_prp, full_prep, make_lot, ready_patient, start

pytestmark = pytest.mark.django_db


def _api(staff):
    tokens = {}
    for name in ("physician", "nurse", "front_desk", "admin"):
        user = getattr(staff, name)
        _, tokens[name] = api_token_create(
            membership=Membership.objects.get(user=user, clinic=staff.clinic), name=name
        )
    client = Client()

    def call(method, url, body=None, who="nurse"):
        kwargs: dict[str, Any] = {
            "content_type": "application/json",
            # Changes need If-Match (anagen/interop/tests/test_etag.py tests the tags themselves).
            "headers": {"Authorization": f"Bearer {tokens[who]}", "If-Match": "*"},
        }
        if body is not None:
            kwargs["data"] = json.dumps(body, default=str)
        return getattr(client, method)(f"/api/v1/procedures{url}", **kwargs)

    return call


@pytest.fixture
def api(clinic_a):
    return _api(clinic_a)


def test_create_session_refused_without_consent(api, clinic_a, patient_a):
    record_intake(clinic_a, patient_a)
    assess(clinic_a, patient_a)
    r = api("post", "/sessions", {"patient_id": patient_a.pk, "procedure": "prp_scalp"})
    assert r.status_code == 422
    assert r["Content-Type"] == "application/problem+json"
    assert "No valid consent for PRP, scalp: none signed." in r.json()["errors"][0]["message"]


def test_session_lifecycle_over_the_api(api, clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    r = api("post", "/sessions", {"patient_id": patient_a.pk, "procedure": "prp_scalp"})
    assert r.status_code == 201, r.content
    sid = r.json()["id"]
    body = {k: v for k, v in full_prep().items()}
    body["spins"] = [{"g": 100, "minutes": 15}, {"rpm": 3783, "radius_cm": 10, "minutes": 20}]
    r = api("put", f"/sessions/{sid}/preparation", body)
    assert r.status_code == 200, r.content
    assert r.json()["computed"]["paw"]["code"] == "P4-x-B-β"
    assert api("get", f"/sessions/{sid}/preparation").json()["computed"]["fold"] == 6.4
    lot = make_lot(clinic_a)
    r = api("post", f"/sessions/{sid}/lot-uses", {"lot_id": lot.pk})
    assert r.status_code == 201 and r.json()["lot_number"] == "K-1001"
    r = api(
        "post",
        f"/sessions/{sid}/adverse-events",
        {
            "term": "pain",
            "ctcae_grade": 1,
            "onset_at": timezone.now().isoformat(),
            "relatedness": "definite",
            "action": "none",
            "outcome": "resolved",
            "lot_id": lot.pk,
        },
    )
    assert r.status_code == 201, r.content
    assert len(api("get", f"/sessions/{sid}/adverse-events").json()) == 1
    detail = api("get", f"/sessions/{sid}").json()
    assert {c["code"]: c["ok"] for c in detail["checklist"]}["lots"] is True
    listing = api("get", f"/sessions?patient_id={patient_a.pk}").json()
    assert listing["count"] == 1


def test_bad_input_and_expired_lot_are_422(api, clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    s = start(clinic_a, patient_a)
    r = api("put", f"/sessions/{s.pk}/preparation", {"blood_volume_ml": -1})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.blood_volume_ml"
    r = api("put", f"/sessions/{s.pk}/preparation", full_prep(injected_volume_ml="9", spins=[]))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.injected_volume_ml"
    old = make_lot(clinic_a, number="OLD", expires_in_days=-2)
    r = api("post", f"/sessions/{s.pk}/lot-uses", {"lot_id": old.pk})
    assert r.status_code == 422
    assert "expired on" in r.json()["errors"][0]["message"]
    r = api(
        "post",
        f"/sessions/{s.pk}/adverse-events",
        {
            "term": "nonsense",
            "ctcae_grade": 2,
            "onset_at": timezone.now().isoformat(),
            "relatedness": "possible",
            "action": "none",
            "outcome": "recovering",
        },
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.term"
    r = api(
        "post",
        f"/sessions/{s.pk}/adverse-events",
        {
            "term": "pain",
            "ctcae_grade": 7,
            "onset_at": timezone.now().isoformat(),
            "relatedness": "possible",
            "action": "none",
            "outcome": "recovering",
        },
    )
    assert r.status_code == 422


def test_signed_preparation_needs_a_reason(api, clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    s = complete_prp(clinic_a, start(clinic_a, patient_a))
    services.session_sign(actor=clinic_a.actor(clinic_a.physician), session=s)
    body = full_prep(spins=[])
    r = api("put", f"/sessions/{s.pk}/preparation", body, who="physician")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.reason"
    r = api(
        "put", f"/sessions/{s.pk}/preparation", {**body, "reason": "spins were wrong"}, who="nurse"
    )
    assert r.status_code == 403
    r = api(
        "put",
        f"/sessions/{s.pk}/preparation",
        {**body, "reason": "spins were wrong"},
        who="physician",
    )
    assert r.status_code == 200


def test_cross_clinic_is_404_and_roles_403(api, clinic_a, clinic_b, patient_a, patient_b):
    ready_patient(clinic_a, patient_a)
    s = start(clinic_a, patient_a)
    lot = make_lot(clinic_a)
    other = _api(clinic_b)
    for method, url, body in (
        ("get", f"/sessions/{s.pk}", None),
        ("get", f"/sessions/{s.pk}/preparation", None),
        ("put", f"/sessions/{s.pk}/preparation", {"blood_volume_ml": 10}),
        ("get", f"/sessions/{s.pk}/adverse-events", None),
        ("post", f"/sessions/{s.pk}/lot-uses", {"lot_id": lot.pk}),
        ("get", f"/sessions?patient_id={patient_a.pk}", None),
        ("post", "/sessions", {"patient_id": patient_a.pk, "procedure": "prp_scalp"}),
    ):
        assert other(method, url, body).status_code == 404, url
    # Clinic A's session with clinic B's lot: 404 too.
    lot_b = make_lot(clinic_b, number="B-9")
    assert api("post", f"/sessions/{s.pk}/lot-uses", {"lot_id": lot_b.pk}).status_code == 404
    assert api("get", f"/sessions/{s.pk}", who="front_desk").status_code == 403
    assert api("get", "/lots", who="front_desk").status_code == 403
    lots = api("get", "/lots", who="admin").json()
    assert lots["count"] == 1 and lots["results"][0]["lot_number"] == "K-1001"


def test_receive_lot_over_the_api(api, clinic_a):
    product = services.product_create(
        actor=clinic_a.actor(clinic_a.nurse), data={"name": "Kit", "category": "kit"}
    )
    future = (timezone.localdate() + dt.timedelta(days=30)).isoformat()
    r = api(
        "post",
        "/lots",
        {"product_id": product.pk, "lot_number": "A1", "expires_on": future, "quantity": 3},
    )
    assert r.status_code == 201 and r.json()["expired"] is False
    r = api(
        "post",
        "/lots",
        {"product_id": product.pk, "lot_number": "A1", "expires_on": future, "quantity": 3},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.lot_number"
