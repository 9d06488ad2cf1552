"""Invoices and credit notes: drafts with priced lines, one gap-free number per clinic on issue.

An issued document never changes (the services refuse, the database checks its number, date
and totals); a correction is a credit note, which is numbered in the same sequence.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.accounts.models import Clinic
from anagen.accounts.permissions import Perm
from anagen.audit.services import audit_record
from anagen.billing import selectors
from anagen.billing.models import (
    Invoice,
    InvoiceCounter,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    PackageSale,
    PriceItem,
)
from anagen.billing.money import line_amounts
from anagen.patients.models import Patient
from anagen.serialised_writes import serialised

LOCKED = "An issued invoice cannot be changed; issue a credit note to correct it."


def _check(actor: Actor, invoice: Invoice, perm: Perm = Perm.BILLING) -> None:
    actor.require(perm)
    if invoice.clinic_id != actor.clinic.pk:
        raise ValidationError("This invoice belongs to another clinic.")


@transaction.atomic
def invoice_create(*, actor: Actor, patient: Patient) -> Invoice:
    """A draft invoice for a patient: no number until it is issued."""
    actor.require(Perm.BILLING)
    if patient.clinic_id != actor.clinic.pk:
        raise ValidationError("This patient belongs to another clinic.")
    invoice = Invoice.objects.create(
        clinic=actor.clinic, patient=patient, currency=actor.clinic.currency, created_by=actor.user
    )
    audit_record(
        action="billing.invoice.create", actor=actor, patient=patient, obj=invoice, changes={}
    )
    return invoice


@transaction.atomic
def invoice_draft(
    *, actor: Actor, patient: Patient, lines: Iterable[tuple[str, Any]] = ()
) -> Invoice:
    """A draft invoice with its lines (price-list code, quantity) at today's prices."""
    invoice = invoice_create(actor=actor, patient=patient)
    for position, (code, quantity) in enumerate(lines):
        try:
            invoice_add_line(actor=actor, invoice=invoice, code=code, quantity=quantity)
        except ValidationError as exc:
            if not hasattr(exc, "error_dict"):
                raise
            raise ValidationError(
                {f"lines.{position}.{k}": v for k, v in exc.message_dict.items()}
            ) from None
    return invoice


def _quantity(value: Any) -> Decimal:
    try:
        q = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationError({"quantity": "Enter a quantity, e.g. 1."}) from None
    if not q.is_finite() or q <= 0 or q > 1000 or q.as_tuple().exponent < -3:  # type: ignore[operator]
        raise ValidationError({"quantity": "A quantity is more than 0 and at most 1000."})
    return q


def _add_line(
    invoice: Invoice,
    *,
    description: str,
    quantity: Decimal,
    unit_price: Decimal,
    tax_rate: Decimal,
    tax_inclusive: bool,
    price_item: PriceItem | None = None,
    package_sale: PackageSale | None = None,
    procedure: str = "",
    credits_line: InvoiceLine | None = None,
) -> InvoiceLine:
    amounts = line_amounts(
        quantity=quantity,
        unit_price=unit_price,
        tax_rate=tax_rate,
        tax_inclusive=tax_inclusive,
        currency=invoice.currency,
    )
    position = (
        invoice.lines.order_by("-position").values_list("position", flat=True).first() or 0
    ) + 1
    return InvoiceLine.objects.create(
        invoice=invoice,
        position=position,
        price_item=price_item,
        package_sale=package_sale,
        procedure=procedure,
        credits_line=credits_line,
        description=description[:300],
        quantity=quantity,
        unit_price=unit_price,
        tax_rate=tax_rate,
        tax_inclusive=tax_inclusive,
        net=amounts.net,
        tax=amounts.tax,
        gross=amounts.gross,
    )


def _lock_draft(invoice: Invoice) -> Invoice:
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.status != InvoiceStatus.DRAFT:
        raise ValidationError(LOCKED)
    return invoice


@transaction.atomic
def invoice_add_line(
    *, actor: Actor, invoice: Invoice, code: str, quantity: Any = 1
) -> InvoiceLine:
    """Add an item at today's price (clinic date); the line keeps that price for good."""
    _check(actor, invoice)
    invoice = _lock_draft(invoice)
    item = selectors.price_on(clinic=actor.clinic, code=code, on=actor.today())
    if item is None:
        raise ValidationError({"code": "Choose an item from the price list."})
    line = _add_line(
        invoice,
        description=item.name,
        quantity=_quantity(quantity),
        unit_price=item.unit_price,
        tax_rate=item.tax_rate,
        tax_inclusive=item.tax_inclusive,
        price_item=item,
        procedure=item.procedure,
    )
    audit_record(
        action="billing.invoice.line_add",
        actor=actor,
        patient=invoice.patient,
        obj=invoice,
        changes={"line": line.description, "quantity": line.quantity, "gross": line.gross},
    )
    return line


@transaction.atomic
def invoice_remove_line(*, actor: Actor, invoice: Invoice, line_id: int) -> None:
    _check(actor, invoice)
    invoice = _lock_draft(invoice)
    line = invoice.lines.filter(pk=line_id).first()
    if line is None:
        raise ValidationError("No such line on this invoice.")
    if line.package_sale_id is not None:
        raise ValidationError("A package's line goes with the package.")
    audit_record(
        action="billing.invoice.line_remove",
        actor=actor,
        patient=invoice.patient,
        obj=invoice,
        changes={"line": line.description, "gross": line.gross},
    )
    line.delete()  # a draft's line: nothing issued is ever deleted


def _counter(clinic: Clinic) -> None:
    """Make sure the clinic's counter row exists (a race to create it is harmless)."""
    if not InvoiceCounter.objects.filter(clinic=clinic).exists():
        try:
            with transaction.atomic():
                InvoiceCounter.objects.create(clinic=clinic)
        except IntegrityError:
            pass


def _next_number(clinic: Clinic) -> int:
    """The next number of the clinic's one sequence: the counter row is locked until commit,
    so concurrent issues queue on it and numbers are unique and contiguous (a rolled-back
    issue rolls its number back too)."""
    counter = InvoiceCounter.objects.select_for_update().get(clinic=clinic)
    counter.last_number += 1
    counter.save(update_fields=["last_number"])
    return counter.last_number


def _stamp(actor: Actor, invoice: Invoice) -> Invoice:
    lines = list(invoice.lines.all())
    if not lines:
        raise ValidationError("Add at least one line before issuing.")
    invoice.total_net = sum((x.net for x in lines), Decimal(0))
    invoice.total_tax = sum((x.tax for x in lines), Decimal(0))
    invoice.total_gross = sum((x.gross for x in lines), Decimal(0))
    invoice.number = _next_number(actor.clinic)
    invoice.status = InvoiceStatus.ISSUED
    invoice.issued_by = actor.user
    invoice.issued_at = timezone.now()
    invoice.issue_date = actor.today()
    invoice.save()
    _email_when_consented(invoice, actor)
    return invoice


def _email_when_consented(invoice: Invoice, actor: Actor) -> None:
    """Every issued document (invoice, deposit, package sale, final, credit note) is emailed
    by the task worker once the issue commits, if the patient consented to email."""
    patient = invoice.patient
    if patient.email and patient.email_reminders:
        invoice_id, user_id = invoice.pk, actor.user.pk
        transaction.on_commit(lambda: _enqueue_email(invoice_id, user_id))


@serialised
def invoice_issue(*, actor: Actor, invoice: Invoice) -> Invoice:
    """Number and lock a draft. Numbers come from the clinic's counter row, locked."""
    _check(actor, invoice)
    _counter(actor.clinic)
    with transaction.atomic():
        invoice = _lock_draft(invoice)
        invoice = _stamp(actor, invoice)
        audit_record(
            action="billing.invoice.issue",
            actor=actor,
            patient=invoice.patient,
            obj=invoice,
            changes={
                "number": invoice.display_number,
                "total_gross": invoice.total_gross,
                "currency": invoice.currency,
            },
        )
    return invoice


def _enqueue_email(invoice_id: int, user_id: int) -> None:
    from anagen.billing.tasks import email_invoice

    email_invoice.enqueue(invoice_id, user_id)


@transaction.atomic
def invoice_pdf_read(*, actor: Actor, invoice: Invoice) -> bytes:
    """An issued document's PDF for a person or a client: the read is audited."""
    from anagen.billing.pdf import invoice_pdf_bytes

    _check(actor, invoice)
    if not invoice.is_issued:
        raise ValidationError("A draft has no PDF; issue it first.")
    pdf = invoice_pdf_bytes(actor=actor, invoice=invoice)
    audit_record(
        action="billing.invoice.pdf",
        actor=actor,
        patient=invoice.patient,
        obj=invoice,
        changes={"number": invoice.display_number},
    )
    return pdf


@serialised
def credit_note_issue(
    *, actor: Actor, invoice: Invoice, line_ids: Iterable[int] | None, reason: str
) -> Invoice:
    """Correct an issued invoice: a credit note copying the lines it takes back.

    ``line_ids=None`` voids the invoice: every line not credited yet (a package's line is
    credited from the package, by its unused sessions)."""
    _check(actor, invoice, Perm.BILLING_APPROVE)
    reason = (reason or "").strip()
    if len(reason) < 5:
        raise ValidationError({"reason": "Give a reason for the credit note."})
    _counter(actor.clinic)
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if invoice.kind != InvoiceKind.INVOICE or not invoice.is_issued:
            raise ValidationError("Only an issued invoice can be credited.")
        if line_ids is None:
            credited = set(
                InvoiceLine.objects.filter(credits_line__invoice=invoice).values_list(
                    "credits_line_id", flat=True
                )
            )
            lines = [
                x for x in invoice.lines.all() if x.pk not in credited and x.package_sale_id is None
            ]
            if not lines:
                raise ValidationError("Nothing on this invoice is left to credit.")
        else:
            wanted = {int(i) for i in line_ids}
            lines = [x for x in invoice.lines.all() if x.pk in wanted]
        if not lines:
            raise ValidationError({"line_ids": "Choose the lines to credit."})
        if any(x.package_sale_id for x in lines):
            raise ValidationError("A package's unused sessions are credited from the package.")
        if InvoiceLine.objects.filter(credits_line__in=lines).exists():
            raise ValidationError("That line has already been credited.")
        note = Invoice.objects.create(
            clinic=invoice.clinic,
            patient=invoice.patient,
            kind=InvoiceKind.CREDIT_NOTE,
            corrects=invoice,
            reason=reason[:2000],
            currency=invoice.currency,
            created_by=actor.user,
        )
        for line in lines:
            _add_line(
                note,
                description=(
                    f"{line.description} (line {line.position} of {invoice.display_number})"
                ),
                quantity=line.quantity,
                unit_price=line.unit_price,
                tax_rate=line.tax_rate,
                tax_inclusive=line.tax_inclusive,
                price_item=line.price_item,
                package_sale=line.package_sale,
                procedure=line.procedure,
                credits_line=line,
            )
        note = _stamp(actor, note)
        audit_record(
            action="billing.credit_note.issue",
            actor=actor,
            patient=invoice.patient,
            obj=note,
            changes={
                "number": note.display_number,
                "corrects": invoice.display_number,
                "total_gross": note.total_gross,
                "reason": reason,
            },
        )
    return note
