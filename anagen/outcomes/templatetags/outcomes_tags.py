"""The chart's Outcomes card and small display filters."""

from __future__ import annotations

from typing import Any

from django import template

from anagen.accounts.access import Actor
from anagen.accounts.permissions import Perm
from anagen.outcomes.models import MeasurementSet, PhotoSet
from anagen.patients.models import Patient

register = template.Library()


@register.filter
def pct(value: float | None) -> str:
    """0.4567 → "45.7 %"."""
    if value is None:
        return "—"
    return f"{value * 100:.1f} %"


@register.inclusion_tag("outcomes/_panel.html")
def outcomes_panel(patient: Patient, actor: Actor) -> dict[str, Any]:
    # Three small queries whatever the history: counts and the latest set.
    sets = MeasurementSet.objects.filter(patient=patient)
    return {
        "patient": patient,
        "set_count": sets.count(),
        "latest": sets.order_by("-measured_on", "-id").first(),
        "photo_set_count": PhotoSet.objects.filter(patient=patient).count(),
        "can_record": actor.can(Perm.INTAKE_RECORD),
    }
