"""The chart's Outcomes card and small display filters."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django import template
from django.template.defaultfilters import floatformat

from anagen.accounts.access import Actor
from anagen.accounts.clinic_time import human_date
from anagen.accounts.permissions import Perm
from anagen.outcomes import selectors
from anagen.patients.models import Patient

register = template.Library()


@register.filter
def measured(value: Any, places: Any) -> str:
    """``floatformat`` at a fixed number of places (half-up on the value's decimal text, no
    "-0"), without the locale lookups it makes per call: the progress page shows ~170 values
    (issue 15). Anything unusual goes to ``floatformat`` itself."""
    try:
        number, digits = Decimal(str(value)), int(places)
    except (InvalidOperation, TypeError, ValueError):
        return str(floatformat(value, places))
    if digits < 0 or not number.is_finite():
        return str(floatformat(value, places))
    rounded = number.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    return f"{abs(rounded) if rounded == 0 else rounded:f}"


@register.filter
def pct(value: float | None) -> str:
    """0.4567 → "45.7 %"."""
    if value is None:
        return "—"
    return f"{value * 100:.1f} %"


@register.filter
def isodate(value: str | None) -> str:
    """A date stored as text ("2025-01-10", e.g. in an import preview) → "10 Jan 2025"."""
    if not value:
        return "—"
    try:
        return human_date(dt.date.fromisoformat(str(value)))
    except ValueError:
        return str(value)


@register.inclusion_tag("outcomes/_panel.html")
def outcomes_panel(patient: Patient, actor: Actor) -> dict[str, Any]:
    # Three small queries whatever the history: counts and the latest set.
    return {
        "patient": patient,
        **selectors.outcomes_summary(patient),
        "can_record": actor.can(Perm.OUTCOMES_RECORD),
    }
