"""Log in, search, register (validation error + duplicate warning), intake, chart, roles."""

import re

import pytest
from playwright.sync_api import expect

from conftest import make_patient
from e2e.conftest import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_login_search_register_intake_and_chart(page, clinic_a, clinic_b):
    make_patient(clinic_a)
    make_patient(clinic_b, given_name="Beatriz", family_name="Nunes")
    login(page, "a.physician")
    # Signing in lands on the day's worklist; the patient search is one click away.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients").click()

    # Search: accents and case do not matter; another clinic's patient never shows.
    page.get_by_label("Find a patient").fill("alvarez")
    expect(page.locator("#results")).to_contain_text("Álvarez, José")
    page.get_by_label("Find a patient").fill("beatriz")
    expect(page.locator("#results")).to_contain_text("No patient matches")

    # Register: a validation error first, then the duplicate warning, then confirm.
    page.get_by_role("link", name="Register patient").click()
    page.get_by_role("textbox", name="Given name").fill("José")
    page.get_by_role("textbox", name="Family name").fill("Alvarez")
    page.locator("#id_birth_date").fill("1984-05-02")
    page.get_by_label("Sex").select_option("male")
    page.get_by_label("Phone").fill("12")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("That phone number has the wrong number of digits.")).to_be_visible()
    page.get_by_label("Phone").fill("07700 900777")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#duplicate-warning")).to_contain_text("Possible duplicate")
    page.get_by_label("This is a different person").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("A000002")

    # Intake: conditions, a medication, an extra lab row added with the keyboard-friendly button.
    page.get_by_role("link", name="Record intake").click()
    page.get_by_label("Thyroid disease").check()
    page.get_by_label("Smoking").select_option("former")
    page.locator("#id_medications-0-name").fill("Ibuprofen")
    page.locator("#id_medications-0-category").select_option("nsaid")
    page.locator("#id_medications-0-prescribed").select_option("no")  # an explicit answer
    page.locator("#id_medications-0-last_dose_on").fill("2026-01-10")
    page.locator("[data-add-row=labs]").click()
    expect(page.locator("#labs-rows tbody tr")).to_have_count(4)
    page.locator("#id_labs-3-analyte").select_option("platelets")
    page.locator("#id_labs-3-value").fill("210")
    page.locator("#id_labs-3-unit").select_option("10³/µL")
    page.locator("#id_labs-3-taken_on").fill("2026-01-05")
    page.get_by_role("button", name="Save intake").click()

    expect(page.get_by_text("Intake version 1 recorded.")).to_be_visible()
    expect(page.locator("#intake-h + dl")).to_contain_text("Ibuprofen (NSAID")
    expect(page.locator("#intake-h + dl")).to_contain_text("Platelets 210 10³/µL")
    expect(page.locator(".timeline")).to_contain_text("Intake version 1")


def test_front_desk_is_refused_clinical_detail(page, clinic_a):
    from anagen.patients.services import IntakeData, intake_record

    patient = make_patient(clinic_a)
    intake_record(
        actor=clinic_a.actor(clinic_a.nurse),
        patient=patient,
        data=IntakeData(conditions=["bleeding_disorder"], notes="Confidential"),
    )
    login(page, "a.front_desk")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients").click()
    page.get_by_label("Find a patient").fill("jose")
    page.get_by_role("link", name=re.compile("Álvarez")).click()
    expect(page.locator("#no-clinical")).to_contain_text("physicians and nurses only")
    expect(page.locator("body")).not_to_contain_text("Confidential")
    expect(page.get_by_role("link", name="Record intake")).to_have_count(0)
    response = page.goto(f"/patients/{patient.pk}/intake/1/")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()


def test_two_clinic_user_switches_clinic(page, clinic_a, clinic_b):
    from anagen.accounts.models import Membership

    make_patient(clinic_b, given_name="Beatriz", family_name="Nunes")
    Membership.objects.create(user=clinic_a.physician, clinic=clinic_b.clinic, role="physician")
    login(page, "a.physician")
    patients = page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients")
    patients.click()
    expect(page.locator("#results")).to_contain_text("No patients yet")
    page.get_by_label("Clinic").select_option(label="Clinic B")
    page.get_by_role("button", name="Switch").click()
    patients.click()
    expect(page.locator("#results")).to_contain_text("Nunes, Beatriz")
