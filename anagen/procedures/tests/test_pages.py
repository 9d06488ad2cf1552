"""Session page, inventory, recall and formulations: forms → services → page, access rules."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from anagen.audit.models import AuditEvent
from anagen.procedures import services
from anagen.procedures.models import DeliveryZone, LotUse, Product, SessionStatus
from anagen.procedures.tests.helpers import (
    complete_prp,
    dca_formulation,
    full_prep,
    make_lot,
    ready_patient,
    start,
)
from conftest import make_patient

pytestmark = pytest.mark.django_db


def _url(name, session, *extra):
    return reverse(name, args=[session.patient_id, session.pk, *extra])


@pytest.fixture
def session(clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    return start(clinic_a, patient_a)


def test_session_page_shows_phases_labels_map_and_checklist(clinic_a, session):
    services.preparation_record(
        actor=clinic_a.actor(clinic_a.nurse), session=session, data=full_prep()
    )
    response = clinic_a.client(clinic_a.nurse).get(_url("procedures-session-detail", session))
    assert response.status_code == 200
    html = response.content.decode()
    for text in (
        "6.4×",
        "P4-x-B-β",
        "4A",
        "P-PRP",
        "1600 g",
        'class="scalp-map"',
        "Anaesthetic cream applied",
        "PRP kit or tube lot recorded",
    ):
        assert text in html
    assert 'style="' not in html  # strict CSP: no inline styles
    assert AuditEvent.objects.filter(action="procedures.session.read").exists()


def test_start_from_chart_refuses_unsigned_consent_with_the_reason(clinic_a, patient_a):
    from anagen.care.tests.helpers import assess, record_intake

    record_intake(clinic_a, patient_a)
    assess(clinic_a, patient_a)
    response = clinic_a.client(clinic_a.nurse).post(
        reverse("procedures-session-start", args=[patient_a.pk]), {"procedure": "prp_scalp"}
    )
    assert response.status_code == 400
    assert "No valid consent for PRP, scalp: none signed." in response.content.decode()


def test_start_from_chart_and_chart_panel(clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    client = clinic_a.client(clinic_a.nurse)
    response = client.post(
        reverse("procedures-session-start", args=[patient_a.pk]), {"procedure": "prp_scalp"}
    )
    assert response.status_code == 302
    chart = client.get(reverse("patient-detail", args=[patient_a.pk])).content.decode()
    assert "Treatment sessions" in chart and "PRP injection, scalp" in chart
    assert "Session: PRP injection, scalp" in chart  # timeline


def test_preparation_form_converts_rpm_with_the_rotor_radius(clinic_a, session):
    client = clinic_a.client(clinic_a.nurse)
    client.post(
        _url("procedures-session-details", session),
        {"delivery_mode": "injection", "rotor_radius_cm": "10"},
    )
    response = client.post(
        _url("procedures-session-preparation", session),
        {
            "blood_volume_ml": "10",
            "spin1_rpm": "3000",
            "spin1_minutes": "15",
            "activation_agent": "none",
        },
    )
    assert response.status_code == 302
    session.preparation.refresh_from_db()
    assert session.preparation.computed["spins"][0]["rcf_g"] == 1006


def test_bad_preparation_is_400_with_message(clinic_a, session):
    response = clinic_a.client(clinic_a.nurse).post(
        _url("procedures-session-preparation", session),
        {
            "blood_volume_ml": "10",
            "spin1_rpm": "3000",
            "spin1_minutes": "15",
            "activation_agent": "none",
        },
    )
    assert response.status_code == 400
    assert "rpm alone cannot be converted to g" in response.content.decode()


def test_zones_and_totals_warning(clinic_a, session):
    client = clinic_a.client(clinic_a.nurse)
    services.preparation_record(
        actor=clinic_a.actor(clinic_a.nurse), session=session, data=full_prep()
    )
    response = client.post(
        _url("procedures-session-zones", session),
        {"frontal_volume": "1.0", "frontal_technique": "point_by_point", "frontal_gauge": "30"},
    )
    assert response.status_code == 302
    assert DeliveryZone.objects.filter(session=session).count() == 1
    html = client.get(_url("procedures-session-detail", session)).content.decode()
    assert "do not match the 1.54 mL of PRP injected" in html
    bad = client.post(_url("procedures-session-zones", session), {"vertex_volume": "0.5"})
    assert bad.status_code == 400
    assert "Vertex / crown: choose a technique." in bad.content.decode()


def test_expired_lot_refused_on_page(clinic_a, session):
    lot = make_lot(clinic_a, number="OLD-9", expires_in_days=-1)
    response = clinic_a.client(clinic_a.nurse).post(
        _url("procedures-session-lot", session), {"lot": lot.pk, "quantity": "1"}
    )
    assert response.status_code == 400
    assert "Lot OLD-9 of RegenKit A expired on" in response.content.decode()
    assert not LotUse.objects.exists()


def test_sign_page_flow_and_lock(clinic_a, session):
    complete_prp(clinic_a, session)
    nurse = clinic_a.client(clinic_a.nurse)
    assert nurse.post(_url("procedures-session-sign", session)).status_code == 403  # physician only
    assert (
        "A physician signs."
        in nurse.get(_url("procedures-session-detail", session)).content.decode()
    )
    physician = clinic_a.client(clinic_a.physician)
    assert (
        physician.post(_url("procedures-session-sign", session), {"confirm": "yes"}).status_code
        == 302
    )
    session.refresh_from_db()
    assert session.status == SessionStatus.SIGNED
    locked = physician.post(
        _url("procedures-session-details", session), {"delivery_mode": "injection", "notes": "late"}
    )
    assert locked.status_code == 400 and services.LOCKED in locked.content.decode()
    ok = physician.post(
        _url("procedures-session-details", session),
        {
            "delivery_mode": "injection",
            "notes": "late",
            "aftercare_given": "on",
            "baseline_photos_taken": "on",
            "reason": "Forgot the note",
        },
    )
    assert ok.status_code == 302
    html = physician.get(_url("procedures-session-detail", session)).content.decode()
    assert "Forgot the note" in html and "Amendments" in html
    assert "Notes: — → late" in html
    trail = html.split('id="amendments"')[1]
    assert "{'" not in trail and "baseline_photos_taken" not in trail and "True" not in trail


def test_adverse_event_and_follow_up_pages(clinic_a, session):
    client = clinic_a.client(clinic_a.nurse)
    now = timezone.localtime().strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        _url("procedures-session-ae", session),
        {
            "term": "bruising",
            "ctcae_grade": "1",
            "onset_at": now,
            "relatedness": "probable",
            "action": "none",
            "outcome": "recovering",
            "zone": "vertex",
        },
    )
    assert response.status_code == 302
    event = session.adverse_events.get()
    response = client.post(
        _url("procedures-ae-follow-up", session, event.pk),
        {"on": timezone.localdate().isoformat(), "outcome": "resolved"},
    )
    assert response.status_code == 302
    event.refresh_from_db()
    assert event.outcome == "resolved"
    bad = client.post(
        _url("procedures-session-ae", session),
        {
            "term": "other",
            "ctcae_grade": "2",
            "onset_at": now,
            "relatedness": "possible",
            "action": "none",
            "outcome": "recovering",
        },
    )
    assert (
        bad.status_code == 400
        and "Describe the event when the term is Other." in bad.content.decode()
    )


def test_other_clinic_gets_404_everywhere(clinic_a, clinic_b, session):
    lot = make_lot(clinic_a)
    other = clinic_b.client(clinic_b.physician)
    for name in ("procedures-session-detail",):
        assert other.get(_url(name, session)).status_code == 404
    for name in (
        "procedures-session-phase",
        "procedures-session-details",
        "procedures-session-preparation",
        "procedures-session-zones",
        "procedures-session-topical",
        "procedures-session-meso",
        "procedures-session-lot",
        "procedures-session-ae",
        "procedures-session-close",
        "procedures-session-sign",
    ):
        assert other.post(_url(name, session), {}).status_code == 404, name
    assert other.get(reverse("procedures-lot-recall", args=[lot.pk])).status_code == 404
    # Their own patient id with our session id: still 404.
    patient_b = make_patient(clinic_b, given_name="Bea")
    assert (
        other.get(reverse("procedures-session-detail", args=[patient_b.pk, session.pk])).status_code
        == 404
    )
    # A lot of clinic B used in clinic A's session: 404, not "expired".
    lot_b = make_lot(clinic_b, number="B-1")
    mine = clinic_a.client(clinic_a.nurse)
    assert (
        mine.post(
            _url("procedures-session-lot", session), {"lot": lot_b.pk, "quantity": 1}
        ).status_code
        == 400
    )  # not a choice


def test_roles_without_clinical_access_are_refused(clinic_a, session):
    for user in (clinic_a.front_desk, clinic_a.admin):
        client = clinic_a.client(user)
        assert client.get(_url("procedures-session-detail", session)).status_code == 403
    # Formulations are part of the catalogue (inventory), which the clinic admin manages.
    assert (
        clinic_a.client(clinic_a.front_desk).get(reverse("procedures-formulations")).status_code
        == 403
    )
    assert (
        clinic_a.client(clinic_a.admin).get(reverse("procedures-formulations")).status_code == 200
    )
    assert (
        clinic_a.client(clinic_a.front_desk).get(reverse("procedures-inventory")).status_code == 403
    )
    assert clinic_a.client(clinic_a.admin).get(reverse("procedures-inventory")).status_code == 200
    lot = make_lot(clinic_a)
    assert (
        clinic_a.client(clinic_a.admin)
        .get(reverse("procedures-lot-recall", args=[lot.pk]))
        .status_code
        == 403
    )


def test_inventory_receive_and_refuse_expired(clinic_a):
    client = clinic_a.client(clinic_a.nurse)
    r = client.post(
        reverse("procedures-inventory"),
        {"product-name": "Citrate tube", "product-category": "tube"},
    )
    assert r.status_code == 302
    product = Product.objects.get(name="Citrate tube")
    past = (timezone.localdate() - dt.timedelta(days=2)).isoformat()
    r = client.post(
        reverse("procedures-inventory"),
        {
            "lot-product": product.pk,
            "lot-lot_number": "T1",
            "lot-expires_on": past,
            "lot-quantity": "5",
        },
    )
    assert r.status_code == 400 and "do not receive it" in r.content.decode()
    future = (timezone.localdate() + dt.timedelta(days=90)).isoformat()
    r = client.post(
        reverse("procedures-inventory"),
        {
            "lot-product": product.pk,
            "lot-lot_number": "T1",
            "lot-expires_on": future,
            "lot-quantity": "5",
        },
    )
    assert r.status_code == 302
    assert "T1" in client.get(reverse("procedures-inventory")).content.decode()


def test_recall_finds_the_right_patients(clinic_a, clinic_b):
    """Several lots and sessions: the recall lists exactly the patients exposed to one lot."""
    lot_x = make_lot(clinic_a, number="X-1", quantity=50)
    lot_y = make_lot(clinic_a, number="Y-1", quantity=50)
    people = []
    for i, (given, lots) in enumerate(
        [("Ana", [lot_x]), ("Bruno", [lot_y]), ("Carla", [lot_x, lot_y]), ("Dara", [])]
    ):
        p = make_patient(
            clinic_a, given_name=given, family_name=f"Test{i}", phone=f"07700 90011{i}"
        )
        ready_patient(clinic_a, p)
        s = start(clinic_a, p)
        for lot in lots:
            services.lot_use_record(actor=clinic_a.actor(clinic_a.nurse), session=s, lot=lot)
        people.append(p)
    # Ana had a second session with X: listed twice (two sessions), one patient.
    s2 = start(clinic_a, people[0])
    services.lot_use_record(actor=clinic_a.actor(clinic_a.nurse), session=s2, lot=lot_x)
    client = clinic_a.client(clinic_a.physician)
    html = client.get(reverse("procedures-lot-recall", args=[lot_x.pk])).content.decode()
    assert "Ana" in html and "Carla" in html
    assert "Bruno" not in html and "Dara" not in html
    assert "2 patients, 3 uses" in html
    csv = client.get(
        reverse("procedures-lot-recall", args=[lot_y.pk]) + "?format=csv"
    ).content.decode()
    assert "Bruno" in csv and "Carla" in csv and "Ana" not in csv


def test_formulations_page(clinic_a):
    client = clinic_a.client(clinic_a.physician)
    r = client.post(
        reverse("procedures-formulations"),
        {
            "name": "Hair cocktail",
            "vial": "single",
            "indications": ["scalp"],
            "ing1_name": "Dutasteride",
            "ing1_code": "dutasteride",
            "ing1_concentration": "0.01",
            "ing1_unit": "percent",
            "ing2_name": "Biotin",
            "ing2_concentration": "5",
            "ing2_unit": "mg_per_mL",
        },
    )
    assert r.status_code == 302
    html = client.get(reverse("procedures-formulations")).content.decode()
    assert "Dutasteride 0.01 %" in html and "Biotin 5 mg/mL" in html
    bad = client.post(reverse("procedures-formulations"), {"name": "", "vial": "single"})
    assert bad.status_code == 400


def test_meso_page_hard_stop_shown(clinic_a, patient_a):
    from anagen.procedures.tests.helpers import consent

    ready_patient(clinic_a, patient_a)
    consent(clinic_a, patient_a, "mesotherapy_body")
    fm = dca_formulation(clinic_a, "DCA", vial="multi")
    s = start(clinic_a, patient_a, "mesotherapy_body")
    client = clinic_a.client(clinic_a.nurse)
    data = {
        "formulation": fm.pk,
        "zone": "submental",
        "technique": "point_by_point",
        "device": "needle",
        "injection_points": "60",
        "volume_per_point_ml": "0.2",
        "area_cm2": "30",
    }
    bad = client.post(_url("procedures-session-meso", s), data)
    assert (
        bad.status_code == 400
        and "exceed the label limit of 50 per session" in bad.content.decode()
    )
    ok = client.post(
        _url("procedures-session-meso", s), {**data, "injection_points": "20", "area_cm2": "20"}
    )
    assert ok.status_code == 302
    assert "Multi-dose vial" in client.get(_url("procedures-session-detail", s)).content.decode()
