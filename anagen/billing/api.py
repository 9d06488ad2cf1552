"""Billing API: the price list and packages on sale, invoices and credit notes, payments and
refunds, packages sold to patients (sell, freeze, transfer, credit unused sessions) and quotes
from treatment plans (create, send, accept, invoice).

Same services, permissions and isolation as the pages: another clinic's invoice, payment,
package, quote, plan or patient is a 404; a rule the input breaks is a 422 naming the field;
every money write is audited by its service. Money is a decimal (a JSON number or its digits in
a string) in the document's ISO 4217 currency.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status

from anagen.accounts.access import Actor, patient_for
from anagen.accounts.permissions import Perm
from anagen.billing import selectors, services
from anagen.billing.models import Invoice, PackageSale, Quote
from anagen.interop.auth import api_actor
from anagen.interop.etag import (
    PRECONDITION_PROBLEMS,
    IfMatch,
    etag_documented,
    require_if_match,
    tag,
)
from anagen.interop.examples import example
from anagen.interop.paging import MAX_PAGE, page_of
from anagen.interop.problems import problems
from anagen.interop.schemas import BodyIn, QueryIn
from anagen.scheduling import selectors as scheduling

router = Router()

MONEY = "Decimal amount in the clinic's currency (a JSON number or its digits as a string)."
KIND = "`invoice` or `credit_note`."
MAX_ID = 2**63 - 1


# --- Schemas: price list ----------------------------------------------------------------------


class PriceItemOut(Schema):
    code: str = Field(description="Stable key of the item (a procedure's code for procedures).")
    kind: str = Field(description="`consultation`, `procedure` or `product`.")
    procedure: str = Field(description="The procedure's code for a procedure item, else empty.")
    name: str = Field(description="What the invoice line says.")
    valid_from: dt.date = Field(description="The price applies from this clinic-local date on.")
    unit_price: Decimal = Field(description=MONEY)
    currency: str = Field(description="ISO 4217 code.")
    tax_rate: Decimal = Field(description="Tax in per cent, 0–100.")
    tax_inclusive: bool = Field(description="True: the price includes the tax; false: added.")


class PriceIn(BodyIn):
    model_config = example(
        kind="product",
        name="Minoxidil 5 % foam, 3 months",
        code="minoxidil-foam",
        procedure="",
        unit_price="45.50",
        tax_rate="8.875",
        tax_inclusive=False,
        valid_from="2026-12-01",
    )

    kind: Literal["consultation", "procedure", "product"] = Field(description="The item's kind.")
    name: str = Field(
        "", max_length=200, description="The item's name (a procedure's label if empty)."
    )
    code: str = Field(
        "", max_length=60, description="Stable key; made from the name if empty (not procedures)."
    )
    procedure: Literal[
        "", "prp_scalp", "prp_face", "mesotherapy_scalp", "mesotherapy_face", "mesotherapy_body"
    ] = Field("", description="Required for a procedure item: which procedure it prices.")
    unit_price: Decimal = Field(ge=0, lt=10**10, description=MONEY)
    tax_rate: Decimal = Field(Decimal(0), ge=0, le=100, description="Tax in per cent, 0–100.")
    tax_inclusive: bool = Field(False, description="True: the price includes the tax.")
    valid_from: dt.date = Field(
        description="From this date on; the same date again corrects that version."
    )


class PackageDefinitionOut(Schema):
    id: int = Field(description="The package's id, to sell it.")
    name: str = Field(description="The package's name.")
    protocol_id: str = Field(description="The protocol it is built from.")
    procedure: str = Field(description="The procedure its sessions are.")
    sessions: int = Field(description="Sessions in the package.")
    price: Decimal = Field(description=MONEY)
    currency: str = Field(description="ISO 4217 code.")
    tax_rate: Decimal = Field(description="Tax in per cent, 0–100.")
    tax_inclusive: bool = Field(description="True: the price includes the tax.")
    validity_days: int = Field(description="Days a sold package stays valid.")


class PackageDefinitionIn(BodyIn):
    model_config = example(protocol_id="prp-aga-monthly-3", price="2400", validity_days=365)

    protocol_id: str = Field(
        min_length=1, max_length=60, description="A protocol id, e.g. `prp-aga-monthly-3`."
    )
    price: Decimal = Field(gt=0, lt=10**10, description=MONEY)
    name: str = Field("", max_length=200, description="The protocol's name if empty.")
    validity_days: int = Field(365, ge=1, le=3650, description="Days a sold package is valid.")
    tax_rate: Decimal = Field(Decimal(0), ge=0, le=100, description="Tax in per cent, 0–100.")
    tax_inclusive: bool = Field(False, description="True: the price includes the tax.")


# --- Schemas: invoices and credit notes -------------------------------------------------------


class LineOut(Schema):
    id: int = Field(description="The line's id (to credit or remove it).")
    position: int = Field(description="1, 2, … on the document.")
    description: str = Field(description="What the line is for.")
    procedure: str = Field(description="The procedure's code, if the line is a procedure.")
    quantity: Decimal = Field(description="How many.")
    unit_price: Decimal = Field(description=MONEY)
    tax_rate: Decimal = Field(description="Tax in per cent.")
    tax_inclusive: bool = Field(description="True: the unit price includes the tax.")
    net: Decimal = Field(description="Before tax, rounded to the currency's minor unit.")
    tax: Decimal = Field(description="Tax, rounded to the currency's minor unit.")
    gross: Decimal = Field(description="Net plus tax.")
    package_sale_id: int | None = Field(description="The package sold on this line, if any.")
    credits_line_id: int | None = Field(description="On a credit note: the line it takes back.")


class InvoiceOut(Schema):
    id: int = Field(description="The document's id.")
    patient_id: int = Field(description="Whose document it is.")
    kind: str = Field(description=KIND)
    number: str | None = Field(description="E.g. INV-A-000012 or CN-A-000013; null on a draft.")
    status: str = Field(description="`draft` or `issued` (issued documents never change).")
    currency: str = Field(description="ISO 4217 code.")
    corrects_id: int | None = Field(description="On a credit note: the invoice it corrects.")
    reason: str = Field(description="On a credit note: why it was issued.")
    issue_date: dt.date | None = Field(description="Clinic-local date printed on it.")
    total_net: Decimal = Field(description="Sum of the lines' net (zero on a draft).")
    total_tax: Decimal = Field(description="Sum of the lines' tax (zero on a draft).")
    total_gross: Decimal = Field(description="Sum of the lines' gross (zero on a draft).")
    deposit_applied: Decimal = Field(
        description="On a quote's final invoice: the deposit already paid, taken off."
    )

    @staticmethod
    def resolve_number(obj: Any) -> str | None:
        return obj.display_number if obj.number is not None else None


class InvoiceDetailOut(InvoiceOut):
    state: str = Field(description="Draft, Issued, Unpaid, Part paid, Paid or Credited.")
    due: Decimal = Field(description="What is still owed on an issued invoice (else 0).")
    lines: list[LineOut] = Field(description="The priced lines.")

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
    count: int = Field(description="Documents matching.")
    page: int = Field(description="This page (from 1).")
    pages: int = Field(description="How many pages.")
    results: list[InvoiceOut] = Field(description="This page's documents, newest first.")


class InvoiceQuery(QueryIn):
    page: int = Field(1, ge=1, le=MAX_PAGE, description="Page, from 1.")
    page_size: int = Field(50, ge=1, le=200, description="Documents per page.")
    kind: Literal["invoice", "credit_note"] | None = Field(None, description=KIND)
    patient_id: int | None = Field(None, ge=1, le=MAX_ID, description="One patient's documents.")


class LineIn(BodyIn):
    model_config = example(code="consultation", quantity=1)

    code: str = Field(
        min_length=1, max_length=60, description="A code from today's price list (GET /prices)."
    )
    quantity: Decimal = Field(
        Decimal(1), gt=0, le=1000, description="More than 0, at most 1000 (3 decimals)."
    )


class InvoiceIn(BodyIn):
    model_config = example(patient_id=1, lines=[{"code": "consultation", "quantity": 1}])

    patient_id: int = Field(ge=1, le=MAX_ID, description="The patient billed.")
    lines: list[LineIn] = Field(
        default_factory=list, max_length=100, description="Lines at today's prices."
    )


class CreditNoteIn(BodyIn):
    model_config = example(line_ids=[12], reason="Product returned unopened")

    line_ids: list[int] | None = Field(
        None,
        max_length=100,
        description="The invoice's lines to take back; omit to void the invoice (every line "
        "not credited yet; a package's line is credited from the package).",
    )
    reason: str = Field(min_length=5, max_length=2000, description="Why (at least 5 letters).")


# --- Schemas: payments and refunds ------------------------------------------------------------


class PaymentIn(BodyIn):
    model_config = example(amount="250.00", method="card", reference="Terminal slip 0412")

    amount: Decimal = Field(gt=0, lt=10**10, description="In the invoice's currency.")
    method: Literal["cash", "card", "bank_transfer", "voucher"] = Field(
        description="How it was paid."
    )
    reference: str = Field("", max_length=100, description="Required for a voucher.")


class RefundOut(Schema):
    id: int = Field(description="The refund's id.")
    payment_id: int = Field(description="The payment it returns.")
    amount: Decimal = Field(description=MONEY)
    reason: str = Field(description="Why.")
    refunded_at: dt.datetime = Field(description="When (UTC).")


class PaymentOut(Schema):
    id: int = Field(description="The payment's id (refunds go against it).")
    patient_id: int = Field(description="Who paid.")
    invoice_id: int | None = Field(description="The invoice it paid; null: on account.")
    method: str = Field(description="`cash`, `card`, `bank_transfer` or `voucher`.")
    amount: Decimal = Field(description=MONEY)
    applied: Decimal = Field(description="What went to the invoice; the rest is on account.")
    currency: str = Field(description="ISO 4217 code.")
    reference: str = Field(description="Terminal slip, transfer reference or voucher code.")
    received_at: dt.datetime = Field(description="When (UTC).")


class PaymentDetailOut(PaymentOut):
    refunds: list[RefundOut] = Field(description="Money returned against this payment.")

    @staticmethod
    def resolve_refunds(obj: Any) -> list[Any]:
        return selectors.payment_refunds(obj)


class RefundIn(BodyIn):
    model_config = example(amount="45.50", reason="Product returned unopened")

    amount: Decimal = Field(gt=0, lt=10**10, description="At most what is left of the payment.")
    reason: str = Field(min_length=5, max_length=2000, description="Why (at least 5 letters).")


class AccountOut(Schema):
    currency: str = Field(description="ISO 4217 code.")
    invoiced: Decimal = Field(description="Issued invoices' totals.")
    credited: Decimal = Field(description="Credit notes and deposits carried into invoices.")
    paid: Decimal = Field(description="Payments received.")
    refunded: Decimal = Field(description="Refunds given back.")
    balance: Decimal = Field(description="Positive: the patient owes; negative: credit.")


# --- Schemas: packages sold -------------------------------------------------------------------


class PackageOut(Schema):
    id: int = Field(description="The sold package's id.")
    name: str = Field(description="The package's name.")
    procedure: str = Field(description="The procedure its sessions are.")
    sessions_total: int = Field(description="Sessions in this package.")
    sessions_used: int = Field(description="Used by signed session records.")
    sessions_left: int = Field(description="Still usable (0 once expired).")
    sessions_refunded: int = Field(description="Credited back, never to be used.")
    sessions_transferred: int = Field(description="Moved to another patient's package.")
    transferred_from_id: int | None = Field(description="The package it came from, if any.")
    sold_on: dt.date = Field(description="Clinic-local date of the sale.")
    expires_on: dt.date = Field(description="Last day a session can be used.")
    frozen_on: dt.date | None = Field(description="Frozen since (no session used); null.")


class SellIn(BodyIn):
    model_config = example(package_id=1)

    package_id: int = Field(ge=1, le=MAX_ID, description="A package on sale.")


class ReasonIn(BodyIn):
    model_config = example(reason="Travelling for three months")

    reason: str = Field(min_length=5, max_length=2000, description="Why (at least 5 letters).")


class TransferIn(BodyIn):
    model_config = example(patient_id=2, reason="Given to her brother")

    patient_id: int = Field(ge=1, le=MAX_ID, description="Another patient of the clinic.")
    reason: str = Field(min_length=5, max_length=2000, description="Why (at least 5 letters).")


class PackageRefundIn(BodyIn):
    model_config = example(sessions=1, reason="Moving abroad")

    sessions: int = Field(ge=1, le=1000, description="Unused sessions to credit.")
    reason: str = Field(min_length=5, max_length=2000, description="Why (at least 5 letters).")


# --- Schemas: quotes --------------------------------------------------------------------------


class QuoteLineOut(Schema):
    position: int = Field(description="1, 2, … on the quote.")
    description: str = Field(description="What the line is for.")
    procedure: str = Field(description="The procedure's code, if any.")
    package_id: int | None = Field(description="The package quoted, if any.")
    package_sale_id: int | None = Field(description="The package sold on acceptance, if any.")
    quantity: Decimal = Field(description="How many.")
    unit_price: Decimal = Field(description=MONEY)
    tax_rate: Decimal = Field(description="Tax in per cent.")
    tax_inclusive: bool = Field(description="True: the unit price includes the tax.")
    net: Decimal = Field(description="Before tax.")
    tax: Decimal = Field(description="Tax.")
    gross: Decimal = Field(description="Net plus tax.")


class QuoteOut(Schema):
    id: int = Field(description="The quote's id.")
    number: str = Field(description="E.g. Q-A-000004.")
    patient_id: int = Field(description="Whose quote it is.")
    plan_id: int | None = Field(description="The treatment plan it prices.")
    status: str = Field(description="`draft`, `sent` or `accepted`.")
    state: str = Field(description="Draft, Sent, Accepted or Expired.")
    currency: str = Field(description="ISO 4217 code.")
    valid_until: dt.date = Field(description="Last clinic-local day it can be accepted.")
    total_net: Decimal = Field(description="Sum of the lines' net.")
    total_tax: Decimal = Field(description="Sum of the lines' tax.")
    total_gross: Decimal = Field(description="Sum of the lines' gross.")
    deposit_percent: Decimal | None = Field(description="Deposit asked when it was accepted.")
    deposit_invoice_id: int | None = Field(description="The deposit's invoice, once accepted.")
    final_invoice_id: int | None = Field(description="The final invoice, once issued.")
    lines: list[QuoteLineOut] = Field(description="The priced lines.")

    @staticmethod
    def resolve_number(obj: Any) -> str:
        return str(obj.display_number)

    @staticmethod
    def resolve_state(obj: Any, context: Any) -> str:
        actor: Actor = context["request"].actor
        return services.quote_state(obj, actor.today())

    @staticmethod
    def resolve_lines(obj: Any) -> list[Any]:
        return selectors.quote_lines(obj)


class QuoteIn(BodyIn):
    model_config = example(plan_id=1, valid_until="2026-12-31")

    plan_id: int = Field(ge=1, le=MAX_ID, description="A treatment plan of the clinic.")
    valid_until: dt.date | None = Field(
        None, description="Last day it can be accepted (30 days from today if absent)."
    )


# --- Helpers ---------------------------------------------------------------------------------


def _package(actor: Actor, sale: PackageSale, status: Any = None) -> dict[str, Any]:
    status = status or selectors.package_status(actor=actor, sale=sale)
    return {
        "id": sale.pk,
        "name": sale.name,
        "procedure": sale.procedure,
        "sessions_total": sale.sessions_total,
        "sessions_used": status.used,
        "sessions_left": status.left,
        "sessions_refunded": sale.sessions_refunded,
        "sessions_transferred": sale.sessions_transferred,
        "transferred_from_id": sale.transferred_from_id,
        "sold_on": sale.sold_on,
        "expires_on": sale.expires_on,
        "frozen_on": sale.frozen_on,
    }


def _invoice(actor: Actor, invoice: Invoice) -> Invoice:
    return selectors.invoice_for(actor, invoice.pk)  # fresh, with its lines


def _tagged(response: HttpResponse, invoice: Invoice) -> Invoice:
    """The invoice with its ETag (the document and its lines: what a write may change)."""
    return tag(response, invoice, invoice.lines.all())


def _unchanged(if_match: str | None, invoice: Invoice) -> None:
    """428 without If-Match, 412 when the invoice or its lines changed since that read."""
    require_if_match(if_match, invoice, invoice.lines.all())


WRITE = (
    " Send the invoice's ETag (from your last read) in If-Match: 428 without it, 412 when "
    "the invoice changed since."
)


def _quote(actor: Actor, quote: Quote) -> Quote:
    return selectors.quote_for(actor, quote.pk)


# --- Price list ------------------------------------------------------------------------------


@router.get(
    "/prices",
    response=list[PriceItemOut],
    summary="Today's price list",
    description="Each item in force today (clinic date), one row per item. Front desk and "
    "clinic admin.",
)
def list_prices(request: HttpRequest) -> list[Any]:
    actor = api_actor(request, Perm.BILLING)
    return selectors.price_list(actor=actor)


@router.post(
    "/prices",
    response={201: PriceItemOut},
    summary="Set a price from a date on",
    description="A new date starts a new version; documents already issued keep their "
    "prices. Clinic admin only; audited.",
)
def set_price(request: HttpRequest, payload: PriceIn) -> Status[object]:
    actor = api_actor(request, Perm.PRICE_LIST_MANAGE)
    item = services.price_set(
        actor=actor,
        code=payload.code or payload.procedure or payload.name,
        kind=payload.kind,
        name=payload.name,
        procedure=payload.procedure,
        unit_price=payload.unit_price,
        tax_rate=payload.tax_rate,
        tax_inclusive=payload.tax_inclusive,
        valid_from=payload.valid_from,
    )
    return Status(201, item)


@router.get(
    "/package-definitions",
    response=list[PackageDefinitionOut],
    summary="Packages on sale",
    description="Packages built from protocols, with their price and validity.",
)
def list_package_definitions(request: HttpRequest) -> list[Any]:
    actor = api_actor(request, Perm.BILLING)
    return list(selectors.package_definitions(actor=actor))


@router.post(
    "/package-definitions",
    response={201: PackageDefinitionOut},
    summary="Add a package built from a protocol",
    description="Its sessions are the protocol's, at one package price. Clinic admin only; "
    "audited.",
)
def define_package(request: HttpRequest, payload: PackageDefinitionIn) -> Status[object]:
    actor = api_actor(request, Perm.PRICE_LIST_MANAGE)
    package = services.package_define(actor=actor, **payload.dict())
    return Status(201, package)


# --- Invoices and credit notes ---------------------------------------------------------------


@router.get(
    "/invoices",
    response=InvoicePage,
    summary="The clinic's invoices and credit notes",
    description="Newest first, paged; filter by kind or patient.",
)
def list_invoices(request: HttpRequest, filters: Query[InvoiceQuery]) -> dict[str, Any]:
    actor = api_actor(request, Perm.BILLING)
    qs = selectors.clinic_invoice_search(
        actor=actor, kind=filters.kind, patient_id=filters.patient_id
    )
    return page_of(qs, filters.page, filters.page_size)


@router.post(
    "/invoices",
    response={201: InvoiceDetailOut, **problems(404)},
    summary="Draft an invoice",
    description="A draft for a patient with lines at today's prices; it has no number until "
    "it is issued. Audited.",
    openapi_extra=etag_documented(write=False, status=201),
)
def create_invoice(
    request: HttpRequest, payload: InvoiceIn, response: HttpResponse
) -> Status[object]:
    actor = api_actor(request, Perm.BILLING)
    patient = patient_for(actor, payload.patient_id)
    invoice = services.invoice_draft(
        actor=actor, patient=patient, lines=[(x.code, x.quantity) for x in payload.lines]
    )
    return Status(201, _tagged(response, _invoice(actor, invoice)))


@router.get(
    "/invoices/{invoice_id}",
    response={200: InvoiceDetailOut},
    summary="An invoice or credit note with its lines and what is due",
    description="Another clinic's document is a 404. The ETag is the version to send in "
    "If-Match to change it (lines, issue, payments, credit notes).",
    openapi_extra=etag_documented(write=False),
)
def get_invoice(request: HttpRequest, invoice_id: int, response: HttpResponse) -> Any:
    actor = api_actor(request, Perm.BILLING)
    return _tagged(response, selectors.invoice_for(actor, invoice_id))


@router.post(
    "/invoices/{invoice_id}/lines",
    response={201: InvoiceDetailOut, **PRECONDITION_PROBLEMS},
    summary="Add a line to a draft",
    description="At today's price of the item; an issued invoice is refused (422). Audited."
    + WRITE,
    openapi_extra=etag_documented(status=201),
)
def add_invoice_line(
    request: HttpRequest,
    invoice_id: int,
    payload: LineIn,
    response: HttpResponse,
    if_match: IfMatch = None,
) -> Status[object]:
    actor = api_actor(request, Perm.BILLING)
    invoice = selectors.invoice_for(actor, invoice_id)
    _unchanged(if_match, invoice)
    services.invoice_add_line(
        actor=actor, invoice=invoice, code=payload.code, quantity=payload.quantity
    )
    return Status(201, _tagged(response, _invoice(actor, invoice)))


@router.delete(
    "/invoices/{invoice_id}/lines/{line_id}",
    response={204: None, **PRECONDITION_PROBLEMS},
    summary="Remove a line from a draft",
    description="Only a draft's lines; an issued invoice is corrected by a credit note. "
    "Audited." + WRITE,
)
def remove_invoice_line(
    request: HttpRequest, invoice_id: int, line_id: int, if_match: IfMatch = None
) -> Status[None]:
    actor = api_actor(request, Perm.BILLING)
    invoice = selectors.invoice_for(actor, invoice_id)
    _unchanged(if_match, invoice)
    services.invoice_remove_line(actor=actor, invoice=invoice, line_id=line_id)
    return Status(204, None)


@router.post(
    "/invoices/{invoice_id}/issue",
    response={200: InvoiceDetailOut, **PRECONDITION_PROBLEMS},
    summary="Issue a draft",
    description="Gives it the clinic's next number (one gap-free sequence shared with credit "
    "notes) and locks it; emailed to the patient if they consented. Audited." + WRITE,
    openapi_extra=etag_documented(),
)
def issue_invoice(
    request: HttpRequest, invoice_id: int, response: HttpResponse, if_match: IfMatch = None
) -> Any:
    actor = api_actor(request, Perm.BILLING)
    invoice = selectors.invoice_for(actor, invoice_id)
    _unchanged(if_match, invoice)
    issued = services.invoice_issue(actor=actor, invoice=invoice)
    return _tagged(response, _invoice(actor, issued))


@router.post(
    "/invoices/{invoice_id}/credit-notes",
    response={201: InvoiceDetailOut, **PRECONDITION_PROBLEMS},
    summary="Credit (or void) an issued invoice",
    description="A credit note taking back the chosen lines, or every line not credited yet "
    "(void). Clinic admin only; numbered in the same sequence; audited. Answers the credit "
    "note." + WRITE,
)
def credit_invoice(
    request: HttpRequest, invoice_id: int, payload: CreditNoteIn, if_match: IfMatch = None
) -> Status[object]:
    actor = api_actor(request, Perm.BILLING_APPROVE)
    invoice = selectors.invoice_for(actor, invoice_id)
    _unchanged(if_match, invoice)
    note = services.credit_note_issue(
        actor=actor, invoice=invoice, line_ids=payload.line_ids, reason=payload.reason
    )
    return Status(201, _invoice(actor, note))


# --- Payments and refunds --------------------------------------------------------------------


@router.post(
    "/invoices/{invoice_id}/payments",
    response={201: PaymentOut, **PRECONDITION_PROBLEMS},
    summary="Take a payment against an issued invoice (any excess goes on account)",
    description="Part payments are fine; what exceeds the amount due becomes credit on the "
    "patient's account. Audited." + WRITE,
)
def pay_invoice(
    request: HttpRequest, invoice_id: int, payload: PaymentIn, if_match: IfMatch = None
) -> Status[object]:
    actor = api_actor(request, Perm.BILLING)
    invoice = selectors.invoice_for(actor, invoice_id)
    _unchanged(if_match, invoice)
    payment = services.payment_record(
        actor=actor,
        patient=invoice.patient,
        invoice=invoice,
        amount=payload.amount,
        method=payload.method,
        reference=payload.reference,
    )
    return Status(201, payment)


@router.post(
    "/patients/{patient_id}/payments",
    response={201: PaymentOut},
    summary="Take a payment on account",
    description="Money received without an invoice (e.g. a voucher): credit on the "
    "patient's account. Audited.",
)
def pay_on_account(request: HttpRequest, patient_id: int, payload: PaymentIn) -> Status[object]:
    actor = api_actor(request, Perm.BILLING)
    patient = patient_for(actor, patient_id)
    payment = services.payment_record(
        actor=actor,
        patient=patient,
        amount=payload.amount,
        method=payload.method,
        reference=payload.reference,
    )
    return Status(201, payment)


@router.get(
    "/payments/{payment_id}",
    response={200: PaymentDetailOut},
    summary="A payment and the refunds against it",
    description="Another clinic's payment is a 404.",
)
def get_payment(request: HttpRequest, payment_id: int) -> Any:
    actor = api_actor(request, Perm.BILLING)
    return selectors.payment_for(actor, payment_id)


@router.post(
    "/payments/{payment_id}/refunds",
    response={201: RefundOut},
    summary="Refund money against the payment it returns",
    description="At most what is left of the payment. Clinic admin only; audited.",
)
def refund_payment(request: HttpRequest, payment_id: int, payload: RefundIn) -> Status[object]:
    actor = api_actor(request, Perm.BILLING_APPROVE)
    payment = selectors.payment_for(actor, payment_id)
    refund = services.refund_record(
        actor=actor, payment=payment, amount=payload.amount, reason=payload.reason
    )
    return Status(201, refund)


@router.get(
    "/patients/{patient_id}/account",
    response={200: AccountOut},
    summary="A patient's balance (positive: owed; negative: credit on account)",
    description="Front desk and clinic admin; clinicians see package status, not the ledger.",
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


# --- Packages sold ---------------------------------------------------------------------------


@router.get(
    "/patients/{patient_id}/packages",
    response={200: list[PackageOut]},
    summary="Sessions used and left in each package the patient bought",
    description="Every role that sees the chart; no money.",
)
def get_packages(request: HttpRequest, patient_id: int) -> list[dict[str, Any]]:
    actor = api_actor(request, Perm.PATIENT_VIEW)
    patient = patient_for(actor, patient_id)
    return [
        _package(actor, s.sale, s) for s in selectors.patient_packages(actor=actor, patient=patient)
    ]


@router.post(
    "/patients/{patient_id}/packages",
    response={201: PackageOut},
    summary="Sell a package to a patient",
    description="The sale and its invoice (issued at once, emailed if the patient "
    "consented). A session is used only when its session record is signed. Audited.",
)
def sell_package(request: HttpRequest, patient_id: int, payload: SellIn) -> Status[object]:
    actor = api_actor(request, Perm.BILLING)
    patient = patient_for(actor, patient_id)
    package = selectors.package_definition_for(actor, payload.package_id)
    sale = services.package_sell(actor=actor, patient=patient, package=package)
    return Status(201, _package(actor, sale))


@router.get(
    "/packages/{sale_id}",
    response={200: PackageOut},
    summary="A sold package",
    description="Another clinic's package is a 404.",
)
def get_package(request: HttpRequest, sale_id: int) -> dict[str, Any]:
    actor = api_actor(request, Perm.BILLING)
    return _package(actor, selectors.package_sale_for(actor, sale_id))


@router.post(
    "/packages/{sale_id}/freeze",
    response={200: PackageOut},
    summary="Freeze a package",
    description="No session is used while it is frozen. Audited with the reason.",
)
def freeze_package(request: HttpRequest, sale_id: int, payload: ReasonIn) -> dict[str, Any]:
    actor = api_actor(request, Perm.BILLING)
    sale = selectors.package_sale_for(actor, sale_id)
    return _package(actor, services.package_freeze(actor=actor, sale=sale, reason=payload.reason))


@router.post(
    "/packages/{sale_id}/unfreeze",
    response={200: PackageOut},
    summary="Resume a frozen package",
    description="Its expiry moves on by the days it was frozen. Audited with the reason.",
)
def unfreeze_package(request: HttpRequest, sale_id: int, payload: ReasonIn) -> dict[str, Any]:
    actor = api_actor(request, Perm.BILLING)
    sale = selectors.package_sale_for(actor, sale_id)
    moved = services.package_unfreeze(actor=actor, sale=sale, reason=payload.reason)
    return _package(actor, moved)


@router.post(
    "/packages/{sale_id}/transfer",
    response={201: PackageOut},
    summary="Transfer a package's remaining sessions to another patient",
    description="The other patient (same clinic) gets a new package with the sessions left; "
    "used ones stay. Answers the new package. Audited on both records.",
)
def transfer_package(request: HttpRequest, sale_id: int, payload: TransferIn) -> Status[object]:
    actor = api_actor(request, Perm.BILLING)
    sale = selectors.package_sale_for(actor, sale_id)
    patient = patient_for(actor, payload.patient_id)
    moved = services.package_transfer(
        actor=actor, sale=sale, patient=patient, reason=payload.reason
    )
    return Status(201, _package(actor, moved))


@router.post(
    "/packages/{sale_id}/refund",
    response={201: InvoiceDetailOut},
    summary="Credit a package's unused sessions",
    description="Pro rata (package price ÷ sessions); answers the credit note, which corrects "
    "the invoice the sessions were bought on (a transferred package's first buyer). The money "
    "goes back with a refund against the payment. Clinic admin only; audited.",
)
def refund_package(request: HttpRequest, sale_id: int, payload: PackageRefundIn) -> Status[object]:
    actor = api_actor(request, Perm.BILLING_APPROVE)
    sale = selectors.package_sale_for(actor, sale_id)
    note = services.package_refund_unused(
        actor=actor, sale=sale, sessions=payload.sessions, reason=payload.reason
    )
    return Status(201, _invoice(actor, note))


# --- Quotes ----------------------------------------------------------------------------------


@router.post(
    "/quotes",
    response={201: QuoteOut, **problems(404)},
    summary="Quote a treatment plan",
    description="The plan's package at its price if the clinic sells one, else its sessions "
    "at today's price. Audited.",
)
def create_quote(request: HttpRequest, payload: QuoteIn) -> Status[object]:
    actor = api_actor(request, Perm.BILLING)
    plan = scheduling.plan_for(actor, payload.plan_id)
    quote = services.quote_from_plan(actor=actor, plan=plan, valid_until=payload.valid_until)
    return Status(201, _quote(actor, quote))


@router.get(
    "/quotes/{quote_id}",
    response={200: QuoteOut},
    summary="A quote with its lines",
    description="Another clinic's quote is a 404.",
)
def get_quote(request: HttpRequest, quote_id: int) -> Any:
    actor = api_actor(request, Perm.BILLING)
    return selectors.quote_for(actor, quote_id)


@router.get(
    "/patients/{patient_id}/quotes",
    response={200: list[QuoteOut]},
    summary="A patient's quotes",
    description="Newest first (at most 50).",
)
def list_patient_quotes(request: HttpRequest, patient_id: int) -> list[Any]:
    actor = api_actor(request, Perm.BILLING)
    patient = patient_for(actor, patient_id)
    return selectors.patient_quotes(actor=actor, patient=patient)


@router.post(
    "/quotes/{quote_id}/send",
    response={200: QuoteOut},
    summary="Mark a quote as sent",
    description="An accepted or expired quote is refused (422). Audited.",
)
def send_quote(request: HttpRequest, quote_id: int) -> Any:
    actor = api_actor(request, Perm.BILLING)
    quote = selectors.quote_for(actor, quote_id)
    return _quote(actor, services.quote_send(actor=actor, quote=quote))


@router.post(
    "/quotes/{quote_id}/accept",
    response={200: QuoteOut},
    summary="The patient accepts a quote",
    description="Invoices the deposit the clinic's rule sets (its own issued invoice) and "
    "sells a quoted package. Audited.",
)
def accept_quote(request: HttpRequest, quote_id: int) -> Any:
    actor = api_actor(request, Perm.BILLING)
    quote = selectors.quote_for(actor, quote_id)
    return _quote(actor, services.quote_accept(actor=actor, quote=quote))


@router.post(
    "/quotes/{quote_id}/invoice",
    response={201: InvoiceDetailOut},
    summary="Issue an accepted quote's final invoice",
    description="Its lines copied, the deposit paid so far taken off what is due. Audited.",
)
def invoice_quote(request: HttpRequest, quote_id: int) -> Status[object]:
    actor = api_actor(request, Perm.BILLING)
    quote = selectors.quote_for(actor, quote_id)
    invoice = services.quote_invoice(actor=actor, quote=quote)
    return Status(201, _invoice(actor, invoice))
