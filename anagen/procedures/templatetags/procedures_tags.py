"""The chart's Treatment sessions card."""

from __future__ import annotations

from typing import Any

from django import template
from django.template.defaultfilters import date as date_filter
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString

from anagen.accounts.access import Actor
from anagen.accounts.permissions import Perm
from anagen.clinical import PROCEDURES
from anagen.patients.models import Patient
from anagen.procedures import selectors
from anagen.web.fast_widgets import template_text
from anagen.web.templatetags.human import clock, day
from anagen.web.templatetags.record_facts import facts, shown

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


# The session page's repeated rows written in Python with the template's markup, character for
# character (issue 15: the template's loops were most of the page's render time). Every value
# is escaped as ``{{ value }}`` escapes it.


def _e(value: Any) -> str:
    return str(conditional_escape(value))


@register.simple_tag
def facts_items(form: Any) -> SafeString:
    """``{% for label, value in form|facts %}<dt>{{ label }}</dt><dd>{{ value }}</dd>``
    ``{% endfor %}``"""
    return SafeString(
        "".join(f"<dt>{_e(label)}</dt><dd>{_e(value)}</dd>" for label, value in facts(form))
    )


@register.simple_tag
def checklist_items(items: Any) -> SafeString:
    """The checklist's ``<li>`` rows (procedures/session_detail.html)."""
    out = []
    for i in items:
        out.append(
            f'<li class="{"ok" if i.ok else "missing"}" data-item="{_e(i.code)}">{_e(i.label)}'
            + (f' — <span class="muted">{_e(i.detail)}</span>' if i.detail and not i.ok else "")
            + "</li>"
        )
    return SafeString("".join(out))


@register.simple_tag
def zone_fact_rows(zones_form: Any) -> SafeString:
    """The injection map read as facts: one row per zone, each cell the value in words."""
    return SafeString(
        "".join(
            f'<tr id="zone-{_e(row["code"])}"><th scope="row">{_e(row["label"])}</th>'
            + "".join(f"<td>{_e(shown(fld))}</td>" for fld in row["fields"])
            + "</tr>"
            for row in zones_form.rows()
        )
    )


@register.simple_tag
def phase_fact_rows(phases: Any) -> SafeString:
    """The phase rows of a record read as facts (no form in the row)."""
    out = []
    for p in phases:
        at = p["at"]
        when = (
            f'<time datetime="{_e(date_filter(at, "c"))}">{_e(clock(at))}</time> '
            f'<span class="muted">{_e(day(at))}</span>'
            if at
            else '<span class="empty">—</span>'
        )
        out.append(
            f'<tr id="phase-{_e(p["field"])}"><td>{_e(p["label"])}</td><td>{when}</td>\n    </tr>'
        )
    return SafeString("".join(out))
