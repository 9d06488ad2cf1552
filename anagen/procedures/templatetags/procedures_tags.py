"""The chart's Treatment sessions card."""

from __future__ import annotations

from typing import Any

from django import template

from anagen.accounts.access import Actor
from anagen.accounts.permissions import Perm
from anagen.clinical import PROCEDURES
from anagen.patients.models import Patient
from anagen.procedures import selectors

register = template.Library()
PANEL_ROWS = 5


@register.inclusion_tag("procedures/_panel.html")
def procedures_panel(patient: Patient, actor: Actor) -> dict[str, Any]:
    clinical = actor.can(Perm.CLINICAL_VIEW)
    performs = actor.can(Perm.SESSION_PERFORM)
    # One query: the latest few sessions with their preparation (no per-row queries).
    sessions = selectors.panel_sessions(actor, patient, PANEL_ROWS) if clinical else []
    return {
        "patient": patient,
        "clinical": clinical,
        "performs": performs,
        "sessions": sessions,
        "procedures": [(k, v["label"]) for k, v in PROCEDURES.items()],
    }
