"""Clinic time: one human format, in the clinic's zone, for requests, tasks and commands."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.template import engines
from django.utils import timezone

from anagen.accounts.clinic_time import (
    clinic_time,
    human_date,
    human_datetime,
    human_time,
    local_today,
)
from anagen.accounts.testing import sign_in

# 30 Nov 2026 22:30 UTC is already 1 Dec 11:30 in Auckland (UTC+13 in summer).
INSTANT = dt.datetime(2026, 11, 30, 22, 30, tzinfo=dt.UTC)


def test_human_formats_in_the_clinic_zone(clinic_a):
    clinic_a.clinic.timezone = "Pacific/Auckland"
    with clinic_time(clinic_a.clinic):
        assert human_datetime(INSTANT) == "Tue 1 Dec 2026, 11:30"
        assert human_date(INSTANT) == "1 Dec 2026"
        assert human_time(INSTANT) == "11:30"
        rendered = engines["django"].from_string("{{ t|when }}|{{ t }}|{{ t|day }}|{{ t|clock }}")
        assert rendered.render({"t": INSTANT}) == (
            "Tue 1 Dec 2026, 11:30|1 Dec 2026, 11:30|1 Dec 2026|11:30"
        )
    # Outside the block the server zone (UTC) is back.
    assert human_datetime(INSTANT) == "Mon 30 Nov 2026, 22:30"


def test_local_today_is_the_clinic_date_not_utc(clinic_a, monkeypatch):
    clinic_a.clinic.timezone = "Pacific/Auckland"
    monkeypatch.setattr(timezone, "now", lambda: INSTANT)
    assert local_today(clinic_a.clinic) == dt.date(2026, 12, 1)


def test_date_inputs_render_iso_so_the_browser_shows_them():
    class F(forms.Form):
        on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))

    html = str(F(initial={"on": dt.date(2026, 11, 30)})["on"])
    assert 'value="2026-11-30"' in html
    assert F(data={"on": "30/11/2026"}).is_valid()  # typed the British way still parses


def test_each_request_runs_in_its_clinic_zone_and_the_zone_does_not_leak(clinic_a, clinic_b):
    from django.test import Client

    clinic_a.clinic.timezone = "Pacific/Auckland"
    clinic_a.clinic.save(update_fields=["timezone"])
    seen = []
    from anagen.accounts import middleware

    def grab(request):
        seen.append(str(timezone.get_current_timezone()))
        from django.http import HttpResponse

        return HttpResponse("ok")

    mw = middleware.ActiveClinicMiddleware(grab)
    client = sign_in(Client(), clinic_a.physician)
    request = client.get("/").wsgi_request
    mw(request)
    assert seen[-1] == "Pacific/Auckland"
    assert str(timezone.get_current_timezone()) == "UTC"  # reset after the request
