"""Issue 10, point 4: a mesotherapy formulation with an ingredient the patient is allergic to
(latest intake) is refused, as a lot of that product is; a physician may record it with a
reason, kept on the delivery and in the audit trail."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from anagen.accounts.testing import sign_in
from anagen.audit.models import AuditEvent
from anagen.care.tests.helpers import record_intake
from anagen.procedures import services
from anagen.procedures.models import MesotherapyDelivery
from anagen.procedures.services.mesotherapy import (
    MESO_ALLERGY_OVERRIDE_PHYSICIAN_ONLY,
    meso_allergy_findings,
)
from anagen.procedures.tests.helpers import consent, ready_patient, start

pytestmark = pytest.mark.django_db

DATA = {
    "zone": "vertex",
    "technique": "nappage",
    "device": "gun",
    "injection_points": 40,
    "volume_per_point_ml": Decimal("0.05"),
    "area_cm2": None,
}
REFUSED = (
    "Allergy to Dutasteride (rash) recorded: formulation Hair cocktail contains Dutasteride. "
    "A physician may record it with a reason."
)


def _cocktail(clinic):
    return services.formulation_create(
        actor=clinic.actor(clinic.physician),
        name="Hair cocktail",
        vial="single",
        indications=["scalp"],
        ingredients=[
            {"name": "Dutasteride", "concentration": Decimal("0.01"), "unit": "percent"},
            {"name": "Biotin", "concentration": Decimal("5"), "unit": "mg_per_mL"},
        ],
    )


def _session(clinic, patient, substance: str = "Dutasteride", reaction: str = "rash"):
    ready_patient(clinic, patient)
    consent(clinic, patient, "mesotherapy_scalp")
    session = start(clinic, patient, "mesotherapy_scalp")
    # The allergy is on the latest intake (recorded after the session started).
    record_intake(clinic, patient, allergies=[{"substance": substance, "reaction": reaction}])
    return session


def test_an_allergen_in_the_formulation_is_refused(clinic_a, patient_a):
    session = _session(clinic_a, patient_a)
    formulation = _cocktail(clinic_a)
    with pytest.raises(ValidationError) as exc:
        services.meso_delivery_add(
            actor=clinic_a.actor(clinic_a.nurse),
            session=session,
            formulation=formulation,
            data=DATA,
        )
    assert exc.value.message_dict["formulation"] == [REFUSED]
    assert not MesotherapyDelivery.objects.exists()


def test_a_physician_records_it_with_a_reason_a_nurse_cannot(clinic_a, patient_a):
    session = _session(clinic_a, patient_a)
    formulation = _cocktail(clinic_a)
    nurse = clinic_a.actor(clinic_a.nurse)
    physician = clinic_a.actor(clinic_a.physician)
    reason = "Rash was to the oral tablet; patch test with the topical negative."
    with pytest.raises(ValidationError) as exc:
        services.meso_delivery_add(
            actor=nurse,
            session=session,
            formulation=formulation,
            data=DATA,
            allergy_override_reason=reason,
        )
    assert exc.value.message_dict["allergy_override_reason"] == [
        MESO_ALLERGY_OVERRIDE_PHYSICIAN_ONLY
    ]
    with pytest.raises(ValidationError) as exc:
        services.meso_delivery_add(
            actor=physician,
            session=session,
            formulation=formulation,
            data=DATA,
            allergy_override_reason="ok",
        )
    assert "allergy_override_reason" in exc.value.message_dict
    assert not MesotherapyDelivery.objects.exists()
    delivery = services.meso_delivery_add(
        actor=physician,
        session=session,
        formulation=formulation,
        data=DATA,
        allergy_override_reason=reason,
    )
    assert delivery.allergy_override_by == clinic_a.physician
    assert delivery.allergy_override_reason == reason
    assert [m["message"] for m in delivery.allergy_matches] == [REFUSED]
    assert delivery.allergy_matches[0]["level"] == "stop"
    event = AuditEvent.objects.get(
        action="procedures.meso_delivery.record", object_id=str(delivery.pk)
    )
    assert event.changes["allergy_override_reason"][1] == reason
    assert event.changes["allergies"][1] == [REFUSED]


def test_no_stop_without_a_match(clinic_a, patient_a):
    session = _session(clinic_a, patient_a, substance="Penicillin")
    formulation = _cocktail(clinic_a)
    nurse = clinic_a.actor(clinic_a.nurse)
    assert meso_allergy_findings(nurse, session, formulation) == []
    delivery = services.meso_delivery_add(
        actor=nurse, session=session, formulation=formulation, data=DATA
    )
    assert delivery.allergy_matches == [] and delivery.allergy_override_by is None
    event = AuditEvent.objects.get(
        action="procedures.meso_delivery.record", object_id=str(delivery.pk)
    )
    assert "allergy_override_reason" not in event.changes


def test_the_page_shows_the_refusal_beside_the_form(client, clinic_a, patient_a):
    session = _session(clinic_a, patient_a)
    formulation = _cocktail(clinic_a)
    url = reverse("procedures-session-meso", args=[patient_a.pk, session.pk])
    post = {**DATA, "area_cm2": "", "formulation": formulation.pk}
    client.force_login(clinic_a.nurse)
    response = client.post(url, post)
    assert response.status_code == 400
    html = response.content.decode()
    assert "formulation Hair cocktail contains Dutasteride" in html
    assert "Allergy override reason" in html
    sign_in(client, clinic_a.physician)  # a physician passes two-factor sign-in
    response = client.post(url, {**post, "allergy_override_reason": "Patch test negative."})
    assert response.status_code == 302
    html = client.get(response["Location"]).content.decode()
    assert "Recorded despite a recorded allergy" in html and "Patch test negative." in html
