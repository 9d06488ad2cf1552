"""Billing pages as each role: what they show, what they refuse, and never a 500."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from django.urls import reverse

from anagen.billing import services
from anagen.billing.models import Invoice, Payment, PriceItem
from anagen.billing.tests.helpers import issued, package, prices


@pytest.fixture
def money_a(clinic_a, patient_a):
    clinic_a.clinic.currency = "USD"
    clinic_a.clinic.save(update_fields=["currency"])
    prices(clinic_a)
    services.package_sell(
        actor=clinic_a.actor(clinic_a.front_desk), patient=patient_a, package=package(clinic_a)
    )
    invoice = issued(clinic_a, patient_a, "prp_scalp")
    services.payment_record(
        actor=clinic_a.actor(clinic_a.front_desk), patient=patient_a, invoice=invoice,
        amount="400", method="card",
    )  # fmt: skip
    return invoice


def test_chart_card_shows_balance_to_front_desk_and_packages_to_clinicians(
    clinic_a, patient_a, money_a
):
    url = reverse("patient-detail", args=[patient_a.pk])
    desk = clinic_a.client(clinic_a.front_desk).get(url).content.decode()
    assert "Owes <strong>$2,900.00</strong>" in desk  # 2400 + 900 - 400
    assert "3 of 3 sessions left" in desk
    nurse = clinic_a.client(clinic_a.nurse).get(url).content.decode()
    assert "3 of 3 sessions left" in nurse
    assert "$2,900.00" not in nurse and "Open account" not in nurse


def test_every_billing_page_renders_for_each_role_without_a_server_error(
    clinic_a, patient_a, money_a
):
    pages = [
        reverse("billing-home"),
        reverse("billing-prices"),
        reverse("billing-patient", args=[patient_a.pk]),
        reverse("billing-invoice", args=[money_a.pk]),
    ]
    expected = {
        clinic_a.front_desk: [200, 403, 200, 200],
        clinic_a.admin: [200, 200, 200, 200],
        clinic_a.physician: [403, 403, 403, 403],
        clinic_a.nurse: [403, 403, 403, 403],
    }
    for user, codes in expected.items():
        client = clinic_a.client(user)
        assert [client.get(u).status_code for u in pages] == codes, user


def test_another_clinics_invoice_and_payment_are_404(clinic_a, clinic_b, patient_b):
    prices(clinic_b)
    invoice = issued(clinic_b, patient_b)
    payment = services.payment_record(
        actor=clinic_b.actor(clinic_b.front_desk), patient=patient_b, invoice=invoice,
        amount="10", method="cash",
    )  # fmt: skip
    client = clinic_a.client(clinic_a.admin)
    assert client.get(reverse("billing-invoice", args=[invoice.pk])).status_code == 404
    assert client.post(reverse("billing-invoice-pay", args=[invoice.pk])).status_code == 404
    refund = reverse("billing-payment-refund", args=[payment.pk])
    assert client.post(refund, {"refund-amount": "1", "refund-reason": "x"}).status_code == 404
    assert client.get(reverse("billing-invoice", args=[99999999999999999999])).status_code == 404


def test_front_desk_drafts_issues_and_takes_payment_through_the_pages(clinic_a, patient_a):
    prices(clinic_a)
    client = clinic_a.client(clinic_a.front_desk)
    r = client.post(reverse("billing-invoice-new", args=[patient_a.pk]))
    invoice = Invoice.objects.get()
    assert r.status_code == 302 and r.url == reverse("billing-invoice", args=[invoice.pk])
    bad = client.post(reverse("billing-invoice-line-add", args=[invoice.pk]), {"code": "nope"})
    assert bad.status_code == 400
    client.post(
        reverse("billing-invoice-line-add", args=[invoice.pk]),
        {"code": "minoxidil", "quantity": "3"},
    )
    client.post(reverse("billing-invoice-issue", args=[invoice.pk]))
    invoice.refresh_from_db()
    assert invoice.number == 1 and invoice.total_gross == D("148.61")
    page = client.get(reverse("billing-invoice", args=[invoice.pk])).content.decode()
    assert "INV-A-000001" in page and "£148.61" in page and "8.875 %" in page
    r = client.post(
        reverse("billing-invoice-pay", args=[invoice.pk]), {"amount": "abc", "method": "cash"}
    )
    assert r.status_code == 400
    client.post(
        reverse("billing-invoice-pay", args=[invoice.pk]), {"amount": "150", "method": "cash"}
    )
    pay = Payment.objects.get()
    assert pay.applied == D("148.61") and pay.on_account == D("1.39")
    # the front desk cannot refund; the admin can, with a reason
    refund = reverse("billing-payment-refund", args=[pay.pk])
    assert (
        client.post(refund, {"refund-amount": "1.39", "refund-reason": "Change"}).status_code == 403
    )
    admin = clinic_a.client(clinic_a.admin)
    admin.post(refund, {"refund-amount": "1.39", "refund-reason": "Change given back"})
    assert pay.refunds.get().amount == D("1.39")


def test_admin_sets_prices_and_packages_on_the_page(clinic_a):
    client = clinic_a.client(clinic_a.admin)
    url = reverse("billing-prices")
    r = client.post(
        url,
        {"kind": "procedure", "procedure": "prp_face", "name": "", "unit_price": "1000",
         "tax_rate": "0", "valid_from": "2026-01-01"},
    )  # fmt: skip
    assert r.status_code == 302
    assert PriceItem.objects.get().name == "PRP injection, face"
    bad = client.post(
        url, {"kind": "product", "name": "X", "unit_price": "-1", "tax_rate": "0",
              "valid_from": "2026-01-01"},
    )  # fmt: skip
    assert bad.status_code == 400
    r = client.post(
        url, {"protocol_id": "prp-aga-monthly-3", "price": "2400", "validity_days": "365",
              "tax_rate": "0"},
    )  # fmt: skip
    assert r.status_code == 302
    page = client.get(url).content.decode()
    assert "£1,000.00" in page and "£2,400.00" in page


def test_credit_note_through_the_page(clinic_a, patient_a):
    prices(clinic_a)
    invoice = issued(clinic_a, patient_a, "consultation", "prp_scalp")
    line = invoice.lines.get(procedure="prp_scalp")
    admin = clinic_a.client(clinic_a.admin)
    url = reverse("billing-invoice-credit", args=[invoice.pk])
    assert admin.post(url, {"line_ids": [line.pk], "reason": ""}).status_code == 400
    r = admin.post(url, {"line_ids": [line.pk], "reason": "Session not performed"})
    note = Invoice.objects.get(kind="credit_note")
    assert r.status_code == 302 and note.number == 2
    page = admin.get(reverse("billing-invoice", args=[invoice.pk])).content.decode()
    assert "CN-A-000002" in page and "Due: <strong>£250.00</strong>" in page
