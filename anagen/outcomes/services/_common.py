"""What every outcomes service shares: the patient check and decimal rounding."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import PermissionDenied

from anagen.accounts.access import Actor
from anagen.patients.models import Patient


def _check_patient(actor: Actor, patient: Patient) -> None:
    if patient.clinic_id != actor.clinic.pk or patient.deleted_at is not None:
        raise PermissionDenied("This patient is not in your clinic.")


def _dec(value: float | Decimal | None, places: int) -> Decimal | None:
    if value is None:
        return None
    return Decimal(str(round(float(value), places)))
