"""Builders shared by this app's tests."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils import timezone

from anagen.care.tests.helpers import consent, ready_patient
from anagen.procedures import services
from anagen.procedures.models import Lot, Product, TreatmentSession

__all__ = ["complete_prp", "consent", "full_prep", "make_lot", "ready_patient", "start"]


def start(staff, patient, procedure: str = "prp_scalp", user=None) -> TreatmentSession:
    return services.session_start(
        actor=staff.actor(user or staff.nurse), patient=patient, procedure=procedure
    )


def make_lot(
    staff,
    *,
    name: str = "RegenKit A",
    category: str = "kit",
    number: str = "K-1001",
    expires_in_days: int = 200,
    quantity: int = 10,
) -> Lot:
    product = Product.objects.filter(clinic=staff.clinic, name=name).first()
    if product is None:
        product = services.product_create(
            actor=staff.actor(staff.nurse), data={"name": name, "category": category}
        )
    today = timezone.localdate()
    if expires_in_days < 0:  # an expired lot already on the shelf (received before it expired)
        return Lot.objects.create(
            product=product,
            lot_number=number,
            expires_on=today + dt.timedelta(days=expires_in_days),
            received_on=today - dt.timedelta(days=400),
            quantity=quantity,
        )
    return services.lot_receive(
        actor=staff.actor(staff.nurse),
        product=product,
        data={
            "lot_number": number,
            "expires_on": today + dt.timedelta(days=expires_in_days),
            "quantity": quantity,
        },
    )


def full_prep(**overrides: Any) -> dict[str, Any]:
    """The worked example of docs/clinical-cli.md (prp), in this app's field names."""
    data: dict[str, Any] = {
        "blood_volume_ml": Decimal("10"),
        "tubes": 1,
        "anticoagulant_agent": "acd_a",
        "anticoagulant_volume_ml": Decimal("1"),
        "wb_platelets_per_ul": 200000,
        "wb_wbc_per_ul": 6000,
        "wb_neutrophils_pct": Decimal("60"),
        "wb_rbc_per_ul": 4800000,
        "spins": [{"g": 100, "minutes": 15}, {"rpm": 3783, "radius_cm": 10, "minutes": 20}],
        "prp_volume_ml": Decimal("1.4"),
        "prp_platelets_per_ul": 1280000,
        "prp_wbc_per_ul": 4000,
        "prp_neutrophils_pct": Decimal("20"),
        "prp_rbc_per_ul": 30000,
        "activation_agent": "calcium_gluconate",
        "activation_volume_ml": Decimal("0.14"),
        "injected_volume_ml": Decimal("1.54"),
    }
    data.update(overrides)
    return data


def complete_prp(staff, session: TreatmentSession, lot: Lot | None = None) -> TreatmentSession:
    """Everything the checklist asks for, recorded by the nurse."""
    nurse = staff.actor(staff.nurse)
    services.preparation_record(actor=nurse, session=session, data=full_prep())
    services.delivery_record(
        actor=nurse,
        session=session,
        zones=[
            {
                "zone": "frontal",
                "volume_ml": Decimal("0.8"),
                "technique": "point_by_point",
                "depth_mm": Decimal("3"),
                "needle_gauge": 30,
            },
            {"zone": "vertex", "volume_ml": Decimal("0.74"), "technique": "nappage"},
        ],
    )
    services.lot_use_record(actor=nurse, session=session, lot=lot or make_lot(staff), quantity=1)
    services.session_details_update(
        actor=nurse, session=session, data={"baseline_photos_taken": True, "aftercare_given": True}
    )
    session.refresh_from_db()
    return session


def dca_formulation(
    staff,
    name: str = "DCA 10 mg/mL",
    conc: str = "10",
    unit: str = "mg_per_mL",
    vial: str = "single",
):
    """A deoxycholic-acid formulation for body mesotherapy, made by the clinic's physician."""
    return services.formulation_create(
        actor=staff.actor(staff.physician),
        name=name,
        vial=vial,
        indications=["body_contouring"],
        ingredients=[
            {
                "name": "Deoxycholic acid",
                "code": "deoxycholic_acid",
                "concentration": Decimal(conc),
                "unit": unit,
            }
        ],
    )
