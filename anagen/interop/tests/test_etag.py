"""No lost updates on the API: every protected record answers with an ETag, and a change needs
If-Match (428 without, 412 when someone changed the record since it was read)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from anagen.accounts.models import Membership
from anagen.accounts.services import api_token_create
from anagen.billing import services as billing
from anagen.billing.tests.helpers import prices
from anagen.care.tests.helpers import assess, consent, ready_patient, record_intake
from anagen.interop.etag import etag_of, if_match_ok, version_of
from anagen.procedures.tests.helpers import full_prep, start
from anagen.scheduling import services as scheduling
from anagen.scheduling.tests.conftest import make_kit, next_monday

pytestmark = pytest.mark.django_db


@dataclass
class Protected:
    read: str  # the URL that answers with the record and its ETag
    method: str  # the change
    write: str
    body: dict[str, Any]
    who: str  # the role that may make the change
    again: dict[str, Any] | None = None  # a second change (default: the same body)


def _patient(staff, patient) -> Protected:
    url = f"/api/v1/patients/{patient.pk}"
    return Protected(url, "patch", url, {"email": "first@example.com"}, "front_desk",
                     {"email": "second@example.com"})  # fmt: skip


def _intake(staff, patient) -> Protected:
    record_intake(staff, patient)
    url = f"/api/v1/patients/{patient.pk}/intake"
    return Protected(url, "put", url, {"smoking": "former"}, "nurse")


def _assessment(staff, patient) -> Protected:
    assess(staff, patient, sign=False)
    url = f"/api/v1/care/patients/{patient.pk}/assessments/1"
    body = {"visit_on": "2026-01-05", "diagnosis_code": "androgenetic_alopecia",
            "scale_id": "norwood_hamilton", "scale_value": "III vertex", "notes": "first"}  # fmt: skip
    return Protected(url, "put", url, body, "physician", {**body, "notes": "second"})


def _consent(staff, patient) -> Protected:
    c = consent(staff, patient)
    url = f"/api/v1/care/patients/{patient.pk}/consents/{c.pk}"
    return Protected(url, "post", f"{url}/withdraw", {"reason": "Changed her mind."}, "nurse")


def _plan(staff, patient) -> Protected:
    make_kit(staff)
    plan = scheduling.plan_book_series(
        actor=staff.actor(staff.physician),
        patient=patient,
        protocol_id="prp-aga-monthly-3",
        start_on=next_monday(),
    )
    url = f"/api/v1/scheduling/plans/{plan.pk}"
    return Protected(
        url, "patch", url, {"status": "cancelled", "reason": "moved away"}, "physician"
    )


def _session(staff, patient) -> Protected:
    ready_patient(staff, patient)
    session = start(staff, patient)
    url = f"/api/v1/procedures/sessions/{session.pk}"
    body = json.loads(json.dumps(full_prep(), default=str))
    return Protected(url, "put", f"{url}/preparation", body, "nurse",
                     {**body, "tubes": 2})  # fmt: skip


def _session_details(staff, patient) -> Protected:
    ready_patient(staff, patient)
    url = f"/api/v1/procedures/sessions/{start(staff, patient).pk}"
    return Protected(url, "patch", url, {"notes": "first", "aftercare_given": True}, "nurse",
                     {"notes": "second"})  # fmt: skip


ZONE = {"zone": "vertex", "volume_ml": "1.5", "technique": "nappage", "depth_mm": "2"}


def _injection_map(staff, patient) -> Protected:
    ready_patient(staff, patient)
    url = f"/api/v1/procedures/sessions/{start(staff, patient).pk}"
    return Protected(url, "put", f"{url}/zones", {"zones": [ZONE]}, "nurse",
                     {"zones": [{**ZONE, "volume_ml": "2.0"}]})  # fmt: skip


def _topical(staff, patient) -> Protected:
    ready_patient(staff, patient)
    url = f"/api/v1/procedures/sessions/{start(staff, patient).pk}"
    body = {"device": "Dermapen 4", "needle_depth_mm": "0.5", "passes": 3, "volume_ml": "4.0"}
    return Protected(url, "put", f"{url}/topical", body, "nurse", {**body, "passes": 4})


def _meso_formulation(staff):
    from decimal import Decimal

    from anagen.procedures import services as procedures

    return procedures.formulation_create(
        actor=staff.actor(staff.physician),
        name="DCA 10 mg/mL",
        vial="single",
        indications=["body_contouring"],
        ingredients=[{"name": "Deoxycholic acid", "code": "deoxycholic_acid",
                      "concentration": Decimal("10"), "unit": "mg_per_mL"}],
    )  # fmt: skip


MESO = {"zone": "submental", "technique": "point_by_point", "device": "needle",
        "injection_points": 5, "volume_per_point_ml": "0.2", "area_cm2": "45"}  # fmt: skip


def _meso_delivery(staff, patient) -> Protected:
    ready_patient(staff, patient)
    consent(staff, patient, "mesotherapy_body")
    formulation = _meso_formulation(staff)
    url = f"/api/v1/procedures/sessions/{start(staff, patient, 'mesotherapy_body').pk}"
    body = {**MESO, "formulation_id": formulation.pk}
    return Protected(url, "post", f"{url}/meso-deliveries", body, "nurse")


def _invoice(staff, patient) -> Protected:
    prices(staff)
    invoice = billing.invoice_create(actor=staff.actor(staff.front_desk), patient=patient)
    url = f"/api/v1/billing/invoices/{invoice.pk}"
    return Protected(url, "post", f"{url}/lines", {"code": "consultation", "quantity": 1},
                     "front_desk")  # fmt: skip


PROTECTED: dict[str, Callable[..., Protected]] = {
    "patient": _patient,
    "intake": _intake,
    "assessment": _assessment,
    "consent": _consent,
    "plan": _plan,
    "session record": _session,
    "session details": _session_details,
    "injection map": _injection_map,
    "topical application": _topical,
    "mesotherapy delivery": _meso_delivery,
    "invoice": _invoice,
}


@pytest.fixture
def call(clinic_a):
    client = Client()
    tokens: dict[str, str] = {}

    def do(method: str, url: str, who: str, body: Any = None, if_match: str | None = None):
        if who not in tokens:
            membership = Membership.objects.get(user=getattr(clinic_a, who), clinic=clinic_a.clinic)
            tokens[who] = api_token_create(membership=membership, name=who)[1]
        headers = {"Authorization": f"Bearer {tokens[who]}"}
        if if_match is not None:
            headers["If-Match"] = if_match
        kwargs: dict[str, Any] = {"content_type": "application/json", "headers": headers}
        if body is not None:
            kwargs["data"] = json.dumps(body)
        return getattr(client, method)(url, **kwargs)

    return do


def _is_problem(response, status: int) -> bool:
    return (
        response.status_code == status
        and response["Content-Type"] == "application/problem+json"
        and response.json()["status"] == status
    )


@pytest.mark.parametrize("kind", list(PROTECTED))
def test_changes_need_the_current_etag(kind, call, clinic_a, patient_a):
    p = PROTECTED[kind](clinic_a, patient_a)
    read = call("get", p.read, p.who if kind != "assessment" else "physician")
    assert read.status_code == 200, read.content
    first = read["ETag"]
    assert first.startswith('"') and first.endswith('"')  # a strong validator
    assert call("get", p.read, p.who)["ETag"] == first  # stable while nothing changes

    missing = call(p.method, p.write, p.who, p.body)
    assert _is_problem(missing, 428), missing.content
    assert "If-Match" in missing.json()["detail"]
    assert _is_problem(call(p.method, p.write, p.who, p.body, if_match='"stale"'), 412)
    assert _is_problem(call(p.method, p.write, p.who, p.body, if_match=f"W/{first}"), 412)

    changed = call(p.method, p.write, p.who, p.body, if_match=first)
    assert 200 <= changed.status_code < 300, changed.content
    second = changed["ETag"]
    assert second != first
    assert call("get", p.read, p.who)["ETag"] == second  # what the change answered is current

    # Someone who read the record before that change cannot overwrite it.
    lost = call(p.method, p.write, p.who, p.again or p.body, if_match=first)
    assert _is_problem(lost, 412), lost.content
    assert "changed since you read it" in lost.json()["detail"]


def test_removing_a_meso_delivery_needs_the_session_records_etag(call, clinic_a, patient_a):
    p = _meso_delivery(clinic_a, patient_a)
    created = call("post", p.write, "nurse", p.body, if_match=call("get", p.read, "nurse")["ETag"])
    assert created.status_code == 201, created.content
    url = f"{p.write}/{created.json()['id']}"
    assert _is_problem(call("delete", url, "nurse"), 428)
    assert _is_problem(call("delete", url, "nurse", if_match='"stale"'), 412)
    current = call("get", p.read, "nurse")["ETag"]
    assert current == created["ETag"]  # the create answered the record's new version
    removed = call("delete", url, "nurse", if_match=current)
    assert removed.status_code == 204, removed.content
    assert removed["ETag"] == call("get", p.read, "nurse")["ETag"] != current
    assert call("get", p.write, "nurse").json() == []


def test_session_details_patch_changes_only_what_is_sent(call, clinic_a, patient_a):
    p = _session_details(clinic_a, patient_a)
    first = call("get", p.read, "nurse")
    assert first.json()["notes"] == "" and first.json()["aftercare_given"] is False
    body = {"rotor_radius_cm": "10.5", "baseline_photos_taken": True}
    changed = call("patch", p.write, "nurse", body, if_match=first["ETag"])
    assert changed.status_code == 200, changed.content
    record = changed.json()
    assert record["rotor_radius_cm"] == "10.5" and record["baseline_photos_taken"] is True
    assert record["aftercare_given"] is False and record["notes"] == ""
    for bad in ({}, {"notes": None}, {"delivery_mode": "sideways"}, {"rotor_radius_cm": 99}):
        refused = call("patch", p.write, "nurse", bad, if_match=changed["ETag"])
        assert _is_problem(refused, 422), (bad, refused.content)
    assert call("get", p.read, "nurse")["ETag"] == changed["ETag"]  # nothing was written


def test_another_clinics_record_is_404_before_the_precondition(call, clinic_b, patient_b):
    p = _patient(clinic_b, patient_b)
    assert call(p.method, p.write, p.who, p.body).status_code == 404


def test_first_intake_needs_no_etag_but_the_next_does(call, clinic_a, patient_a):
    url = f"/api/v1/patients/{patient_a.pk}/intake"
    assert call("get", url, "nurse").status_code == 404
    first = call("put", url, "nurse", {"smoking": "never"})
    assert first.status_code == 200 and first.json()["version"] == 1
    assert call("put", url, "nurse", {"smoking": "current"}).status_code == 428
    second = call("put", url, "nurse", {"smoking": "current"}, if_match=first["ETag"])
    assert second.status_code == 200 and second.json()["version"] == 2


def test_if_match_lists_and_star(clinic_a, patient_a):
    tag = etag_of(patient_a)
    assert if_match_ok(f'"other", {tag}', patient_a)
    assert if_match_ok("*", patient_a)
    assert not if_match_ok('"other"', patient_a)
    assert version_of(patient_a) == tag.strip('"')


def test_openapi_documents_the_header_and_the_problems(db):
    schema = Client().get("/api/v1/openapi.json").json()
    writes = [
        ("patch", "/api/v1/patients/{patient_id}"),
        ("put", "/api/v1/patients/{patient_id}/intake"),
        ("put", "/api/v1/care/patients/{patient_id}/assessments/{version}"),
        ("post", "/api/v1/care/patients/{patient_id}/assessments/{version}/sign"),
        ("post", "/api/v1/care/patients/{patient_id}/consents/{consent_id}/withdraw"),
        ("patch", "/api/v1/scheduling/plans/{plan_id}"),
        ("put", "/api/v1/procedures/sessions/{session_id}/preparation"),
        ("patch", "/api/v1/procedures/sessions/{session_id}"),
        ("put", "/api/v1/procedures/sessions/{session_id}/zones"),
        ("put", "/api/v1/procedures/sessions/{session_id}/topical"),
        ("post", "/api/v1/procedures/sessions/{session_id}/meso-deliveries"),
        ("delete", "/api/v1/procedures/sessions/{session_id}/meso-deliveries/{delivery_id}"),
        ("post", "/api/v1/billing/invoices/{invoice_id}/lines"),
    ]
    for method, path in writes:
        operation = schema["paths"][path][method]
        headers = [p for p in operation["parameters"] if p["in"] == "header"]
        if_match = [h for h in headers if h["name"] == "If-Match"]
        assert if_match and if_match[0]["description"], path
        for status in ("412", "428"):
            content = operation["responses"][status]["content"]
            assert "application/problem+json" in content, (path, status)
        ok = next(code for code in operation["responses"] if code.startswith("2"))
        assert "ETag" in operation["responses"][ok]["headers"], path
    reads = [
        "/api/v1/patients/{patient_id}",
        "/api/v1/patients/{patient_id}/intake",
        "/api/v1/care/patients/{patient_id}/assessments/{version}",
        "/api/v1/care/patients/{patient_id}/consents/{consent_id}",
        "/api/v1/scheduling/plans/{plan_id}",
        "/api/v1/procedures/sessions/{session_id}",
        "/api/v1/billing/invoices/{invoice_id}",
    ]
    for path in reads:
        assert "ETag" in schema["paths"][path]["get"]["responses"]["200"]["headers"], path
