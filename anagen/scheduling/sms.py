"""Sending SMS: a small interface and a logging backend (the default; no provider is wired in).

A provider adapter implements ``SmsBackend.send`` and is named by the ``ANAGEN_SMS_BACKEND``
setting (a dotted path), e.g. ``"myclinic.sms.TwilioBackend"``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

log = logging.getLogger("anagen.sms")

DEFAULT_BACKEND = "anagen.scheduling.sms.LoggingSmsBackend"


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


def get_sms_backend() -> SmsBackend:
    path = getattr(settings, "ANAGEN_SMS_BACKEND", DEFAULT_BACKEND)
    backend: SmsBackend = import_string(path)()
    return backend
