"""Clinic time: instants are stored in UTC and shown in the clinic's zone, in one format.

Requests get the zone from `ActiveClinicMiddleware`; tasks and commands wrap their work in
`clinic_time(clinic)`. The `human_*` functions give the same words as the template filters
for text that is not a page (CSV, PDF, iCal descriptions, messages).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from django.utils import timezone
from django.utils.formats import date_format

if TYPE_CHECKING:
    from anagen.accounts.models import Clinic


def zone_of(clinic: Clinic | None) -> zoneinfo.ZoneInfo:
    name = getattr(clinic, "timezone", "") or "UTC"
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


@contextmanager
def clinic_time(clinic: Clinic | None) -> Iterator[zoneinfo.ZoneInfo]:
    """Run a task or command in the clinic's zone (what `timezone.localtime` then uses)."""
    zone = zone_of(clinic)
    with timezone.override(zone):
        yield zone


def local(value: dt.datetime, zone: dt.tzinfo | None = None) -> dt.datetime:
    if timezone.is_naive(value):
        value = timezone.make_aware(value, dt.UTC)
    return timezone.localtime(value, zone)


def human_datetime(value: dt.datetime | None, zone: dt.tzinfo | None = None) -> str:
    """'Mon 30 Nov 2026, 14:05' in the clinic's (or the active) zone; '' for None."""
    if value is None:
        return ""
    return date_format(local(value, zone), "D j M Y, H:i")


def human_date(value: dt.date | dt.datetime | None, zone: dt.tzinfo | None = None) -> str:
    """'30 Nov 2026'; a datetime is first put in the clinic's zone."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = local(value, zone).date()
    return date_format(value, "j M Y")


def human_time(value: dt.datetime | dt.time | None, zone: dt.tzinfo | None = None) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = local(value, zone).time()
    return value.strftime("%H:%M")


def local_today(clinic: Clinic | None) -> dt.date:
    """Today's date where the clinic is, which is not UTC's date near midnight."""
    return timezone.now().astimezone(zone_of(clinic)).date()
