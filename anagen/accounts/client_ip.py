"""The real client address behind a trusted proxy, and the per-address sign-in limit.

`ANAGEN_TRUSTED_PROXIES` (comma-separated addresses or CIDR ranges, empty by default) names the
reverse proxies in front of the app. A request from one of them is attributed to the right-most
`X-Forwarded-For` address that is not itself a trusted proxy; a request from anywhere else is
attributed to its own address and its `X-Forwarded-For` is ignored (anyone can write that header).

Sign-in throttling (django-axes) locks a username+address pair after `AXES_FAILURE_LIMIT`
failures; `AddressLimitHandler` also locks an address after `ANAGEN_LOGIN_ADDRESS_LIMIT` failures
across all usernames within the cool-off, so guessing many usernames from one place stops too.
Both checks run before the password is looked at, so the answer is the same for unknown and known
usernames.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(spec: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in spec)


def _trusted() -> tuple[Network, ...]:
    spec = getattr(settings, "ANAGEN_TRUSTED_PROXIES", ())
    if isinstance(spec, str):
        spec = [part for part in spec.split(",")]
    return _networks(tuple(part.strip() for part in spec if part.strip()))


def _parse(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def _is_trusted(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, nets: tuple[Network, ...]
) -> bool:
    return any(address.version == net.version and address in net for net in nets)


def client_ip(request: HttpRequest) -> str | None:
    """The address of the person at the other end (see the module docstring)."""
    remote = _parse(str(request.META.get("REMOTE_ADDR", "")))
    if remote is None:
        return None
    nets = _trusted()
    if not nets or not _is_trusted(remote, nets):
        return str(remote)
    forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR", ""))
    for item in reversed(forwarded.split(",")):
        address = _parse(item)
        if address is None:
            # A malformed hop: nothing to its left can be trusted; stop at the last proxy.
            break
        if not _is_trusted(address, nets):
            return str(address)
        remote = address
    return str(remote)


def _address_failures(ip_address: str | None, request: HttpRequest) -> int:
    if not ip_address:
        return 0
    attempts = AccessAttempt.objects.filter(ip_address=ip_address)
    if settings.AXES_COOLOFF_TIME is not None:
        attempts = attempts.filter(attempt_time__gte=get_cool_off_threshold(request))
    total = attempts.aggregate(n=Sum("failures_since_start"))["n"]
    return int(total or 0)


class AddressLimitHandler(AxesDatabaseHandler):
    """Axes' database handler plus a lock on an address after too many failures in total."""

    def _address_locked(self, request: Any) -> bool:
        limit = int(getattr(settings, "ANAGEN_LOGIN_ADDRESS_LIMIT", 20))
        ip_address = getattr(request, "axes_ip_address", None) or client_ip(request)
        return _address_failures(ip_address, request) >= limit

    def is_locked(self, request: Any, credentials: dict[str, Any] | None = None) -> bool:
        return super().is_locked(request, credentials) or self._address_locked(request)

    def user_login_failed(
        self, sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
    ) -> None:
        super().user_login_failed(sender, credentials, request, **kwargs)
        # Axes answers "locked" only when its own count says so; the address count too.
        if (
            request is not None
            and not getattr(request, "axes_locked_out", False)
            and not self.is_whitelisted(request, credentials)
            and self._address_locked(request)
        ):
            request.axes_locked_out = True
            request.axes_credentials = credentials
