"""Price list, invoices, credit notes, payments and refunds: the rules, through the services."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from anagen.audit.models import AuditEvent
from anagen.billing import selectors, services
from anagen.billing.models import Invoice, InvoiceLine, PriceItem
from anagen.billing.tests.helpers import issued, prices


def test_prices_are_versioned_by_date_and_an_issued_invoice_keeps_its_price(clinic_a, patient_a):
    prices(clinic_a, on=dt.date(2020, 1, 1))
    invoice = issued(clinic_a, patient_a, "prp_scalp")
    assert invoice.total_gross == D("900.00")
    admin = clinic_a.actor(clinic_a.admin)
    services.price_set(
        actor=admin, code="", kind="procedure", name="", procedure="prp_scalp",
        unit_price="1100", valid_from=admin.today(),
    )  # fmt: skip
    assert selectors.price_on(  # type: ignore[union-attr]
        clinic=clinic_a.clinic, code="prp_scalp", on=admin.today()
    ).unit_price == D(1100)
    assert selectors.price_on(  # type: ignore[union-attr]
        clinic=clinic_a.clinic, code="prp_scalp", on=dt.date(2021, 1, 1)
    ).unit_price == D(900)
    invoice.refresh_from_db()
    assert invoice.total_gross == D("900.00")
    assert invoice.lines.get().unit_price == D(900)
    assert PriceItem.objects.filter(code="prp_scalp").count() == 2
    assert AuditEvent.objects.filter(action="billing.price.set").count() == 4


def test_only_the_clinic_admin_manages_prices(clinic_a):
    for user in (clinic_a.front_desk, clinic_a.physician, clinic_a.nurse):
        with pytest.raises(PermissionDenied):
            services.price_set(
                actor=clinic_a.actor(user), code="x", kind="product", name="X",
                unit_price="1", valid_from=dt.date(2020, 1, 1),
            )  # fmt: skip


def test_bad_amounts_are_clear_errors(clinic_a):
    admin = clinic_a.actor(clinic_a.admin)
    for bad, words in [("abc", "Enter an amount"), ("1.234", "decimal places"), ("-5", "more")]:
        with pytest.raises(ValidationError, match=words):
            services.price_set(
                actor=admin, code="x", kind="product", name="X", unit_price=bad,
                valid_from=dt.date(2020, 1, 1),
            )  # fmt: skip


def test_invoice_numbers_are_per_clinic_contiguous_and_only_on_issue(
    clinic_a, clinic_b, patient_a, patient_b
):
    prices(clinic_a)
    prices(clinic_b)
    desk = clinic_a.actor(clinic_a.front_desk)
    draft = services.invoice_create(actor=desk, patient=patient_a)
    services.invoice_add_line(actor=desk, invoice=draft, code="consultation")
    assert draft.number is None
    one = issued(clinic_a, patient_a)
    two = issued(clinic_a, patient_a, "prp_scalp", "minoxidil")
    other = issued(clinic_b, patient_b)
    assert (one.number, two.number, other.number) == (1, 2, 1)
    assert one.display_number == "INV-A-000001"
    # 900 + 45.50 + 8.875 % of 45.50 (4.04) = 949.54
    assert (two.total_net, two.total_tax, two.total_gross) == (D("945.50"), D("4.04"), D("949.54"))


def test_an_issued_invoice_cannot_change(clinic_a, patient_a):
    prices(clinic_a)
    invoice = issued(clinic_a, patient_a)
    desk = clinic_a.actor(clinic_a.front_desk)
    with pytest.raises(ValidationError, match="credit note"):
        services.invoice_add_line(actor=desk, invoice=invoice, code="prp_scalp")
    with pytest.raises(ValidationError, match="credit note"):
        services.invoice_remove_line(actor=desk, invoice=invoice, line_id=invoice.lines.get().pk)
    with pytest.raises(ValidationError, match="credit note"):
        services.invoice_issue(actor=desk, invoice=invoice)


def test_the_database_refuses_an_issued_invoice_without_number_or_with_wrong_totals(
    clinic_a, patient_a
):
    prices(clinic_a)
    invoice = issued(clinic_a, patient_a)
    with pytest.raises(IntegrityError), transaction.atomic():
        Invoice.objects.filter(pk=invoice.pk).update(number=None)
    with pytest.raises(IntegrityError), transaction.atomic():
        Invoice.objects.filter(pk=invoice.pk).update(total_gross=D(1))
    with pytest.raises(IntegrityError), transaction.atomic():
        InvoiceLine.objects.filter(invoice=invoice).update(gross=D(1))


def test_credit_note_takes_lines_back_once_and_needs_the_admin(clinic_a, patient_a):
    prices(clinic_a)
    invoice = issued(clinic_a, patient_a, "consultation", "prp_scalp")
    line = invoice.lines.get(procedure="prp_scalp")
    with pytest.raises(PermissionDenied):
        services.credit_note_issue(
            actor=clinic_a.actor(clinic_a.front_desk), invoice=invoice, line_ids=[line.pk],
            reason="Session not performed",
        )  # fmt: skip
    admin = clinic_a.actor(clinic_a.admin)
    note = services.credit_note_issue(
        actor=admin, invoice=invoice, line_ids=[line.pk], reason="Session not performed"
    )
    assert note.number == 2 and note.display_number == "CN-A-000002"
    assert note.total_gross == D(900) and note.corrects == invoice
    assert selectors.invoice_due(invoice) == D(250)
    with pytest.raises(ValidationError, match="already been credited"):
        services.credit_note_issue(
            actor=admin, invoice=invoice, line_ids=[line.pk], reason="Session not performed"
        )
    assert AuditEvent.objects.filter(action="billing.credit_note.issue").count() == 1


def test_part_payment_overpayment_credit_and_refund(clinic_a, patient_a):
    prices(clinic_a)
    invoice = issued(clinic_a, patient_a, "prp_scalp")  # $900
    desk = clinic_a.actor(clinic_a.front_desk)
    services.payment_record(
        actor=desk, patient=patient_a, invoice=invoice, amount="400", method="card"
    )
    assert selectors.invoice_state(invoice) == "Part paid"
    assert selectors.invoice_due(invoice) == D(500)
    over = services.payment_record(
        actor=desk, patient=patient_a, invoice=invoice, amount="600", method="cash"
    )
    assert over.applied == D(500) and over.on_account == D(100)
    assert selectors.invoice_state(invoice) == "Paid"
    account = selectors.patient_account(actor=desk, patient=patient_a)
    assert account.balance == D(-100) and account.credit == D(100)
    with pytest.raises(PermissionDenied):
        services.refund_record(actor=desk, payment=over, amount="100", reason="Overpaid")
    admin = clinic_a.actor(clinic_a.admin)
    with pytest.raises(ValidationError, match=r"At most £600\.00"):
        services.refund_record(actor=admin, payment=over, amount="700", reason="Overpaid")
    services.refund_record(actor=admin, payment=over, amount="100", reason="Overpaid change")
    account = selectors.patient_account(actor=desk, patient=patient_a)
    assert account.balance == D(0)
    assert selectors.invoice_state(invoice) == "Paid"  # the refund came out of the credit
    assert AuditEvent.objects.filter(action="billing.payment.record").count() == 2
    assert AuditEvent.objects.filter(action="billing.refund.record").count() == 1


def test_a_voucher_needs_its_code_and_methods_are_a_closed_list(clinic_a, patient_a):
    desk = clinic_a.actor(clinic_a.front_desk)
    with pytest.raises(ValidationError, match="voucher"):
        services.payment_record(actor=desk, patient=patient_a, amount="50", method="voucher")
    with pytest.raises(ValidationError, match="Choose"):
        services.payment_record(actor=desk, patient=patient_a, amount="50", method="bitcoin")
    p = services.payment_record(
        actor=desk, patient=patient_a, amount="50", method="voucher", reference="GIFT-1"
    )
    assert p.invoice is None and p.on_account == D(50)


def test_clinicians_do_not_take_payments_or_read_the_ledger(clinic_a, patient_a):
    for user in (clinic_a.physician, clinic_a.nurse):
        actor = clinic_a.actor(user)
        with pytest.raises(PermissionDenied):
            services.payment_record(actor=actor, patient=patient_a, amount="5", method="cash")
        with pytest.raises(PermissionDenied):
            selectors.patient_account(actor=actor, patient=patient_a)


def test_the_account_costs_the_same_queries_whatever_the_history(clinic_a, patient_a):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    prices(clinic_a)
    desk = clinic_a.actor(clinic_a.front_desk)

    def cost() -> int:
        with CaptureQueriesContext(connection) as ctx:
            account = selectors.patient_account(actor=desk, patient=patient_a)
            [row.state for row in account.invoices]
        return len(ctx.captured_queries)

    invoice = issued(clinic_a, patient_a)
    services.payment_record(
        actor=desk, patient=patient_a, invoice=invoice, amount="100", method="cash"
    )
    few = cost()
    for _ in range(4):
        more = issued(clinic_a, patient_a, "prp_scalp")
        services.payment_record(
            actor=desk, patient=patient_a, invoice=more, amount="100", method="card"
        )
    assert cost() == few
    states = [r.state for r in selectors.patient_account(actor=desk, patient=patient_a).invoices]
    assert states == ["Part paid"] * 4 + ["Part paid"]
