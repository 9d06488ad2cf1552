"""The patient's money page in one query (issue 15).

The page showed what ``patient_account``, ``patient_packages``, ``packages_on_sale``,
``patient_quotes`` and ``patient_plans`` give, through seven ORM queries: composing them and
building full rows cost more than the database spends answering. ``money_page`` asks one fixed
SQL statement (every value a parameter) for the same rows, tagged by part and numbered in each
part's order, with only the columns the page shows, and builds the same objects from them (so
the template renders as before). ``tests/test_money_page_one_query.py`` compares it with the
separate selectors on random accounts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Context, Decimal
from typing import Any

from django.db import connection

from anagen.accounts.access import Actor
from anagen.accounts.permissions import Perm
from anagen.billing.models import (
    Invoice,
    InvoiceKind,
    PackageDefinition,
    PackageSale,
    Payment,
    Quote,
    QuoteStatus,
)
from anagen.billing.selectors.ledger import (
    ZERO,
    Account,
    InvoiceRow,
    PackageStatus,
    _due,
    _paid_of,
    _state,
)
from anagen.patients.models import Patient
from anagen.raw_values import day as _date
from anagen.raw_values import instant as _instant
from anagen.scheduling.models import TreatmentPlan

# Columns of every part: tag, id, five texts, four integers, five amounts, three dates, an
# instant, and the row's place in its part.
_NULLS = {
    "t": "CAST(NULL AS text)",
    "n": "CAST(NULL AS bigint)",
    "m": "CAST(NULL AS numeric)",
    "d": "CAST(NULL AS date)",
    "at": "CAST(NULL AS timestamp)",
}
_SHAPE = ["t"] * 5 + ["n"] * 4 + ["m"] * 5 + ["d"] * 3 + ["at"]


def _part(tag: str, cols: dict[int, str], rest: str, order: str) -> str:
    """One part: ``cols`` by position in _SHAPE (others NULL), ``rest`` the FROM … clause."""
    values = ", ".join(cols.get(i, _NULLS[kind]) for i, kind in enumerate(_SHAPE))
    seq = f"ROW_NUMBER() OVER (ORDER BY {order})"
    return f"SELECT * FROM (SELECT '{tag}' AS r, {values}, {seq} AS seq {rest}) p{tag}"  # noqa: S608


_SUM = (
    "(SELECT SUM({col}) FROM billing_invoice WHERE clinic_id = %(c)s AND patient_id = %(p)s"
    " AND status = 'issued'{kind})"
)


def _row(tag: str, cols: dict[int, str]) -> str:
    """A part of one row and no table (the balance's sums)."""
    values = ", ".join(cols.get(i, _NULLS[kind]) for i, kind in enumerate(_SHAPE))
    return f"SELECT '{tag}' AS r, {values}, 1 AS seq"


_BALANCE = _row(
    "b",
    {
        9: _SUM.format(col="total_gross", kind=" AND kind = 'invoice'"),
        10: _SUM.format(col="total_gross", kind=" AND kind = 'credit_note'"),
        # A deposit carried into a final invoice was invoiced (and paid) once already.
        11: _SUM.format(col="deposit_applied", kind=""),
        12: "(SELECT SUM(amount) FROM billing_payment WHERE clinic_id = %(c)s"
        " AND patient_id = %(p)s)",
        13: "(SELECT SUM(amount) FROM billing_refund WHERE payment_id IN"
        " (SELECT id FROM billing_payment WHERE clinic_id = %(c)s AND patient_id = %(p)s))",
    },
)

_INVOICES = _part(
    "i",
    {
        0: "i.kind",
        1: "i.status",
        2: "i.currency",
        3: "c.kind",
        4: "cc.record_prefix",
        5: "i.id",
        6: "i.number",
        7: "c.id",
        8: "c.number",
        9: "i.total_gross",
        10: "i.deposit_applied",
        11: "(SELECT SUM(cn.total_gross) FROM billing_invoice cn"
        " WHERE cn.corrects_id = i.id AND cn.status = 'issued')",
        14: "i.issue_date",
    },
    "FROM billing_invoice i LEFT JOIN billing_invoice c ON c.id = i.corrects_id"
    " LEFT JOIN accounts_clinic cc ON cc.id = c.clinic_id"
    " WHERE i.clinic_id = %(c)s AND i.patient_id = %(p)s"
    " ORDER BY i.created_at DESC, i.id DESC LIMIT %(limit)s",
    "i.created_at DESC, i.id DESC",
)
_PAYMENTS = _part(
    "p",
    {
        0: "p.method",
        1: "p.reference",
        2: "p.currency",
        3: "iv.kind",
        4: "ic.record_prefix",
        5: "p.id",
        6: "p.invoice_id",
        7: "iv.number",
        9: "p.amount",
        10: "p.applied",
        11: "(SELECT SUM(r.amount) FROM billing_refund r WHERE r.payment_id = p.id)",
        17: "p.received_at",
    },
    "FROM billing_payment p LEFT JOIN billing_invoice iv ON iv.id = p.invoice_id"
    " LEFT JOIN accounts_clinic ic ON ic.id = iv.clinic_id"
    " WHERE p.clinic_id = %(c)s AND p.patient_id = %(p)s AND (p.id IN (SELECT id FROM"
    " billing_payment WHERE clinic_id = %(c)s AND patient_id = %(p)s"
    " ORDER BY received_at DESC, id DESC LIMIT %(limit)s)"
    " OR p.invoice_id IN (SELECT id FROM billing_invoice WHERE clinic_id = %(c)s"
    " AND patient_id = %(p)s ORDER BY created_at DESC, id DESC LIMIT %(limit)s))",
    "p.received_at DESC, p.id DESC",
)
_PACKAGES = _part(
    "k",
    {
        0: "s.name",
        5: "s.id",
        6: "s.sessions_total",
        7: "s.sessions_refunded",
        8: "s.sessions_transferred",
        9: "(SELECT COUNT(*) FROM billing_packageconsumption pc WHERE pc.package_sale_id = s.id)",
        14: "s.sold_on",
        15: "s.expires_on",
        16: "s.frozen_on",
    },
    "FROM billing_packagesale s WHERE s.clinic_id = %(c)s AND s.patient_id = %(p)s"
    " ORDER BY s.sold_on DESC, s.id DESC LIMIT 20",
    "s.sold_on DESC, s.id DESC",
)
_ON_SALE = _part(
    "d",
    {0: "d.name", 1: "d.currency", 5: "d.id", 6: "d.sessions", 9: "d.price"},
    "FROM billing_packagedefinition d WHERE d.clinic_id = %(c)s AND d.is_active",
    "d.name, d.id",
)
_QUOTES = _part(
    "q",
    {
        0: "q.status",
        1: "q.currency",
        2: "pl.protocol_name",
        5: "q.id",
        6: "q.plan_id",
        9: "q.total_gross",
        14: "q.valid_until",
        15: "pl.start_on",
    },
    "FROM billing_quote q LEFT JOIN scheduling_treatmentplan pl ON pl.id = q.plan_id"
    " WHERE q.clinic_id = %(c)s AND q.patient_id = %(p)s"
    " ORDER BY q.created_at DESC, q.id DESC LIMIT 50",
    "q.created_at DESC, q.id DESC",
)
_PLANS = _part(
    "l",
    {0: "t.protocol_name", 5: "t.id", 14: "t.start_on"},
    "FROM scheduling_treatmentplan t WHERE t.clinic_id = %(c)s AND t.patient_id = %(p)s"
    " AND t.status NOT IN ('cancelled', 'completed')"
    " ORDER BY t.start_on DESC, t.id DESC LIMIT 50",
    "t.start_on DESC, t.id DESC",
)
MONEY_PAGE_SQL = " UNION ALL ".join(
    [_BALANCE, _INVOICES, _PAYMENTS, _PACKAGES, _ON_SALE, _QUOTES, _PLANS]
)


def _money(value: Any) -> Any:
    """A raw amount as the ORM gives a DecimalField(14, 3) (SQLite: a float or an int)."""
    if value is None or isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        value = Context(prec=14).create_decimal_from_float(value)
    return Context(prec=14).create_decimal(value).quantize(Decimal("0.001"))


@dataclass
class MoneyPage:
    account: Account
    packages: list[PackageStatus]
    on_sale: list[PackageDefinition]
    quotes: list[tuple[Quote, str]]
    plans: list[TreatmentPlan]


def _quote_state(quote: Quote, today: dt.date) -> str:
    """services.quote_state: Draft, Sent, Accepted or Expired (an unaccepted quote past its
    date)."""
    if quote.status != QuoteStatus.ACCEPTED and quote.valid_until < today:
        return "Expired"
    return quote.get_status_display()


def money_page(*, actor: Actor, patient: Patient, limit: int = 50) -> MoneyPage:
    """What the account page shows, in one query whatever the history: the account as
    ``patient_account`` gives it, ``patient_packages``, ``packages_on_sale`` (by name),
    ``patient_quotes`` with their state and ``patient_plans``."""
    actor.require(Perm.BILLING)
    actor.require(Perm.PACKAGE_STATUS_VIEW)
    clinic = actor.clinic
    today = actor.today()
    with connection.cursor() as cursor:
        cursor.execute(MONEY_PAGE_SQL, {"c": clinic.pk, "p": patient.pk, "limit": limit})
        rows = sorted(cursor.fetchall(), key=lambda row: (row[0], row[-1]))
    account = Account(currency=clinic.currency)
    invoices: list[Invoice] = []
    credited: dict[int, Decimal] = {}
    payments: list[Payment] = []
    packages: list[PackageStatus] = []
    on_sale: list[PackageDefinition] = []
    quotes: list[tuple[Quote, str]] = []
    plans: list[TreatmentPlan] = []
    clinics: dict[str, Any] = {}

    def clinic_of(prefix: str) -> Any:
        """The actor's clinic for its own documents (as ``_with_clinic``); another clinic's
        (never expected) as a stand-in carrying its record prefix."""
        if prefix == clinic.record_prefix:
            return clinic
        if prefix not in clinics:
            clinics[prefix] = type(clinic)(record_prefix=prefix)
        return clinics[prefix]

    for row in rows:
        r, t1, t2, t3, t4, t5, n1, n2, n3, n4, m1, m2, m3, m4, m5, d1, d2, d3, at, _ = row
        if r == "b":
            account.invoiced = _money(m1) or ZERO
            account.credited = (_money(m2) or ZERO) + (_money(m3) or ZERO)
            account.paid = _money(m4) or ZERO
            account.refunded = _money(m5) or ZERO
        elif r == "i":
            inv = Invoice(
                id=n1,
                clinic=clinic,
                patient=patient,
                kind=t1,
                status=t2,
                currency=t3,
                number=n2,
                corrects_id=n3,
                total_gross=_money(m1),
                deposit_applied=_money(m2),
                issue_date=_date(d1),
            )
            if n3 is not None:
                inv.corrects = Invoice(id=n3, clinic=clinic_of(t5), kind=t4, number=n4)
            invoices.append(inv)
            credited[n1] = _money(m3) or ZERO
        elif r == "p":
            pay = Payment(
                id=n1,
                clinic=clinic,
                patient=patient,
                method=t1,
                reference=t2,
                currency=t3,
                invoice_id=n2,
                amount=_money(m1),
                applied=_money(m2),
                received_at=_instant(at),
            )
            pay.refunded = _money(m3)  # type: ignore[attr-defined]
            if n2 is not None:
                pay.invoice = Invoice(id=n2, clinic=clinic_of(t5), kind=t4, number=n3)
            payments.append(pay)
        elif r == "k":
            sale = PackageSale(
                id=n1,
                clinic=clinic,
                patient=patient,
                name=t1,
                sessions_total=n2,
                sessions_refunded=n3,
                sessions_transferred=n4,
                sold_on=_date(d1),
                expires_on=_date(d2),
                frozen_on=_date(d3),
            )
            used = int(m1 or 0)
            sale.used = used  # type: ignore[attr-defined]
            packages.append(PackageStatus(sale=sale, used=used, expired=sale.expires_on < today))
        elif r == "d":
            on_sale.append(
                PackageDefinition(
                    id=n1, clinic=clinic, name=t1, currency=t2, sessions=n2, price=_money(m1)
                )
            )
        elif r == "q":
            quote = Quote(
                id=n1,
                clinic=clinic,
                patient=patient,
                status=t1,
                currency=t2,
                plan_id=n2,
                total_gross=_money(m1),
                valid_until=_date(d1),
            )
            if n2 is not None:
                quote.plan = TreatmentPlan(
                    id=n2, clinic=clinic, patient=patient, protocol_name=t3, start_on=_date(d2)
                )
            quotes.append((quote, _quote_state(quote, today)))
        elif r == "l":
            plans.append(
                TreatmentPlan(
                    id=n1, clinic=clinic, patient=patient, protocol_name=t1, start_on=_date(d1)
                )
            )
    by_invoice: dict[int, list[Payment]] = {}
    for pay in payments:
        if pay.invoice_id is not None:
            by_invoice.setdefault(pay.invoice_id, []).append(pay)
    for inv in invoices:
        cred = credited[inv.pk]
        paid = _paid_of(by_invoice.get(inv.pk, ())) if inv.kind == InvoiceKind.INVOICE else ZERO
        account.invoices.append(
            InvoiceRow(invoice=inv, state=_state(inv, cred, paid), due=_due(inv, cred, paid))
        )
    account.payments = payments[:limit]
    return MoneyPage(account, packages, on_sale, quotes, plans)
