"""Reads of billing: price list, documents, the patient's account, package status, quotes.

Every lookup by id is scoped to the actor's clinic: another clinic's invoice is a 404.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import DecimalField, IntegerField, Prefetch, Q, QuerySet, Sum
from django.db.models.expressions import RawSQL
from django.http import Http404

from anagen.accounts.access import Actor, record_id
from anagen.accounts.models import Clinic
from anagen.accounts.permissions import Perm
from anagen.audit.reads import note_list, note_read
from anagen.billing.models import (
    BillingSettings,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    PackageDefinition,
    PackageSale,
    Payment,
    PriceItem,
    Quote,
    QuoteLine,
    Refund,
)
from anagen.patients.models import Patient
from anagen.scheduling.models import TreatmentPlan

ZERO = Decimal(0)


# --- Price list ----------------------------------------------------------------------------


def price_on(*, clinic: Clinic, code: str, on: dt.date) -> PriceItem | None:
    """The version of `code` in force on a date (latest `valid_from` on or before it)."""
    return (
        PriceItem.objects.filter(clinic=clinic, code=code, valid_from__lte=on, is_active=True)
        .order_by("-valid_from")
        .first()
    )


def price_list(*, actor: Actor, on: dt.date | None = None) -> list[PriceItem]:
    """The items in force on a date (today in the clinic by default), one row per item."""
    on = on or actor.today()
    current: dict[str, PriceItem] = {}
    for item in PriceItem.objects.filter(
        clinic=actor.clinic, valid_from__lte=on, is_active=True
    ).order_by("code", "-valid_from"):
        current.setdefault(item.code, item)
    return sorted(current.values(), key=lambda i: (i.kind, i.name))


def price_history(*, actor: Actor) -> QuerySet[PriceItem]:
    actor.require(Perm.PRICE_LIST_MANAGE)
    return PriceItem.objects.filter(clinic=actor.clinic).order_by("name", "-valid_from")[:300]


def packages_on_sale(*, actor: Actor) -> QuerySet[PackageDefinition]:
    return PackageDefinition.objects.filter(clinic=actor.clinic, is_active=True)


def package_definition_for(actor: Actor, package_id: int | str) -> PackageDefinition:
    found = packages_on_sale(actor=actor).filter(pk=record_id(package_id)).first()
    if found is None:
        raise Http404("No such package.")
    return found


# --- Documents and payments ----------------------------------------------------------------


def _invoices(actor: Actor) -> QuerySet[Invoice]:
    return Invoice.objects.filter(
        clinic=actor.clinic, patient__deleted_at__isnull=True
    ).select_related("patient", "clinic", "corrects")


def invoice_for(actor: Actor, invoice_id: int | str) -> Invoice:
    """An invoice of the actor's clinic, or 404 (never a 403 that confirms it exists)."""
    pk = record_id(invoice_id)
    actor.require(Perm.BILLING)
    invoice = (
        _invoices(actor)
        .filter(pk=pk)
        .prefetch_related("lines", "credit_notes", Prefetch("payments"))
        .first()
    )
    if invoice is None:
        raise Http404("No such invoice.")
    note_read(actor, obj=invoice)  # audited once per request (anagen/audit/reads.py)
    return invoice


def payment_for(actor: Actor, payment_id: int | str) -> Payment:
    pk = record_id(payment_id)
    actor.require(Perm.BILLING)
    payment = (
        Payment.objects.filter(clinic=actor.clinic, patient__deleted_at__isnull=True, pk=pk)
        .select_related("patient", "invoice", "invoice__clinic")
        .first()
    )
    if payment is None:
        raise Http404("No such payment.")
    note_read(actor, obj=payment)  # audited once per request (anagen/audit/reads.py)
    return payment


def payment_refunded(payment: Payment) -> Decimal:
    return Refund.objects.filter(payment=payment).aggregate(s=Sum("amount"))["s"] or ZERO


def invoice_credited(invoice: Invoice) -> Decimal:
    return (
        Invoice.objects.filter(corrects=invoice, status=InvoiceStatus.ISSUED).aggregate(
            s=Sum("total_gross")
        )["s"]
        or ZERO
    )


def _paid_of(payments: Iterable[Payment]) -> Decimal:
    """What payments (annotated with `refunded`) gave an invoice: the amounts applied to it,
    less refunds of those amounts (a refund comes out of a payment's credit on account first).
    """
    paid = ZERO
    for p in payments:
        refunded = getattr(p, "refunded", None) or ZERO
        paid += p.applied - max(refunded - (p.amount - p.applied), ZERO)
    return paid


def _with_refunded() -> QuerySet[Payment]:
    return Payment.objects.annotate(refunded=Sum("refunds__amount"))


def invoice_paid(invoice: Invoice) -> Decimal:
    return _paid_of(_with_refunded().filter(invoice=invoice))


def _due(invoice: Invoice, credited: Decimal, paid: Decimal) -> Decimal:
    if not invoice.is_issued or invoice.kind != InvoiceKind.INVOICE:
        return ZERO
    return invoice.total_gross - invoice.deposit_applied - credited - paid


def _state(invoice: Invoice, credited: Decimal, paid: Decimal) -> str:
    if not invoice.is_issued:
        return "Draft"
    if invoice.kind == InvoiceKind.CREDIT_NOTE:
        return "Issued"
    if credited >= invoice.total_gross:
        return "Credited"
    due = invoice.total_gross - invoice.deposit_applied - credited - paid
    if due <= 0:
        return "Paid"
    if due < invoice.total_gross - invoice.deposit_applied - credited:
        return "Part paid"
    return "Unpaid"


def invoice_due(invoice: Invoice) -> Decimal:
    if not invoice.is_issued or invoice.kind != InvoiceKind.INVOICE:
        return ZERO
    return _due(invoice, invoice_credited(invoice), invoice_paid(invoice))


def invoice_state(invoice: Invoice) -> str:
    """Words for where an invoice stands: derived from payments and credit notes, not stored."""
    if not invoice.is_issued or invoice.kind != InvoiceKind.INVOICE:
        return _state(invoice, ZERO, ZERO)
    return _state(invoice, invoice_credited(invoice), invoice_paid(invoice))


@dataclass
class InvoiceRow:
    invoice: Invoice
    state: str
    due: Decimal


@dataclass
class Account:
    """A patient's money view: what was invoiced, credited, paid and refunded, and the balance
    (positive: the patient owes; negative: credit on account)."""

    currency: str
    invoiced: Decimal = ZERO
    credited: Decimal = ZERO
    paid: Decimal = ZERO
    refunded: Decimal = ZERO
    invoices: list[InvoiceRow] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)

    @property
    def balance(self) -> Decimal:
        return self.invoiced - self.credited - self.paid + self.refunded

    @property
    def credit(self) -> Decimal:
        return max(-self.balance, ZERO)

    @property
    def owed(self) -> Decimal:
        return max(self.balance, ZERO)


# The account's sums as plain SQL subqueries (issue 15): the ORM spent more time composing
# nested querysets than the database spends answering them. Fixed SQL; every value a parameter.
_MONEY = DecimalField(max_digits=14, decimal_places=3)
_ISSUED_SUM = (
    "SELECT SUM({col}) FROM billing_invoice"
    " WHERE clinic_id = %s AND patient_id = %s AND status = %s{kind}"
)
_BALANCE_SQL = {
    "_invoiced": _ISSUED_SUM.format(col="total_gross", kind=" AND kind = %s"),
    "_credited": _ISSUED_SUM.format(col="total_gross", kind=" AND kind = %s"),
    # A deposit carried into a final invoice was invoiced (and paid) once already.
    "_deposits": _ISSUED_SUM.format(col="deposit_applied", kind=""),
    "_paid": "SELECT SUM(amount) FROM billing_payment WHERE clinic_id = %s AND patient_id = %s",
    "_refunded": (
        "SELECT SUM(amount) FROM billing_refund WHERE payment_id IN"
        " (SELECT id FROM billing_payment WHERE clinic_id = %s AND patient_id = %s)"
    ),
}
_CREDITED_SQL = (
    "SELECT SUM(cn.total_gross) FROM billing_invoice cn"
    " WHERE cn.corrects_id = billing_invoice.id AND cn.status = %s"
)
_LATEST_PAYMENTS_SQL = (
    "SELECT id FROM billing_payment WHERE clinic_id = %s AND patient_id = %s"
    " ORDER BY received_at DESC, id DESC LIMIT %s"
)
_REFUNDED_SQL = "SELECT SUM(r.amount) FROM billing_refund r WHERE r.payment_id = billing_payment.id"
_USED_SQL = (
    "SELECT COUNT(*) FROM billing_packageconsumption pc"
    " WHERE pc.package_sale_id = billing_packagesale.id"
)


def _raw(sql: str, params: tuple[Any, ...], output_field: Any = _MONEY) -> RawSQL:
    return RawSQL(sql, params, output_field=output_field)  # noqa: S611 - fixed SQL above


def patient_balance(*, actor: Actor, patient: Patient) -> Account:
    """The patient's totals and balance: one query (five sums), whatever the history."""
    actor.require(Perm.BILLING)
    c, p, issued = actor.clinic.pk, patient.pk, InvoiceStatus.ISSUED.value
    params = {
        "_invoiced": (c, p, issued, InvoiceKind.INVOICE.value),
        "_credited": (c, p, issued, InvoiceKind.CREDIT_NOTE.value),
        "_deposits": (c, p, issued),
        "_paid": (c, p),
        "_refunded": (c, p),
    }
    sums = (
        Patient.all_objects.filter(pk=p)
        .annotate(**{k: _raw(sql, params[k]) for k, sql in _BALANCE_SQL.items()})
        .values(*_BALANCE_SQL)
        .get()
    )
    return Account(
        currency=actor.clinic.currency,
        invoiced=sums["_invoiced"] or ZERO,
        credited=(sums["_credited"] or ZERO) + (sums["_deposits"] or ZERO),
        paid=sums["_paid"] or ZERO,
        refunded=sums["_refunded"] or ZERO,
    )


def _with_clinic(actor: Actor, *groups: Iterable[Any]) -> None:
    """Give rows of the actor's clinic the clinic the actor already holds (what a document's
    number shows) instead of joining the clinic's row again; another clinic's row (never
    expected) keeps loading its own."""
    clinic = actor.clinic
    for rows in groups:
        for row in rows:
            if row.clinic_id == clinic.pk:
                row.clinic = clinic


def patient_account(*, actor: Actor, patient: Patient, limit: int = 50) -> Account:
    """The ledger of one patient (front desk and clinic admin): totals, documents, payments.

    Three queries whatever the history: the totals, the latest documents (credit notes summed),
    and one for the payments, both the latest ones and those of the documents shown.
    """
    account = patient_balance(actor=actor, patient=patient)
    c, p = actor.clinic.pk, patient.pk
    invoices = list(
        Invoice.objects.filter(clinic_id=c, patient_id=p)
        .select_related("corrects")
        .annotate(credited_sum=_raw(_CREDITED_SQL, (InvoiceStatus.ISSUED.value,)))
        .order_by("-created_at", "-id")[:limit]
    )
    _with_clinic(actor, invoices, [inv.corrects for inv in invoices if inv.corrects])
    latest = _raw(_LATEST_PAYMENTS_SQL, (c, p, limit), IntegerField())
    fetched: list[Any] = list(
        Payment.objects.filter(clinic_id=c, patient_id=p)
        .filter(Q(pk__in=latest) | Q(invoice_id__in=[inv.pk for inv in invoices]))
        .select_related("invoice")
        .annotate(refunded=_raw(_REFUNDED_SQL, ()))
        .order_by("-received_at", "-id")
    )
    _with_clinic(actor, [pay.invoice for pay in fetched if pay.invoice])
    by_invoice: dict[int, list[Payment]] = {}
    for pay in fetched:
        if pay.invoice_id is not None:
            by_invoice.setdefault(pay.invoice_id, []).append(pay)
    for inv in invoices:
        credited = inv.credited_sum or ZERO  # type: ignore[attr-defined]
        paid = _paid_of(by_invoice.get(inv.pk, ())) if inv.kind == InvoiceKind.INVOICE else ZERO
        account.invoices.append(
            InvoiceRow(
                invoice=inv, state=_state(inv, credited, paid), due=_due(inv, credited, paid)
            )
        )
    # The latest `limit` are the first `limit` of any set that holds them, in the same order.
    account.payments = fetched[:limit]
    return account


# --- Packages --------------------------------------------------------------------------------


@dataclass
class PackageStatus:
    sale: PackageSale
    used: int
    expired: bool

    @property
    def left(self) -> int:
        unused = self.sale.sessions_open - self.used
        return 0 if self.expired else max(unused, 0)

    @property
    def frozen(self) -> bool:
        return self.sale.frozen_on is not None

    @property
    def unused(self) -> int:
        """Sessions that could still be credited (expired ones too)."""
        return max(self.sale.sessions_open - self.used, 0)


def patient_packages(*, actor: Actor, patient: Patient) -> list[PackageStatus]:
    """Sessions used and left in each package the patient bought (no money: clinicians too)."""
    actor.require(Perm.PACKAGE_STATUS_VIEW)
    today = actor.today()
    return [
        PackageStatus(sale=s, used=s.used, expired=s.expires_on < today)
        for s in PackageSale.objects.filter(clinic=actor.clinic, patient=patient)
        # Counted in a correlated subquery: no GROUP BY over every column of the sale.
        .annotate(used=_raw(_USED_SQL, (), IntegerField()))
        .order_by("-sold_on", "-id")[:20]
    ]


def clinic_invoices(*, actor: Actor, limit: int = 100) -> QuerySet[Invoice]:
    actor.require(Perm.BILLING)
    note_list(actor, what="Invoices")  # audited (anagen/audit/reads.py)
    return _invoices(actor).order_by("-created_at", "-id")[:limit]


def invoice_payments(invoice: Invoice) -> list[Payment]:
    """The invoice's payments, each with `refunded` (total) and its refunds."""
    return list(
        Payment.objects.filter(invoice=invoice)
        .annotate(refunded=Sum("refunds__amount"))
        .prefetch_related("refunds")
        .order_by("received_at", "id")
    )


def clinic_invoice_search(
    *, actor: Actor, kind: str | None = None, patient_id: int | None = None
) -> QuerySet[Invoice]:
    """All the clinic's documents, newest first (for paging); by kind or patient."""
    actor.require(Perm.BILLING)
    note_list(actor, what="Invoices")  # audited (anagen/audit/reads.py)
    qs = _invoices(actor)
    if kind:
        qs = qs.filter(kind=kind)
    if patient_id is not None:
        qs = qs.filter(patient_id=patient_id)
    return qs.order_by("-created_at", "-id")


def package_status(*, actor: Actor, sale: PackageSale) -> PackageStatus:
    """One sold package's sessions used and left."""
    actor.require(Perm.PACKAGE_STATUS_VIEW)
    return PackageStatus(
        sale=sale, used=sale.consumptions.count(), expired=sale.expires_on < actor.today()
    )


def package_definitions(*, actor: Actor) -> QuerySet[PackageDefinition]:
    actor.require(Perm.BILLING)
    return packages_on_sale(actor=actor).order_by("name", "id")


def payment_refunds(payment: Payment) -> list[Refund]:
    return list(payment.refunds.order_by("refunded_at", "id"))


def package_sale_for(actor: Actor, sale_id: int | str) -> PackageSale:
    pk = record_id(sale_id)
    actor.require(Perm.BILLING)
    sale = (
        PackageSale.objects.filter(clinic=actor.clinic, patient__deleted_at__isnull=True, pk=pk)
        .select_related("patient")
        .first()
    )
    if sale is None:
        raise Http404("No such package.")
    note_read(actor, obj=sale)  # audited once per request (anagen/audit/reads.py)
    return sale


# --- Quotes ----------------------------------------------------------------------------------


def quote_for(actor: Actor, quote_id: int | str) -> Quote:
    actor.require(Perm.BILLING)
    quote = (
        Quote.objects.select_related(
            "clinic",
            "patient",
            "plan",
            "deposit_invoice",
            "deposit_invoice__clinic",
            "final_invoice",
            "final_invoice__clinic",
        )
        .filter(clinic=actor.clinic, pk=record_id(quote_id))
        .first()
    )
    if quote is None:
        raise Http404("No such quote.")
    note_read(actor, obj=quote)  # audited once per request (anagen/audit/reads.py)
    return quote


def patient_quotes(*, actor: Actor, patient: Patient) -> list[Quote]:
    actor.require(Perm.BILLING)
    quotes = list(
        Quote.objects.filter(clinic=actor.clinic, patient=patient)
        .select_related("plan")
        .order_by("-created_at", "-id")[:50]
    )
    _with_clinic(actor, quotes)
    return quotes


def patient_plans(*, actor: Actor, patient: Patient) -> list[TreatmentPlan]:
    """The patient's plans that can still be quoted (not cancelled or completed)."""
    actor.require(Perm.BILLING)
    return list(
        TreatmentPlan.objects.filter(clinic=actor.clinic, patient=patient)
        .exclude(status__in=["cancelled", "completed"])
        .order_by("-start_on", "-id")[:50]
    )


def plan_for(actor: Actor, patient: Patient, plan_id: int | str) -> TreatmentPlan:
    actor.require(Perm.BILLING)
    plan = TreatmentPlan.objects.filter(
        clinic=actor.clinic, patient=patient, pk=record_id(plan_id)
    ).first()
    if plan is None:
        raise Http404("No such plan.")
    return plan


def quote_lines(quote: Quote) -> list[QuoteLine]:
    return list(quote.lines.select_related("package_sale"))


def billing_settings(clinic: Clinic) -> BillingSettings | None:
    return BillingSettings.objects.filter(clinic=clinic).first()


def patient_by_record(actor: Actor, record_number: str) -> Patient | None:
    """A live patient of the actor's clinic by record number (for a package transfer)."""
    from anagen.accounts.access import patients_for

    if not record_number:
        return None
    return patients_for(actor).filter(record_number=record_number).first()
