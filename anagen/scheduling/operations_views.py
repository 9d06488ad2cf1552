"""Operational analytics page for the clinic admin (aggregates only, no patient rows)."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.http import HttpResponse
from django.shortcuts import render

from anagen.accounts.access import ClinicRequest
from anagen.accounts.decorators import clinic_view
from anagen.accounts.permissions import Perm
from anagen.scheduling import operations

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class PeriodForm(forms.Form):
    start = forms.DateField(label="From", widget=DATE_WIDGET)
    end = forms.DateField(label="To", widget=DATE_WIDGET)

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if isinstance(start, dt.date) and isinstance(end, dt.date):
            if end < start:
                self.add_error("end", "The period must end on or after its first day.")
            elif (end - start).days >= operations.MAX_PERIOD_DAYS:
                self.add_error("end", "Choose a period of at most a year.")
        return data


@clinic_view(Perm.ANALYTICS_VIEW)
def operations_page(request: ClinicRequest) -> HttpResponse:
    """No-shows, late cancellations, utilisation, sessions and draw-to-injection times."""
    start, end = operations.default_period(request.actor)
    chosen = "start" in request.GET or "end" in request.GET
    form = PeriodForm(request.GET if chosen else None, initial={"start": start, "end": end})
    status = 200
    if chosen:
        if form.is_valid():
            start, end = form.cleaned_data["start"], form.cleaned_data["end"]
        else:
            status = 400
    summary = operations.operations_summary(actor=request.actor, start=start, end=end)
    return render(
        request,
        "scheduling/operations.html",
        {"form": form, "ops": summary},
        status=status,
    )
