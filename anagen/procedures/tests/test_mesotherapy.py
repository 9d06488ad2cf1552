"""Mesotherapy through the services: label limits stop a delivery, formulations validate.
(The rules themselves are tested in the kernel: anagen/clinical/tests/test_procedure_rules.py.)"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from anagen.audit.models import AuditEvent
from anagen.procedures import services
from anagen.procedures.models import MesotherapyDelivery, TreatmentSession
from anagen.procedures.tests.helpers import consent, ready_patient, start
from anagen.procedures.tests.helpers import dca_formulation as _dca


@pytest.mark.django_db
def test_meso_session_with_dca_stops_and_interval(clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    consent(clinic_a, patient_a, "mesotherapy_body")
    nurse = clinic_a.actor(clinic_a.nurse)
    formulation = _dca(clinic_a, "Submental DCA")
    session = start(clinic_a, patient_a, "mesotherapy_body")
    data = {
        "zone": "submental",
        "technique": "point_by_point",
        "device": "needle",
        "injection_points": 60,
        "volume_per_point_ml": Decimal("0.2"),
        "area_cm2": Decimal("30"),
    }
    with pytest.raises(ValidationError) as exc:
        services.meso_delivery_add(actor=nurse, session=session, formulation=formulation, data=data)
    assert any("50 per session" in m for m in exc.value.messages)
    delivery = services.meso_delivery_add(
        actor=nurse,
        session=session,
        formulation=formulation,
        data={**data, "injection_points": 25, "area_cm2": Decimal("25")},
    )
    assert delivery.findings == [] and delivery.total_volume_ml == Decimal("5.00")
    # A second session two weeks later is refused: at least one month apart.
    later = start(clinic_a, patient_a, "mesotherapy_body")
    TreatmentSession.objects.filter(pk=session.pk).update(
        started_at=timezone.now() - dt.timedelta(days=14)
    )
    with pytest.raises(ValidationError) as exc:
        services.meso_delivery_add(
            actor=nurse,
            session=later,
            formulation=formulation,
            data={**data, "injection_points": 25, "area_cm2": Decimal("25")},
        )
    assert any("at least 1 month apart" in m for m in exc.value.messages)
    assert MesotherapyDelivery.objects.count() == 1


@pytest.mark.django_db
def test_formulation_validation(clinic_a):
    nurse = clinic_a.actor(clinic_a.nurse)
    with pytest.raises(ValidationError) as exc:
        services.formulation_create(actor=nurse, name="", vial="x", indications=[], ingredients=[])
    assert set(exc.value.message_dict) == {"name", "vial", "indications", "ingredients"}
    with pytest.raises(ValidationError) as exc:
        services.formulation_create(
            actor=nurse,
            name="A",
            vial="single",
            indications=["scalp"],
            ingredients=[{"name": "Biotin", "concentration": Decimal("1")}],
        )
    assert "needs a unit" in exc.value.message_dict["ingredients"][0]


MESO = {"technique": "point_by_point", "device": "needle", "volume_per_point_ml": Decimal("0.2")}


@pytest.mark.django_db
def test_limits_are_per_session_and_a_delivery_can_be_removed_before_signing(clinic_a, patient_a):
    # Issue 10: three deliveries of 45 × 0.2 mL deoxycholic acid in one session were accepted.
    ready_patient(clinic_a, patient_a)
    consent(clinic_a, patient_a, "mesotherapy_body")
    nurse = clinic_a.actor(clinic_a.nurse)
    formulation = _dca(clinic_a)
    session = start(clinic_a, patient_a, "mesotherapy_body")
    first = services.meso_delivery_add(
        actor=nurse,
        session=session,
        formulation=formulation,
        data={**MESO, "zone": "submental", "injection_points": 45, "area_cm2": Decimal("45")},
    )
    with pytest.raises(ValidationError) as exc:
        services.meso_delivery_add(
            actor=nurse,
            session=session,
            formulation=formulation,
            data={**MESO, "zone": "flanks", "injection_points": 45, "area_cm2": Decimal("45")},
        )
    text = " ".join(exc.value.messages)
    assert "90 deoxycholic acid injections in this session" in text and "18 mL" in text
    # The area is required where the limit is per area.
    with pytest.raises(ValidationError) as exc:
        services.meso_delivery_add(
            actor=nurse,
            session=session,
            formulation=formulation,
            data={**MESO, "zone": "flanks", "injection_points": 2, "area_cm2": None},
        )
    assert any("treated area" in m for m in exc.value.messages)
    # Removing the first delivery (audited) frees the session's budget.
    services.meso_delivery_remove(actor=nurse, delivery=first)
    assert not MesotherapyDelivery.objects.filter(pk=first.pk).exists()
    assert AuditEvent.objects.filter(action="procedures.meso_delivery.remove").count() == 1
    kept = services.meso_delivery_add(
        actor=nurse,
        session=session,
        formulation=formulation,
        data={**MESO, "zone": "submental", "injection_points": 45, "area_cm2": Decimal("45")},
    )
    # After signing, removal is refused.
    TreatmentSession.objects.filter(pk=session.pk).update(
        status="signed", signed_at=timezone.now(), signed_by=clinic_a.physician
    )
    kept.refresh_from_db()
    with pytest.raises(ValidationError) as exc:
        services.meso_delivery_remove(actor=clinic_a.actor(clinic_a.physician), delivery=kept)
    assert "signed" in exc.value.messages[0]


@pytest.mark.django_db
def test_compounding_refused_on_mg_and_cocktail_volume_warned(clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    consent(clinic_a, patient_a, "mesotherapy_body")
    nurse = clinic_a.actor(clinic_a.nurse)
    compounded = _dca(clinic_a, "DCA 2.5 %", "2.5", "percent")
    session = start(clinic_a, patient_a, "mesotherapy_body")
    with pytest.raises(ValidationError) as exc:
        services.meso_delivery_add(
            actor=nurse,
            session=session,
            formulation=compounded,
            data={**MESO, "zone": "abdomen", "injection_points": 30, "area_cm2": Decimal("100")},
        )
    assert exc.value.messages == [
        "150 mg of deoxycholic acid in this session exceeds the label maximum of 100 mg "
        "(50 injections × 0.2 mL × 10 mg/mL)."
    ]
    cocktail = services.formulation_create(
        actor=clinic_a.actor(clinic_a.physician),
        name="Dutasteride cocktail",
        vial="single",
        indications=["body_contouring"],
        ingredients=[
            {
                "name": "Dutasteride",
                "code": "dutasteride",
                "concentration": Decimal("0.01"),
                "unit": "percent",
            }
        ],
    )
    delivery = services.meso_delivery_add(
        actor=nurse,
        session=session,
        formulation=cocktail,
        data={**MESO, "zone": "abdomen", "injection_points": 300, "area_cm2": None},
    )
    codes = {w["code"] for w in delivery.findings}
    assert "session_volume" in codes
    assert any("60 mL" in w["message"] for w in delivery.findings)
