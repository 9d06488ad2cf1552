"""Mesotherapy through the services: label limits stop a delivery, formulations validate.
(The rules themselves are tested in the kernel: anagen/clinical/tests/test_procedure_rules.py.)"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from anagen.procedures import services
from anagen.procedures.models import MesotherapyDelivery, TreatmentSession
from anagen.procedures.tests.helpers import consent, ready_patient, start


@pytest.mark.django_db
def test_meso_session_with_dca_stops_and_interval(clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    consent(clinic_a, patient_a, "mesotherapy_body")
    nurse = clinic_a.actor(clinic_a.nurse)
    formulation = services.formulation_create(
        actor=clinic_a.actor(clinic_a.physician),
        name="Submental DCA",
        vial="single",
        indications=["body_contouring"],
        ingredients=[
            {
                "name": "Deoxycholic acid",
                "code": "deoxycholic_acid",
                "concentration": Decimal("10"),
                "unit": "mg_per_mL",
            }
        ],
    )
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
