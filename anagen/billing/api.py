"""Billing API: the price list, a patient's account and packages, invoices, payments.

Same services, permissions and isolation as the pages: another clinic's invoice or patient is
a 404; a rule the input breaks is a 422 with the field named; money is a decimal string in the
document's currency.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from anagen.accounts.access import patient_for
from anagen.accounts.permissions import Perm
from anagen.billing import selectors, services
from anagen.interop.auth import api_actor
from anagen.interop.paging import MAX_PAGE, page_of
from anagen.interop.problems import problems
from anagen.interop.schemas import BodyIn, QueryIn

router = Router()


class PriceItemOut(Schema):
    code: str
    kind: str
    procedure: str
    name: str
    valid_from: dt.date
    unit_price: Decimal
    currency: str
    tax_rate: Decimal
    tax_inclusive: bool


class LineOut(Schema):
    position: int
    description: str
    procedure: str
    quantity: Decimal
    unit_price: Decimal
    tax_rate: Decimal
    tax_inclusive: bool
    net: Decimal
    tax: Decimal
    gross: Decimal


class InvoiceOut(Schema):
    id: int
    patient_id: int
    kind: str
    number: str | None
    status: str
    currency: str
    corrects_id: int | None
    issue_date: dt.date | None
    total_net: Decimal
    total_tax: Decimal
    total_gross: Decimal

    @staticmethod
    def resolve_number(obj: Any) -> str | None:
        return obj.display_number if obj.number is not None else None


class InvoiceDetailOut(InvoiceOut):
    state: str
    due: Decimal
    lines: list[LineOut]

    @staticmethod
    def resolve_state(obj: Any) -> str:
        return selectors.invoice_state(obj)

    @staticmethod
    def resolve_due(obj: Any) -> Decimal:
        return selectors.invoice_due(obj)

    @staticmethod
    def resolve_lines(obj: Any) -> list[Any]:
        return list(obj.lines.all())


class InvoicePage(Schema):
    count: int
    page: int
    pages: int
    results: list[InvoiceOut]


class InvoiceQuery(QueryIn):
    page: int = Field(1, ge=1, le=MAX_PAGE)
    page_size: int = Field(50, ge=1, le=200)


class PackageOut(Schema):
    name: str
    procedure: str
    sessions_total: int
    sessions_used: int
    sessions_left: int
    sold_on: dt.date
    expires_on: dt.date


class AccountOut(Schema):
    currency: str
    invoiced: Decimal
    credited: Decimal
    paid: Decimal
    refunded: Decimal
    balance: Decimal


class PaymentIn(BodyIn):
    amount: Decimal = Field(gt=0, lt=10**10, description="In the invoice's currency.")
    method: Literal["cash", "card", "bank_transfer", "voucher"]
    reference: str = Field("", max_length=100, description="Required for a voucher.")


class PaymentOut(Schema):
    id: int
    invoice_id: int | None
    method: str
    amount: Decimal
    applied: Decimal
    currency: str
    reference: str
    received_at: dt.datetime


@router.get("/prices", response=list[PriceItemOut], summary="Today's price list")
def list_prices(request: HttpRequest) -> list[Any]:
    actor = api_actor(request, Perm.BILLING)
    return selectors.price_list(actor=actor)


@router.get("/invoices", response=InvoicePage, summary="The clinic's invoices and credit notes")
def list_invoices(request: HttpRequest, filters: Query[InvoiceQuery]) -> dict[str, Any]:
    actor = api_actor(request, Perm.BILLING)
    return page_of(selectors.clinic_invoice_search(actor=actor), filters.page, filters.page_size)


@router.get(
    "/invoices/{invoice_id}",
    response={200: InvoiceDetailOut, **problems(404)},
    summary="An invoice or credit note with its lines and what is due",
)
def get_invoice(request: HttpRequest, invoice_id: int) -> Any:
    actor = api_actor(request, Perm.BILLING)
    return selectors.invoice_for(actor, invoice_id)


@router.post(
    "/invoices/{invoice_id}/payments",
    response={201: PaymentOut, **problems(404)},
    summary="Take a payment against an issued invoice (any excess goes on account)",
)
def pay_invoice(request: HttpRequest, invoice_id: int, payload: PaymentIn) -> Status[object]:
    actor = api_actor(request, Perm.BILLING)
    invoice = selectors.invoice_for(actor, invoice_id)
    payment = services.payment_record(
        actor=actor,
        patient=invoice.patient,
        invoice=invoice,
        amount=payload.amount,
        method=payload.method,
        reference=payload.reference,
    )
    return Status(201, payment)


@router.get(
    "/patients/{patient_id}/account",
    response={200: AccountOut, **problems(404)},
    summary="A patient's balance (positive: owed; negative: credit on account)",
)
def get_account(request: HttpRequest, patient_id: int) -> dict[str, Any]:
    actor = api_actor(request, Perm.PATIENT_VIEW)
    patient = patient_for(actor, patient_id)  # another clinic's patient: 404 first
    account = selectors.patient_balance(actor=actor, patient=patient)
    return {
        "currency": account.currency,
        "invoiced": account.invoiced,
        "credited": account.credited,
        "paid": account.paid,
        "refunded": account.refunded,
        "balance": account.balance,
    }


@router.get(
    "/patients/{patient_id}/packages",
    response={200: list[PackageOut], **problems(404)},
    summary="Sessions used and left in each package the patient bought",
)
def get_packages(request: HttpRequest, patient_id: int) -> list[dict[str, Any]]:
    actor = api_actor(request, Perm.PATIENT_VIEW)
    patient = patient_for(actor, patient_id)
    return [
        {
            "name": s.sale.name,
            "procedure": s.sale.procedure,
            "sessions_total": s.sale.sessions_total,
            "sessions_used": s.used,
            "sessions_left": s.left,
            "sold_on": s.sale.sold_on,
            "expires_on": s.sale.expires_on,
        }
        for s in selectors.patient_packages(actor=actor, patient=patient)
    ]
