"""A physician chooses a protocol and books the series; front desk moves a session out of its
window; front desk checks a patient in (arrival, not the clinical gate)."""

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from anagen.accounts.clinic_time import human_date
from anagen.scheduling.models import Appointment
from anagen.scheduling.tests.conftest import make_kit, next_monday
from conftest import make_patient
from e2e.conftest import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_choose_protocol_preview_book_then_reschedule_with_window_warning(page, clinic_a):
    make_kit(clinic_a)
    patient = make_patient(clinic_a)
    start = next_monday()

    login(page, "a.physician")
    page.goto(f"/patients/{patient.pk}/")
    page.get_by_role("link", name="Choose a protocol").click()
    page.locator("#id_protocol_id").select_option("prp-aga-monthly-3")
    page.get_by_label("First session on or after").fill(start.isoformat())
    page.get_by_role("button", name="Preview the series").click()
    expect(page.locator("#preview tbody tr")).to_have_count(3)
    expect(page.locator("#preview")).to_contain_text("75 min")
    # every session has a slot chosen already (the one closest to its target date)
    expect(page.locator("#preview input[type=radio]:checked")).to_have_count(3)
    page.get_by_role("button", name="Book the series").click()
    expect(page.get_by_text("Booked 3 sessions of PRP for androgenetic alopecia")).to_be_visible()
    expect(page.locator("#current-plan")).to_contain_text("0 of 3 sessions done")
    expect(page.locator("#upcoming tbody tr")).to_have_count(3)
    page.get_by_role("button", name="Sign out").click()

    login(page, "a.front_desk")
    page.goto(f"/patients/{patient.pk}/")
    expect(page.get_by_role("link", name="Choose a protocol")).to_have_count(0)
    page.locator("#upcoming tbody tr").nth(1).get_by_role("link").click()
    page.get_by_role("link", name="Move").click()
    second = Appointment.objects.get(patient=patient, sequence=2)
    new_day = second.local_date + dt.timedelta(days=14)
    page.get_by_label("New date").fill(new_day.isoformat())
    page.get_by_label("New time").fill("10:00")
    page.get_by_label("This session only").check()
    page.get_by_role("button", name="Move").click()
    warning = page.locator("#window-warning")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text(
        re.compile(r"Session 2 would move to .* outside its protocol window")
    )
    second.refresh_from_db()
    assert second.local_date != new_day  # nothing moved before confirming
    page.get_by_label("Move it anyway, outside the protocol window").check()
    page.get_by_role("button", name="Move").click()
    expect(page.get_by_text("Appointment moved.")).to_be_visible()
    expect(page.locator("#appt-when")).to_contain_text(human_date(new_day))
    second.refresh_from_db()
    assert second.local_date == new_day


def test_front_desk_checks_in_a_patient_whose_gate_would_fail(page, clinic_a):
    """No consent and no screening yet: the session record may not start, but the patient has
    arrived. Front desk checks them in and sees no clinical reason."""
    from anagen.care.services import session_gate

    kit = make_kit(clinic_a, hours=False)
    patient = make_patient(clinic_a)
    now = timezone.now()
    appt = Appointment.objects.create(
        clinic=clinic_a.clinic,
        patient=patient,
        kind="induction",
        procedure="prp_scalp",
        starts_at=now,
        ends_at=now + dt.timedelta(minutes=75),
        practitioner=kit.physician,
        room=kit.room1,
        centrifuge=kit.centrifuge,
    )
    gate = session_gate(
        actor=clinic_a.actor(clinic_a.physician),
        patient=patient,
        procedure="prp_scalp",
        on=timezone.localdate(),
    )
    assert not gate.ok and gate.reasons

    login(page, "a.front_desk")
    page.goto(f"/appointments/{appt.pk}/")
    page.get_by_role("button", name="Check in").click()
    expect(page.locator("#appt-status")).to_have_text("Checked in")
    expect(page.get_by_text("Checked in.")).to_be_visible()
    body = page.locator("main").inner_text()
    for reason in gate.reasons:
        assert str(reason) not in body
    assert "consent" not in body.lower() and "screening" not in body.lower()
    expect(page.locator("#action-errors")).to_have_count(0)
    appt.refresh_from_db()
    assert appt.status == "checked_in"
