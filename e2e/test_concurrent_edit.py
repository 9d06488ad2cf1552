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


def test_session_section_saved_in_place_is_refused_inside_the_section(
    page, browser, live_server, clinic_a
):
    """Two people on one session record: the nurse's in-place save of "Session details" is
    refused inside that section (who, when), her typing stays, and her next save goes through;
    her own in-place saves never refuse each other."""
    from anagen.procedures.models import TreatmentSession
    from anagen.procedures.tests.helpers import ready_patient, start

    patient = make_patient(clinic_a)
    ready_patient(clinic_a, patient)
    session = start(clinic_a, patient)
    url = f"/patients/{patient.pk}/sessions/{session.pk}/"
    page.set_default_timeout(WAIT)

    login(page, "a.nurse")
    page.goto(url)
    details = page.locator("#details")
    # Her own in-place save, then another section from the same page load: both accepted.
    details.get_by_label("Notes").fill("Scalp cleansed.")
    details.get_by_role("button", name="Save details").click()
    expect(page.locator("#details .saved")).to_contain_text("Session details saved.")
    page.locator("#prep_blood_volume_ml").fill("10")
    page.get_by_role("button", name="Save preparation").click()
    expect(page.locator("#preparation .saved")).to_contain_text("Preparation saved")
    details = page.locator("#details")
    details.get_by_label("Notes").fill("Nurse: scalp cleansed twice, patient calm.")

    other = browser.new_context(base_url=live_server.url)
    try:
        physician = other.new_page()
        physician.set_default_timeout(WAIT)
        login(physician, "a.physician")
        physician.goto(url)
        physician.locator("#details").get_by_label("Notes").fill("Physician: check vertex.")
        physician.locator("#details").get_by_role("button", name="Save details").click()
        expect(physician.locator("#details .saved")).to_contain_text("Session details saved.")
    finally:
        other.close()

    page.locator("#details").get_by_role("button", name="Save details").click()
    details = page.locator("#details")
    expect(details).to_contain_text("a Physician changed this session record on")
    expect(details).to_contain_text("Nothing was saved")
    expect(details.get_by_label("Notes")).to_have_value(
        "Nurse: scalp cleansed twice, patient calm."
    )
    assert TreatmentSession.objects.get(pk=session.pk).notes == "Physician: check vertex."

    # Having looked, she saves again: accepted, in place.
    details.get_by_role("button", name="Save details").click()
    expect(page.locator("#details .saved")).to_contain_text("Session details saved.")
    assert (
        TreatmentSession.objects.get(pk=session.pk).notes
        == "Nurse: scalp cleansed twice, patient calm."
    )


def test_second_save_of_one_draft_assessment_is_refused_and_nothing_lost(
    page, browser, live_server, clinic_a
):
    from anagen.care.models import Assessment
    from anagen.care.tests.helpers import assess

    patient = make_patient(clinic_a)
    assess(clinic_a, patient, sign=False)
    url = f"/patients/{patient.pk}/assessments/1/edit/"
    page.set_default_timeout(WAIT)

    login(page, "a.physician")
    page.goto(url)
    page.locator("#id_notes").fill("Physician: miniaturisation on the crown.")

    other = browser.new_context(base_url=live_server.url)
    try:
        nurse = other.new_page()
        nurse.set_default_timeout(WAIT)
        login(nurse, "a.nurse")
        nurse.goto(url)
        nurse.locator("#id_notes").fill("Nurse: photos taken.")
        nurse.get_by_role("button", name="Save draft").click()
        expect(nurse.get_by_text("Draft saved.")).to_be_visible()
    finally:
        other.close()

    page.get_by_role("button", name="Save draft").click()
    stale = page.locator("#stale-edit")
    expect(stale).to_contain_text("a Nurse changed this draft assessment on")
    expect(page.locator("#id_notes")).to_have_value("Physician: miniaturisation on the crown.")
    assert Assessment.objects.get(patient=patient).notes == "Nurse: photos taken."

    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Draft saved.")).to_be_visible()
    assert Assessment.objects.get(patient=patient).notes.startswith("Physician: miniaturisation")
