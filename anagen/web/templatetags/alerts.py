"""The allergy and adverse-event banner shown on every clinical page of a patient.

``base.html`` renders ``{% patient_alerts patient %}`` whenever a page has a ``patient``; a page
that reaches its patient another way overrides the ``patient_alerts`` block with the same tag.
The selector decides who sees it (clinical staff only) and keeps it to two queries.
"""

from __future__ import annotations

from typing import Any

from django import template

from anagen.patients.models import Patient
from anagen.patients.selectors import patient_alerts as alerts_for

register = template.Library()


@register.inclusion_tag("_patient_alerts.html", takes_context=True)
def patient_alerts(context: template.Context, patient: Any) -> dict[str, Any]:
    actor = context.get("actor")
    if actor is None or not isinstance(patient, Patient):
        return {"alerts": None}
    read = context.get("patient_alerts_read")  # the chart reads them with its own query
    if read is not None and read[0] == patient.pk:
        return {"alerts": read[1] or None}
    alerts = alerts_for(actor=actor, patient=patient)
    return {"alerts": alerts or None}
