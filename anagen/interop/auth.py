"""API authentication: bearer tokens for integrations, the session (with CSRF) for pages.

Every handler names the permission it needs: `actor = api_actor(request, Perm.BOOK)`.

A token's row (with its membership, person and clinic) is remembered per worker process like
the signed-in context of a page (anagen/accounts/signed_in.py, issue 15: a token call reads no
row before the handler's own). It is forgotten at once, in this process and through the stamp
file in the other workers, whenever a token, membership, person or clinic is saved or deleted:
revoking a token (`api_token_revoke` saves it), deactivating a membership (which saves it and
revokes its tokens) or a person takes effect on the next call. Expiry and revocation are checked
on every call against the remembered row; a change nothing signals (a bulk `.update()`) is seen
within SIGNED_IN_CACHE_SECONDS. Unknown keys are never remembered.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer, SessionAuth

from anagen.accounts import signed_in
from anagen.accounts.access import Actor
from anagen.accounts.models import ApiToken
from anagen.accounts.permissions import Perm
from anagen.accounts.services import api_token_touch

MAX_TOUCHED = 5000
# When this process last wrote each token's last use (the remembered row keeps the old value).
_touched: dict[str, dt.datetime] = {}  # by key hash (ids may be reused)


class _NoSuchToken(Exception):
    """Raised inside the loader so that an unknown or refused key is not remembered."""


def _load(key_hash: str) -> ApiToken:
    row = (
        ApiToken.objects.select_related("membership__user", "membership__clinic")
        .filter(
            key_hash=key_hash,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
            membership__is_active=True,
            membership__user__is_active=True,
        )
        .first()
    )
    if row is None:
        raise _NoSuchToken
    return row


def token_row(raw: str) -> ApiToken | None:
    """The live token for the raw key `raw` with its membership, person and clinic (copies of
    the rows this worker remembers), or None when it is unknown, revoked or expired."""
    key_hash = ApiToken.hash_key(raw)
    try:
        row = signed_in.remembered(("api-token", key_hash), lambda: _load(key_hash))
    except _NoSuchToken:
        return None
    return _fresh(row)


def _fresh(row: ApiToken) -> ApiToken | None:
    membership = row.membership
    if (
        row.revoked_at is not None
        or row.expires_at <= timezone.now()
        or not membership.is_active
        or not membership.user.is_active
    ):
        return None
    # Each call gets its own membership and person (a handler changing them changes its copy).
    membership = copy.copy(membership)
    membership.user = copy.copy(membership.user)
    row.membership = membership
    return row


def _touch(row: ApiToken) -> None:
    """Last use, shown on the tokens page: written at most once a minute per token
    (accounts.services.TOKEN_TOUCH_INTERVAL), whatever the remembered row says."""
    seen = _touched.get(row.key_hash)
    if seen is not None and (row.last_used_at is None or seen > row.last_used_at):
        row.last_used_at = seen
    if api_token_touch(token=row):
        if len(_touched) >= MAX_TOUCHED:
            _touched.clear()
        assert row.last_used_at is not None
        _touched[row.key_hash] = row.last_used_at


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        row = token_row(token)
        if row is None:
            return None
        _touch(row)
        membership = row.membership
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
