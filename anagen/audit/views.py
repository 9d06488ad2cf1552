from __future__ import annotations

from django import forms
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render

from anagen.accounts.access import ClinicRequest
from anagen.accounts.decorators import clinic_view
from anagen.accounts.permissions import Perm
from anagen.accounts.selectors import staff_of
from anagen.audit.models import AuditAction
from anagen.audit.selectors import audit_actions_in, audit_events_for


class AuditFilterForm(forms.Form):
    user = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    patient = forms.IntegerField(required=False, min_value=1, label="Patient (internal id)")
    action = forms.ChoiceField(required=False)
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
    labels = dict(AuditAction.choices)
    groups = sorted({a.split(".")[0] for a in actions})
    form.fields["action"].choices = [  # type: ignore[attr-defined]
        ("", "Any action"),
        ("Kinds", [(g, f"Anything about {g.replace('_', ' ')}") for g in groups]),
        ("Actions", sorted(((a, str(labels.get(a, a))) for a in actions), key=lambda c: c[1])),
    ]
    filters = form.cleaned_data if form.is_valid() else {}
    events = audit_events_for(
        clinic=clinic,
        user_id=filters.get("user"),
        patient_id=filters.get("patient"),
        action=filters.get("action") or "",
        date_from=filters.get("date_from"),
        date_to=filters.get("date_to"),
    )
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "audit/list.html",
        {"form": form, "page": page, "query": query.urlencode()},
        status=400 if form.is_bound and form.errors else 200,
    )
