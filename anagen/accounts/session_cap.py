"""An absolute cap on a signed-in session (12 h by default), on top of the 30-minute idle timeout.

Idle expiry alone lets a session that is used every few minutes live for ever; the cap forces a
fresh sign-in each working day (reference/reliability-and-security.md §3.2, ASVS 3.3).

The idle timeout (SESSION_COOKIE_AGE, 30 minutes) is renewed by use, but not by a write on every
request (issue 15: SESSION_SAVE_EVERY_REQUEST made every signed-in page a session UPDATE and a
commit): a request renews the session only when its last renewal is older than
SESSION_TOUCH_INTERVAL (60 s), so a session in use expires between 29 and 30 minutes after its
last request, and a page costs no write in between.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

SESSION_KEY = "signed_in_at"
TOUCHED_KEY = "touched_at"


def touch_interval() -> int:
    return int(getattr(settings, "SESSION_TOUCH_INTERVAL", 60))


def mark_signed_in(request: HttpRequest) -> None:
    now = int(time.time())
    request.session[SESSION_KEY] = now
    request.session[TOUCHED_KEY] = now


class AbsoluteSessionCapMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            signed_in_at = request.session.get(SESSION_KEY)
            cap = getattr(settings, "SESSION_ABSOLUTE_MAX_AGE", 12 * 3600)
            if signed_in_at is not None and time.time() - signed_in_at > cap:
                logout(request)
                messages.info(request, "Your session ended after 12 hours; please sign in again.")
                return redirect(settings.LOGIN_URL)
            now = int(time.time())
            if now - int(request.session.get(TOUCHED_KEY) or 0) >= touch_interval():
                # Marks the session modified: saved with a fresh 30-minute expiry.
                request.session[TOUCHED_KEY] = now
        return self.get_response(request)
