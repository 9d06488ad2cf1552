"""The chart's Consultation card: latest assessment, latest screening, consent status."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django import template

from anagen.accounts.access import Actor
from anagen.accounts.clinic_time import human_date
from anagen.care import selectors
from anagen.care.models import LEVEL_LABELS
from anagen.clinical.screening import source_for_rule
from anagen.patients.models import Patient

register = template.Library()

# Shown even when unsigned; other kinds only once something was signed.
_ALWAYS = ("prp_scalp", "photo_clinical")


@register.inclusion_tag("care/_panel.html")
def care_panel(patient: Patient, actor: Actor) -> dict[str, Any]:
    # One query whatever the patient's history (latest rows only, the columns shown).
    panel = selectors.care_panel(actor=actor, patient=patient)
    return {
        "actor": actor,
        "patient": patient,
        "assessment": panel.assessment,
        "screening": panel.screening,
        "consents": panel.consents,
        "procedure_kinds": _ALWAYS,
    }


_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")


def _human(match: re.Match[str]) -> str:
    try:
        return human_date(dt.date(*(int(g) for g in match.groups())))
    except ValueError:
        return match.group(0)


@register.filter
def human_dates(text: str) -> str:
    """Kernel messages carry ISO dates ("earliest 2026-11-27"): staff read "27 Nov 2026"."""
    return _ISO_DATE.sub(_human, str(text or ""))


@register.filter
def level_label(level: str) -> str:
    return LEVEL_LABELS.get(level, str(level).replace("_", " ").capitalize())


@register.filter
def finding_source(finding: dict[str, Any]) -> str:
    """The references of a finding's rule as they read today (author, year, title).

    Records stored before sources were references carry a note naming the facts file; the
    rule id finds the current references instead.
    """
    text = source_for_rule(str(finding.get("rule", "")))
    return text or str(finding.get("source", ""))
