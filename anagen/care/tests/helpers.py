"""Builders shared by this app's tests."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils import timezone

from anagen.care import services
from anagen.care.models import Assessment, Consent
from anagen.patients.services import IntakeData, intake_record

TODAY = timezone.localdate


def record_intake(staff, patient, **overrides: Any):
    data: dict[str, Any] = {
        "labs": [
            {
                "analyte": "platelets",
                "value": Decimal("250"),
                "unit": "10³/µL",
                "taken_on": timezone.localdate() - dt.timedelta(days=3),
            },
            {
                "analyte": "hemoglobin",
                "value": Decimal("14.1"),
                "unit": "g/dL",
                "taken_on": timezone.localdate() - dt.timedelta(days=3),
            },
        ]
    }
    data.update(overrides)
    return intake_record(actor=staff.actor(staff.nurse), patient=patient, data=IntakeData(**data))


def assess(staff, patient, *, sign: bool = True, **overrides: Any) -> Assessment:
    data: dict[str, Any] = {
        "visit_on": timezone.localdate(),
        "diagnosis_code": "androgenetic_alopecia",
        "scale_id": "norwood_hamilton",
        "scale_value": "III vertex",
        "follicles_present": True,
    }
    data.update(overrides)
    assessment = services.assessment_create(
        actor=staff.actor(staff.physician),
        patient=patient,
        data=services.AssessmentData(**data),
    )
    if sign:
        assessment = services.assessment_sign(
            actor=staff.actor(staff.physician), assessment=assessment
        )
    return assessment


def consent(staff, patient, kind: str = "prp_scalp") -> Consent:
    return services.consent_sign(
        actor=staff.actor(staff.nurse),
        patient=patient,
        kind=kind,
        signed_name=patient.full_name,
        agreed=True,
    )


def ready_patient(staff, patient, **intake: Any) -> None:
    """Intake, signed assessment and PRP-scalp consent: screening decides the rest."""
    record_intake(staff, patient, **intake)
    assess(staff, patient)
    consent(staff, patient)
