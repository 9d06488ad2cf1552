"""Quotes from plans, the deposit on acceptance and the final invoice; invoice PDFs."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal as D

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from anagen.accounts.testing import sign_in
from anagen.audit.models import AuditEvent
from anagen.billing import selectors, services
from anagen.billing.tests.helpers import issued, package, prices
from anagen.scheduling.models import TreatmentPlan


def _plan(staff, patient) -> TreatmentPlan:
    return TreatmentPlan.objects.create(
        clinic=staff.clinic, patient=patient, protocol_id="prp-aga-monthly-3",
        protocol_name="PRP AGA", procedure="prp_scalp", start_on=dt.date(2026, 1, 5),
        created_by=staff.physician,
    )  # fmt: skip


def test_quote_is_sessions_times_todays_price_and_valid_30_days(clinic_a, patient_a):
    prices(clinic_a)
    desk = clinic_a.actor(clinic_a.front_desk)
    quote = services.quote_from_plan(actor=desk, plan=_plan(clinic_a, patient_a))
    line = quote.lines.get()
    assert (line.quantity, line.unit_price, line.gross) == (D(3), D(900), D("2700.00"))
    assert quote.total_gross == D("2700.00")  # 3 sessions × 900
    assert quote.valid_until == desk.today() + dt.timedelta(days=30)
    assert services.quote_state(quote, desk.today()) == "Draft"
    assert services.quote_state(quote, quote.valid_until + dt.timedelta(days=1)) == "Expired"
    assert AuditEvent.objects.filter(action="billing.quote.create").count() == 1


def test_quote_uses_the_package_price_when_a_package_exists(clinic_a, patient_a):
    prices(clinic_a)
    package(clinic_a, "2400")
    quote = services.quote_from_plan(
        actor=clinic_a.actor(clinic_a.front_desk), plan=_plan(clinic_a, patient_a)
    )
    assert quote.lines.get().package is not None
    assert quote.total_gross == D("2400.00")


def test_accept_invoices_the_deposit_and_the_final_invoice_takes_it_off(clinic_a, patient_a):
    prices(clinic_a)
    desk = clinic_a.actor(clinic_a.front_desk)
    quote = services.quote_from_plan(actor=desk, plan=_plan(clinic_a, patient_a))
    services.quote_send(actor=desk, quote=quote)
    quote = services.quote_accept(actor=desk, quote=quote)
    deposit = quote.deposit_invoice
    assert deposit is not None and deposit.is_issued
    assert deposit.total_gross == D("540.00")  # 20 % of 2700
    services.payment_record(
        actor=desk, patient=patient_a, amount="540", method="card", invoice=deposit
    )
    final = services.quote_invoice(actor=desk, quote=quote)
    assert final.total_gross == D("2700.00")
    assert final.deposit_applied == D("540.00")
    assert selectors.invoice_due(final) == D("2160.00")
    assert selectors.invoice_state(final) == "Unpaid"  # nothing paid beyond the deposit
    account = selectors.patient_balance(actor=desk, patient=patient_a)
    # invoiced 540 + 2700, deposit carried 540, paid 540: owes 2160, the final invoice's due.
    assert account.balance == D("2160.00")
    assert selectors.invoice_due(deposit) == D(0)
    with pytest.raises(ValidationError):
        services.quote_invoice(actor=desk, quote=quote)
    with pytest.raises(ValidationError):
        services.quote_accept(actor=desk, quote=quote)
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"billing.quote.send", "billing.quote.accept", "billing.quote.invoice"} <= actions


def test_deposit_percentage_is_the_clinics_and_a_part_paid_deposit_counts_as_paid(
    clinic_a, patient_a
):
    prices(clinic_a)
    services.settings_update(actor=clinic_a.actor(clinic_a.admin), deposit_percent="25")
    desk = clinic_a.actor(clinic_a.front_desk)
    quote = services.quote_accept(
        actor=desk, quote=services.quote_from_plan(actor=desk, plan=_plan(clinic_a, patient_a))
    )
    assert quote.deposit_invoice.total_gross == D("675.00")  # type: ignore[union-attr]  # 25 % of 2700
    services.payment_record(
        actor=desk, patient=patient_a, amount="100", method="cash", invoice=quote.deposit_invoice
    )
    final = services.quote_invoice(actor=desk, quote=quote)
    assert final.deposit_applied == D("100.00")
    assert selectors.invoice_due(final) == D("2600.00")
    account = selectors.patient_balance(actor=desk, patient=patient_a)
    assert account.balance == D("3175.00")  # 575 still due on the deposit + 2600


def test_expired_quote_cannot_be_accepted_and_settings_are_the_admins(clinic_a, patient_a):
    prices(clinic_a)
    desk = clinic_a.actor(clinic_a.front_desk)
    quote = services.quote_from_plan(actor=desk, plan=_plan(clinic_a, patient_a))
    quote.valid_until = desk.today() - dt.timedelta(days=1)
    quote.save()
    with pytest.raises(ValidationError):
        services.quote_accept(actor=desk, quote=quote)
    with pytest.raises(PermissionDenied):
        services.settings_update(actor=desk, deposit_percent="10")
    with pytest.raises(ValidationError):
        services.settings_update(actor=clinic_a.actor(clinic_a.admin), deposit_percent="120")
    with pytest.raises(PermissionDenied):
        services.quote_from_plan(
            actor=clinic_a.actor(clinic_a.nurse), plan=_plan(clinic_a, patient_a)
        )


def test_quote_pages_from_the_patient_account(client, clinic_a, patient_a):
    prices(clinic_a)
    plan = _plan(clinic_a, patient_a)
    client.force_login(clinic_a.front_desk)
    page = client.get(reverse("billing-patient", args=[patient_a.pk]))
    assert page.status_code == 200 and "Make a quote" in page.content.decode()
    r = client.post(reverse("billing-quote-new", args=[patient_a.pk]), {"plan": plan.pk})
    assert r.status_code == 302
    quote_url = r["Location"]
    body = client.get(quote_url).content.decode()
    assert "£2,700.00" in body and "£540.00" in body and "print.css" in body
    quote_id = int(quote_url.rstrip("/").split("/")[-1])
    r = client.post(reverse("billing-quote-accept", args=[quote_id]))
    assert r.status_code == 302
    assert "Accepted" in client.get(quote_url).content.decode()
    r = client.post(reverse("billing-quote-invoice", args=[quote_id]))
    assert r.status_code == 302 and "/billing/invoices/" in r["Location"]
    client.force_login(clinic_a.nurse)
    assert client.get(quote_url).status_code == 403
    sign_in(client, clinic_a.admin)  # a clinic admin passes two-factor sign-in
    r = client.post(
        reverse("billing-settings"),
        {"deposit_percent": "30", "legal_name": "Hair Ltd", "legal_address": "1 Main St",
         "tax_id": "GB123"},
    )  # fmt: skip
    assert r.status_code == 302
    assert selectors.billing_settings(clinic_a.clinic).deposit_percent == D(30)  # type: ignore[union-attr]


def test_invoice_pdf_has_the_number_totals_and_tax_id(client, clinic_a, patient_a):
    from pypdf import PdfReader

    prices(clinic_a)
    services.settings_update(
        actor=clinic_a.actor(clinic_a.admin), legal_name="Anagen Hair Clinic LLC",
        legal_address="12 Main Street", tax_id="US-12-3456789",
    )  # fmt: skip
    invoice = issued(clinic_a, patient_a, "consultation", "minoxidil")
    # 250 + 45.50 net; tax 8.875 % of 45.50 = 4.038 -> 4.04; gross 299.54
    assert (invoice.total_net, invoice.total_tax, invoice.total_gross) == (
        D("295.50"), D("4.04"), D("299.54"),
    )  # fmt: skip
    client.force_login(clinic_a.front_desk)
    page = client.get(reverse("billing-invoice", args=[invoice.pk])).content.decode()
    assert reverse("billing-invoice-pdf", args=[invoice.pk]) in page
    r = client.get(reverse("billing-invoice-pdf", args=[invoice.pk]))
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(r.content)).pages)
    for expected in (invoice.display_number, "£295.50", "£4.04", "£299.54", "US-12-3456789",
                     "Anagen Hair Clinic LLC"):  # fmt: skip
        assert expected in text


def test_demo_has_an_accepted_quote_with_its_deposit_paid(db):
    from anagen.billing.models import BillingSettings, Quote
    from anagen.demo import seed_demo

    seed_demo()
    assert BillingSettings.objects.exclude(tax_id="").exists()
    assert Quote.objects.exists()
    for quote in Quote.objects.all():
        assert quote.status == "accepted" and quote.deposit_invoice is not None
        assert selectors.invoice_due(quote.deposit_invoice) == D(0)
