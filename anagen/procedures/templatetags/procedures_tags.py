"""The chart's Treatment sessions card."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import SafeString

from anagen.accounts.access import Actor
from anagen.accounts.permissions import Perm
from anagen.clinical import PROCEDURES
from anagen.patients.models import Patient
from anagen.procedures import selectors
from anagen.web.fast_widgets import template_text

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


@register.simple_tag
def section_fields(form: Any, signed: bool) -> SafeString:
    """procedures/_fields.html written in Python, character for character (the session page
    draws up to six forms with it: most of its template time went into this loop)."""
    out = []
    errors = form.non_field_errors()
    if errors:
        out.append('<div class="errors" role="alert">')
        out.extend(f"<p>{template_text(e)}</p>" for e in errors)
        out.append("</div>")
    out.append("\n")
    for field in form.visible_fields():
        if field.name != "reason" or signed:
            errors = field.errors
            checkbox = getattr(field.field.widget, "input_type", None) == "checkbox"
            out.append(
                '\n<div class="field'
                + (" has-error" if errors else "")
                + (" check" if checkbox else "")
                + '">\n  '
            )
            if checkbox:
                out.append(f"{template_text(field)} {template_text(field.label_tag())}")
            else:
                out.append(f"{template_text(field.label_tag())} {template_text(field)}")
            out.append("\n  ")
            if field.help_text and field.name != "reason":
                out.append(f'<small class="help">{template_text(field.help_text)}</small>')
            out.append("\n  ")
            out.extend(f'<p class="error" role="alert">{template_text(e)}</p>' for e in errors)
            out.append("\n</div>\n")
    out.append("\n")
    out.extend(template_text(h) for h in form.hidden_fields())
    out.append("\n")
    return SafeString("".join(out))
