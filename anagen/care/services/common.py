"""What the care services share: labels, the clinical check, read audits."""

from __future__ import annotations

from typing import Any

from django.http import Http404

from anagen.accounts.access import Actor
from anagen.accounts.permissions import Perm
from anagen.audit.services import audit_record
from anagen.clinical import PROCEDURES, SCALES
from anagen.patients.models import Patient


def procedure_label(code: str) -> str:
    return str(PROCEDURES.get(code, {}).get("label", code))


def unknown_procedure_message() -> str:
    labels = "; ".join(procedure_label(code) for code in PROCEDURES)
    return f"Choose one of the procedures: {labels}."


def _scale_label(scale_id: str) -> str:
    return "SALT" if scale_id == "salt" else (SCALES[scale_id].label if scale_id in SCALES else "")


def care_record_read(*, actor: Actor, patient: Patient, what: str, obj: Any = None) -> None:
    """Audit that a clinical record of this app was opened (page or API)."""
    audit_record(action=f"{what}.read", actor=actor, patient=patient, obj=obj)


def _require_patient_of_clinic(actor: Actor, patient: Patient) -> None:
    if patient.clinic_id != actor.clinic.pk:
        raise Http404("No such patient.")


def _require(actor: Actor, patient: Patient, perm: Perm) -> None:
    """The actor holds ``perm`` and the patient is of the actor's clinic (else 404)."""
    actor.require(perm)
    _require_patient_of_clinic(actor, patient)
