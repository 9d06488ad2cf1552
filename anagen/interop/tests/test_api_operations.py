"""The operations added for a complete API (issue 12): the room work (injection map, phases,
closing, signing), mesotherapy deliveries, adverse-event follow-ups, products and lot recall,
photos (multipart upload, download), report batches (job, download) and the audit log. Each
works through the apps' services, answers another clinic's object with a 404 problem and a
role without the permission with a 403 problem."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client, override_settings

from anagen.accounts.models import Membership
from anagen.accounts.services import api_token_create
from anagen.audit.models import AuditEvent
from anagen.outcomes.tests.helpers import jpeg, photo_consent
from anagen.procedures.tests.helpers import complete_prp, make_lot, ready_patient, start

pytestmark = pytest.mark.django_db

ROLES = ("physician", "nurse", "front_desk", "admin")
PROBLEM = "application/problem+json"
IMMEDIATE = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


def _api(staff):
    tokens = {}
    for name in ROLES:
        user = getattr(staff, name)
        _, tokens[name] = api_token_create(
            membership=Membership.objects.get(user=user, clinic=staff.clinic), name=name
        )
    client = Client()

    def call(method, url, body=None, who="nurse", headers=None, **extra):
        kwargs: dict[str, Any] = {
            "headers": {"Authorization": f"Bearer {tokens[who]}", **(headers or {})},
            **extra,
        }
        if body is not None:
            kwargs["content_type"] = "application/json"
            kwargs["data"] = json.dumps(body, default=str)
        return getattr(client, method)(f"/api/v1{url}", **kwargs)

    return call


@pytest.fixture
def api(clinic_a):
    return _api(clinic_a)


@pytest.fixture
def api_b(clinic_b):
    return _api(clinic_b)


def _problem(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    return response.json()


def test_room_work_zones_phases_close_and_sign(api, api_b, clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    session = complete_prp(clinic_a, start(clinic_a, patient_a))
    url = f"/procedures/sessions/{session.pk}"

    zones = [{"zone": "vertex", "volume_ml": "1.5", "technique": "nappage", "depth_mm": "2"}]
    _problem(api("put", f"{url}/zones", {"zones": zones}), 428)  # the session record's ETag
    r = api("put", f"{url}/zones", {"zones": zones}, headers={"If-Match": api("get", url)["ETag"]})
    assert r.status_code == 200, r.content
    assert [z["zone"] for z in r.json()] == ["vertex"]
    chin = {"zones": [{**zones[0], "zone": "chin"}]}
    body = _problem(api("put", f"{url}/zones", chin, headers={"If-Match": r["ETag"]}), 422)
    assert body["errors"][0]["field"] == "body.zones"

    r = api("post", f"{url}/phases", {"phase": "draw_at"})
    assert r.status_code == 200 and r.json()["draw_at"]

    r = api("post", f"{url}/close")
    assert r.status_code == 200 and r.json()["status"] == "ready_to_sign"

    _problem(api("post", f"{url}/sign", who="nurse", headers={"If-Match": "*"}), 403)
    _problem(api("post", f"{url}/sign", who="physician"), 428)
    _problem(api("post", f"{url}/sign", who="physician", headers={"If-Match": '"stale"'}), 412)
    etag = api("get", url)["ETag"]
    r = api("post", f"{url}/sign", who="physician", headers={"If-Match": etag})
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "signed" and r["ETag"] != etag
    assert AuditEvent.objects.filter(action="procedures.session.sign").exists()

    # signed: a change needs a reason (amendment)
    _problem(api("post", f"{url}/phases", {"phase": "draw_at"}, who="physician"), 422)
    # another clinic's session is a 404, never a 403
    _problem(api_b("post", f"{url}/phases", {"phase": "draw_at"}), 404)
    _problem(api_b("put", f"{url}/zones", {"zones": zones}), 404)


def test_meso_deliveries_and_formulations(api, api_b, clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    session = start(clinic_a, patient_a)
    url = f"/procedures/sessions/{session.pk}/meso-deliveries"
    assert api("get", "/procedures/formulations").status_code == 200
    assert api("get", url).json() == []
    body = {
        "formulation_id": 999999,
        "zone": "vertex",
        "technique": "nappage",
        "device": "needle",
        "injection_points": 10,
        "volume_per_point_ml": "0.05",
    }
    _problem(api("post", url, body), 404)
    _problem(api("delete", f"{url}/999999"), 404)
    _problem(api_b("get", url), 404)


def test_adverse_event_follow_ups(api, api_b, clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    session = start(clinic_a, patient_a)
    event = api(
        "post",
        f"/procedures/sessions/{session.pk}/adverse-events",
        {
            "term": "bruising",
            "ctcae_grade": 1,
            "onset_at": session.started_at,
            "relatedness": "definite",
            "action": "none",
            "outcome": "recovering",
        },
    )
    assert event.status_code == 201, event.content
    url = f"/procedures/sessions/{session.pk}/adverse-events/{event.json()['id']}/follow-ups"
    r = api("post", url, {"outcome": "resolved", "note": "Gone."})
    assert r.status_code == 201, r.content
    assert [f["outcome"] for f in api("get", url).json()] == ["resolved"]
    events = api("get", f"/procedures/sessions/{session.pk}/adverse-events").json()
    assert events[0]["outcome"] == "resolved" and events[0]["resolved_on"]
    _problem(api("post", url, {"outcome": "resolved"}), 422)  # resolved: no more follow-ups
    _problem(api("post", url, {"outcome": "resolved"}, who="front_desk"), 403)
    _problem(api_b("get", url), 404)


def test_products_lots_and_recall(api, api_b, clinic_a, patient_a):
    r = api("post", "/procedures/products", {"name": "Tube 8 mL", "category": "tube"})
    assert r.status_code == 201, r.content
    _problem(api("post", "/procedures/products", {"name": "tube 8 ML", "category": "tube"}), 422)
    names = [p["name"] for p in api("get", "/procedures/products").json()["results"]]
    assert names == ["Tube 8 mL"]
    _problem(api("get", "/procedures/products", who="front_desk"), 403)

    ready_patient(clinic_a, patient_a)
    lot = make_lot(clinic_a)
    complete_prp(clinic_a, start(clinic_a, patient_a), lot=lot)
    url = f"/procedures/lots/{lot.pk}"
    assert api("get", url).json()["recalled_at"] is None
    _problem(api("post", f"{url}/recall", {"reason": "x"}), 422)
    r = api("post", f"{url}/recall", {"reason": "Supplier notice 114: sterility"})
    assert r.status_code == 200, r.content
    assert r.json()["recalled_at"] and r.json()["recall_reason"].startswith("Supplier")
    _problem(api("post", f"{url}/recall", {"reason": "Supplier notice 114: again"}), 422)
    exposures = api("get", f"{url}/exposures").json()
    assert [e["patient_id"] for e in exposures] == [patient_a.pk]
    assert AuditEvent.objects.filter(action="procedures.lot.recall").count() == 1
    _problem(api_b("get", url), 404)
    _problem(api_b("post", f"{url}/recall", {"reason": "Supplier notice 114"}), 404)


def test_photo_upload_and_download(api, api_b, clinic_a, patient_a):
    base = f"/outcomes/patients/{patient_a.pk}"
    _problem(api("post", f"{base}/photo-sets", {"taken_on": "2026-01-05"}), 403)  # no consent
    photo_consent(clinic_a, patient_a)
    r = api("post", f"{base}/photo-sets", {"taken_on": "2026-01-05", "notes": "Dry"})
    assert r.status_code == 201, r.content
    set_id = r.json()["id"]
    upload = f"{base}/photo-sets/{set_id}/photos"
    from django.core.files.uploadedfile import SimpleUploadedFile

    def send(view, content=None, who="nurse"):
        file = SimpleUploadedFile("p.jpg", content or jpeg(), content_type="image/jpeg")
        return api("post", upload, who=who, data={"view": view, "file": file})

    r = send("vertex")
    assert r.status_code == 201, r.content
    photo_id = r.json()["id"]
    _problem(send("vertex"), 422)  # the view is already in the set
    _problem(send("top", b"not an image"), 422)
    _problem(send("top", who="front_desk"), 403)
    sets = api("get", f"{base}/photo-sets").json()
    assert [p["view"] for p in sets[0]["photos"]] == ["vertex"]

    r = api("get", f"{base}/photos/{photo_id}/file")
    assert r.status_code == 200 and r["Content-Type"] == "image/jpeg"
    assert b"SecretCam" not in r.content  # re-encoded without metadata
    assert AuditEvent.objects.filter(action="photo.read").count() == 1
    _problem(api("get", f"{base}/photos/{photo_id}/file?purpose=marketing"), 403)
    _problem(api_b("get", f"{base}/photos/{photo_id}/file"), 404)
    _problem(api_b("post", upload, data={"view": "top"}), 404)


@override_settings(TASKS=IMMEDIATE)
def test_report_job_and_download(
    api, api_b, clinic_a, patient_a, django_capture_on_commit_callbacks
):
    _problem(api("post", "/outcomes/reports", {"patient_ids": [999999]}), 404)
    with django_capture_on_commit_callbacks(execute=True):
        r = api("post", "/outcomes/reports", {"patient_ids": [patient_a.pk]}, who="physician")
    assert r.status_code == 202, r.content
    job_id = r.json()["id"]
    job = api("get", f"/outcomes/reports/{job_id}").json()
    assert job["status"] == "done" and len(job["files"]) == 1
    url = f"/outcomes/reports/{job_id}/files/{job['files'][0]['id']}"
    r = api("get", url)
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    assert r.content.startswith(b"%PDF")
    assert AuditEvent.objects.filter(action="outcome_report.read").count() == 1
    assert [j["id"] for j in api("get", "/outcomes/reports").json()] == [job_id]
    _problem(api_b("get", f"/outcomes/reports/{job_id}"), 404)
    _problem(api_b("get", url), 404)
    _problem(api("post", "/outcomes/reports", {"patient_ids": [patient_a.pk]}, who="admin"), 403)


def test_audit_log_filtered_for_audit_view(api, api_b, clinic_a, patient_a):
    r = api("get", f"/audit/events?patient_id={patient_a.pk}", who="admin")
    assert r.status_code == 200, r.content
    page = r.json()
    assert page["results"] and page["next"] is None
    assert {e["patient_id"] for e in page["results"]} == {patient_a.pk}
    first = api("get", "/audit/events?page_size=1", who="admin").json()
    assert len(first["results"]) == 1 and first["next"]
    older = api("get", f"/audit/events?page_size=1&before={first['next']}", who="admin").json()
    assert older["results"][0]["id"] != first["results"][0]["id"]
    _problem(api("get", "/audit/events?before=nonsense", who="admin"), 422)
    assert all(e["action_label"] and e["at"] for e in page["results"])
    r = api("get", "/audit/events?action=patient.create", who="admin")
    assert {e["action"] for e in r.json()["results"]} <= {"patient.create"}
    _problem(api("get", "/audit/events", who="nurse"), 403)
    _problem(api("get", "/audit/events?date_from=2026-02-01&date_to=2026-01-01", who="admin"), 422)
    # another clinic's log does not show this clinic's patient
    other = api_b("get", f"/audit/events?patient_id={patient_a.pk}", who="admin").json()
    assert other["results"] == []


def test_session_page_fields_have_operations(api, clinic_a, clinic_b, patient_a):
    """What the session page edits the API edits too: the details, the preparation's operator,
    the topical application (each with the session record's ETag)."""
    from anagen.procedures.tests.helpers import full_prep

    ready_patient(clinic_a, patient_a)
    session = start(clinic_a, patient_a)
    url = f"/procedures/sessions/{session.pk}"

    etag = api("get", url)["ETag"]
    r = api("patch", url, {"notes": "Calm.", "delivery_mode": "injection"},
            headers={"If-Match": etag})  # fmt: skip
    assert r.status_code == 200, r.content
    assert r.json()["notes"] == "Calm." and r["ETag"] != etag

    prep = json.loads(json.dumps(full_prep(), default=str))
    stranger = _problem(
        api(
            "put",
            f"{url}/preparation",
            {**prep, "operator_id": clinic_b.nurse.pk},
            headers={"If-Match": r["ETag"]},
        ),
        404,
    )
    assert "member" in stranger["detail"]
    r = api("put", f"{url}/preparation", {**prep, "operator_id": clinic_a.nurse.pk},
            headers={"If-Match": r["ETag"]})  # fmt: skip
    assert r.status_code == 200, r.content
    assert r.json()["operator_id"] == clinic_a.nurse.pk

    topical = {"device": "Dermapen 4", "needle_depth_mm": "0.5", "passes": 3, "volume_ml": "4"}
    r = api("put", f"{url}/topical", topical, headers={"If-Match": r["ETag"]})
    assert r.status_code == 200, r.content
    record = api("get", url).json()
    assert record["delivery_mode"] == "topical"
    assert record["topical"]["device"] == "Dermapen 4" and record["topical"]["passes"] == 3
    too_deep = {**topical, "needle_depth_mm": "3.5"}
    _problem(api("put", f"{url}/topical", too_deep, headers={"If-Match": r["ETag"]}), 422)
    # a role that may not perform sessions is a 403 before anything else
    _problem(api("patch", url, {"notes": "x"}, who="front_desk", headers={"If-Match": "*"}), 403)


def test_mesotherapy_sessions_have_no_prp_details(api, clinic_a, patient_a):
    from anagen.care.tests.helpers import consent

    ready_patient(clinic_a, patient_a)
    consent(clinic_a, patient_a, "mesotherapy_body")
    session = start(clinic_a, patient_a, "mesotherapy_body")
    url = f"/procedures/sessions/{session.pk}"
    etag = api("get", url)["ETag"]
    body = _problem(api("patch", url, {"rotor_radius_cm": 10}, headers={"If-Match": etag}), 422)
    assert body["errors"][0]["field"] == "body.rotor_radius_cm"
    topical = {"device": "Dermapen 4", "needle_depth_mm": "0.5", "passes": 3, "volume_ml": "4"}
    _problem(api("put", f"{url}/topical", topical, headers={"If-Match": etag}), 422)
    r = api("patch", url, {"aftercare_given": True}, headers={"If-Match": etag})
    assert r.status_code == 200 and r.json()["aftercare_given"] is True
