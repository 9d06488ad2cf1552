"""What the billing services share: the SQLite writer lock and money on the clinic's terms."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, OperationalError, connections

from anagen.billing.money import minor_units, round_money

_SQLITE_WRITER = threading.Lock()
_LOCK_RETRY_SECONDS = 20.0


def serialised[F: Callable[..., Any]](fn: F) -> F:
    """On SQLite, run a numbering/consumption write alone; on PostgreSQL row locks decide.

    Same shape as scheduling's booking path: SQLite has no row locks, so one writer per process
    (transactions open with ``BEGIN IMMEDIATE`` across processes), and a "database is locked"
    error is retried instead of surfacing as a 500. Inside an outer transaction it is a plain
    call (it cannot retry there; the outer transaction already holds the write lock).
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        conn = connections[DEFAULT_DB_ALIAS]
        if conn.vendor != "sqlite" or conn.in_atomic_block:
            return fn(*args, **kwargs)
        deadline = time.monotonic() + _LOCK_RETRY_SECONDS
        with _SQLITE_WRITER:
            while True:
                try:
                    return fn(*args, **kwargs)
                except OperationalError as exc:
                    if "locked" not in str(exc) or time.monotonic() > deadline:
                        raise
                    time.sleep(0.02)

    return wrapper  # type: ignore[return-value]


def money_in(value: Any, currency: str, *, field: str, allow_zero: bool = False) -> Decimal:
    """A user-typed amount as Decimal in the currency's minor unit, or a clear error."""
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        raise ValidationError({field: "Enter an amount, e.g. 1200.00."}) from None
    if not amount.is_finite():
        raise ValidationError({field: "Enter an amount, e.g. 1200.00."})
    if amount < 0 or (amount == 0 and not allow_zero):
        raise ValidationError({field: "The amount must be more than zero."})
    if amount >= Decimal(10) ** 10:
        raise ValidationError({field: "That amount is too large."})
    if round_money(amount, currency) != amount:  # 1.234 dollars; 2.50 yen
        places = minor_units(currency)
        raise ValidationError(
            {field: f"{currency} amounts have {places} decimal place{'s' if places != 1 else ''}."}
        )
    return round_money(amount, currency)
