"""Strict ISO dates and calendar-month arithmetic."""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta

from anagen.clinical.errors import ValidationError

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_iso_date(value: object, field: str) -> date:
    """Parse ``YYYY-MM-DD`` exactly (no times, no week dates, no 2-digit parts)."""
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValidationError(field, f"must be a date written YYYY-MM-DD, got {value!r}")


def add_months(start: date, months: int) -> date:
    """``start`` + ``months`` calendar months, clamped to the last day of the target month.

    Callers always add to the series' start date (start + n), never to the previous result, so a
    31st that was clamped to the 28th does not drift for the rest of the series.
    """
    index = start.year * 12 + (start.month - 1) + months
    year, month0 = divmod(index, 12)
    last_day = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(start.day, last_day))


def add_offset(start: date, *, months: int = 0, weeks: int = 0, days: int = 0) -> date:
    """Calendar months first (clamped), then exact weeks and days."""
    return add_months(start, months) + timedelta(weeks=weeks, days=days)
