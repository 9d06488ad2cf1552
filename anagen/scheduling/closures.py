"""Days nobody can be booked: public holidays, clinic closures and staff leave.

Public holidays come from the ``holidays`` library by the clinic's country and region
(``Clinic.holiday_country`` / ``holiday_region``, e.g. GB + ENG); a clinic with no country set
has none. Closures and leave are whole clinic-local days, inclusive at both ends. The free-slot
search (``availability.Calendar``), the series planner and the calendar grid all read these.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from functools import lru_cache

import holidays

from anagen.accounts.models import Clinic
from anagen.scheduling.models import ClinicClosure, StaffLeave


@lru_cache(maxsize=64)
def _holidays(country: str, region: str, year: int) -> tuple[tuple[dt.date, str], ...]:
    try:
        found = holidays.country_holidays(country, subdiv=region or None, years=[year])
    except (NotImplementedError, KeyError, ValueError):
        return ()
    return tuple(sorted((d, str(name)) for d, name in found.items()))


def public_holidays(clinic: Clinic, start: dt.date, end: dt.date) -> dict[dt.date, str]:
    """{date: holiday name} for ``start`` ≤ date ≤ ``end`` where the clinic is."""
    country = (clinic.holiday_country or "").upper()
    if not country:
        return {}
    out: dict[dt.date, str] = {}
    for year in range(start.year, end.year + 1):
        for day, name in _holidays(country, (clinic.holiday_region or "").upper(), year):
            if start <= day <= end:
                out[day] = name
    return out


def valid_region(country: str, region: str) -> bool:
    """Does the holidays library know this country (and region, when given)?"""
    try:
        holidays.country_holidays(country.upper(), subdiv=region.upper() or None, years=[2026])
    except (NotImplementedError, KeyError, ValueError):
        return False
    return True


def _days(a: dt.date, b: dt.date, lo: dt.date, hi: dt.date) -> Iterable[dt.date]:
    day, last = max(a, lo), min(b, hi)
    while day <= last:
        yield day
        day += dt.timedelta(days=1)


def clinic_closed_days(clinic: Clinic, start: dt.date, end: dt.date) -> dict[dt.date, str]:
    """{date: why} for every day the whole clinic is shut: public holidays and closures."""
    out = {d: f"Public holiday: {name}" for d, name in public_holidays(clinic, start, end).items()}
    closures = ClinicClosure.objects.filter(clinic=clinic, starts_on__lte=end, ends_on__gte=start)
    for c in closures:
        for day in _days(c.starts_on, c.ends_on, start, end):
            out[day] = f"Clinic closed: {c.reason}"
    return out


def leave_days(
    membership_ids: Iterable[int], start: dt.date, end: dt.date
) -> dict[int, dict[dt.date, str]]:
    """{membership id: {date: why}} for staff on leave in the range (one query)."""
    ids = [i for i in membership_ids if i is not None]
    out: dict[int, dict[dt.date, str]] = defaultdict(dict)
    if not ids:
        return out
    rows = StaffLeave.objects.filter(membership_id__in=ids, starts_on__lte=end, ends_on__gte=start)
    for leave in rows:
        for day in _days(leave.starts_on, leave.ends_on, start, end):
            out[leave.membership_id][day] = f"On leave: {leave.reason}"
    return out
