"""Front desk sells a package and takes a part payment; a signed session uses one package
session; the clinic admin credits a line and refunds its payment, then credits an unused
package session. The chart's balance and package status agree at every step."""

import pytest
from playwright.sync_api import expect

from anagen.billing.tests.helpers import package, prices
from anagen.procedures import services as procedures
from anagen.procedures.tests.helpers import complete_prp, ready_patient, start
from conftest import make_patient
from e2e.conftest import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_package_sold_paid_in_part_used_on_signing_then_credited_and_refunded(page, clinic_a):
    clinic_a.clinic.currency = "USD"
    clinic_a.clinic.save(update_fields=["currency"])
    prices(clinic_a)
    package(clinic_a)
    patient = make_patient(clinic_a)

    login(page, "a.front_desk")
    page.goto(f"/patients/{patient.pk}/")
    expect(page.locator("#balance")).to_contain_text("Nothing owed")
    page.get_by_role("link", name="Open account").click()
    page.locator("#id_package").select_option(
        label="PRP for androgenetic alopecia: 3 monthly sessions — 3 sessions, $2,400.00"
    )
    page.get_by_role("button", name="Sell and invoice").click()
    expect(page.get_by_text("its invoice is issued")).to_be_visible()
    expect(page.locator("#balance")).to_contain_text("Owes $2,400.00")
    page.locator("#invoices").get_by_role("link", name="INV-A-000001").click()
    page.get_by_label("Amount").fill("1000")
    page.get_by_label("Method").select_option("card")
    page.get_by_role("button", name="Take payment").click()
    expect(page.locator("h1")).to_contain_text("Part paid")
    expect(page.locator("#due")).to_contain_text("$1,400.00")
    page.goto(f"/patients/{patient.pk}/")
    expect(page.locator("#balance")).to_contain_text("Owes $1,400.00")
    expect(page.locator("#package-status")).to_contain_text("3 of 3 sessions left")

    # The physician signs a session record: one package session is used, once.
    ready_patient(clinic_a, patient)
    session = complete_prp(clinic_a, start(clinic_a, patient))
    procedures.session_sign(actor=clinic_a.actor(clinic_a.physician), session=session)
    page.reload()
    expect(page.locator("#package-status")).to_contain_text("2 of 3 sessions left")
    expect(page.locator("#balance")).to_contain_text("Owes $1,400.00")
    page.get_by_role("button", name="Sign out").click()

    # A consultation invoiced, paid, then credited and refunded by the clinic admin.
    login(page, "a.front_desk")
    page.goto(f"/patients/{patient.pk}/billing/")
    page.get_by_role("button", name="New invoice").click()
    page.get_by_label("Item").select_option("consultation")
    page.get_by_role("button", name="Add line").click()
    page.get_by_role("button", name="Issue invoice").click()
    expect(page.locator("h1")).to_contain_text("INV-A-000002")
    page.get_by_label("Amount").fill("250")
    page.get_by_label("Method").select_option("cash")
    page.get_by_role("button", name="Take payment").click()
    expect(page.locator("h1")).to_contain_text("Paid")
    invoice_url = page.url
    page.get_by_role("button", name="Sign out").click()

    login(page, "a.clinic_admin")
    page.goto(invoice_url)
    credit = page.get_by_role("region", name="Issue a credit note")
    credit.get_by_label("Consultation").check()
    credit.get_by_label("Reason").fill("Consultation waived")
    page.get_by_role("button", name="Issue credit note").click()
    expect(page.locator("h1")).to_contain_text("CN-A-000003")
    page.goto(f"/patients/{patient.pk}/")
    expect(page.locator("#balance")).to_contain_text("Owes $1,150.00")
    page.goto(invoice_url)
    page.locator("#payments").get_by_label("Amount").fill("250")
    page.locator("#payments").get_by_label("Reason").fill("Consultation waived")
    page.locator("#payments").get_by_role("button", name="Refund").click()
    expect(page.get_by_text("Refund recorded.")).to_be_visible()
    page.goto(f"/patients/{patient.pk}/")
    expect(page.locator("#balance")).to_contain_text("Owes $1,400.00")
    expect(page.locator("#package-status")).to_contain_text("2 of 3 sessions left")

    # One unused package session credited (pro rata, $800) by the clinic admin.
    page.goto(f"/patients/{patient.pk}/billing/")
    sessions = page.locator("#package-sales").get_by_label("Sessions")
    sessions.fill("1")
    page.locator("#package-sales").get_by_label("Credit reason").fill("Patient moving abroad")
    page.locator("#package-sales").get_by_role("button", name="Credit").click()
    expect(page.get_by_text("Credit note CN-A-000004 issued")).to_be_visible()
    page.goto(f"/patients/{patient.pk}/")
    expect(page.locator("#package-status")).to_contain_text("1 of 3 sessions left")
    expect(page.locator("#package-status")).to_contain_text("1 credited")
    expect(page.locator("#balance")).to_contain_text("Owes $600.00")


def _chart(page, patient, balance: str, packages: str | None) -> None:
    """The chart's money card: the balance and the package status, as a person reads them."""
    page.goto(f"/patients/{patient.pk}/")
    expect(page.locator("#balance")).to_contain_text(balance)
    if packages is None:
        expect(page.locator("#package-status")).to_have_count(0)
    else:
        expect(page.locator("#package-status")).to_contain_text(packages)


def test_plan_quoted_accepted_deposit_package_used_invoiced_paid_and_unused_session_refunded(
    page, clinic_a
):
    import datetime as dt

    from anagen.billing import services as billing
    from anagen.procedures.tests.helpers import make_lot
    from anagen.scheduling.models import TreatmentPlan

    clinic_a.clinic.currency = "USD"
    clinic_a.clinic.save(update_fields=["currency"])
    prices(clinic_a)
    billing.package_define(
        actor=clinic_a.actor(clinic_a.admin),
        protocol_id="prp-aga-monthly-3-booster",
        price="3200",
        name="PRP AGA: 3 monthly sessions and a booster",
    )
    patient = make_patient(clinic_a)
    # Set-up through the model: the plan (booking its series is the scheduling tests' job).
    TreatmentPlan.objects.create(
        clinic=clinic_a.clinic, patient=patient, protocol_id="prp-aga-monthly-3-booster",
        protocol_name="PRP AGA, 3 monthly and a booster", procedure="prp_scalp",
        start_on=dt.date.today(), created_by=clinic_a.physician,
    )  # fmt: skip

    page.set_default_timeout(30_000)  # a long flow on a shared machine
    expect.set_options(timeout=15_000)
    login(page, "a.front_desk")
    _chart(page, patient, "Nothing owed", None)

    # Quote the plan: the package at its price, a 20 % deposit on acceptance.
    page.get_by_role("link", name="Open account").click()
    page.get_by_role("button", name="Make a quote").click()
    expect(page.locator("#quote-state")).to_have_text("Draft")
    expect(page.locator("#quote-total")).to_have_text("$3,200.00")
    expect(page.locator("#deposit")).to_contain_text("$640.00")
    quote_url = page.url
    _chart(page, patient, "Nothing owed", None)

    # Accepted: the deposit is invoiced and the package is sold (no session used yet).
    page.goto(quote_url)
    page.get_by_role("button", name="Patient accepts: invoice the deposit").click()
    expect(page.locator("#quote-state")).to_have_text("Accepted")
    _chart(page, patient, "Owes $640.00", "4 of 4 sessions left")

    # The deposit paid by card.
    page.goto(quote_url)
    page.get_by_role("link", name="INV-A-000001").click()
    expect(page.locator("#total")).to_have_text("$640.00")
    page.get_by_label("Amount").fill("640")
    page.get_by_label("Method").select_option("card")
    page.get_by_role("button", name="Take payment").click()
    expect(page.locator("h1")).to_contain_text("Paid")
    _chart(page, patient, "Nothing owed", "4 of 4 sessions left")

    # Three session records signed: each uses one package session, once.
    ready_patient(clinic_a, patient)
    lot = make_lot(clinic_a)
    for left in ("3 of 4", "2 of 4", "1 of 4"):
        session = complete_prp(clinic_a, start(clinic_a, patient), lot)
        procedures.session_sign(actor=clinic_a.actor(clinic_a.physician), session=session)
        _chart(page, patient, "Nothing owed", f"{left} sessions left")

    # The final invoice: the package, the deposit paid taken off.
    page.goto(quote_url)
    page.get_by_role("button", name="Issue the final invoice").click()
    expect(page.locator("h1")).to_contain_text("INV-A-000002")
    expect(page.locator("#total")).to_have_text("$3,200.00")
    expect(page.locator("#deposit-applied")).to_contain_text("$640.00")
    expect(page.locator("#due")).to_contain_text("$2,560.00")
    final_url = page.url
    _chart(page, patient, "Owes $2,560.00", "1 of 4 sessions left")

    page.goto(final_url)
    page.get_by_label("Amount").fill("2560")
    page.get_by_label("Method").select_option("card")
    page.get_by_role("button", name="Take payment").click()
    expect(page.locator("h1")).to_contain_text("Paid")
    _chart(page, patient, "Nothing owed", "1 of 4 sessions left")
    page.get_by_role("button", name="Sign out").click()

    # The clinic admin credits the unused booster (pro rata $800) and refunds it to the card.
    login(page, "a.clinic_admin")
    page.goto(f"/patients/{patient.pk}/billing/")
    sales = page.locator("#package-sales")
    expect(sales.get_by_label("Sessions")).to_have_value("1")
    sales.get_by_label("Credit reason").fill("Booster not wanted")
    sales.get_by_role("button", name="Credit").click()
    expect(page.get_by_text("Credit note CN-A-000003 issued")).to_be_visible()
    _chart(page, patient, "Credit on account $800.00", "0 of 4 sessions left (1 credited)")

    page.goto(final_url)
    expect(page.locator("h1")).to_contain_text("Paid")  # over-paid by the $800 credited
    payments = page.locator("#payments")
    payments.get_by_label("Amount").fill("800")
    payments.get_by_label("Reason").fill("Booster not wanted")
    payments.get_by_role("button", name="Refund").click()
    expect(page.get_by_text("Refund recorded.")).to_be_visible()
    _chart(page, patient, "Nothing owed", "0 of 4 sessions left (1 credited)")
    expect(page.locator("#balance")).to_contain_text("refunded $800.00")
