"""Values read by raw SQL, as the ORM would give them (issue 15's one-query reads).

PostgreSQL's driver returns aware datetimes and dates; SQLite returns text (or naive datetimes)
in the database's UTC. Every raw-SQL reader turns its columns into the ORM's types here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.dateparse import parse_date, parse_datetime


def instant(value: Any) -> Any:
    """A timestamp column as an aware datetime (None stays None)."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value


def day(value: Any) -> Any:
    """A date column as a date (None stays None)."""
    return parse_date(value) if isinstance(value, str) else value


__all__ = ["day", "instant"]
