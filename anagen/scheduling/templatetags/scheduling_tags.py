from __future__ import annotations

from typing import Any

from django import template

from anagen.scheduling import selectors

register = template.Library()


@register.inclusion_tag("scheduling/_chart_card.html", takes_context=True)
def schedule_card(context: template.Context, patient: Any, actor: Any) -> dict[str, Any]:
    """The chart's "Plan and appointments" card (one query, whatever the history).

    What the reader may do comes from ``actor.perms`` in the template (plan, book)."""
    schedule = selectors.patient_schedule_card(actor=actor, patient=patient)
    return {"patient": patient, "actor": actor, "s": schedule}
