"""The calendar's time grid: columns per practitioner or room, free slots that book, blocked days."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from anagen.scheduling import services
from anagen.scheduling.tests.conftest import at, next_monday
from conftest import make_patient

pytestmark = pytest.mark.django_db


def _book(staff, kit, patient, day: dt.date, hh: int):
    return services.appointment_book(
        actor=staff.actor(staff.front_desk),
        patient=patient,
        kind="consultation",
        procedure="",
        starts_at=at(day, hh),
        practitioner_id=kit.physician.pk,
        room_id=kit.room1.pk,
    )


def test_day_grid_places_appointments_and_links_free_slots(clinic_a, kit_a, patient_a):
    day = next_monday()
    _book(clinic_a, kit_a, patient_a, day, 10)
    c = clinic_a.client(clinic_a.front_desk)
    html = c.get(reverse("calendar"), {"view": "day", "date": day.isoformat()}).content.decode()
    assert 'id="time-grid"' in html
    assert "10:00–10:30" in html and "Álvarez, José" in html
    assert kit_a.physician.name in html and kit_a.nurse.name in html  # a column each
    slot = f"date={day.isoformat()}&amp;time=09:00&amp;practitioner={kit_a.physician.pk}"
    assert slot in html  # free 09:00 with the physician is a booking link
    assert f"time=10:00&amp;practitioner={kit_a.physician.pk}" not in html  # taken
    by_room = c.get(reverse("calendar"), {"view": "day", "date": day.isoformat(), "by": "room"})
    assert f"room={kit_a.room1.pk}" in by_room.content.decode()


def test_free_slot_page_finds_the_patient_and_prefills_booking(clinic_a, kit_a, patient_a):
    day = next_monday()
    c = clinic_a.client(clinic_a.physician)
    params = {"date": day.isoformat(), "time": "09:15", "practitioner": kit_a.physician.pk}
    html = c.get(reverse("calendar-slot"), {**params, "q": "Álvarez"}).content.decode()
    assert "Book a visit here" in html and "Plan a series from here" in html
    form = c.get(
        reverse("appointment-new", args=[patient_a.pk]),
        {"date": day.isoformat(), "time": "09:15", "practitioner": kit_a.physician.pk},
    ).content.decode()
    assert f'value="{day.isoformat()}"' in form and 'value="09:15"' in form
    # The series planner offers the chosen slot first for session 1.
    plan = c.get(
        reverse("plan-new", args=[patient_a.pk]),
        {
            "protocol_id": "prp-aga-monthly-3",
            "start_on": day.isoformat(),
            "from_slot": f"{day.isoformat()}T09:15|{kit_a.physician.pk}",
        },
    ).content.decode()
    assert f"{at(day, 9, 15).astimezone(dt.UTC).isoformat()}|{kit_a.physician.pk}|" in plan
    assert clinic_a.client(clinic_a.front_desk).get(reverse("calendar-slot")).status_code == 400


def test_holiday_and_leave_show_as_blocked(clinic_a, kit_a):
    clinic_a.clinic.holiday_country, clinic_a.clinic.holiday_region = "GB", "ENG"
    clinic_a.clinic.save()
    year = dt.date.today().year + 1
    c = clinic_a.client(clinic_a.front_desk)
    html = c.get(reverse("calendar"), {"view": "week", "date": f"{year}-12-28"}).content.decode()
    assert "Public holiday: Christmas Day" in html or "Public holiday: Boxing Day" in html
    assert f"date={year}-12-25&amp;" not in html  # no booking link on Christmas Day


def test_closures_page_for_resource_managers_only(clinic_a, kit_a):
    admin = clinic_a.client(clinic_a.admin)
    day = next_monday()
    r = admin.post(
        reverse("calendar-closures"),
        {
            "action": "closure",
            "starts_on": day.isoformat(),
            "ends_on": day.isoformat(),
            "reason": "Staff training",
        },
    )
    assert r.status_code == 302
    page = admin.get(reverse("calendar-closures")).content.decode()
    assert "Staff training" in page
    grid = admin.get(reverse("calendar"), {"view": "day", "date": day.isoformat()})
    assert "Clinic closed: Staff training" in grid.content.decode()
    bad = admin.post(
        reverse("calendar-closures"),
        {"action": "closure", "starts_on": "x", "ends_on": "", "reason": ""},
    )
    assert bad.status_code == 400
    assert clinic_a.client(clinic_a.front_desk).get(reverse("calendar-closures")).status_code == 403


def test_week_grid_queries_do_not_grow(clinic_a, kit_a, patient_a):
    day = next_monday()
    c = clinic_a.client(clinic_a.front_desk)

    def count() -> int:
        with CaptureQueriesContext(connection) as q:
            c.get(reverse("calendar"), {"view": "week", "date": day.isoformat()})
        return len(q)

    _book(clinic_a, kit_a, patient_a, day, 9)
    count()  # the first request after sign-in also renews the session
    one = count()
    for i in range(5):
        p = make_patient(clinic_a, given_name=f"G{i}", family_name="Grid")
        _book(clinic_a, kit_a, p, day + dt.timedelta(days=i % 5), 11 + i % 5)
    assert count() == one


def test_admin_sets_the_holiday_region_on_the_closures_page(clinic_a):
    admin = clinic_a.client(clinic_a.admin)
    url = reverse("calendar-closures")
    assert "no country set" in admin.get(url).content.decode()
    bad = admin.post(url, {"action": "holidays", "country": "GB", "region": "XX"})
    assert bad.status_code == 400 and "holiday calendar knows" in bad.content.decode()
    assert (
        admin.post(url, {"action": "holidays", "country": "gb", "region": "eng"}).status_code == 302
    )
    clinic_a.clinic.refresh_from_db()
    assert (clinic_a.clinic.holiday_country, clinic_a.clinic.holiday_region) == ("GB", "ENG")
    assert "Christmas Day" in admin.get(url).content.decode()


def test_move_from_the_grid_warns_about_the_protocol_window_before_moving(
    clinic_a, kit_a, patient_a
):
    start = next_monday()
    plan = services.plan_book_series(
        actor=clinic_a.actor(clinic_a.physician),
        patient=patient_a,
        protocol_id="prp-aga-monthly-3",
        start_on=start,
    )
    appt = plan.appointments.get(sequence=2)
    c = clinic_a.client(clinic_a.front_desk)
    day = appt.local_date
    grid = c.get(
        reverse("calendar"), {"view": "week", "date": day.isoformat(), "move": appt.pk}
    ).content.decode()
    assert 'id="move-banner"' in grid
    target = reverse("appointment-move", args=[appt.pk]) + f"?date={day.isoformat()}&amp;time="
    assert target in grid  # every free time is a keyboard-reachable "move here" link
    assert appt.window_latest is not None
    far = appt.window_latest + dt.timedelta(days=7)
    page = c.get(
        reverse("appointment-move", args=[appt.pk]), {"date": far.isoformat(), "time": "10:00"}
    ).content.decode()
    assert 'id="window-warning"' in page and "outside its protocol window" in page
    appt.refresh_from_db()
    assert appt.local_date == day  # nothing moved yet


def test_grid_rows_escape_names_and_keep_drag_and_move_links(clinic_a, kit_a):
    """The grid's rows are built in Python (issue 15): names are escaped, booked visits keep
    their drag data and Move link, free slots their booking link with the page's clinic time."""
    day = next_monday()
    odd = make_patient(clinic_a, given_name='<i>Eve"', family_name="O'Neil & Co")
    appt = _book(clinic_a, kit_a, odd, day, 10)
    c = clinic_a.client(clinic_a.front_desk)
    html = c.get(reverse("calendar"), {"view": "day", "date": day.isoformat()}).content.decode()
    assert "<i>Eve" not in html and "O&#x27;Neil &amp; Co, &lt;i&gt;Eve&quot;" in html
    assert f'data-move-url="{reverse("appointment-move", args=[appt.pk])}"' in html
    assert f"&amp;move={appt.pk}" in html and 'aria-label="Move &lt;i&gt;Eve&quot; O' in html
    assert f'data-date="{day.isoformat()}" data-time="09:00"' in html
    label = f"{day:%a} {day.day} {day:%b} 09:00"
    assert f'aria-label="Book {label}"' in html
