"""Consultation in the browser: a physician assesses, screens and consents new patients.

One patient is eligible, one is deferred (with its earliest date), one is contraindicated and
cannot be overridden; the SALT calculator updates live through htmx under the strict CSP.
"""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from conftest import make_patient
from e2e.conftest import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _patient_timeouts(page):
    # These walks are long; on a busy CI machine a page can take more than the 5 s default.
    page.set_default_timeout(20_000)
    expect.set_options(timeout=15_000)
    yield
    expect.set_options(timeout=5_000)


def _intake(staff, patient, **data):
    from anagen.patients.services import IntakeData, intake_record

    labs = [
        {
            "analyte": "platelets",
            "value": Decimal("240"),
            "unit": "10³/µL",
            "taken_on": timezone.localdate() - dt.timedelta(days=5),
        }
    ]
    intake_record(
        actor=staff.actor(staff.nurse), patient=patient, data=IntakeData(labs=labs, **data)
    )


def _assess_and_sign(page, patient, diagnosis, severity, salt=None):
    page.goto(f"/patients/{patient.pk}/")
    page.locator("#care-panel").get_by_role("link", name="New assessment").click()
    page.get_by_label("Diagnosis").select_option(diagnosis)
    page.get_by_label("Severity").select_option(severity)
    # An explicit answer: follicle status has no default.
    page.get_by_label("Follicles present in the target area").select_option("yes")
    if salt:
        for area, value in salt.items():
            page.get_by_label(f"SALT {area}").fill(value)
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("saved as a draft")).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())  # "Sign this assessment?"
    page.get_by_role("button", name="Sign assessment").click()
    expect(page.locator("#signed")).to_contain_text("a Physician")
    expect(page.get_by_role("button", name="Sign assessment")).to_have_count(0)


def _screen(page, patient):
    page.goto(f"/patients/{patient.pk}/")
    page.locator("#care-panel").get_by_role("link", name="Screen", exact=True).click()
    page.get_by_label("Procedure").select_option("prp_scalp")
    expect(page.get_by_label("Planned date")).to_have_value(timezone.localdate().isoformat())
    page.get_by_role("button", name="Run screening").click()


def test_physician_assesses_screens_and_consents(page, clinic_a):
    today = timezone.localdate()
    eligible = make_patient(clinic_a, given_name="Elias", family_name="Green")
    deferred = make_patient(clinic_a, given_name="Dara", family_name="Moss")
    blocked = make_patient(clinic_a, given_name="Cora", family_name="Stone", sex="female")
    _intake(clinic_a, eligible)
    _intake(
        clinic_a,
        deferred,
        medications=[
            {
                "name": "Ibuprofen 400 mg",
                "category": "nsaid",
                "prescribed": False,
                "last_dose_on": today - dt.timedelta(days=1),
            }
        ],
    )
    _intake(clinic_a, blocked, conditions=["bleeding_disorder"])
    login(page, "a.physician")

    # 1. Eligible: assess (Norwood IV), sign, screen, consent.
    _assess_and_sign(page, eligible, "androgenetic_alopecia", "norwood_hamilton|IV")
    expect(page.locator("#assessment-facts")).to_contain_text("ICD-10 L64.9")
    _screen(page, eligible)
    expect(page.locator("#decision")).to_have_text("Eligible")
    expect(page.locator("#findings")).to_contain_text("No findings")
    page.get_by_role("link", name="Back to chart").click()
    expect(page.locator("#care-screening")).to_contain_text("Eligible")
    page.locator("#care-panel").get_by_role("link", name="Consents").click()
    expect(page.locator("#consent-prp_scalp")).to_contain_text("Not signed")
    page.get_by_role("link", name="Sign PRP, scalp").click()
    expect(page.locator("#consent-text")).to_contain_text("pain during the injections")
    page.get_by_label("Patient's full name").fill("elias green")
    page.get_by_role("button", name="Sign consent").click()
    expect(page.get_by_text("The patient must confirm they have read and agree")).to_be_visible()
    page.get_by_label("The patient has read this text and agrees").check()
    page.get_by_role("button", name="Sign consent").click()
    expect(page.get_by_text("Consent signed: PRP, scalp.")).to_be_visible()
    expect(page.locator("#sha256")).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
    expect(page.locator("#consent-state")).to_have_text("Valid")
    expect(page.locator("#snapshot")).to_contain_text("elias green")
    page.goto(f"/patients/{eligible.pk}/")
    expect(page.locator("#care-consents")).to_contain_text("PRP, scalp: Valid")
    expect(page.locator(".timeline")).to_contain_text("Consent signed: PRP, scalp (v1)")
    expect(page.locator(".timeline")).to_contain_text("Screening PRP injection, scalp: Eligible")

    # 2. Deferred: NSAID yesterday → defer with the earliest date.
    _assess_and_sign(page, deferred, "androgenetic_alopecia", "norwood_hamilton|III vertex")
    _screen(page, deferred)
    expect(page.locator("#decision")).to_have_text("Defer")
    earliest = today + dt.timedelta(days=6)
    expect(page.locator("#earliest")).to_contain_text(f"{earliest.day} {earliest:%b %Y}")
    expect(page.locator("#findings")).to_contain_text("Ibuprofen 400 mg (NSAID, not prescribed)")
    expect(page.locator("#findings")).to_contain_text("washout of 7 days")
    expect(page.locator("#no-override")).to_contain_text("A deferral cannot be overridden")

    # 3. Contraindicated: alopecia areata graded with the live SALT calculator.
    _assess_and_sign(
        page,
        blocked,
        "alopecia_areata",
        "salt|",
        salt={"vertex": "50", "posterior": "100", "right side": "20", "left side": "0"},
    )
    expect(page.locator("#assessment-facts")).to_contain_text("SALT 47.6 (S2)")
    _screen(page, blocked)
    expect(page.locator("#decision")).to_have_text("Contraindicated")
    expect(page.locator("#findings")).to_contain_text("Bleeding or clotting disorder")
    expect(page.locator("#no-override")).to_have_text(
        "A contraindicated result cannot be overridden."
    )
    expect(page.get_by_role("button", name="Override as eligible")).to_have_count(0)


def test_salt_calculator_updates_live(page, clinic_a):
    patient = make_patient(clinic_a)
    login(page, "a.nurse")
    page.goto(f"/patients/{patient.pk}/assessments/new/")
    page.get_by_label("SALT vertex").fill("50")
    expect(page.locator("#salt-result")).to_contain_text("Enter the % hair loss of all four areas")
    page.get_by_label("SALT posterior").fill("100")
    page.get_by_label("SALT right side").fill("20")
    page.get_by_label("SALT left side").fill("0")
    expect(page.locator("#salt-score")).to_have_text("SALT 47.6")
    expect(page.locator("#salt-result")).to_contain_text("band S2")
    page.get_by_label("SALT left side").fill("100")
    expect(page.locator("#salt-score")).to_have_text("SALT 65.6")


def test_front_desk_sees_consent_status_only(page, clinic_a):
    from anagen.care.services import consent_sign

    patient = make_patient(clinic_a)
    consent_sign(
        actor=clinic_a.actor(clinic_a.nurse),
        patient=patient,
        kind="photo_clinical",
        signed_name=patient.full_name,
        agreed=True,
    )
    login(page, "a.front_desk")
    page.goto(f"/patients/{patient.pk}/consents/")
    expect(page.locator("#consent-photo_clinical")).to_contain_text("Valid")
    expect(page.locator("#consent-prp_scalp")).to_contain_text("Not signed")
    expect(page.get_by_role("link", name=re.compile("^Sign"))).to_have_count(0)
    expect(page.locator("#sign-note")).to_be_visible()
    response = page.goto(f"/patients/{patient.pk}/consents/prp_scalp/sign/")
    assert response is not None and response.status == 403


def _platelet_intake(staff, patient, count):
    from anagen.patients.services import IntakeData, intake_record

    labs = [
        {
            "analyte": "platelets",
            "value": Decimal(count),
            "unit": "/µL",
            "taken_on": timezone.localdate() - dt.timedelta(days=1),
        }
    ]
    intake_record(actor=staff.actor(staff.nurse), patient=patient, data=IntakeData(labs=labs))


def test_override_voided_by_a_new_intake(page, clinic_a):
    """Issue 10's example: review at 95,000/µL overridden; a new intake at 51,000/µL must not
    pass the pre-session gate on the old override."""
    from anagen.care.tests.helpers import assess, consent

    patient = make_patient(clinic_a, given_name="Olga", family_name="Voight", sex="female")
    _platelet_intake(clinic_a, patient, "95000")
    assess(clinic_a, patient)
    consent(clinic_a, patient)
    login(page, "a.physician")

    _screen(page, patient)
    expect(page.locator("#decision")).to_have_text("Needs a physician's review")
    expect(page.locator("#findings")).to_contain_text("Platelets 95,000/uL")
    page.get_by_label("Reason for accepting the relative contraindications").fill(
        "Stable mild thrombocytopenia, cleared by haematology."
    )
    page.get_by_role("button", name="Override as eligible").click()
    expect(page.locator("#override")).to_contain_text("Stable mild thrombocytopenia")

    # A new intake with a much lower count: the old override no longer applies.
    _platelet_intake(clinic_a, patient, "51000")
    page.goto(f"/patients/{patient.pk}/")
    page.get_by_label("Start session for").select_option("prp_scalp")
    page.get_by_role("button", name="Start session").click()
    alert = page.get_by_role("alert").filter(has_text="override")
    expect(alert).to_contain_text("the override no longer applies")
    expect(alert).to_contain_text("Platelets (/uL) 95,000 → 51,000")
    expect(alert).to_contain_text("A physician must decide again")

    # The new screening asks for a new decision, saying what changed.
    page.goto(f"/patients/{patient.pk}/")
    page.locator("#care-panel").get_by_role("link", name="Screen", exact=True).click()
    page.get_by_label("Procedure").select_option("prp_scalp")
    page.get_by_role("button", name="Run screening").click()
    expect(page.locator("#decision")).to_have_text("Needs a physician's review")
    expect(page.locator("#override-void")).to_contain_text("95,000 → 51,000")
    expect(page.get_by_role("button", name="Override as eligible")).to_be_visible()
