from __future__ import annotations

import functools
from typing import Any

from django import forms
from django.forms.utils import flatatt
from django.http import HttpResponse, QueryDict
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from anagen.accounts.access import ClinicRequest
from anagen.accounts.decorators import clinic_view
from anagen.accounts.permissions import Perm
from anagen.accounts.selectors import staff_of
from anagen.audit.models import AuditAction
from anagen.audit.selectors import Cursor, audit_actions_in, audit_page

# One option of a select, written once: its value as text, and its markup unselected and selected
# (or, for <optgroup> tags, the markup alone).
_Part = tuple[str, str, str] | str


def _option_parts(choices: Any) -> tuple[_Part, ...]:
    parts: list[_Part] = []
    for option_value, option_label in choices:
        group = option_value if isinstance(option_label, list | tuple) else None
        options = option_label if group is not None else [(option_value, option_label)]
        if group:
            parts.append(format_html('<optgroup label="{}">', group))
        for sub_value, sub_label in options:
            if sub_value is None:
                sub_value = ""
            text, label = conditional_escape(sub_value), conditional_escape(sub_label)
            parts.append(
                (
                    str(sub_value),
                    f'<option value="{text}">{label}</option>',
                    f'<option value="{text}" selected>{label}</option>',
                )
            )
        if group:
            parts.append("</optgroup>")
    return tuple(parts)


_cached_option_parts = functools.lru_cache(maxsize=32)(_option_parts)


def _frozen(choices: Any) -> tuple[Any, ...]:
    return tuple(
        (value, tuple(label) if isinstance(label, list | tuple) else label)
        for value, label in choices
    )


class QuickSelect(forms.Select):
    """A select written in Python: the action filter offers every audited action (~180) and
    the user filter every member of staff, and one template render per option cost more than
    the rest of the page (issue 15). The same markup as Django's select template; the options'
    markup is kept per list of choices (the action list is the same on every request)."""

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        chosen = set(self.format_value(value))
        final_attrs = self.build_attrs(self.attrs, attrs)
        if self.allow_multiple_selected:
            final_attrs["multiple"] = True
        try:
            options = _cached_option_parts(_frozen(self.choices))
        except TypeError:  # a label that cannot be a key
            options = _option_parts(self.choices)
        html: list[str] = [format_html('<select name="{}"{}>', name, flatatt(final_attrs))]
        has_selected = False
        for part in options:
            if isinstance(part, str):
                html.append(part)
                continue
            text, plain, marked = part
            # As Django's `optgroups`: only the first matching option of a single select.
            selected = (not has_selected or self.allow_multiple_selected) and text in chosen
            has_selected |= selected
            html.append(marked if selected else plain)
        html.append("</select>")
        return mark_safe("".join(html))  # noqa: S308 - every part is escaped above


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


@functools.lru_cache(maxsize=8)
def _action_choices(actions: tuple[str, ...]) -> list[Any]:
    """The action filter's choices: kinds ("Anything about billing"), then actions in words."""
    groups = sorted({a.split(".")[0] for a in actions})
    return [
        ("", "Any action"),
        ("Kinds", [(g, f"Anything about {g.replace('_', ' ')}") for g in groups]),
        ("Actions", sorted(((a, AuditAction.label_of(a)) for a in actions), key=lambda c: c[1])),
    ]


_FIELDS = tuple(AuditFilterForm.base_fields)
_Data = tuple[tuple[str, tuple[str, ...]], ...] | None
_Users = tuple[tuple[int, str], ...]


def _filter_form(data: _Data, users: _Users, actions: tuple[str, ...]) -> AuditFilterForm:
    bound: QueryDict | None = None
    if data is not None:
        bound = QueryDict(mutable=True)
        for name, values in data:
            bound.setlist(name, list(values))
    form = AuditFilterForm(bound)
    form.fields["user"].choices = [("", "Anyone"), *users]  # type: ignore[attr-defined]
    form.fields["action"].choices = _action_choices(actions)  # type: ignore[attr-defined]
    return form


@functools.lru_cache(maxsize=64)
def _filter_fields_html(
    data: _Data, users: _Users, actions: tuple[str, ...], language: str
) -> SafeString:
    """The filter form's fields (with their errors) as `_form_fields.html` writes them. They
    follow from the values typed, the staff, the actions and the language alone, so they are
    kept (the ~180 actions, the labels and the inputs cost a template render each)."""
    form = _filter_form(data, users, actions)
    form.is_valid()
    return mark_safe(render_to_string("_form_fields.html", {"form": form}))  # noqa: S308


@clinic_view(Perm.AUDIT_VIEW)
def audit_list(request: ClinicRequest) -> HttpResponse:
    clinic = request.actor.clinic
    staff = list(staff_of(clinic=clinic))
    users = tuple((m.user_id, str(m.user)) for m in staff)
    data = tuple((n, tuple(request.GET.getlist(n))) for n in _FIELDS) if request.GET else None
    actions = tuple(audit_actions_in(clinic=clinic))
    form = _filter_form(data, users, actions)
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
        staff_ids=[m.user_id for m in staff],
    )
    query = request.GET.copy()
    query.pop("before", None)
    query.pop("page", None)
    return render(
        request,
        "audit/list.html",
        {
            "form": form,
            "form_fields": _filter_fields_html(data, users, actions, get_language()),
            "events": events,
            "older": older.token() if older else "",
            "paged": "before" in request.GET,
            "query": query.urlencode(),
        },
        status=400 if form.is_bound and form.errors else 200,
    )
