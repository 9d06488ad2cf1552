"""Puts the request context on the request as `request.actor` and activates clinic time.

Every page and API call by a signed-in member of a clinic runs in that clinic's time zone, so
templates, forms and `timezone.localtime` show clinic time without each view asking.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.accounts.mfa import session_verified
from anagen.accounts.selectors import mfa_enrolled, mfa_required_for
from anagen.accounts.signed_in import membership_for_session, remembered

SESSION_KEY = "active_clinic_id"

# Pages a signed-in person may reach before the second factor: signing in and out, the
# two-factor pages themselves, the password reset by email, and the health check.
MFA_OPEN_URL_NAMES = frozenset(
    {
        "login",
        "logout",
        "mfa-verify",
        "mfa-setup",
        "password-reset",
        "password-reset-sent",
        "password-reset-confirm",
        "password-reset-complete",
        "health",
    }
)
MFA_VERIFY = "verify"  # enrolled: must type a code from the app (or a recovery code)
MFA_ENROL = "enrol"  # must use two-factor sign-in and has not set it up yet


def mfa_pending(request: HttpRequest) -> str | None:
    """What a signed-in session still owes before it may use the product, or None."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or session_verified(request):
        return None
    # Remembered per process like the rest of the signed-in context (anagen/accounts/signed_in.py):
    # a person without two-factor sign-in who need not have it would pay two queries a page.
    return remembered(("mfa-pending", user.pk), lambda: _mfa_owed(user))


def _mfa_owed(user: object) -> str | None:
    if mfa_enrolled(user=user):  # type: ignore[arg-type]
        return MFA_VERIFY
    if mfa_required_for(user=user):  # type: ignore[arg-type]
        return MFA_ENROL
    return None


class MfaGateMiddleware:
    """Keeps a signed-in session that still owes its second factor on the two-factor pages.

    API calls are not redirected: a bearer token is its own credential (no session involved),
    and a pending session simply has no clinic context, so session-authenticated API calls are
    refused with a 401 problem.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        pending = mfa_pending(request)
        request.mfa_pending = pending  # type: ignore[attr-defined]
        if pending is None or request.path_info.startswith("/api/"):
            return self.get_response(request)
        try:
            name = resolve(request.path_info).url_name
        except Resolver404:
            return self.get_response(request)
        if name in MFA_OPEN_URL_NAMES:
            return self.get_response(request)
        target = reverse("mfa-verify" if pending == MFA_VERIFY else "mfa-setup")
        if request.method == "GET":
            target += "?" + urlencode({"next": request.get_full_path()})
        return redirect(target)


class ActiveClinicMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.actor = None  # type: ignore[attr-defined]
        user = getattr(request, "user", None)
        try:
            # A session that still owes its second factor acts for no clinic.
            pending = getattr(request, "mfa_pending", None)
            if user is not None and user.is_authenticated and pending is None:
                membership = membership_for_session(
                    user=user, clinic_id=request.session.get(SESSION_KEY)
                )
                if membership is not None:
                    if request.session.get(SESSION_KEY) != membership.clinic_id:
                        # Only on change: any assignment would save the session every request.
                        request.session[SESSION_KEY] = membership.clinic_id
                    actor = Actor(user=user, membership=membership, via="web")
                    request.actor = actor  # type: ignore[attr-defined]
                    timezone.activate(actor.tz)
            return self.get_response(request)
        finally:
            # Never let one clinic's zone leak into the next request on this thread.
            timezone.deactivate()
