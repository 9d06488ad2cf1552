"""The signed-in context of a request, cached per process (issue 15: the bare signed-in view).

Every signed-in request needs the person (user), the second-factor device the session was
verified with, and the membership it acts for (with its clinic). Read from the database each
time they cost three queries on top of the session itself, and a bare signed-in request cost
several times an anonymous one. Here they are remembered in the worker process for a few
seconds, keyed by what the session says (user id, backend, password-derived session hash,
device id, chosen clinic), so a signed-in request reads no row at all (the session itself comes
from the cache the workers share, anagen/accounts/session_store.py).

The session stays the authority and is read on every request: signing out, deactivation
(`membership_set_active`) and a two-factor reset (`mfa_reset`) delete the person's sessions
through the session engine, so they take effect at once in every worker, whatever is cached
here. Any save or delete of a user, membership, clinic, organisation or two-factor device
forgets everything cached here, in this process at once and in the other workers of the host at
their next request (a stamp file in VAR_DIR, touched after the transaction commits). What
nothing signals (a bulk `.update()`) or another host's change is seen within
SIGNED_IN_CACHE_SECONDS (15 s by default).

Cached rows are copied for each request, so a view that changes `request.user` changes its own
copy only.
"""

from __future__ import annotations

import copy
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.middleware import OTPMiddleware

MAX_ENTRIES = 5000
_MISSING = object()
_lock = threading.Lock()
_entries: dict[tuple[Any, ...], tuple[float, Any]] = {}
_seen_stamp: list[int] = [0]


def ttl() -> float:
    return float(getattr(settings, "SIGNED_IN_CACHE_SECONDS", 15))


def _stamp_path() -> Path:
    return Path(settings.VAR_DIR) / f"signed-in-cache-{settings.DATABASE_TAG}.stamp"


def _stamp() -> int:
    try:
        return os.stat(_stamp_path()).st_mtime_ns
    except OSError:
        return 0


def forget_all() -> None:
    """Forget every cached signed-in context in this process."""
    with _lock:
        _entries.clear()


def _touch_stamp() -> None:
    path = _stamp_path()
    try:
        path.touch()
        os.utime(path, ns=(time.time_ns(), time.time_ns()))
    except OSError:
        pass  # a read-only VAR_DIR: other workers fall back on the time limit


def changed() -> None:
    """Something a signed-in context is built from changed: forget it here now, and in the other
    workers once the change is committed (before that they would only reload the old rows)."""
    forget_all()
    transaction.on_commit(_touch_stamp)
    transaction.on_commit(forget_all)


def check_stamp() -> None:
    """At the start of a request: forget everything if another process signalled a change."""
    stamp = _stamp()
    if stamp != _seen_stamp[0]:
        forget_all()
        _seen_stamp[0] = stamp


def remembered[T](key: tuple[Any, ...], load: Callable[[], T]) -> T:
    """`load()`'s result for `key`, from this process's cache while it is fresh; a copy of it
    when it is a model instance (each request gets its own)."""
    now = time.monotonic()
    with _lock:
        hit = _entries.get(key, (0.0, _MISSING))
    if hit[1] is not _MISSING and now - hit[0] < ttl():
        value = hit[1]
    else:
        value = load()
        with _lock:
            if len(_entries) >= MAX_ENTRIES:
                _entries.clear()
            _entries[key] = (now, value)
    return copy.copy(value) if value is not None else value  # type: ignore[return-value]


def _cached_user(request: HttpRequest) -> Any:
    if hasattr(request, "_cached_user"):
        return request._cached_user  # type: ignore[attr-defined]
    session = request.session
    user_id = session.get(auth.SESSION_KEY)
    if user_id is None or session.session_key is None:
        user = auth.get_user(request)
    else:
        key = (
            "user",
            session.session_key,
            str(user_id),
            session.get(auth.BACKEND_SESSION_KEY),
            session.get(auth.HASH_SESSION_KEY),
        )
        with _lock:
            hit = _entries.get(key)
        if hit is not None and time.monotonic() - hit[0] < ttl():
            user = copy.copy(hit[1])
        else:
            # Django's own check (backend, active user, session hash): it flushes a session
            # whose password changed. Only a verified person is remembered.
            user = auth.get_user(request)
            if user.is_authenticated:
                with _lock:
                    if len(_entries) >= MAX_ENTRIES:
                        _entries.clear()
                    _entries[key] = (time.monotonic(), user)
                user = copy.copy(user)
    request._cached_user = user  # type: ignore[attr-defined]
    return user


class CachedAuthenticationMiddleware(AuthenticationMiddleware):
    """Django's AuthenticationMiddleware with the person remembered (see the module text)."""

    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)
        check_stamp()
        request.user = SimpleLazyObject(lambda: _cached_user(request))  # type: ignore[assignment]


class CachedOTPMiddleware(OTPMiddleware):
    """django-otp's middleware with the verifying device remembered per session."""

    def _verify_user_sync(self, request: Any, user: Any) -> Any:
        self._init_user_fields(user)
        if user.is_authenticated:
            persistent_id = request.session.get(DEVICE_ID_SESSION_KEY)
            device = None
            if persistent_id:
                device = remembered(
                    ("device", str(persistent_id)),
                    lambda: self._device_from_persistent_id(persistent_id),
                )
            user.otp_device = self._finalize_device(request, user, device)
        return user


def membership_for_session(*, user: Any, clinic_id: Any) -> Any:
    """The membership a signed-in request acts for (selectors.membership_active_for, cached)."""
    from anagen.accounts.selectors import membership_active_for

    membership = remembered(
        ("membership", user.pk, clinic_id),
        lambda: membership_active_for(user=user, clinic_id=clinic_id),
    )
    if membership is not None and clinic_id != membership.clinic_id:
        # The session is about to name this clinic: its next request asks by the clinic's id.
        remembered(("membership", user.pk, membership.clinic_id), lambda: membership)
    return membership


def _changed_receiver(sender: Any, **kwargs: Any) -> None:
    changed()


def _connect() -> None:
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from anagen.accounts.models import Clinic, Membership, Organisation, User

    for model in (User, Membership, Clinic, Organisation, TOTPDevice, StaticDevice):
        uid = f"signed-in-cache-{model._meta.label}"
        post_save.connect(_changed_receiver, sender=model, dispatch_uid=uid + "-save")
        post_delete.connect(_changed_receiver, sender=model, dispatch_uid=uid + "-delete")


_connect()
