"""The chart's Treatment sessions card."""

from __future__ import annotations

from typing import Any

from django import template

from anagen.accounts.access import Actor
from anagen.accounts.permissions import Perm
from anagen.clinical import PROCEDURES
from anagen.patients.models import Patient
from anagen.procedures.models import TreatmentSession

register = template.Library()
PANEL_ROWS = 5


@register.inclusion_tag("procedures/_panel.html")
def procedures_panel(patient: Patient, actor: Actor) -> dict[str, Any]:
    clinical = actor.can(Perm.CLINICAL_VIEW)
    sessions: list[TreatmentSession] = []
    if clinical:
        # One query: the latest few sessions with their preparation (no per-row queries).
        sessions = list(
            TreatmentSession.objects.filter(patient=patient, clinic=actor.clinic)
            .select_related("preparation")
            .order_by("-started_at", "-id")[:PANEL_ROWS]
        )
    return {
        "patient": patient,
        "clinical": clinical,
        "sessions": sessions,
        "procedures": [(k, v["label"]) for k, v in PROCEDURES.items()],
    }
