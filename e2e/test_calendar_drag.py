"""Dragging an appointment in the week grid: the drop opens the move page (the keyboard Move
path), which warns before anything moves when the new day leaves the protocol window; once
confirmed, the appointment is at the new time."""

import datetime as dt

import pytest
from playwright.sync_api import expect

from anagen.scheduling import services
from anagen.scheduling.models import Appointment
from anagen.scheduling.tests.conftest import make_kit, next_monday
from conftest import make_patient
from e2e.conftest import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_drag_an_appointment_outside_its_window_warns_then_moves(page, clinic_a):
    make_kit(clinic_a)
    patient = make_patient(clinic_a)
    monday = next_monday()
    # Fortnightly mesotherapy: session 1 may run Monday to Thursday of its week.
    services.plan_book_series(
        actor=clinic_a.actor(clinic_a.physician),
        patient=patient,
        protocol_id="meso-hair-biweekly",
        start_on=monday,
    )
    first = Appointment.objects.get(patient=patient, sequence=1)
    friday = first.local_date + dt.timedelta(days=4 - first.local_date.weekday())
    assert first.window_latest < friday  # the drop target lies outside the protocol window
    tz = clinic_a.actor(clinic_a.front_desk).tz
    old_start = first.starts_at

    login(page, "a.front_desk")
    page.set_viewport_size({"width": 1280, "height": 1600})
    page.goto(f"/calendar/?view=week&date={first.local_date.isoformat()}")
    expect(page.locator("#time-grid")).to_be_visible()
    box = page.locator(f'a.appt-box[data-move-url="/appointments/{first.pk}/move/"]')
    expect(box).to_have_attribute("draggable", "true")
    target = page.locator(
        f'td.free[data-date="{friday.isoformat()}"][data-time="11:00"]'
        f'[data-column="{first.practitioner_id}"]'
    )
    expect(target).to_have_count(1)
    box.drag_to(target)

    # The move page, with the dropped time filled in and the warning shown before the move.
    page.wait_for_url(f"**/appointments/{first.pk}/move/?*")
    warning = page.locator("#window-warning")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("outside its protocol window")
    expect(page.get_by_label("New date")).to_have_value(friday.isoformat())
    expect(page.get_by_label("New time")).to_have_value("11:00")
    first.refresh_from_db()
    assert first.starts_at == old_start  # nothing moved on the drop

    page.get_by_label("Move it anyway, outside the protocol window").check()
    page.get_by_role("button", name="Move").click()
    expect(page.get_by_text("Appointment moved.")).to_be_visible()
    first.refresh_from_db()
    moved = first.starts_at.astimezone(tz)
    assert (moved.date(), moved.time()) == (friday, dt.time(11, 0))
    # And the grid shows it there.
    page.goto(f"/calendar/?view=week&date={friday.isoformat()}")
    expect(
        page.locator(f'a.appt-box[data-move-url="/appointments/{first.pk}/move/"]')
    ).to_contain_text("11:00")


def test_a_drop_inside_the_window_still_asks_before_moving(page, clinic_a):
    make_kit(clinic_a)
    patient = make_patient(clinic_a)
    services.plan_book_series(
        actor=clinic_a.actor(clinic_a.physician),
        patient=patient,
        protocol_id="meso-hair-biweekly",
        start_on=next_monday(),
    )
    first = Appointment.objects.get(patient=patient, sequence=1)
    day = first.local_date
    old_start = first.starts_at

    login(page, "a.front_desk")
    # Source and target on one screen: Playwright's drag does not scroll the page mid-drag.
    page.set_viewport_size({"width": 1280, "height": 1600})
    page.goto(f"/calendar/?view=day&date={day.isoformat()}")
    box = page.locator(f'a.appt-box[data-move-url="/appointments/{first.pk}/move/"]')
    target = page.locator(
        f'td.free[data-date="{day.isoformat()}"][data-time="15:00"]'
        f'[data-column="{first.practitioner_id}"]'
    )
    box.drag_to(target)
    page.wait_for_url(f"**/appointments/{first.pk}/move/?*")
    expect(page.locator("#window-warning")).to_have_count(0)
    expect(page.get_by_label("New time")).to_have_value("15:00")
    first.refresh_from_db()
    assert first.starts_at == old_start
    page.get_by_role("button", name="Move").click()
    expect(page.get_by_text("Appointment moved.")).to_be_visible()
    first.refresh_from_db()
    assert first.starts_at.astimezone(clinic_a.actor(clinic_a.front_desk).tz).time() == dt.time(
        15, 0
    )
