"""Issue 10 through the services: an impossible preparation count is refused on its field,
adverse-event seriousness follows ICH E2A apart from the CTCAE grade, and a lot of a product
the patient is allergic to is refused unless a physician records it with a reason."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from anagen.audit.models import AuditEvent
from anagen.care.tests.helpers import record_intake
from anagen.procedures import services
from anagen.procedures.models import LotUse
from anagen.procedures.tests.helpers import full_prep, make_lot, ready_patient, start

pytestmark = pytest.mark.django_db


def test_an_impossible_count_is_refused_on_its_field(clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    session = start(clinic_a, patient_a)
    with pytest.raises(ValidationError) as exc:
        services.preparation_record(
            actor=clinic_a.actor(clinic_a.nurse),
            session=session,
            data=full_prep(wb_platelets_per_ul=5_000_000),
        )
    (message,) = exc.value.message_dict["wb_platelets_per_ul"]
    assert message.startswith("Whole-blood platelets 5 000 000/µL is above the plausible")


AE = {
    "term": "infection",
    "ctcae_grade": 3,
    "relatedness": "possible",
    "action": "medication",
    "outcome": "recovering",
}


def test_seriousness_is_recorded_apart_from_severity(clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    session = start(clinic_a, patient_a)
    nurse = clinic_a.actor(clinic_a.nurse)
    data = {**AE, "onset_at": timezone.now()}
    # Grade 3 on its own: severe, not serious (ICH E2A; clinical facts 13).
    event = services.adverse_event_record(actor=nurse, session=session, data=data)
    assert event.ctcae_grade == 3 and not event.serious
    # A ticked criterion makes it serious; hospitalisation as the action adds its criterion.
    event = services.adverse_event_record(
        actor=nurse,
        session=session,
        data={**data, "ctcae_grade": 2, "seriousness_criteria": ["other_important"]},
    )
    assert event.serious and event.seriousness_labels == ["Other important medical event"]
    event = services.adverse_event_record(
        actor=nurse, session=session, data={**data, "ctcae_grade": 2, "action": "hospitalisation"}
    )
    assert event.serious and event.seriousness_criteria == ["hospitalisation"]
    # "Serious" without a criterion, or an unknown criterion, is refused.
    for bad in ({"serious": True}, {"seriousness_criteria": ["scary"]}):
        with pytest.raises(ValidationError) as exc:
            services.adverse_event_record(actor=nurse, session=session, data={**data, **bad})
        assert "seriousness_criteria" in exc.value.message_dict
    # Relatedness has no default: it is an explicit answer.
    with pytest.raises(ValidationError) as exc:
        services.adverse_event_record(
            actor=nurse, session=session, data={**data, "relatedness": None}
        )
    assert "relatedness" in exc.value.message_dict
    # A fatal follow-up makes an event serious (death).
    first = session.adverse_events.order_by("id").first()
    assert first is not None
    services.adverse_event_follow_up(
        actor=nurse, event=first, data={"on": timezone.localdate(), "outcome": "fatal"}
    )
    first.refresh_from_db()
    assert first.serious and first.seriousness_criteria == ["death"]


def test_ae_form_asks_relatedness_with_no_default(client, clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    session = start(clinic_a, patient_a)
    client.force_login(clinic_a.nurse)
    url = reverse("procedures-session-detail", args=[patient_a.pk, session.pk])
    html = client.get(url).content.decode()
    assert '<option value="" selected>Choose…</option>' in html
    assert "Serious because (ICH E2A)" in html


def _allergic(clinic_a, patient_a, substance: str = "Lidocaine", reaction: str = "hives"):
    ready_patient(clinic_a, patient_a)
    session = start(clinic_a, patient_a)
    # The allergy is on the latest intake (recorded after the session started).
    record_intake(clinic_a, patient_a, allergies=[{"substance": substance, "reaction": reaction}])
    return session


def test_a_lot_the_patient_is_allergic_to_needs_a_physicians_reason(clinic_a, patient_a):
    session = _allergic(clinic_a, patient_a)
    lot = make_lot(clinic_a, name="EMLA 5 % cream", category="anaesthetic_cream", number="E-7")
    nurse = clinic_a.actor(clinic_a.nurse)
    with pytest.raises(ValidationError) as exc:
        services.lot_use_record(actor=nurse, session=session, lot=lot)
    (message,) = exc.value.message_dict["lot"]
    assert message.startswith("Allergy to Lidocaine (hives): EMLA 5 % cream (lot E-7) is a local")
    assert "a physician may record it with a reason" in message
    # A nurse cannot override; a physician can, with a reason (stored and audited).
    with pytest.raises(ValidationError) as exc:
        services.lot_use_record(
            actor=nurse, session=session, lot=lot, allergy_override_reason="Patch test negative"
        )
    assert exc.value.message_dict["allergy_override_reason"] == [
        services.ALLERGY_OVERRIDE_PHYSICIAN_ONLY
    ]
    physician = clinic_a.actor(clinic_a.physician)
    with pytest.raises(ValidationError):
        services.lot_use_record(
            actor=physician, session=session, lot=lot, allergy_override_reason="ok"
        )
    use = services.lot_use_record(
        actor=physician,
        session=session,
        lot=lot,
        allergy_override_reason="Patch test negative on 2 Nov; reaction was to the dressing.",
    )
    assert use.allergy_override_by == clinic_a.physician
    assert use.allergy_matches[0]["code"] == "allergy_local_anaesthetic"
    event = AuditEvent.objects.get(action="procedures.lot.allergy_override")
    assert "Patch test negative" in event.changes["reason"]
    # A lot of an unrelated product is recorded as before.
    other = services.lot_use_record(actor=nurse, session=session, lot=make_lot(clinic_a))
    assert other.allergy_override_by is None and other.allergy_matches == []
    assert LotUse.objects.filter(session=session).count() == 2


@pytest.mark.parametrize(
    ("substance", "product", "category", "code"),
    [
        ("bovine thrombin", "Thrombin-JMI (bovine)", "activator", "allergy_bovine_thrombin"),
        ("Calcium gluconate", "Calcium gluconate 10 %", "activator", "allergy_calcium_salts"),
        ("Biotin", "Biotin 5 mg/mL ampoule", "meso_ingredient", "allergy_product"),
    ],
)
def test_allergy_groups_and_any_named_substance(
    clinic_a, patient_a, substance, product, category, code
):
    session = _allergic(clinic_a, patient_a, substance=substance, reaction="")
    lot = make_lot(clinic_a, name=product, category=category, number="X-1")
    found = services.lot_allergy_findings(clinic_a.actor(clinic_a.nurse), session, lot)
    assert [f.rule for f in found] == [code]
    assert f"Allergy to {substance}: {product}" in found[0].message


def test_allergy_stop_does_not_fire_without_a_match(clinic_a, patient_a):
    session = _allergic(clinic_a, patient_a, substance="Penicillin")
    lot = make_lot(clinic_a)
    assert services.lot_allergy_findings(clinic_a.actor(clinic_a.nurse), session, lot) == []


def test_remove_page_needs_the_confirmation_and_refuses_after_signing(client, clinic_a, patient_a):
    from decimal import Decimal

    from anagen.care.tests.helpers import consent
    from anagen.procedures.models import MesotherapyDelivery, TreatmentSession

    ready_patient(clinic_a, patient_a)
    consent(clinic_a, patient_a, "mesotherapy_scalp")
    formulation = services.formulation_create(
        actor=clinic_a.actor(clinic_a.physician),
        name="Biotin",
        vial="single",
        indications=["scalp"],
        ingredients=[{"name": "Biotin", "concentration": Decimal("5"), "unit": "mg_per_mL"}],
    )
    session = start(clinic_a, patient_a, "mesotherapy_scalp")
    delivery = services.meso_delivery_add(
        actor=clinic_a.actor(clinic_a.nurse),
        session=session,
        formulation=formulation,
        data={
            "zone": "vertex",
            "technique": "nappage",
            "device": "gun",
            "injection_points": 40,
            "volume_per_point_ml": Decimal("0.05"),
            "area_cm2": None,
        },
    )
    client.force_login(clinic_a.nurse)
    url = reverse("procedures-session-meso-remove", args=[patient_a.pk, session.pk, delivery.pk])
    response = client.post(url, {})
    assert response.status_code == 400
    assert "Tick the box to confirm the removal." in response.content.decode()
    assert MesotherapyDelivery.objects.filter(pk=delivery.pk).exists()
    TreatmentSession.objects.filter(pk=session.pk).update(
        status="signed", signed_at=timezone.now(), signed_by=clinic_a.physician
    )
    response = client.post(url, {"confirm": "on"})
    assert response.status_code == 400
    assert "a delivery cannot be removed" in response.content.decode()
    TreatmentSession.objects.filter(pk=session.pk).update(
        status="in_progress", signed_at=None, signed_by=None
    )
    response = client.post(url, {"confirm": "on"})
    assert response.status_code == 302
    assert not MesotherapyDelivery.objects.filter(pk=delivery.pk).exists()


def test_a_formulation_lot_matches_on_its_ingredients(clinic_a, patient_a):
    from decimal import Decimal

    session = _allergic(clinic_a, patient_a, substance="Dutasteride", reaction="rash")
    services.formulation_create(
        actor=clinic_a.actor(clinic_a.physician),
        name="Hair cocktail",
        vial="single",
        indications=["scalp"],
        ingredients=[
            {"name": "Dutasteride", "concentration": Decimal("0.01"), "unit": "percent"},
            {"name": "Biotin", "concentration": Decimal("5"), "unit": "mg_per_mL"},
        ],
    )
    lot = make_lot(clinic_a, name="Hair cocktail", category="meso_ingredient", number="H-1")
    (found,) = services.lot_allergy_findings(clinic_a.actor(clinic_a.nurse), session, lot)
    assert found.rule == "allergy_product" and found.level == "stop"
    assert "Allergy to Dutasteride (rash): Hair cocktail (lot H-1)" in found.message
