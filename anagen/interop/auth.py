"""API authentication: bearer tokens for integrations, the session (with CSRF) for pages.

Every handler names the permission it needs: `actor = api_actor(request, Perm.BOOK)`.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer, SessionAuth

from anagen.accounts.access import Actor
from anagen.accounts.models import ApiToken
from anagen.accounts.permissions import Perm
from anagen.accounts.services import api_token_touch


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        token_row = (
            ApiToken.objects.select_related("membership__user", "membership__clinic")
            .filter(
                key_hash=ApiToken.hash_key(token),
                revoked_at__isnull=True,
                expires_at__gt=timezone.now(),
                membership__is_active=True,
                membership__user__is_active=True,
            )
            .first()
        )
        if token_row is None:
            return None
        # Last use is shown on the tokens page; written at most once a minute per token.
        api_token_touch(token=token_row)
        membership = token_row.membership
        actor = Actor(user=membership.user, membership=membership, via="api")
        request.actor = actor  # type: ignore[attr-defined]
        # Clinic time for token calls too (the middleware reset it when the request ends).
        timezone.activate(actor.tz)
        return membership.user


class ClinicSessionAuth(SessionAuth):
    """The signed-in page user acting for their active clinic (set by the middleware)."""

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = super().authenticate(request, key)
        if user is None or getattr(request, "actor", None) is None:
            return None
        return user


def api_actor(request: HttpRequest, perm: Perm) -> Actor:
    """The acting membership that TokenAuth or ClinicSessionAuth put on the request, once it is
    known to hold `perm` (PermissionDenied, a 403 problem, otherwise)."""
    actor: Actor = request.actor  # type: ignore[attr-defined]
    actor.require(perm)
    return actor
