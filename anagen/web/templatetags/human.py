"""Human words for staff and patients: clinic time in one format, labels instead of codes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template

from anagen.accounts.clinic_time import human_date, human_datetime, human_time

register = template.Library()


@register.filter
def when(value: Any) -> str:
    """An instant in the active (clinic's) zone: 'Mon 30 Nov 2026, 14:05'."""
    if isinstance(value, dt.datetime):
        return human_datetime(value)
    if isinstance(value, dt.date):
        return human_date(value)
    return "" if value is None else str(value)


@register.filter
def day(value: Any) -> str:
    """A date (or the clinic-local date of an instant): '30 Nov 2026'."""
    if isinstance(value, dt.date):
        return human_date(value)
    return "" if value is None else str(value)


@register.filter
def clock(value: Any) -> str:
    """A time of day in the clinic's zone: '14:05'."""
    if isinstance(value, dt.datetime | dt.time):
        return human_time(value)
    return "" if value is None else str(value)
