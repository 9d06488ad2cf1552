"""Reminder messages staff can shape: placeholders, validation and rendering.

A rule's template is plain text with placeholders in braces, e.g.
``"Hello {patient_first_name}, see you at {clinic_name} on {appointment_time}."``.
Only the placeholders below are allowed, with no formatting or attribute access (so a template
can never reach into an object), and ``{{`` / ``}}`` write a literal brace. An empty template
means the standard wording, which names no procedure (someone else may read a message).
Times are the clinic's, in words ("Mon 30 Nov 2026, 14:05").
"""

from __future__ import annotations

import datetime as dt
import string
from dataclasses import dataclass

from django.core.exceptions import ValidationError

from anagen.accounts.clinic_time import human_date, human_datetime, human_time

# placeholder: what it stands for (shown beside the template field)
PLACEHOLDERS: dict[str, str] = {
    "patient_first_name": "the patient's first name",
    "clinic_name": "the clinic's name",
    "appointment_time": "day, date and time in clinic time (Mon 30 Nov 2026, 14:05)",
    "appointment_date": "the date only (30 Nov 2026)",
    "appointment_clock": "the time only (14:05)",
    "practitioner": "who sees the patient",
    "procedure": "what the visit is for (anyone holding the phone may read it)",
}
MAX_TEMPLATE_CHARS = 640

DEFAULT_TEMPLATE = (
    "Reminder: you have an appointment at {clinic_name} on {appointment_time}. "
    "Please call us to change it."
)


@dataclass(frozen=True)
class MessageFacts:
    """What a message may say about one appointment (real or the preview's sample)."""

    patient_first_name: str
    clinic_name: str
    starts_at: dt.datetime  # aware; shown in ``tz``
    tz: dt.tzinfo
    practitioner: str
    procedure: str

    def values(self) -> dict[str, str]:
        return {
            "patient_first_name": self.patient_first_name,
            "clinic_name": self.clinic_name,
            "appointment_time": human_datetime(self.starts_at, self.tz),
            "appointment_date": human_date(self.starts_at.astimezone(self.tz).date()),
            "appointment_clock": human_time(self.starts_at, self.tz),
            "practitioner": self.practitioner,
            "procedure": self.procedure,
        }


def placeholder_list() -> str:
    return ", ".join("{" + name + "}" for name in PLACEHOLDERS)


def template_errors(template: str) -> list[str]:
    """What is wrong with a template, in words (empty when it can be used)."""
    if len(template) > MAX_TEMPLATE_CHARS:
        return [f"Keep the message under {MAX_TEMPLATE_CHARS} characters."]
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError:
        return ["A brace is not closed: write {{ or }} for a brace in the text."]
    errors: list[str] = []
    for _text, name, spec, conversion in parts:
        if name is None:
            continue
        if name == "":
            errors.append("Empty braces {}: name a placeholder, e.g. {clinic_name}.")
        elif name not in PLACEHOLDERS:
            errors.append(f"Unknown placeholder {{{name}}}: use one of {placeholder_list()}.")
        elif spec or conversion:
            errors.append(f"Write {{{name}}} on its own, without ':' or '!'.")
    return list(dict.fromkeys(errors))


def validate_template(template: str) -> str:
    """The template, stripped; ValidationError on the ``template`` field when unusable."""
    template = (template or "").strip()
    errors = template_errors(template)
    if errors:
        raise ValidationError({"template": errors})
    return template


def render(template: str, facts: MessageFacts) -> str:
    """The message for one appointment. An empty (or, defensively, a broken) template gives the
    standard wording, so a reminder always goes out."""
    text = (template or "").strip()
    if not text or template_errors(text):
        text = DEFAULT_TEMPLATE
    return string.Formatter().vformat(text, (), facts.values())
