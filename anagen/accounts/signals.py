"""Login successes and failures go to the audit trail (receivers only record; no logic here)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from anagen.accounts.client_ip import client_ip
from anagen.accounts.session_cap import mark_signed_in
from anagen.audit.services import audit_record


def _ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    return client_ip(request)


@receiver(user_logged_in)
def _audit_login(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    audit_record(action="login.success", user=user, ip_address=_ip(request))
    if request is not None and hasattr(request, "session"):
        mark_signed_in(request)


@receiver(user_login_failed)
def _audit_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    audit_record(
        action="login.failure",
        username=str(credentials.get("username", ""))[:150],
        ip_address=_ip(request),
    )
