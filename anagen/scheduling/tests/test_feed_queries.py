"""The iCal feed reads its events in a fixed number of queries, and an event's SEQUENCE (the
length of the appointment's own history list, a column of the row) grows when it moves."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from icalendar import Calendar

from anagen.scheduling import services
from anagen.scheduling.feeds import build_feed
from anagen.scheduling.models import Resource
from anagen.scheduling.tests.conftest import at, next_monday
from anagen.scheduling.tests.factories import book_consultation

pytestmark = pytest.mark.django_db


def _book(clinic_a, patient, kit, day: dt.date, hour: int):
    return book_consultation(clinic_a, kit, patient, at(day, hour))


def _feed(kit) -> tuple[int, dict[str, int]]:
    """Queries the feed took, and each event's SEQUENCE by UID."""
    resource = Resource.objects.select_related("clinic").get(pk=kit.physician.pk)
    with CaptureQueriesContext(connection) as queries:
        body = build_feed(resource)
    sequences = {
        str(ev["uid"]): int(ev.decoded("sequence"))
        for ev in Calendar.from_ical(body).walk("VEVENT")
    }
    return len(queries.captured_queries), sequences


def test_feed_queries_do_not_grow_with_events(clinic_a, patient_a, kit_a):
    day = next_monday()
    _book(clinic_a, patient_a, kit_a, day, 10)
    few, one = _feed(kit_a)
    assert len(one) == 1
    for hour in (11, 12, 13, 14, 15):
        _book(clinic_a, patient_a, kit_a, day, hour)
    many, six = _feed(kit_a)
    assert len(six) == 6
    assert many == few


def test_sequence_increases_when_an_appointment_moves(clinic_a, patient_a, kit_a):
    day = next_monday()
    appointment = _book(clinic_a, patient_a, kit_a, day, 10)
    uid = f"appointment-{appointment.pk}@anagen"
    _, before = _feed(kit_a)
    services.appointment_move(
        actor=clinic_a.actor(clinic_a.front_desk),
        appointment=appointment,
        new_start=at(day, 11),
    )
    _, after = _feed(kit_a)
    assert after[uid] == before[uid] + 1
    appointment.refresh_from_db()
    assert after[uid] == len(appointment.history)
