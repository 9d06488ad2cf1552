"""Sending SMS: a provider interface, a logging backend (the default) and a Twilio-compatible
REST backend.

Chosen by ``ANAGEN_SMS_BACKEND`` (a Django setting, else the environment variable):
``log`` (default) or ``twilio``, or a dotted path to a class implementing ``SmsBackend``.
The Twilio backend reads ``ANAGEN_SMS_ACCOUNT_SID``, ``ANAGEN_SMS_AUTH_TOKEN``,
``ANAGEN_SMS_FROM`` and ``ANAGEN_SMS_BASE_URL`` (default ``https://api.twilio.com``; any
service speaking the same API works). A send that fails raises ``SmsError`` with a reason in
words; the reminder service records it as a failure and goes on with the next message.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

log = logging.getLogger("anagen.sms")

DEFAULT_BACKEND = "anagen.scheduling.sms.LoggingSmsBackend"
ALIASES = {
    "log": DEFAULT_BACKEND,
    "logging": DEFAULT_BACKEND,
    "twilio": "anagen.scheduling.sms.TwilioSmsBackend",
}
DEFAULT_BASE_URL = "https://api.twilio.com"
TIMEOUT_SECONDS = 10.0


class SmsError(Exception):
    """The provider did not take the message (the text says why)."""


class SmsBackend(Protocol):
    def send(self, *, to: str, body: str) -> str:
        """Send one message to an E.164 number; return the provider's message id."""
        ...


@dataclass(frozen=True)
class SmsMessage:
    to: str
    body: str


# Messages "sent" by the logging backend in this process (tests read it; it never grows
# unbounded in production because the logging backend is for development).
outbox: list[SmsMessage] = []


class LoggingSmsBackend:
    """Logs the message instead of sending it, and keeps it in ``outbox``."""

    def send(self, *, to: str, body: str) -> str:
        outbox.append(SmsMessage(to=to, body=body))
        del outbox[:-1000]
        log.info("SMS to %s: %s", to, body)
        return f"log-{len(outbox)}"


def _config(name: str, default: str = "") -> str:
    value = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(name, default)
    return str(value or default)


class TwilioSmsBackend:
    """Twilio's Messages API (and compatible services): ``POST
    {base}/2010-04-01/Accounts/{sid}/Messages.json`` with HTTP basic auth (account SID, auth
    token) and the form fields ``To``, ``From``, ``Body``; the answer's ``sid`` is the id."""

    def __init__(
        self,
        *,
        account_sid: str | None = None,
        auth_token: str | None = None,
        sender: str | None = None,
        base_url: str | None = None,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self.account_sid = account_sid or _config("ANAGEN_SMS_ACCOUNT_SID")
        self.auth_token = auth_token or _config("ANAGEN_SMS_AUTH_TOKEN")
        self.sender = sender or _config("ANAGEN_SMS_FROM")
        self.base_url = (base_url or _config("ANAGEN_SMS_BASE_URL", DEFAULT_BASE_URL)).rstrip("/")
        self.timeout = timeout

    def send(self, *, to: str, body: str) -> str:
        missing = [
            name
            for name, value in (
                ("ANAGEN_SMS_ACCOUNT_SID", self.account_sid),
                ("ANAGEN_SMS_AUTH_TOKEN", self.auth_token),
                ("ANAGEN_SMS_FROM", self.sender),
            )
            if not value
        ]
        if missing:
            raise SmsError(f"SMS provider not configured: set {', '.join(missing)}.")
        url = (
            f"{self.base_url}/2010-04-01/Accounts/"
            f"{urllib.parse.quote(self.account_sid, safe='')}/Messages.json"
        )
        data = urllib.parse.urlencode({"To": to, "From": self.sender, "Body": body}).encode()
        credentials = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        request = urllib.request.Request(  # noqa: S310 - the URL's scheme is the operator's
            url,
            data=data,
            method="POST",
            headers={
                "Authorization": f"Basic {credentials}",
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                answer = _json(response.read())
        except urllib.error.HTTPError as exc:
            answer = _json(exc.read())
            reason = answer.get("message") or exc.reason or "no reason given"
            raise SmsError(f"SMS provider refused the message ({exc.code}): {reason}") from exc
        except TimeoutError as exc:
            raise SmsError("SMS provider did not answer in time.") from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, TimeoutError):
                raise SmsError("SMS provider did not answer in time.") from exc
            raise SmsError(f"SMS provider could not be reached: {reason}") from exc
        sid = answer.get("sid")
        if not sid:
            raise SmsError("SMS provider answered without a message id.")
        if answer.get("status") == "failed" or answer.get("error_code"):
            raise SmsError(
                f"SMS provider could not send it: {answer.get('error_message') or 'failed'}"
            )
        return str(sid)[:100]


def _json(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw.decode("utf-8", "replace") or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def get_sms_backend() -> SmsBackend:
    path = _config("ANAGEN_SMS_BACKEND", DEFAULT_BACKEND)
    backend: SmsBackend = import_string(ALIASES.get(path.lower(), path))()
    return backend
