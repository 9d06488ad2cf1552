"""Outcomes API: record (inch² converted), read, progress, analytics; errors and isolation."""

import pytest

pytestmark = pytest.mark.django_db
BASE = "/api/v1/outcomes"


def test_record_and_read(clinic_a, clinic_b, patient_a):
    c = clinic_a.client(clinic_a.nurse)
    body = {
        "measured_on": "2025-01-10",
        "visit_label": "baseline",
        "method": "phototrichogram",
        "sites": [{"site_name": "Vertex dot", "density": 12.52, "density_unit": "in2"}],
    }
    r = c.post(
        f"{BASE}/patients/{patient_a.pk}/measurements", body, content_type="application/json"
    )
    assert r.status_code == 201, r.content
    assert r.json()["measurements"][0]["density_per_cm2"] == 1.94
    body2 = dict(
        body,
        measured_on="2025-07-10",
        visit_label="follow_up",
        sites=[{"site_name": "Vertex dot", "density": 2.5}],
    )
    c.post(f"{BASE}/patients/{patient_a.pk}/measurements", body2, content_type="application/json")
    listed = c.get(f"{BASE}/patients/{patient_a.pk}/measurements").json()
    assert len(listed) == 2
    series = c.get(f"{BASE}/patients/{patient_a.pk}/progress").json()
    density = next(s for s in series if s["measure"] == "density_per_cm2")
    assert density["points"][1]["change_percent"] == pytest.approx(28.87)
    assert (
        clinic_b.client(clinic_b.nurse)
        .get(f"{BASE}/patients/{patient_a.pk}/measurements")
        .status_code
        == 404
    )
    assert (
        clinic_a.client(clinic_a.front_desk)
        .get(f"{BASE}/patients/{patient_a.pk}/measurements")
        .status_code
        == 403
    )


def test_bad_input_is_422_with_field(clinic_a, patient_a):
    c = clinic_a.client(clinic_a.nurse)
    body = {
        "measured_on": "2025-01-10",
        "visit_label": "baseline",
        "method": "phototrichogram",
        "sites": [{"site_name": "V", "hair_count": 100}],
    }
    r = c.post(
        f"{BASE}/patients/{patient_a.pk}/measurements", body, content_type="application/json"
    )
    assert r.status_code == 422
    assert "area" in r.content.decode()
    body["method"] = "guess"
    assert (
        c.post(
            f"{BASE}/patients/{patient_a.pk}/measurements", body, content_type="application/json"
        ).status_code
        == 422
    )


def test_analytics_api(clinic_a):
    c = clinic_a.client(clinic_a.physician)
    assert c.get(f"{BASE}/analytics").json() == []
    assert c.get(f"{BASE}/analytics", {"rule": "nope"}).status_code == 422
    assert clinic_a.client(clinic_a.nurse).get(f"{BASE}/analytics").status_code == 403
