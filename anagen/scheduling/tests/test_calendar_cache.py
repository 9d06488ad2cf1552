"""The calendar's content is rendered once per calendar version and cached (issue 15).

Every kind of change the grid shows must reach the next view: each test here warms the cache
(two views), changes one thing the way the app does, and looks again. Without the version bump
these tests see the old grid. They run with real commits (``transaction=True``): the version
is replaced after commit, as in production.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from anagen.patients.services import patient_soft_delete
from anagen.scheduling import calendar_version, services
from anagen.scheduling.models import Appointment, ResourceBooking, WorkingHours
from anagen.scheduling.tests.conftest import at, make_kit, next_monday
from conftest import make_patient

pytestmark = pytest.mark.django_db(transaction=True)


def _book(staff, kit, patient, day: dt.date, hh: int, mm: int = 0, room=None) -> Appointment:
    return services.appointment_book(
        actor=staff.actor(staff.front_desk),
        patient=patient,
        kind="consultation",
        procedure="",
        starts_at=at(day, hh, mm),
        practitioner_id=kit.physician.pk,
        room_id=(room or kit.room1).pk,
    )


def _day(client, day: dt.date, **extra) -> str:
    return client.get(
        reverse("calendar"), {"view": "day", "date": day.isoformat(), **extra}
    ).content.decode()


def _warm(client, day: dt.date, **extra) -> str:
    """Two views: the second is served from the cache."""
    _day(client, day, **extra)
    return _day(client, day, **extra)


@pytest.fixture
def desk(clinic_a):
    return clinic_a.client(clinic_a.front_desk)


def test_a_warm_view_is_served_from_the_cache_in_few_fixed_queries(clinic_a, kit_a, desk):
    day = next_monday()
    p = make_patient(clinic_a, given_name="Ana", family_name="Warm")
    _book(clinic_a, kit_a, p, day, 9)
    week = {"view": "week", "date": day.isoformat(), "practitioner": ""}

    def count() -> int:
        with CaptureQueriesContext(connection) as q:
            assert desk.get(reverse("calendar"), week).status_code == 200
        return len(q)

    cold = count()
    warm = count()
    for i in range(6):
        other = make_patient(clinic_a, given_name=f"G{i}", family_name="Grid")
        _book(clinic_a, kit_a, other, day + dt.timedelta(days=i % 5), 11 + i)
    count()  # the version changed: rendered again
    assert count() == warm  # and served from the cache again, in as many queries
    assert warm < cold
    with CaptureQueriesContext(connection) as q:
        desk.get(reverse("calendar"), week)
    sql = " ".join(x["sql"] for x in q.captured_queries)
    # A hit reads the version and writes the audit receipt; no appointment, resource,
    # working-hours, closure or clinic reads.
    assert "scheduling_calendarversion" in sql
    for table in (
        "scheduling_appointment",
        "scheduling_resource",
        "scheduling_resourcebooking",
        "scheduling_workinghours",
        "scheduling_clinicclosure",
        "scheduling_staffleave",
    ):
        assert f'FROM "{table}"' not in sql, table


def test_booking_moving_cancelling_and_checking_in_show_on_the_next_view(clinic_a, kit_a, desk):
    day = next_monday()
    p = make_patient(clinic_a, given_name="Berta", family_name="Cached")
    assert "Cached, Berta" not in _warm(desk, day)
    appt = _book(clinic_a, kit_a, p, day, 10)
    html = _warm(desk, day)
    assert "Cached, Berta" in html and '<span class="when">10:00' in html
    services.appointment_move(
        actor=clinic_a.actor(clinic_a.front_desk), appointment=appt, new_start=at(day, 14)
    )
    html = _warm(desk, day)
    assert '<span class="when">14:00' in html and '<span class="when">10:00' not in html
    appt.refresh_from_db()
    appt.status = "checked_in"  # (the check-in service refuses a visit days ahead)
    appt.save(update_fields=["status"])
    assert "status-checked_in" in _warm(desk, day)
    other = _book(clinic_a, kit_a, p, day, 11, room=kit_a.room2)
    assert '<span class="when">11:00' in _warm(desk, day)
    services.appointment_cancel(
        actor=clinic_a.actor(clinic_a.front_desk), appointment=other, reason="Ill"
    )
    assert '<span class="when">11:00' not in _warm(desk, day)


def test_resource_bookings_resources_and_working_hours_show_on_the_next_view(clinic_a, kit_a, desk):
    day = next_monday()
    p = make_patient(clinic_a, given_name="Carla", family_name="Busy")
    appt = _book(clinic_a, kit_a, p, day, 10)
    html = _warm(desk, day)
    assert html.count('class="busy"') == 0
    # A phase of that visit holds the nurse at 15:00 (written directly: only the signal tells).
    ResourceBooking.objects.create(
        appointment_id=appt.pk,
        resource_id=kit_a.nurse.pk,
        phase="injection",
        starts_at=at(day, 15),
        ends_at=at(day, 15, 30),
    )
    assert _warm(desk, day).count('class="busy"') == 2
    kit_a.nurse.name = "Nurse Renamed"
    kit_a.nurse.save()
    assert "Nurse Renamed" in _warm(desk, day)
    assert '<th scope="row" class="t">17:00</th>' in _warm(desk, day)
    services.working_hours_set(
        actor=clinic_a.actor(clinic_a.admin),
        resource=kit_a.physician,
        hours=[(w, dt.time(8, 0), dt.time(18, 0)) for w in range(5)],
    )
    html = _warm(desk, day)
    assert '<th scope="row" class="t">08:00</th>' in html
    WorkingHours.objects.filter(resource=kit_a.physician).delete()
    assert '<th scope="row" class="t">08:00</th>' not in _warm(desk, day)


def test_leave_closures_and_holidays_show_on_the_next_view(clinic_a, kit_a, desk):
    day = next_monday()
    admin = clinic_a.actor(clinic_a.admin)
    assert "On leave" not in _warm(desk, day)
    services.leave_add(
        actor=admin,
        membership_id=kit_a.physician.membership_id,
        starts_on=day,
        ends_on=day,
        reason="Conference",
    )
    assert "On leave: Conference" in _warm(desk, day)
    services.closure_add(actor=admin, starts_on=day, ends_on=day, reason="Refurbishment")
    assert "Clinic closed: Refurbishment" in _warm(desk, day)
    christmas = dt.date(day.year, 12, 25)
    assert "Public holiday" not in _warm(desk, christmas)
    services.clinic_holidays_set(actor=admin, country="GB", region="ENG")
    assert "Public holiday: Christmas Day" in _warm(desk, christmas)


def test_patient_names_and_erasure_show_on_the_next_view(clinic_a, kit_a, desk):
    day = next_monday()
    p = make_patient(clinic_a, given_name="Dora", family_name="Before")
    _book(clinic_a, kit_a, p, day, 10)
    assert "Before, Dora" in _warm(desk, day)
    p.family_name = "After"
    p.save()
    html = _warm(desk, day)
    assert "After, Dora" in html and "Before, Dora" not in html
    patient_soft_delete(actor=clinic_a.actor(clinic_a.admin), patient=p, reason="Duplicate")
    assert "After, Dora" not in _warm(desk, day)


def test_the_clinic_time_zone_shows_on_the_next_view(clinic_a, kit_a, desk):
    day = next_monday()
    p = make_patient(clinic_a, given_name="Eva", family_name="Zone")
    WorkingHours.objects.filter(resource__in=[kit_a.physician, kit_a.room1]).delete()
    _book(clinic_a, kit_a, p, day, 10)  # 10:00 London
    assert '<span class="when">10:00' in _warm(desk, day)
    clinic = clinic_a.clinic
    clinic.timezone = "Europe/Madrid"
    clinic.save()
    html = _warm(desk, day)
    assert '<span class="when">11:00' in html and '<span class="when">10:00' not in html


def test_a_change_inside_an_open_transaction_is_seen_by_that_transaction(clinic_a, kit_a, desk):
    day = next_monday()
    p = make_patient(clinic_a, given_name="Fina", family_name="Pending")
    _warm(desk, day)
    with transaction.atomic():
        _book(clinic_a, kit_a, p, day, 10)
        assert calendar_version.current(clinic_a.clinic.pk) is None  # do not use the cache
        assert "Pending, Fina" in _day(desk, day)
    assert "Pending, Fina" in _warm(desk, day)


def test_roles_that_see_the_grid_differently_do_not_share_it(clinic_a, kit_a, desk):
    day = next_monday()
    admin = clinic_a.client(clinic_a.admin)  # may see patients, may not book
    desk_html = _warm(desk, day)
    admin_html = _warm(admin, day)
    assert 'aria-label="Book ' in desk_html and 'aria-label="Book ' not in admin_html
    assert '<span class="sr">Free</span>' in admin_html
    assert "Closures and leave" in admin_html and "Closures and leave" not in desk_html
    assert 'aria-label="Book ' in _day(desk, day)


def test_two_clinics_never_share_a_grid(clinic_a, kit_a, clinic_b, desk):
    kit_b = make_kit(clinic_b)
    kit_b.physician.name = "Only In B"
    kit_b.physician.save()
    day = next_monday()
    a_html = _warm(desk, day)
    b_html = _warm(clinic_b.client(clinic_b.front_desk), day)
    assert "Only In B" in b_html and "Only In B" not in a_html
    assert kit_a.physician.name in a_html


def test_cached_body_is_not_reused_once_a_free_slot_it_shows_has_begun(clinic_a, kit_a, desk):
    """The clock matters only for past slots: the body says until when it is true."""
    from anagen.scheduling.grid import calendar_grid

    actor = clinic_a.actor(clinic_a.front_desk)
    today = actor.today()
    future = calendar_grid(actor=actor, start=next_monday(), days=1)
    assert future.true_until == dt.datetime.combine(
        next_monday(), dt.time(9), tzinfo=ZoneInfo("Europe/London")
    )
    past = calendar_grid(actor=actor, start=today - dt.timedelta(days=14), days=1)
    assert past.true_until is None  # nothing left to become past


@pytest.mark.django_db
def test_a_bump_is_registered_once_per_transaction_and_dropped_with_its_savepoint(clinic_a):
    cid = clinic_a.clinic.pk

    def bumps() -> int:
        return sum(
            isinstance(entry[1], calendar_version._Bump) and entry[1].clinic_id == cid
            for entry in connection.run_on_commit
        )

    with transaction.atomic():
        before = bumps()
        calendar_version.bump(cid)
        calendar_version.bump(clinic_a.clinic)
        assert bumps() == max(before, 1)
        assert calendar_version.current(cid) is None
    with transaction.atomic():
        with transaction.atomic():
            calendar_version.bump(cid + 1000)
            assert calendar_version.current(cid + 1000) is None
            transaction.set_rollback(True)
        assert calendar_version._pending(cid + 1000) is False


def test_a_large_body_is_kept_compressed_and_served_the_same(clinic_a, kit_a, desk, monkeypatch):
    from anagen.scheduling import grid_html

    monkeypatch.setattr(grid_html, "COMPRESS_OVER", 0)
    day = next_monday()
    _book(clinic_a, kit_a, make_patient(clinic_a, given_name="Gil", family_name="Zip"), day, 10)
    first, second = (
        re.findall(r'<div class="page-head">.*</table>', _day(desk, day), re.S) for _ in range(2)
    )
    assert "Zip, Gil" in second[0] and first == second
