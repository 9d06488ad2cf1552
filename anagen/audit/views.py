from __future__ import annotations

from typing import Any

from django import forms
from django.forms.utils import flatatt
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe

from anagen.accounts.access import ClinicRequest
from anagen.accounts.decorators import clinic_view
from anagen.accounts.permissions import Perm
from anagen.accounts.selectors import staff_of
from anagen.audit.models import AuditAction
from anagen.audit.selectors import Cursor, audit_actions_in, audit_page


class QuickSelect(forms.Select):
    """A select written in Python: the action filter offers every audited action (~300) and
    the user filter every member of staff, and one template render per option cost more than
    the rest of the page (issue 15). The same markup as Django's select template."""

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        widget = self.get_context(name, value, attrs)["widget"]
        parts: list[str] = [
            format_html('<select name="{}"{}>', widget["name"], flatatt(widget["attrs"]))
        ]
        for group, options, _ in widget["optgroups"]:
            if group:
                parts.append(format_html('<optgroup label="{}">', group))
            for o in options:
                extra = flatatt({k: v for k, v in o["attrs"].items() if k != "selected"})
                selected = " selected" if o["attrs"].get("selected") else ""
                text, label = conditional_escape(o["value"]), conditional_escape(o["label"])
                parts.append(f'<option value="{text}"{selected}{extra}>{label}</option>')
            if group:
                parts.append("</optgroup>")
        parts.append("</select>")
        return mark_safe("".join(parts))  # noqa: S308 - every part is escaped above


class AuditFilterForm(forms.Form):
    user = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, widget=QuickSelect)
    patient = forms.IntegerField(required=False, min_value=1, label="Patient (internal id)")
    action = forms.ChoiceField(required=False, widget=QuickSelect)
    date_from = forms.DateField(
        required=False,
        label="From",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    date_to = forms.DateField(
        required=False,
        label="To",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )


@clinic_view(Perm.AUDIT_VIEW)
def audit_list(request: ClinicRequest) -> HttpResponse:
    clinic = request.actor.clinic
    form = AuditFilterForm(request.GET or None)
    form.fields["user"].choices = [("", "Anyone")] + [  # type: ignore[attr-defined]
        (m.user_id, str(m.user)) for m in staff_of(clinic=clinic)
    ]
    actions = audit_actions_in(clinic=clinic)
    groups = sorted({a.split(".")[0] for a in actions})
    form.fields["action"].choices = [  # type: ignore[attr-defined]
        ("", "Any action"),
        ("Kinds", [(g, f"Anything about {g.replace('_', ' ')}") for g in groups]),
        ("Actions", sorted(((a, AuditAction.label_of(a)) for a in actions), key=lambda c: c[1])),
    ]
    filters = form.cleaned_data if form.is_valid() else {}
    # Keyset pages (issue 15): "older" continues after the last row shown, no count, no skip.
    events, older = audit_page(
        clinic=clinic,
        user_id=filters.get("user"),
        patient_id=filters.get("patient"),
        action=filters.get("action") or "",
        date_from=filters.get("date_from"),
        date_to=filters.get("date_to"),
        before=Cursor.parse(request.GET.get("before")),
    )
    query = request.GET.copy()
    query.pop("before", None)
    query.pop("page", None)
    return render(
        request,
        "audit/list.html",
        {
            "form": form,
            "events": events,
            "older": older.token() if older else "",
            "paged": "before" in request.GET,
            "query": query.urlencode(),
        },
        status=400 if form.is_bound and form.errors else 200,
    )
