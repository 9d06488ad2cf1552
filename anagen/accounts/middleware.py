"""Puts the signed-in user's active clinic membership on the request as `request.actor`."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from anagen.accounts.access import Actor
from anagen.accounts.selectors import membership_active_for

SESSION_KEY = "active_clinic_id"


class ActiveClinicMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.actor = None  # type: ignore[attr-defined]
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            membership = membership_active_for(
                user=user, clinic_id=request.session.get(SESSION_KEY)
            )
            if membership is not None:
                request.session[SESSION_KEY] = membership.clinic_id
                request.actor = Actor(user=user, membership=membership)  # type: ignore[attr-defined]
        return self.get_response(request)
