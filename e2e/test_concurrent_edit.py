"""Two people edit one intake at once: the second save is refused, says who changed it and
when, and keeps everything the second person typed; saving again records it as the next
version."""

import pytest
from playwright.sync_api import expect

from anagen.patients.models import Intake
from anagen.patients.services import IntakeData, intake_record
from conftest import make_patient
from e2e.conftest import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
WAIT = 60_000


def test_second_save_of_one_intake_is_refused_with_who_and_nothing_lost(
    page, browser, live_server, clinic_a
):
    patient = make_patient(clinic_a)
    intake_record(actor=clinic_a.actor(clinic_a.nurse), patient=patient, data=IntakeData())
    url = f"/patients/{patient.pk}/intake/new/"
    page.set_default_timeout(WAIT)  # a shared machine can be slow; nothing here is timed

    # The physician opens the intake and starts typing…
    login(page, "a.physician")
    page.goto(url)
    page.locator("#id_notes").fill("Physician: shedding since spring, worse after fever.")
    page.locator("#id_smoking").select_option("former")

    # …while the nurse, in another browser, records a new version from her own screen.
    other = browser.new_context(base_url=live_server.url)
    try:
        nurse = other.new_page()
        nurse.set_default_timeout(WAIT)
        login(nurse, "a.nurse")
        nurse.goto(url)
        nurse.locator("#id_notes").fill("Nurse: labs booked.")
        nurse.get_by_role("button", name="Save intake").click()
        expect(nurse.get_by_text("Intake version 2 recorded.")).to_be_visible(timeout=WAIT)
    finally:
        other.close()

    # The physician's save is refused: who and when, and the typing is still there.
    page.get_by_role("button", name="Save intake").click()
    stale = page.locator("#stale-edit")
    expect(stale).to_contain_text("a Nurse recorded intake version 2 on", timeout=WAIT)
    expect(stale).to_contain_text("Nothing was saved", timeout=WAIT)
    expect(page.locator("#id_notes")).to_have_value(
        "Physician: shedding since spring, worse after fever.", timeout=WAIT
    )
    expect(page.locator("#id_smoking")).to_have_value("former", timeout=WAIT)
    assert Intake.objects.filter(patient=patient).count() == 2
    assert Intake.objects.get(patient=patient, version=2).notes == "Nurse: labs booked."

    # Having looked, the physician saves again: the next version, with nothing overwritten.
    page.get_by_role("button", name="Save intake").click()
    expect(page.get_by_text("Intake version 3 recorded.")).to_be_visible(timeout=WAIT)
    latest = Intake.objects.get(patient=patient, version=3)
    assert latest.notes.startswith("Physician: shedding") and latest.smoking == "former"
    assert Intake.objects.get(patient=patient, version=2).notes == "Nurse: labs booked."
