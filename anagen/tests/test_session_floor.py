"""The signed-in floor (issue 15): a bare signed-in request reads nothing from the database and
writes nothing: the session comes from the cache every worker shares
(anagen/accounts/session_store.py), the person, their second-factor device and their membership
(with its clinic) are remembered per process (anagen/accounts/signed_in.py). Use still renews the
30-minute idle timeout at most once a minute, and an idle session still expires."""

from __future__ import annotations

import datetime as dt
import time
from types import SimpleNamespace

from django.contrib.sessions.models import Session
from django.core.cache.backends import filebased
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from anagen.accounts.session_cap import TOUCHED_KEY


def _session_row(client) -> Session:
    return Session.objects.get(session_key=client.cookies["sessionid"].value)


def test_a_bare_signed_in_request_writes_nothing(clinic_a):
    client = clinic_a.client(clinic_a.nurse)
    client.get("/session/ping")  # settles the active clinic and the first renewal
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/session/ping").status_code < 400
    assert [q["sql"] for q in ctx.captured_queries] == []


def test_use_renews_the_idle_timeout_at_most_once_a_minute(clinic_a, settings):
    client = clinic_a.client(clinic_a.nurse)
    client.get("/session/ping")
    first = _session_row(client).expire_date
    client.get("/patients/")
    assert _session_row(client).expire_date == first  # within the minute: no write
    session = client.session
    session[TOUCHED_KEY] = int(time.time()) - settings.SESSION_TOUCH_INTERVAL - 1
    session.save()
    Session.objects.filter(session_key=session.session_key).update(
        expire_date=timezone.now() + dt.timedelta(minutes=5)
    )
    assert client.get("/patients/").status_code == 200
    renewed = _session_row(client).expire_date
    assert renewed > timezone.now() + dt.timedelta(seconds=settings.SESSION_COOKIE_AGE - 60)


def test_an_idle_session_still_expires(clinic_a, monkeypatch, settings):
    client = clinic_a.client(clinic_a.nurse)
    client.get("/session/ping")
    Session.objects.filter(session_key=client.cookies["sessionid"].value).update(
        expire_date=timezone.now() - dt.timedelta(seconds=1)
    )
    # The cached copy lives exactly as long as the row: 30 idle minutes later it is gone too.
    later = time.time() + settings.SESSION_COOKIE_AGE + 1
    monkeypatch.setattr(filebased, "time", SimpleNamespace(time=lambda: later))
    response = client.get("/patients/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
