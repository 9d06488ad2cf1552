"""The treatment room in Chromium: a PRP scalp session from start to signature, a mesotherapy
session, and the refusals (expired lot, unsigned consent) with their messages."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from anagen.care.tests.helpers import assess, consent, ready_patient, record_intake
from anagen.procedures import services
from anagen.procedures.tests.helpers import make_lot
from conftest import make_patient
from e2e.conftest import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_prp_scalp_session_recorded_and_signed(page, clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    old = make_lot(clinic_a, number="OLD-7", expires_in_days=-5)
    good = make_lot(clinic_a, number="K-2002")
    login(page, "a.physician")
    page.goto(f"/patients/{patient_a.pk}/")
    page.get_by_label("Start session for").select_option("prp_scalp")
    page.get_by_role("button", name="Start session").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("PRP injection, scalp")

    # Phases are time-stamped as they happen.
    page.get_by_role("button", name="Stamp Anaesthetic cream applied").click()
    expect(page.locator("#phase-cream_applied_at time")).to_be_visible()
    page.get_by_role("button", name="Stamp Blood drawn").click()

    # The centrifuge radius, then spins in rpm: converted to g by the kernel.
    page.get_by_label("Centrifuge rotor radius (cm)").fill("10")
    page.get_by_role("button", name="Save details").click()
    form = page.locator("#preparation form")
    form.get_by_label("Blood drawn (mL)").fill("10")
    form.locator("#prep_anticoagulant_agent").select_option("acd_a")
    form.get_by_label("Anticoagulant volume (mL)").fill("1")
    form.get_by_label("Baseline platelets (/µL)").fill("200000")
    form.get_by_label("Baseline WBC (/µL)").fill("6000")
    form.get_by_label("Baseline neutrophils (% of WBC)").fill("60")
    form.get_by_label("Baseline RBC (/µL)").fill("4800000")
    form.get_by_label("Spin 1: g").fill("100")
    form.get_by_label("Spin 1: minutes").fill("15")
    form.get_by_label("Spin 2: rpm").fill("3783")
    form.get_by_label("Spin 2: minutes").fill("20")
    form.get_by_label("PRP volume (mL)").fill("1.4")
    form.get_by_label("PRP platelets (/µL)").fill("1280000")
    form.get_by_label("PRP WBC (/µL)").fill("4000")
    form.get_by_label("PRP neutrophils (% of WBC)").fill("20")
    form.get_by_label("PRP RBC (/µL)").fill("30000")
    form.get_by_label("Activation agent").select_option("calcium_gluconate")
    form.get_by_label("Activator volume (mL)").fill("0.14")
    form.get_by_label("PRP volume injected (mL)").fill("1.54")
    form.get_by_role("button", name="Save preparation").click()
    expect(page.locator("#spins")).to_contain_text("1600 g")
    expect(page.locator("#label-fold")).to_have_text("6.4×")
    expect(page.locator("#label-paw")).to_have_text("P4-x-B-β")
    expect(page.locator("#label-mishra")).to_have_text("4A")
    expect(page.locator("#label-de")).to_have_text("P-PRP")

    # Zones: a mismatch is flagged clearly, then corrected; the map shades treated zones.
    page.get_by_label("Frontal hairline: volume (mL)").fill("0.8")
    page.get_by_label("Frontal hairline: technique").select_option("point_by_point")
    page.get_by_label("Frontal hairline: needle (G)").fill("30")
    page.get_by_role("button", name="Save injection map").click()
    # The section is saved in place (htmx): wait for the new totals before typing on.
    expect(page.locator("#delivery-totals")).to_contain_text("0.80 mL do not match the 1.54 mL")
    page.get_by_label("Vertex / crown: volume (mL)").fill("0.74")
    page.get_by_label("Vertex / crown: technique").select_option("nappage")
    page.get_by_role("button", name="Save injection map").click()
    expect(page.locator("#delivery-totals")).to_contain_text("1.54 mL delivered of 1.54 mL")
    expect(page.locator(".scalp-map .zone.filled")).to_have_count(2)

    # Lots: the expired one is refused, then a good one is recorded.
    page.locator("#lotuse_lot").select_option(str(old.pk))
    page.get_by_role("button", name="Record lot").click()
    expect(
        page.get_by_text(re.compile(r"Lot OLD-7 of RegenKit A expired on .*; choose another lot\."))
    ).to_be_visible()
    page.locator("#lotuse_lot").select_option(str(good.pk))
    page.get_by_role("button", name="Record lot").click()
    expect(page.locator("#lot-uses")).to_contain_text("K-2002")

    # An adverse event linked to the zone and lot.
    page.get_by_text("Record an adverse event").click()
    ae = page.locator("#adverse-events form.grid")
    ae.get_by_label("Term").select_option("bruising")
    ae.get_by_label("CTCAE grade").select_option("1")
    ae.get_by_label("Relatedness").select_option("probable")
    ae.get_by_label("Outcome").select_option("recovering")
    ae.locator("#ae_zone").select_option("vertex")
    ae.locator("#ae_lot").select_option(str(good.pk))
    ae.get_by_role("button", name="Record adverse event").click()
    expect(page.locator("#adverse-events")).to_contain_text("Bruising")

    # Checklist, then the physician signs and the record locks.
    page.get_by_label("Baseline photos taken").check()
    page.get_by_label("Aftercare instructions given").check()
    page.get_by_role("button", name="Save details").click()
    expect(page.locator("[data-item=aftercare]")).to_have_class("ok")
    page.once("dialog", lambda dialog: dialog.accept())  # "Sign and lock this record?"
    page.get_by_role("button", name="Sign and lock").click()
    expect(page.locator("#session-status")).to_contain_text("Signed by a Physician")
    page.goto(f"/patients/{patient_a.pk}/")
    expect(page.locator("ol.timeline")).to_contain_text("fold 6.4× · P4-x-B-β")
    expect(page.locator("#procedures-panel")).to_contain_text("signed")


def test_mesotherapy_session(page, clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    consent(clinic_a, patient_a, "mesotherapy_scalp")
    lot = make_lot(
        clinic_a, name="Dutasteride 0.01 % vials", category="meso_ingredient", number="D-1"
    )
    services.formulation_create(
        actor=clinic_a.actor(clinic_a.physician),
        name="Hair cocktail",
        vial="multi",
        indications=["scalp"],
        ingredients=[
            {
                "name": "Dutasteride",
                "code": "dutasteride",
                "concentration": Decimal("0.01"),
                "unit": "percent",
            },
            {"name": "Biotin", "concentration": Decimal("5"), "unit": "mg_per_mL"},
        ],
    )
    login(page, "a.nurse")
    page.goto(f"/patients/{patient_a.pk}/")
    page.get_by_label("Start session for").select_option("mesotherapy_scalp")
    page.get_by_role("button", name="Start session").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Mesotherapy, scalp")
    d = page.locator("#delivery form")
    d.get_by_label("Formulation").select_option(label="Hair cocktail")
    d.locator("#meso_zone").select_option("vertex")
    d.get_by_label("Technique (depth)").select_option("nappage")
    d.get_by_label("Delivery").select_option("gun")
    d.get_by_label("Injection points").fill("80")
    d.get_by_label("Volume per point (mL)").fill("0.05")
    d.get_by_label("Area treated (cm²)").fill("100")
    d.get_by_role("button", name="Record delivery").click()
    expect(page.locator("#meso-deliveries")).to_contain_text("4.00 mL")
    expect(page.locator("#meso-deliveries")).to_contain_text("Multi-dose vial")
    page.locator("#lotuse_lot").select_option(str(lot.pk))
    page.get_by_role("button", name="Record lot").click()
    page.get_by_label("Baseline photos taken").check()
    page.get_by_label("Aftercare instructions given").check()
    page.get_by_role("button", name="Save details").click()
    page.once("dialog", lambda dialog: dialog.accept())  # "Close this session?"
    page.get_by_role("button", name="Close session").click()
    expect(page.locator("#session-status")).to_contain_text("Ready to sign")
    expect(page.get_by_text("A physician signs.")).to_be_visible()


def test_unsigned_consent_refused(page, clinic_a):
    patient = make_patient(clinic_a, given_name="Nina", family_name="Noconsent")
    record_intake(clinic_a, patient)
    assess(clinic_a, patient)
    login(page, "a.nurse")
    page.goto(f"/patients/{patient.pk}/")
    page.get_by_label("Start session for").select_option("prp_scalp")
    page.get_by_role("button", name="Start session").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "No valid consent for PRP, scalp: none signed."
    )


def test_preparation_with_a_warning_opens_saves_and_signs(page, clinic_a, patient_a):
    """Bovine thrombin and a fold under 2x: kernel warnings shown with their references; the
    record still opens, saves again and signs (it used to answer 500 from then on)."""
    from anagen.procedures.tests.helpers import complete_prp, start

    ready_patient(clinic_a, patient_a)
    session = start(clinic_a, patient_a)
    complete_prp(clinic_a, session)
    login(page, "a.physician")
    page.goto(f"/patients/{patient_a.pk}/sessions/{session.pk}/")
    form = page.locator("#preparation form")
    form.get_by_label("PRP platelets (/µL)").fill("300000")
    form.get_by_label("Activation agent").select_option("bovine_thrombin")
    form.get_by_role("button", name="Save preparation").click()
    expect(page.locator("[data-flag=bovine_thrombin]")).to_contain_text("immunogenic")
    expect(page.locator("[data-flag=min_fold]")).to_contain_text("barely concentrated")
    expect(page.locator("#labels")).not_to_contain_text("clinical-facts")
    page.reload()  # opens again
    expect(page.locator("[data-flag=bovine_thrombin]")).to_be_visible()
    page.locator("#preparation form").get_by_role("button", name="Save preparation").click()
    expect(page.locator("[data-flag=min_fold]")).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())  # "Sign and lock this record?"
    page.get_by_role("button", name="Sign and lock").click()
    expect(page.locator("#session-status")).to_contain_text("Signed by a Physician")
    page.reload()
    expect(page.locator("[data-flag=bovine_thrombin]")).to_be_visible()


def test_mesotherapy_refused_at_the_51st_deoxycholic_acid_injection(page, clinic_a, patient_a):
    """Issue 10: the label limits (50 injections, 10 mL, 100 mg per session) are per session,
    summed over every delivery; a delivery recorded by mistake is removed with a confirmation."""
    ready_patient(clinic_a, patient_a)
    consent(clinic_a, patient_a, "mesotherapy_body")
    services.formulation_create(
        actor=clinic_a.actor(clinic_a.physician),
        name="Deoxycholic acid 10 mg/mL",
        vial="single",
        indications=["body_contouring"],
        ingredients=[
            {
                "name": "Deoxycholic acid",
                "code": "deoxycholic_acid",
                "concentration": Decimal("10"),
                "unit": "mg_per_mL",
            }
        ],
    )
    login(page, "a.nurse")
    page.goto(f"/patients/{patient_a.pk}/")
    page.get_by_label("Start session for").select_option("mesotherapy_body")
    page.get_by_role("button", name="Start session").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Mesotherapy")

    def deliver(points: str, area: str) -> None:
        d = page.locator("#meso-add")
        d.get_by_label("Formulation").select_option(label="Deoxycholic acid 10 mg/mL")
        d.locator("#meso_zone").select_option("submental")
        d.get_by_label("Technique (depth)").select_option("point_by_point")
        d.get_by_label("Delivery").select_option("needle")
        d.get_by_label("Injection points").fill(points)
        d.get_by_label("Volume per point (mL)").fill("0.2")
        d.get_by_label("Area treated (cm²)").fill(area)
        d.get_by_role("button", name="Record delivery").click()

    deliver("50", "50")  # the label maximum: 50 × 0.2 mL = 10 mL = 100 mg over 50 cm²
    expect(page.locator("#meso-totals")).to_contain_text("50")
    expect(page.locator("#meso-totals")).to_contain_text("100 mg")
    deliver("1", "50")  # the 51st injection
    expect(page.locator("#meso-add [role=alert]")).to_contain_text(
        "51 deoxycholic acid injections in this session exceed the label limit of 50 per session."
    )
    expect(page.locator("#meso-deliveries tbody tr")).to_have_count(1)

    # Removing the 50 (recorded by mistake) needs a confirmation; then 20 go through.
    row = page.locator("#meso-deliveries tbody tr").first
    row.get_by_role("button", name="Remove").click()  # not confirmed: the browser asks
    expect(page.locator("#meso-deliveries tbody tr")).to_have_count(1)
    row.get_by_label("Yes, remove this delivery").check()
    row.get_by_role("button", name="Remove").click()
    expect(page.get_by_text("Mesotherapy delivery removed.")).to_be_visible()
    expect(page.locator("#meso-deliveries")).to_have_count(0)
    deliver("20", "20")
    expect(page.locator("#meso-deliveries tbody tr")).to_have_count(1)


def test_lot_refused_for_an_allergic_patient_then_recorded_with_a_physicians_reason(
    page, clinic_a, patient_a
):
    from anagen.procedures.tests.helpers import start

    ready_patient(clinic_a, patient_a)
    session = start(clinic_a, patient_a)
    record_intake(clinic_a, patient_a, allergies=[{"substance": "Lidocaine", "reaction": "hives"}])
    lot = make_lot(clinic_a, name="EMLA 5 % cream", category="anaesthetic_cream", number="E-7")
    login(page, "a.physician")
    page.goto(f"/patients/{patient_a.pk}/sessions/{session.pk}/")
    lots = page.locator("#lots form")
    lots.locator("#lotuse_lot").select_option(str(lot.pk))
    lots.get_by_role("button", name="Record lot").click()
    expect(lots.get_by_role("alert")).to_contain_text(
        "Allergy to Lidocaine (hives): EMLA 5 % cream (lot E-7) is a local anaesthetic"
    )
    expect(page.locator("#lot-uses")).to_have_count(0)
    lots = page.locator("#lots form")
    lots.locator("#lotuse_lot").select_option(str(lot.pk))
    lots.get_by_label("Physician's reason to use it despite the allergy").fill(
        "Patch test negative; the reaction was to the dressing."
    )
    lots.get_by_role("button", name="Record lot").click()
    expect(page.locator("#lot-uses")).to_contain_text("E-7")
    expect(page.locator("#lot-uses .allergy-override")).to_contain_text(
        "Patch test negative; the reaction was to the dressing."
    )
