"""Scheduling fixtures: a clinic with two practitioners, two rooms and a centrifuge."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.utils import timezone

from anagen.accounts.models import Membership
from anagen.clinical import PROCEDURES
from anagen.scheduling.models import Resource, WorkingHours

OPEN, CLOSE = dt.time(9, 0), dt.time(17, 30)


@dataclass
class Kit:
    physician: Resource
    nurse: Resource
    room1: Resource
    room2: Resource
    centrifuge: Resource


def make_kit(staff, *, hours: bool = True) -> Kit:
    clinic = staff.clinic

    def practitioner(user) -> Resource:
        m = Membership.objects.get(user=user, clinic=clinic)
        return Resource.objects.create(
            clinic=clinic,
            kind="practitioner",
            name=str(user),
            membership=m,
            licensed_procedures=list(PROCEDURES),
        )

    kit = Kit(
        physician=practitioner(staff.physician),
        nurse=practitioner(staff.nurse),
        room1=Resource.objects.create(clinic=clinic, kind="room", name="Room 1"),
        room2=Resource.objects.create(clinic=clinic, kind="room", name="Room 2"),
        centrifuge=Resource.objects.create(
            clinic=clinic, kind="centrifuge", name="Centrifuge", rotor_radius_cm=Decimal("10")
        ),
    )
    if hours:
        WorkingHours.objects.bulk_create(
            WorkingHours(resource=r, weekday=d, start=OPEN, end=CLOSE)
            for r in (kit.physician, kit.nurse, kit.room1, kit.room2)
            for d in range(5)
        )
    return kit


@pytest.fixture
def kit_a(clinic_a) -> Kit:
    return make_kit(clinic_a)


@pytest.fixture
def kit_b(clinic_b) -> Kit:
    return make_kit(clinic_b)


def next_monday(weeks: int = 2) -> dt.date:
    """A Monday safely in the future, so every session window lies ahead of today."""
    today = timezone.now().date()
    return today + dt.timedelta(days=7 * weeks - today.weekday())


def at(day: dt.date, hh: int, mm: int = 0, tz: str = "Europe/London") -> dt.datetime:
    from zoneinfo import ZoneInfo

    return dt.datetime.combine(day, dt.time(hh, mm), tzinfo=ZoneInfo(tz))
