"""The clinic's day: the home worklist drives a morning (check in → session record → sign) without
the patient search, and a series booked from a free slot of the week grid skips public holidays."""

import datetime as dt

import pytest
from playwright.sync_api import expect

from anagen.procedures import services as procedures
from anagen.procedures.models import TreatmentSession
from anagen.procedures.tests.helpers import complete_prp, ready_patient
from anagen.scheduling.closures import public_holidays
from anagen.scheduling.models import Appointment, TreatmentPlan
from anagen.scheduling.tests.conftest import make_kit
from conftest import make_patient
from e2e.conftest import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _patient_page(page):
    # These walk several pages and roles; a loaded machine needs more than the default.
    page.set_default_timeout(60_000)
    page.set_default_navigation_timeout(60_000)


def test_worklist_drives_a_morning_check_in_session_sign(page, clinic_a):
    kit = make_kit(clinic_a)
    patient = make_patient(clinic_a)
    ready_patient(clinic_a, patient)
    desk = clinic_a.actor(clinic_a.front_desk)
    start = dt.datetime.combine(desk.today(), dt.time(10, 0), tzinfo=desk.tz)
    appt = Appointment.objects.create(
        clinic=clinic_a.clinic,
        patient=patient,
        kind="induction",
        procedure="prp_scalp",
        starts_at=start,
        ends_at=start + dt.timedelta(minutes=75),
        practitioner=kit.nurse,
        room=kit.room1,
        centrifuge=kit.centrifuge,
    )
    name = f"{patient.given_name} {patient.family_name}"

    # Front desk: lands on the worklist and checks the patient in from it.
    login(page, "a.front_desk")
    expect(page.get_by_role("heading", name="Arrivals to check in")).to_be_visible()
    page.get_by_role("button", name=f"Check in {name}").click()
    expect(page.locator(".messages")).to_contain_text("checked in")
    appt.refresh_from_db()
    assert appt.status == "checked_in"

    # Nurse: the waiting patient is one click from the session record.
    page.context.clear_cookies()
    login(page, "a.nurse")
    page.get_by_role("button", name=f"Open the session record of {name}").click()
    page.wait_for_url("**/sessions/*/")
    session = TreatmentSession.objects.get(appointment=appt)
    assert page.url.endswith(f"/patients/{patient.pk}/sessions/{session.pk}/")
    # The room work is recorded (the session record's own tests drive those forms).
    complete_prp(clinic_a, session)
    procedures.session_close(actor=clinic_a.actor(clinic_a.nurse), session=session)

    # Physician: the record waits on the worklist; one click signs it.
    page.context.clear_cookies()
    login(page, "a.physician")
    section = page.locator("#wl-to-sign")
    expect(section).to_contain_text(patient.family_name)
    page.once("dialog", lambda dialog: dialog.accept())  # "Sign and lock this record?"
    section.get_by_role("button", name=f"Sign the session record of {name}").click()
    expect(page.locator(".messages")).to_contain_text("Session signed")
    session.refresh_from_db()
    assert session.status == "signed"
    page.goto("/")
    expect(page.locator("#wl-to-sign")).to_contain_text("Nothing waits for a signature.")


def _monday_before_new_year() -> dt.date:
    """The Monday two weeks before next year's Christmas week, so a fortnightly series meets
    the holidays."""
    year = dt.date.today().year + 1
    day = dt.date(year, 12, 14)
    return day + dt.timedelta(days=(7 - day.weekday()) % 7)


def test_series_from_a_free_slot_in_the_week_grid_skips_public_holidays(page, clinic_a):
    clinic = clinic_a.clinic
    clinic.holiday_country, clinic.holiday_region = "GB", "ENG"
    clinic.save(update_fields=["holiday_country", "holiday_region"])
    kit = make_kit(clinic_a)
    patient = make_patient(clinic_a)
    monday = _monday_before_new_year()

    login(page, "a.physician")
    page.goto(f"/calendar/?view=week&date={monday.isoformat()}")
    expect(page.locator("#time-grid")).to_be_visible()
    slot = page.locator(
        f'a.slot-link[href*="date={monday.isoformat()}&time=09:00&practitioner={kit.physician.pk}"]'
    )
    slot.click()
    page.get_by_label("Name, record number, birth date or phone").fill(patient.family_name)
    page.get_by_role("button", name="Find").click()
    page.get_by_role("link", name="Plan a series from here").click()
    page.locator("#id_protocol_id").select_option("meso-hair-biweekly")
    page.get_by_role("button", name="Preview the series").click()
    expect(page.locator("#preview")).to_be_visible()
    page.get_by_role("button", name="Book the series").click()
    page.wait_for_url(f"**/patients/{patient.pk}/")

    plan = TreatmentPlan.objects.get(patient=patient)
    appts = list(plan.appointments.order_by("sequence"))
    tz = clinic_a.actor(clinic_a.physician).tz
    first = appts[0].starts_at.astimezone(tz)
    assert (first.date(), first.time()) == (monday, dt.time(9, 0))  # the slot that was clicked
    assert appts[0].practitioner == kit.physician
    days = [a.local_date for a in appts]
    holidays = public_holidays(clinic, monday, days[-1])
    # Some session's window held a public holiday, and no session was booked on one.
    windows = [(a.window_earliest, a.window_latest) for a in appts]
    assert any(lo and hi and lo <= h <= hi for lo, hi in windows for h in holidays), (
        "the series meets the holidays"
    )
    assert not set(days) & set(holidays)
