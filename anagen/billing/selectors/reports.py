"""The clinic admin's billing reports: takings (by method, by practitioner), outstanding
balances by age, package liability and revenue by procedure and month."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Prefetch, Q, Sum

from anagen.accounts.access import Actor
from anagen.accounts.permissions import Perm
from anagen.audit.reads import note_list
from anagen.billing.models import (
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    ItemKind,
    PackageSale,
    Payment,
    PaymentMethod,
    Refund,
)
from anagen.billing.selectors.ledger import ZERO, _due, _paid_of, _with_refunded

# --- Reports (clinic admin) --------------------------------------------------------------------

AGE_BANDS = ((30, "0–30 days"), (60, "31–60 days"), (90, "61–90 days"), (None, "over 90 days"))


@dataclass
class TakingsRow:
    day: dt.date
    method: str
    received: Decimal
    refunded: Decimal

    @property
    def net(self) -> Decimal:
        return self.received - self.refunded

    @property
    def method_label(self) -> str:
        return PaymentMethod(self.method).label


def _local_range(actor: Actor, start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start 00:00, the day after end 00:00) in the clinic's zone."""
    lo = dt.datetime.combine(start, dt.time.min, tzinfo=actor.tz)
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=actor.tz)
    return lo, hi


def report_takings(*, actor: Actor, start: dt.date, end: dt.date) -> list[TakingsRow]:
    """Money received and refunded per clinic-local day and payment method."""
    actor.require(Perm.BILLING_REPORTS)
    lo, hi = _local_range(actor, start, end)
    rows: dict[tuple[dt.date, str], TakingsRow] = {}

    def row(at: dt.datetime, method: str) -> TakingsRow:
        key = (at.astimezone(actor.tz).date(), method)
        return rows.setdefault(key, TakingsRow(key[0], method, ZERO, ZERO))

    for at, method, amount in Payment.objects.filter(
        clinic=actor.clinic, received_at__gte=lo, received_at__lt=hi
    ).values_list("received_at", "method", "amount"):
        row(at, method).received += amount
    for at, method, amount in Refund.objects.filter(
        payment__clinic=actor.clinic, refunded_at__gte=lo, refunded_at__lt=hi
    ).values_list("refunded_at", "payment__method", "amount"):
        row(at, method).refunded += amount
    return sorted(rows.values(), key=lambda r: (r.day, r.method))


@dataclass
class OutstandingRow:
    invoice: Invoice
    age_days: int
    band: str
    due: Decimal


def report_outstanding(*, actor: Actor, on: dt.date) -> list[OutstandingRow]:
    """Issued invoices with money still due on a date, by age since issue (bounded queries)."""
    actor.require(Perm.BILLING_REPORTS)
    note_list(actor, what="Outstanding invoices")  # audited (anagen/audit/reads.py)
    found = []
    for inv in (
        Invoice.objects.filter(
            clinic=actor.clinic,
            kind=InvoiceKind.INVOICE,
            status=InvoiceStatus.ISSUED,
            issue_date__lte=on,
        )
        .select_related("patient", "clinic")
        .annotate(
            credited_sum=Sum(
                "credit_notes__total_gross", filter=Q(credit_notes__status=InvoiceStatus.ISSUED)
            )
        )
        .prefetch_related(Prefetch("payments", queryset=_with_refunded()))
        .order_by("issue_date", "number")
    ):
        due = _due(inv, inv.credited_sum or ZERO, _paid_of(inv.payments.all()))  # type: ignore[attr-defined]
        if due <= 0:
            continue
        age = (on - inv.issue_date).days if inv.issue_date else 0
        band = next(label for limit, label in AGE_BANDS if limit is None or age <= limit)
        found.append(OutstandingRow(invoice=inv, age_days=age, band=band, due=due))
    return found


@dataclass
class LiabilityRow:
    sale: PackageSale
    unused: int
    per_session: Decimal

    @property
    def value(self) -> Decimal:
        return self.per_session * self.unused


def report_package_liability(*, actor: Actor, on: dt.date) -> list[LiabilityRow]:
    """Sessions sold and not yet delivered (packages still valid), as money: pro rata."""
    from anagen.billing.money import round_money

    actor.require(Perm.BILLING_REPORTS)
    found = []
    for sale in (
        PackageSale.objects.filter(clinic=actor.clinic, expires_on__gte=on, sold_on__lte=on)
        .select_related("patient")
        .annotate(used=Count("consumptions"))
        .order_by("sold_on", "id")
    ):
        unused = sale.sessions_open - sale.used  # type: ignore[attr-defined]
        if unused > 0:
            per = round_money(sale.price / sale.sessions_total, sale.currency)
            found.append(LiabilityRow(sale=sale, unused=unused, per_session=per))
    return found


@dataclass
class RevenueRow:
    month: dt.date  # first day of the clinic-local calendar month
    label: str  # the procedure, else the price item's kind
    net: Decimal
    tax: Decimal

    @property
    def gross(self) -> Decimal:
        return self.net + self.tax


def _revenue_label(procedure: str, kind: str | None, package: bool) -> str:
    from anagen.clinical import PROCEDURES

    if procedure:
        return str(PROCEDURES.get(procedure, {}).get("label", procedure))
    if package:
        return "Package"
    return ItemKind(kind).label if kind else "Other"


def report_revenue(*, actor: Actor, start: dt.date, end: dt.date) -> list[RevenueRow]:
    """Issued invoice lines net of credit notes, by procedure (or item kind) and month.

    The month is that of the document's clinic-local issue date; a credit note counts
    (negatively) in the month it was issued.
    """
    from anagen.billing.models import InvoiceLine

    actor.require(Perm.BILLING_REPORTS)
    rows: dict[tuple[dt.date, str], RevenueRow] = {}
    for day, kind, procedure, item_kind, sale_id, net, tax in InvoiceLine.objects.filter(
        invoice__clinic=actor.clinic,
        invoice__status=InvoiceStatus.ISSUED,
        invoice__issue_date__gte=start,
        invoice__issue_date__lte=end,
    ).values_list(
        "invoice__issue_date",
        "invoice__kind",
        "procedure",
        "price_item__kind",
        "package_sale_id",
        "net",
        "tax",
    ):
        sign = -1 if kind == InvoiceKind.CREDIT_NOTE else 1
        label = _revenue_label(procedure, item_kind, sale_id is not None)
        if day is None:  # an issued document always has its date
            continue
        month = day.replace(day=1)
        row = rows.setdefault((month, label), RevenueRow(month, label, ZERO, ZERO))
        row.net += sign * net
        row.tax += sign * tax
    return sorted(rows.values(), key=lambda r: (r.month, r.label))


UNATTRIBUTED = "Unattributed"


@dataclass
class PractitionerTakingsRow:
    practitioner: str
    received: Decimal
    refunded: Decimal

    @property
    def net(self) -> Decimal:
        return self.received - self.refunded


def report_takings_by_practitioner(
    *, actor: Actor, start: dt.date, end: dt.date
) -> list[PractitionerTakingsRow]:
    """Money received and refunded in a period, per practitioner.

    Invoice lines carry no practitioner, so a payment is attributed to whoever signed the
    patient's latest session record signed at or before the payment was received; a refund
    follows its payment. A payment with no such session (e.g. a package paid up front before
    the first session) is "Unattributed".
    """
    from anagen.procedures.models import TreatmentSession

    actor.require(Perm.BILLING_REPORTS)
    lo, hi = _local_range(actor, start, end)
    payments = list(
        Payment.objects.filter(
            clinic=actor.clinic, received_at__gte=lo, received_at__lt=hi
        ).values_list("patient_id", "received_at", "amount")
    )
    refunds = list(
        Refund.objects.filter(
            payment__clinic=actor.clinic, refunded_at__gte=lo, refunded_at__lt=hi
        ).values_list("payment__patient_id", "payment__received_at", "amount")
    )
    patients = {p for p, _, _ in payments} | {p for p, _, _ in refunds}
    signed: dict[int, list[tuple[dt.datetime, int]]] = {}
    for patient_id, at, user in (
        TreatmentSession.objects.filter(
            clinic=actor.clinic, patient_id__in=patients, signed_at__isnull=False
        )
        .order_by("signed_at", "id")
        .values_list("patient_id", "signed_at", "signed_by")
    ):
        if at is not None:
            signed.setdefault(patient_id, []).append((at, user))
    from anagen.accounts.models import User

    ids = {u for v in signed.values() for _, u in v}
    names = {u.pk: str(u) for u in User.objects.filter(pk__in=ids)}

    def who(patient_id: int, at: dt.datetime) -> str:
        before = [u for when, u in signed.get(patient_id, []) if when <= at]
        return names.get(before[-1], UNATTRIBUTED) if before else UNATTRIBUTED

    rows: dict[str, PractitionerTakingsRow] = {}
    for patient_id, at, amount in payments:
        name = who(patient_id, at)
        rows.setdefault(name, PractitionerTakingsRow(name, ZERO, ZERO)).received += amount
    for patient_id, at, amount in refunds:
        name = who(patient_id, at)
        rows.setdefault(name, PractitionerTakingsRow(name, ZERO, ZERO)).refunded += amount
    return sorted(rows.values(), key=lambda r: (r.practitioner == UNATTRIBUTED, r.practitioner))
