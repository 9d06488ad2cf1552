"""Operational analytics: every figure of a small week reproduced by hand.

The week of Mon 2 – Sun 8 Nov 2026 (Europe/London, UTC+0 then). Practitioners and rooms work
09:00–17:30 Mon–Fri (510 min a day); the centrifuge has no hours of its own, so it is measured
against the rooms' opening hours (also 510 min). The clinic is closed on Friday 6 Nov and the
nurse is on leave on Wednesday 4 Nov, so the working minutes are:
physician 4 × 510 = 2040, nurse 3 × 510 = 1530, each room 2040, centrifuge 2040.
"""

from __future__ import annotations

import datetime as dt

import pytest

from anagen.accounts.models import Membership
from anagen.procedures.models import TreatmentSession
from anagen.scheduling import operations
from anagen.scheduling.models import (
    Appointment,
    ClinicClosure,
    ResourceBooking,
    StaffLeave,
)

pytestmark = pytest.mark.django_db

START, END = dt.date(2026, 11, 2), dt.date(2026, 11, 8)


def utc(day: int, hh: int, mm: int = 0, month: int = 11) -> dt.datetime:
    return dt.datetime(2026, month, day, hh, mm, tzinfo=dt.UTC)


def _cancelled_at(when: dt.datetime) -> list[dict[str, str]]:
    return [
        {"at": utc(1, 8).isoformat(timespec="seconds"), "by": "desk", "event": "booked"},
        {"at": when.isoformat(timespec="seconds"), "by": "desk", "event": "cancelled"},
    ]


@pytest.fixture
def week(clinic_a, kit_a, patient_a):
    clinic = clinic_a.clinic

    def appt(start, minutes, status, *, history=None, practitioner=None, room=None):
        return Appointment.objects.create(
            clinic=clinic,
            patient=patient_a,
            kind="consultation",
            starts_at=start,
            ends_at=start + dt.timedelta(minutes=minutes),
            practitioner=practitioner or kit_a.physician,
            room=room or kit_a.room1,
            status=status,
            history=history or [],
        )

    def hold(a, resource, start, minutes, active=True):
        ResourceBooking.objects.create(
            appointment=a,
            resource=resource,
            phase="consultation",
            starts_at=start,
            ends_at=start + dt.timedelta(minutes=minutes),
            active=active,
        )

    a1 = appt(utc(2, 10), 75, "completed")
    hold(a1, kit_a.room1, utc(2, 10), 75)
    hold(a1, kit_a.physician, utc(2, 10, 45), 30)
    hold(a1, kit_a.centrifuge, utc(2, 10, 45), 15)
    a2 = appt(utc(3, 10), 75, "no_show")
    hold(a2, kit_a.room1, utc(3, 10), 75, active=False)  # a no-show frees its slot
    # Cancelled 12 h before: late. Cancelled 3 days before, and exactly 24 h before: not late.
    appt(utc(3, 14), 30, "cancelled", history=_cancelled_at(utc(3, 2)))
    appt(utc(4, 10), 30, "cancelled", history=_cancelled_at(utc(1, 10)))
    appt(utc(5, 15), 30, "cancelled", history=_cancelled_at(utc(4, 15)))
    a5 = appt(utc(5, 9), 60, "completed", room=kit_a.room2)
    hold(a5, kit_a.room2, utc(5, 9), 60)
    hold(a5, kit_a.physician, utc(5, 9), 60)
    outside = appt(utc(9, 10), 75, "completed")  # Monday after: not in the period
    hold(outside, kit_a.room1, utc(9, 10), 75)

    ClinicClosure.objects.create(
        clinic=clinic,
        starts_on=dt.date(2026, 11, 6),
        ends_on=dt.date(2026, 11, 6),
        reason="Training",
    )
    StaffLeave.objects.create(
        membership=Membership.objects.get(user=clinic_a.nurse, clinic=clinic),
        starts_on=dt.date(2026, 11, 4),
        ends_on=dt.date(2026, 11, 4),
        reason="Course",
    )

    def session(a, start, draw, injection, *, signed=False):
        return TreatmentSession.objects.create(
            clinic=clinic,
            patient=patient_a,
            appointment=a,
            procedure="prp_scalp",
            started_at=start,
            started_by=clinic_a.nurse,
            draw_at=draw,
            injection_started_at=injection,
            status="signed" if signed else "in_progress",
            signed_at=start + dt.timedelta(hours=2) if signed else None,
            signed_by=clinic_a.physician if signed else None,
        )

    session(a1, utc(2, 10), utc(2, 10, 45), utc(2, 11, 5), signed=True)  # 20 min
    session(a5, utc(5, 9), utc(5, 9, 10), utc(5, 11, 30))  # 140 min: over the 120 limit
    session(None, utc(3, 10), utc(3, 10, 40), None)  # no injection time yet
    session(outside, utc(9, 10), utc(9, 10, 45), utc(9, 11, 35))  # outside the period
    return kit_a


def test_figures_by_hand(clinic_a, week):
    ops = operations.operations_summary(actor=clinic_a.actor(clinic_a.admin), start=START, end=END)
    assert ops.appointments == 6
    rates = {r.label: (r.part, r.whole, r.shown) for r in ops.rates}
    assert rates["No-show rate"] == (1, 3, "33.3 %")  # a2 of a1, a2, a5
    assert rates["Late-cancellation rate"] == (1, 6, "16.7 %")
    assert rates["Cancellation rate"] == (3, 6, "50.0 %")

    used = {u.name: (u.booked_minutes, u.available_minutes, u.shown) for u in ops.utilisation}
    physician, nurse = week.physician.name, week.nurse.name
    assert used[physician] == (90, 2040, "4.4 %")  # 30 + 60 min
    assert used[nurse] == (0, 1530, "0.0 %")
    assert used["Room 1"] == (75, 2040, "3.7 %")  # the no-show's hold is not counted
    assert used["Room 2"] == (60, 2040, "2.9 %")
    assert used["Centrifuge"] == (15, 2040, "0.7 %")
    assert [u.clinic_hours for u in ops.utilisation if u.name == "Centrifuge"] == [True]
    kinds = {u.kind_label: (u.booked_minutes, u.available_minutes, u.shown) for u in ops.by_kind}
    assert kinds == {
        "Practitioner": (90, 3570, "2.5 %"),
        "Room": (135, 4080, "3.3 %"),
        "Centrifuge": (15, 2040, "0.7 %"),
    }

    sessions = {s.name: (s.sessions, s.signed) for s in ops.sessions}
    assert sessions == {physician: (2, 1), "Without an appointment": (1, 0)}
    d = ops.draw_to_injection
    assert d is not None
    assert (d.sessions, d.average_minutes, d.shortest_minutes, d.longest_minutes) == (
        2,
        80,
        20,
        140,
    )
    assert (d.over_limit, d.limit_minutes) == (1, 120)


def test_page_in_words_with_a_period(clinic_a, week):
    client = clinic_a.client(clinic_a.admin)
    r = client.get("/analytics/operations/", {"start": "2026-11-02", "end": "2026-11-08"})
    assert r.status_code == 200
    html = r.content.decode()
    assert "From 2 Nov 2026 to 8 Nov 2026" in html
    for text in ("33.3 %", "16.7 %", "4.4 %", "(clinic opening hours)", "80 min", "Centrifuge"):
        assert text in html, text
    assert "no_show" not in html and "prp_scalp" not in html and "centrifuge</td>" not in html
    # Default: the last four weeks, ending today.
    default = client.get("/analytics/operations/")
    assert default.status_code == 200 and b"From " in default.content
    bad = client.get("/analytics/operations/", {"start": "2026-11-08", "end": "2026-11-02"})
    assert bad.status_code == 400 and b"must end on or after" in bad.content
    assert clinic_a.client(clinic_a.physician).get("/analytics/operations/").status_code == 200
    assert clinic_a.client(clinic_a.front_desk).get("/analytics/operations/").status_code == 403
