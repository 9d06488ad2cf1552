"""The audit page in words: action labels, clinic time, changes as "Field: before → after"."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django import template
from django.apps import apps

from anagen.accounts.clinic_time import human_date, human_datetime

register = template.Library()

VIA_LABELS = {
    "web": "Web page",
    "api": "API",
    "task": "Background task",
    "cli": "Command line",
    "system": "System",
    "feed": "Calendar feed",
}
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}")
# Words for field names whose plain form reads badly.
FIELD_LABELS = {
    "sha256": "Fingerprint",
    "planned_on": "Planned for",
    "visit_on": "Visit date",
    "earliest_on": "Earliest date",
    "signed_at": "Signed",
    "birth_date": "Date of birth",
    "intake_version": "Intake version",
    "assessment_version": "Assessment version",
    "override_carried_from": "Override carried over from screening",
    "list_events_erased": "Searches and lists that named the patient, erased (events)",
}


def field_label(name: str) -> str:
    if name in FIELD_LABELS:
        return FIELD_LABELS[name]
    return str(name).replace("_", " ").replace(".", " ").strip().capitalize()


def value_text(value: Any) -> str:
    """One stored value in words (audit values are JSON: strings, numbers, lists, objects)."""
    if value is None or value == "":
        return "—"
    if value is True:
        return "Yes"
    if value is False:
        return "No"
    if isinstance(value, str):
        if _ISO_DATETIME.match(value):
            try:
                return human_datetime(dt.datetime.fromisoformat(value))
            except ValueError:
                return value
        if _ISO_DATE.match(value):
            try:
                return human_date(dt.date.fromisoformat(value))
            except ValueError:
                return value
        return value
    if isinstance(value, dict):
        return "; ".join(f"{field_label(k)}: {value_text(v)}" for k, v in value.items()) or "—"
    if isinstance(value, list | tuple):
        return ", ".join(value_text(v) for v in value) or "—"
    return str(value)


@register.filter
def change_lines(changes: Any) -> list[str]:
    """{field: [old, new]} → "Field: old → new"; {field: value} → "Field: value"."""
    if not isinstance(changes, dict):
        return [value_text(changes)] if changes else []
    lines = []
    for key, value in changes.items():
        if isinstance(value, list) and len(value) == 2:
            lines.append(f"{field_label(key)}: {value_text(value[0])} → {value_text(value[1])}")
        else:
            lines.append(f"{field_label(key)}: {value_text(value)}")
    return lines


@register.filter
def via_label(via: str) -> str:
    return VIA_LABELS.get(via, str(via).capitalize())


@register.filter
def object_label(object_type: str) -> str:
    """ "care.assessment" → "Assessment"."""
    if not object_type:
        return ""
    try:
        model = apps.get_model(object_type)
    except (LookupError, ValueError):
        return field_label(object_type.rpartition(".")[2])
    return str(model._meta.verbose_name).capitalize()
