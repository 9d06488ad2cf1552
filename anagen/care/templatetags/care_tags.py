"""The chart's Consultation card: latest assessment, latest screening, consent status."""

from __future__ import annotations

from typing import Any

from django import template

from anagen.accounts.access import Actor
from anagen.care import selectors
from anagen.patients.models import Patient

register = template.Library()

# Shown even when unsigned; other kinds only once something was signed.
_ALWAYS = ("prp_scalp", "photo_clinical")


@register.inclusion_tag("care/_panel.html")
def care_panel(patient: Patient, actor: Actor) -> dict[str, Any]:
    # A fixed handful of queries whatever the patient's history (latest rows only).
    return {
        "patient": patient,
        "assessment": selectors.assessment_latest(actor=actor, patient=patient),
        "screening": selectors.screening_latest(actor=actor, patient=patient),
        "consents": selectors.consent_statuses(actor=actor, patient=patient),
        "procedure_kinds": _ALWAYS,
    }
