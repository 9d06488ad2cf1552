"""API: list/read/create for assessments, screenings and consents, with the pages' rules."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from anagen.accounts.models import Membership
from anagen.accounts.services import api_token_create
from anagen.audit.models import AuditEvent
from anagen.care.models import Consent
from anagen.care.tests.helpers import ready_patient, record_intake

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(clinic_a):
    tokens = {}
    for name in ("physician", "nurse", "front_desk", "admin"):
        user = getattr(clinic_a, name)
        _, tokens[name] = api_token_create(
            membership=Membership.objects.get(user=user, clinic=clinic_a.clinic), name=name
        )
    client = Client()

    def call(method, url, body=None, who="physician"):
        kwargs: dict[str, Any] = {
            "content_type": "application/json",
            # Changes need If-Match (anagen/interop/tests/test_etag.py tests the tags themselves).
            "headers": {"Authorization": f"Bearer {tokens[who]}", "If-Match": "*"},
        }
        if body is not None:
            kwargs["data"] = json.dumps(body)
        return getattr(client, method)(f"/api/v1/care{url}", **kwargs)

    return call


def assessment_body(**overrides):
    body = {
        "visit_on": timezone.localdate().isoformat(),
        "diagnosis_code": "female_pattern_hair_loss",
        "scale_id": "ludwig",
        "scale_value": "II",
        "follicles_present": True,
    }
    body.update(overrides)
    return body


def test_assessment_create_read_sign_list(api, clinic_a, patient_a):
    base = f"/patients/{patient_a.pk}/assessments"
    r = api("post", base, assessment_body(), who="nurse")
    assert r.status_code == 201, r.content
    data = r.json()
    assert data["version"] == 1 and data["scale_value"] == "II" and data["signed_at"] is None
    assert data["icd10"] == "L64.9" and data["created_by"] == "a.nurse"
    assert api("post", f"{base}/1/sign", who="nurse").status_code == 403
    r = api("post", f"{base}/1/sign")
    assert r.status_code == 200 and r.json()["signed_by"] == "a.physician"
    r = api("post", f"{base}/1/sign")
    assert r.status_code == 422 and "already signed" in r.json()["errors"][0]["message"]
    assert api("get", f"{base}/1").json()["version"] == 1
    listing = api("get", base).json()
    assert listing["count"] == 1 and listing["results"][0]["version"] == 1
    assert AuditEvent.objects.filter(action="assessment.read", via="api").count() == 2


def test_assessment_validation_problems(api, patient_a):
    base = f"/patients/{patient_a.pk}/assessments"
    r = api("post", base, assessment_body(scale_id="norwood_hamilton", scale_value="IV"))
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "body.scale_id"
    r = api("post", base, assessment_body(scale_value="IX"))
    assert r.status_code == 422
    assert r.json()["errors"][0] == {
        "field": "body.scale_value",
        "message": "Ludwig: unknown value 'IX' (expected one of: I, II, III).",
    }
    r = api("post", base, assessment_body(salt_vertex=101))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.salt_vertex"
    r = api("post", base, assessment_body(diagnosis_code="flu"))
    assert r.status_code == 422 and "Unknown diagnosis" in r.json()["errors"][0]["message"]


def test_screening_create_read_override_rules(api, clinic_a, patient_a):
    base = f"/patients/{patient_a.pk}/screenings"
    r = api("post", base, {"procedure": "prp_scalp"})
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {"field": "body", "message": "Record an intake before screening."}
    ]
    ready_patient(clinic_a, patient_a, smoking="current")
    r = api("post", base, {"procedure": "prp_scalp"}, who="nurse")
    assert r.status_code == 201
    s = r.json()
    assert s["decision"] == "review" and s["trigger"] == "manual"
    assert s["findings"][0]["rule"] == "smoking" and s["inputs"]["procedure"] == "prp_scalp"
    url = f"{base}/{s['id']}/override"
    assert api("post", url, {"reason": "Counselled, accepts risk."}, who="nurse").status_code == 403
    r = api("post", url, {"reason": "too short"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.reason"
    r = api("post", url, {"reason": "Counselled, accepts risk."})
    assert r.status_code == 200 and r.json()["effective_decision"] == "eligible"
    assert api("get", f"{base}/{s['id']}").json()["override_by"] == "a.physician"
    assert api("get", base).json()["count"] == 1
    r = api("post", base, {"procedure": "botox"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.procedure"


def test_contraindicated_override_is_refused(api, clinic_a, patient_a):
    ready_patient(clinic_a, patient_a, conditions=["platelet_dysfunction"])
    s = api("post", f"/patients/{patient_a.pk}/screenings", {"procedure": "prp_scalp"}).json()
    assert s["decision"] == "contraindicated"
    r = api(
        "post",
        f"/patients/{patient_a.pk}/screenings/{s['id']}/override",
        {"reason": "I insist on treating."},
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["message"] == "A contraindicated result cannot be overridden."


def test_consents_sign_read_withdraw_and_status(api, clinic_a, patient_a):
    base = f"/patients/{patient_a.pk}/consents"
    body = {"kind": "photo_teaching", "signed_name": "José Álvarez", "agreed": True}
    assert api("post", base, body, who="front_desk").status_code == 403
    r = api("post", base, {**body, "agreed": False}, who="nurse")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.agreed"
    r = api("post", base, body, who="nurse")
    assert r.status_code == 201
    c = r.json()
    assert c["witness"] == "a.nurse" and c["template_version"] == 1 and len(c["sha256"]) == 64
    assert api("get", f"{base}/{c['id']}").json()["sha256"] == c["sha256"]
    assert api("get", base).json()["count"] == 1
    status = {
        s["kind"]: s["status"]
        for s in api("get", f"/patients/{patient_a.pk}/consent-status", who="front_desk").json()
    }
    assert status["photo_teaching"] == "valid" and status["photo_marketing"] == "none"
    # Front desk sees the status, not the signed documents.
    assert api("get", base, who="front_desk").status_code == 403
    assert api("get", f"{base}/{c['id']}", who="front_desk").status_code == 403
    r = api("post", f"{base}/{c['id']}/withdraw", {"reason": "Changed her mind."})
    assert r.status_code == 200 and r.json()["withdrawn_at"]
    r = api("post", f"{base}/{c['id']}/withdraw", {"reason": "Changed her mind."})
    assert r.status_code == 422
    assert Consent.objects.get().snapshot_html  # kept as signed
    r = api("post", base, {**body, "kind": "tattoo"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.kind"


def test_consent_templates_listing(api):
    rows = api("get", "/consent-templates", who="front_desk").json()
    assert {r["kind"] for r in rows} >= {"prp_scalp", "photo_marketing"}
    assert all(r["version"] >= 1 for r in rows)


def test_other_clinic_is_404_on_every_endpoint(api, clinic_b, patient_b):
    ready_patient(clinic_b, patient_b)
    from anagen.care import services

    s = services.screening_run(
        actor=clinic_b.actor(clinic_b.physician), patient=patient_b, procedure="prp_scalp"
    )
    c = Consent.objects.get(patient=patient_b)
    pid = patient_b.pk
    for method, url, body in [
        ("get", f"/patients/{pid}/assessments", None),
        ("post", f"/patients/{pid}/assessments", assessment_body()),
        ("get", f"/patients/{pid}/assessments/1", None),
        ("post", f"/patients/{pid}/assessments/1/sign", None),
        ("get", f"/patients/{pid}/screenings", None),
        ("post", f"/patients/{pid}/screenings", {"procedure": "prp_scalp"}),
        ("get", f"/patients/{pid}/screenings/{s.pk}", None),
        ("post", f"/patients/{pid}/screenings/{s.pk}/override", {"reason": "long enough reason"}),
        ("get", f"/patients/{pid}/consents", None),
        (
            "post",
            f"/patients/{pid}/consents",
            {"kind": "prp_scalp", "signed_name": "x", "agreed": True},
        ),
        ("get", f"/patients/{pid}/consents/{c.pk}", None),
        ("post", f"/patients/{pid}/consents/{c.pk}/withdraw", {"reason": "long enough reason"}),
        ("get", f"/patients/{pid}/consent-status", None),
    ]:
        r = api(method, url, body)
        assert r.status_code == 404, (method, url, r.status_code)


def test_front_desk_and_admin_cannot_read_clinical(api, clinic_a, patient_a):
    record_intake(clinic_a, patient_a)
    for who in ("front_desk", "admin"):
        assert api("get", f"/patients/{patient_a.pk}/assessments", who=who).status_code == 403
        assert api("get", f"/patients/{patient_a.pk}/screenings", who=who).status_code == 403
        r = api("post", f"/patients/{patient_a.pk}/assessments", assessment_body(), who=who)
        assert r.status_code == 403
