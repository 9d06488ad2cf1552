"""Payments (cash, card, bank transfer, voucher; part payments; overpayment on account) and
refunds against the payment they return."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.accounts.permissions import Perm
from anagen.audit.services import audit_record
from anagen.billing import selectors
from anagen.billing.models import Invoice, InvoiceKind, Payment, PaymentMethod, Refund
from anagen.billing.money import format_money
from anagen.billing.services._common import money_in
from anagen.patients.models import Patient


@transaction.atomic
def payment_record(
    *,
    actor: Actor,
    patient: Patient,
    amount: Any,
    method: str,
    invoice: Invoice | None = None,
    reference: str = "",
) -> Payment:
    """Take a payment, against an invoice or on account. What exceeds the invoice's amount
    due becomes credit on the patient's account."""
    actor.require(Perm.BILLING)
    if patient.clinic_id != actor.clinic.pk:
        raise ValidationError("This patient belongs to another clinic.")
    if method not in PaymentMethod.values:
        raise ValidationError({"method": "Choose cash, card, bank transfer or voucher."})
    reference = (reference or "").strip()[:100]
    if method == PaymentMethod.VOUCHER and not reference:
        raise ValidationError({"reference": "Enter the voucher's code."})
    currency = actor.clinic.currency
    value = money_in(amount, currency, field="amount")
    applied = Decimal(0)
    if invoice is not None:
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if invoice.patient_id != patient.pk:
            raise ValidationError("This invoice is another patient's.")
        if invoice.kind != InvoiceKind.INVOICE or not invoice.is_issued:
            raise ValidationError("Payments go against an issued invoice.")
        currency = invoice.currency
        applied = min(value, max(selectors.invoice_due(invoice), Decimal(0)))
    payment = Payment.objects.create(
        clinic=actor.clinic,
        patient=patient,
        invoice=invoice,
        method=method,
        amount=value,
        applied=applied,
        currency=currency,
        reference=reference,
        received_at=timezone.now(),
        taken_by=actor.user,
    )
    audit_record(
        action="billing.payment.record",
        actor=actor,
        patient=patient,
        obj=payment,
        changes={
            "amount": value,
            "applied": applied,
            "on_account": value - applied,
            "method": method,
            "currency": currency,
            "invoice": invoice.display_number if invoice else "",
        },
    )
    return payment


@transaction.atomic
def refund_record(*, actor: Actor, payment: Payment, amount: Any, reason: str) -> Refund:
    """Give money back against the payment it returns (approved by the clinic admin)."""
    actor.require(Perm.BILLING_APPROVE)
    if payment.clinic_id != actor.clinic.pk:
        raise ValidationError("This payment belongs to another clinic.")
    reason = (reason or "").strip()
    if len(reason) < 5:
        raise ValidationError({"reason": "Give a reason for the refund."})
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    value = money_in(amount, payment.currency, field="amount")
    left = payment.amount - selectors.payment_refunded(payment)
    if value > left:
        raise ValidationError(
            {"amount": f"At most {format_money(left, payment.currency)} of this payment is left."}
        )
    refund = Refund.objects.create(
        payment=payment,
        amount=value,
        reason=reason[:2000],
        approved_by=actor.user,
        refunded_at=timezone.now(),
    )
    audit_record(
        action="billing.refund.record",
        actor=actor,
        patient=payment.patient,
        obj=refund,
        changes={
            "payment": payment.pk,
            "amount": value,
            "currency": payment.currency,
            "reason": reason,
        },
    )
    return refund
