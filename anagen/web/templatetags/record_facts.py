"""A form's current values read as a document (a signed record shows facts, not disabled inputs).

`{% load record_facts %}` then `{{ form.field|shown }}`: the field's value in words (choice
labels, Yes/No, clinic-time dates), "—" when empty; `{{ form|facts }}`: (label, words) for every
visible field except the amendment reason.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django import forms, template
from django.db.models import Model
from django.forms import BoundField
from django.utils import timezone

from anagen.accounts.clinic_time import human_date, human_datetime

register = template.Library()
EMPTY = "—"


def _choice_labels(field: forms.Field) -> dict[str, str]:
    labels: dict[str, str] = {}
    for key, label in getattr(field, "choices", []):
        if isinstance(label, list | tuple):  # an option group
            for k, lab in label:
                labels[str(k)] = str(lab)
        else:
            labels[str(key)] = str(label)
    return labels


def _words(field: forms.Field, value: Any) -> str:
    if isinstance(field, forms.BooleanField):
        return "Yes" if value in (True, "on", "true", "True", "1") else "No"
    if value is None or value == "" or value == []:
        return EMPTY
    if isinstance(value, Model):
        return str(value)
    if isinstance(field, forms.MultipleChoiceField):
        labels = _choice_labels(field)
        return ", ".join(labels.get(str(v), str(v)) for v in value) or EMPTY
    if isinstance(field, forms.ChoiceField):
        label = _choice_labels(field).get(str(value))
        return label if label not in (None, "", "—", "---------") else EMPTY
    if isinstance(value, str) and isinstance(field, forms.DateTimeField | forms.DateField):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
        if isinstance(field, forms.DateField):
            value = value.date()
    if isinstance(value, dt.datetime):
        if timezone.is_naive(value):  # a datetime-local input's value is clinic-local already
            value = timezone.make_aware(value)
        return human_datetime(value)
    if isinstance(value, dt.date):
        return human_date(value)
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return str(value)


@register.filter
def shown(bound: BoundField) -> str:
    """A bound field's value in words."""
    return _words(bound.field, bound.value())


@register.filter
def facts(form: forms.Form) -> list[tuple[str, str]]:
    """(label, value in words) for each visible field but the amendment reason."""
    return [
        (str(b.label), _words(b.field, b.value()))
        for b in form.visible_fields()
        if b.name != "reason"
    ]
