"""Puts the request context on the request as `request.actor` and activates clinic time.

Every page and API call by a signed-in member of a clinic runs in that clinic's time zone, so
templates, forms and `timezone.localtime` show clinic time without each view asking.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.accounts.selectors import membership_active_for

SESSION_KEY = "active_clinic_id"


class ActiveClinicMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.actor = None  # type: ignore[attr-defined]
        user = getattr(request, "user", None)
        try:
            if user is not None and user.is_authenticated:
                membership = membership_active_for(
                    user=user, clinic_id=request.session.get(SESSION_KEY)
                )
                if membership is not None:
                    request.session[SESSION_KEY] = membership.clinic_id
                    actor = Actor(user=user, membership=membership, via="web")
                    request.actor = actor  # type: ignore[attr-defined]
                    timezone.activate(actor.tz)
            return self.get_response(request)
        finally:
            # Never let one clinic's zone leak into the next request on this thread.
            timezone.deactivate()
