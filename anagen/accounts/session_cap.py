"""An absolute cap on a signed-in session (12 h by default), on top of the 30-minute idle timeout.

Idle expiry alone lets a session that is used every few minutes live for ever; the cap forces a
fresh sign-in each working day (reference/reliability-and-security.md §3.2, ASVS 3.3).
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


def mark_signed_in(request: HttpRequest) -> None:
    request.session[SESSION_KEY] = int(time.time())


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
        return self.get_response(request)
