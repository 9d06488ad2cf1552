"""API: plans and appointments, with the same rules as the pages."""

from __future__ import annotations

import datetime as dt

import pytest

from anagen.scheduling.models import TreatmentPlan
from anagen.scheduling.tests.conftest import at, next_monday

pytestmark = pytest.mark.django_db

API = "/api/v1/scheduling"
PROTOCOL = "prp-aga-monthly-3"


def _post(c, url, data):
    return c.post(url, data, content_type="application/json")


def _patch(c, url, data):
    # Changes need If-Match (anagen/interop/tests/test_etag.py tests the tags themselves).
    return c.patch(url, data, content_type="application/json", headers={"If-Match": "*"})


def test_preview_create_list_read_plan(clinic_a, kit_a, patient_a):
    c = clinic_a.client(clinic_a.physician)
    start = next_monday().isoformat()
    r = _post(
        c,
        f"{API}/plans/preview",
        {"patient_id": patient_a.pk, "protocol_id": PROTOCOL, "start_on": start},
    )
    assert r.status_code == 200
    sessions = r.json()
    assert [s["n"] for s in sessions] == [1, 2, 3] and sessions[0]["slots"]
    choices = [{"n": s["n"], **s["slots"][0]} for s in sessions]
    for ch in choices:
        ch.pop("ends_at")
    r = _post(
        c,
        f"{API}/plans",
        {
            "patient_id": patient_a.pk,
            "protocol_id": PROTOCOL,
            "start_on": start,
            "choices": choices,
        },
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert len(body["appointments"]) == 3 and body["status"] == "planned"
    assert c.get(f"{API}/plans?patient={patient_a.pk}").json()["count"] == 1
    assert c.get(f"{API}/plans/{body['id']}").json()["protocol_id"] == PROTOCOL
    appts = c.get(f"{API}/appointments?patient={patient_a.pk}").json()
    assert appts["count"] == 3


def test_plan_errors_are_problems_with_field_paths(clinic_a, kit_a, patient_a):
    c = clinic_a.client(clinic_a.physician)
    r = _post(
        c,
        f"{API}/plans",
        {"patient_id": patient_a.pk, "protocol_id": "nope", "start_on": next_monday().isoformat()},
    )
    assert r.status_code == 422
    assert r["Content-Type"] == "application/problem+json"
    assert r.json()["errors"][0]["field"] == "body.protocol_id"
    r = _post(
        c,
        f"{API}/plans",
        {"patient_id": patient_a.pk, "protocol_id": PROTOCOL, "start_on": "2020-13-01"},
    )
    assert r.status_code == 422
    r = _post(
        clinic_a.client(clinic_a.front_desk),
        f"{API}/plans",
        {
            "patient_id": patient_a.pk,
            "protocol_id": PROTOCOL,
            "start_on": next_monday().isoformat(),
        },
    )
    assert r.status_code == 403
    assert not TreatmentPlan.objects.exists()


def test_create_conflict_is_409_and_move_outside_window_is_422(clinic_a, kit_a, patient_a):
    c = clinic_a.client(clinic_a.front_desk)
    body = {
        "patient_id": patient_a.pk,
        "kind": "maintenance",
        "procedure": "prp_scalp",
        "starts_at": at(next_monday(), 10).isoformat(),
        "practitioner_id": kit_a.physician.pk,
        "room_id": kit_a.room1.pk,
        "centrifuge_id": kit_a.centrifuge.pk,
    }
    r = _post(c, f"{API}/appointments", body)
    assert r.status_code == 201, r.content
    appt_id = r.json()["id"]
    r = _post(c, f"{API}/appointments", {**body, "room_id": kit_a.room2.pk})
    assert r.status_code == 409
    assert "is already booked at" in r.json()["errors"][0]["message"]
    # a series session moved out of its window needs confirm_outside_window
    plan = _post(
        clinic_a.client(clinic_a.physician),
        f"{API}/plans",
        {
            "patient_id": patient_a.pk,
            "protocol_id": PROTOCOL,
            "start_on": next_monday(weeks=3).isoformat(),
        },
    ).json()
    s2 = plan["appointments"][1]
    later = (dt.datetime.fromisoformat(s2["starts_at"]) + dt.timedelta(days=14)).isoformat()
    r = _patch(c, f"{API}/appointments/{s2['id']}", {"starts_at": later})
    assert (
        r.status_code == 422 and "outside its protocol window" in r.json()["errors"][0]["message"]
    )
    r = _patch(
        c, f"{API}/appointments/{s2['id']}", {"starts_at": later, "confirm_outside_window": True}
    )
    assert r.status_code == 200 and r.json()["starts_at"].startswith(later[:16])
    r = _patch(c, f"{API}/appointments/{appt_id}", {"status": "cancelled"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.reason"
    r = _patch(c, f"{API}/appointments/{appt_id}", {"status": "cancelled", "reason": "ill"})
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    r = _patch(c, f"{API}/appointments/{appt_id}", {})
    assert r.status_code == 422


def test_other_clinic_is_404_everywhere(clinic_a, clinic_b, kit_a, patient_a, patient_b):
    plan = _post(
        clinic_a.client(clinic_a.physician),
        f"{API}/plans",
        {
            "patient_id": patient_a.pk,
            "protocol_id": PROTOCOL,
            "start_on": next_monday().isoformat(),
        },
    ).json()
    b = clinic_b.client(clinic_b.physician)
    appt = plan["appointments"][0]["id"]
    assert b.get(f"{API}/plans/{plan['id']}").status_code == 404
    assert b.get(f"{API}/appointments/{appt}").status_code == 404
    assert _patch(b, f"{API}/appointments/{appt}", {"notes": "x"}).status_code == 404
    assert (
        _patch(b, f"{API}/plans/{plan['id']}", {"status": "cancelled", "reason": "x"}).status_code
        == 404
    )
    assert b.get(f"{API}/appointments?patient={patient_a.pk}").status_code == 404
    assert b.get(f"{API}/appointments").json()["count"] == 0
    assert (
        _post(
            b,
            f"{API}/plans/preview",
            {
                "patient_id": patient_a.pk,
                "protocol_id": PROTOCOL,
                "start_on": next_monday().isoformat(),
            },
        ).status_code
        == 404
    )
    r = _post(
        b,
        f"{API}/appointments",
        {
            "patient_id": patient_b.pk,
            "kind": "consultation",
            "starts_at": at(next_monday(), 10).isoformat(),
            "practitioner_id": kit_a.physician.pk,
            "room_id": kit_a.room1.pk,
        },
    )
    assert r.status_code == 422  # A's resources are not B's to book


def test_plan_cancel_via_api(clinic_a, kit_a, patient_a):
    c = clinic_a.client(clinic_a.physician)
    plan = _post(
        c,
        f"{API}/plans",
        {
            "patient_id": patient_a.pk,
            "protocol_id": PROTOCOL,
            "start_on": next_monday().isoformat(),
        },
    ).json()
    r = _patch(c, f"{API}/plans/{plan['id']}", {"status": "cancelled", "reason": "changed mind"})
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert {a["status"] for a in r.json()["appointments"]} == {"cancelled"}
