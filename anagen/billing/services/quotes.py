"""Quotes from treatment plans, the deposit asked on acceptance, and the final invoice that
takes the deposit paid off what is due; plus the clinic's billing settings."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.accounts.permissions import Perm
from anagen.audit.services import audit_record
from anagen.billing import selectors
from anagen.billing.models import (
    BillingSettings,
    Invoice,
    PackageDefinition,
    Quote,
    QuoteLine,
    QuoteStatus,
)
from anagen.billing.money import HUNDRED, line_amounts, round_money
from anagen.billing.services.invoices import _add_line, _counter, _stamp
from anagen.clinical import PROTOCOLS
from anagen.scheduling.models import TreatmentPlan
from anagen.serialised_writes import serialised

QUOTE_DAYS = 30


def settings_for(clinic: Any) -> BillingSettings:
    found, _ = BillingSettings.objects.get_or_create(clinic=clinic)
    return found


@transaction.atomic
def settings_update(*, actor: Actor, **values: Any) -> BillingSettings:
    """The clinic admin sets the deposit percentage and the legal details on invoices."""
    actor.require(Perm.PRICE_LIST_MANAGE)
    current = settings_for(actor.clinic)
    try:
        percent = Decimal(str(values.get("deposit_percent", current.deposit_percent)))
    except ArithmeticError:
        raise ValidationError({"deposit_percent": "Enter a percentage, e.g. 20."}) from None
    if not percent.is_finite() or not 0 <= percent <= 100 or percent.as_tuple().exponent < -2:  # type: ignore[operator]
        raise ValidationError({"deposit_percent": "A deposit is between 0 and 100 %."})
    new = {
        "deposit_percent": percent,
        "legal_name": str(values.get("legal_name", current.legal_name)).strip()[:200],
        "legal_address": str(values.get("legal_address", current.legal_address)).strip(),
        "tax_id": str(values.get("tax_id", current.tax_id)).strip()[:60],
    }
    changes = {k: [getattr(current, k), v] for k, v in new.items() if getattr(current, k) != v}
    for k, v in new.items():
        setattr(current, k, v)
    current.save()
    audit_record(action="billing.settings.update", actor=actor, obj=current, changes=changes)
    return current


def _add_quote_line(quote: Quote, **kw: Any) -> QuoteLine:
    amounts = line_amounts(
        quantity=kw["quantity"],
        unit_price=kw["unit_price"],
        tax_rate=kw["tax_rate"],
        tax_inclusive=kw["tax_inclusive"],
        currency=quote.currency,
    )
    position = quote.lines.count() + 1
    return QuoteLine.objects.create(
        quote=quote, position=position, net=amounts.net, tax=amounts.tax, gross=amounts.gross, **kw
    )


@transaction.atomic
def quote_from_plan(
    *, actor: Actor, plan: TreatmentPlan, valid_until: dt.date | None = None
) -> Quote:
    """A quote for a plan: the package for its protocol if the clinic sells one, else the
    protocol's sessions at today's price of the procedure. Valid 30 clinic days by default."""
    actor.require(Perm.BILLING)
    if plan.clinic_id != actor.clinic.pk:
        raise ValidationError("This plan belongs to another clinic.")
    today = actor.today()
    valid_until = valid_until or today + dt.timedelta(days=QUOTE_DAYS)
    if valid_until < today:
        raise ValidationError({"valid_until": "A quote is valid until today or later."})
    quote = Quote.objects.create(
        clinic=actor.clinic,
        patient=plan.patient,
        plan=plan,
        currency=actor.clinic.currency,
        valid_until=valid_until,
        created_by=actor.user,
        created_on=today,
    )
    package = (
        PackageDefinition.objects.filter(
            clinic=actor.clinic, protocol_id=plan.protocol_id, is_active=True
        )
        .order_by("-created_at", "-id")
        .first()
    )
    if package is not None:
        _add_quote_line(
            quote,
            package=package,
            procedure=package.procedure,
            description=f"{package.name} ({package.sessions} sessions)"[:300],
            quantity=Decimal(1),
            unit_price=package.price,
            tax_rate=package.tax_rate,
            tax_inclusive=package.tax_inclusive,
        )
    else:
        protocol = PROTOCOLS.get(plan.protocol_id)
        sessions = len(protocol.sessions) if protocol is not None else 1
        item = selectors.price_on(clinic=actor.clinic, code=plan.procedure, on=today)
        if item is None:
            raise ValidationError("The price list has no price for this plan's procedure yet.")
        _add_quote_line(
            quote,
            price_item=item,
            procedure=item.procedure,
            description=item.name,
            quantity=Decimal(sessions),
            unit_price=item.unit_price,
            tax_rate=item.tax_rate,
            tax_inclusive=item.tax_inclusive,
        )
    lines = list(quote.lines.all())
    quote.total_net = sum((x.net for x in lines), Decimal(0))
    quote.total_tax = sum((x.tax for x in lines), Decimal(0))
    quote.total_gross = sum((x.gross for x in lines), Decimal(0))
    quote.save()
    audit_record(
        action="billing.quote.create",
        actor=actor,
        patient=plan.patient,
        obj=quote,
        changes={"plan": str(plan), "total_gross": quote.total_gross, "valid_until": valid_until},
    )
    return quote


def quote_state(quote: Quote, today: dt.date) -> str:
    """Draft, Sent, Accepted or Expired (an unaccepted quote past its date)."""
    if quote.status != QuoteStatus.ACCEPTED and quote.valid_until < today:
        return "Expired"
    return quote.get_status_display()


def _open(actor: Actor, quote: Quote) -> Quote:
    actor.require(Perm.BILLING)
    if quote.clinic_id != actor.clinic.pk:
        raise ValidationError("This quote belongs to another clinic.")
    quote = Quote.objects.select_for_update().get(pk=quote.pk)
    if quote.status == QuoteStatus.ACCEPTED:
        raise ValidationError("This quote is already accepted.")
    if quote.valid_until < actor.today():
        raise ValidationError("This quote has expired; make a new one.")
    return quote


@transaction.atomic
def quote_send(*, actor: Actor, quote: Quote) -> Quote:
    quote = _open(actor, quote)
    quote.status = QuoteStatus.SENT
    quote.save(update_fields=["status"])
    audit_record(action="billing.quote.send", actor=actor, patient=quote.patient, obj=quote)
    return quote


def deposit_amount(total: Decimal, percent: Decimal, currency: str) -> Decimal:
    return round_money(total * percent / HUNDRED, currency)


@serialised
def quote_accept(*, actor: Actor, quote: Quote) -> Quote:
    """The patient accepts: the deposit the clinic asks (its percentage of the quote's total)
    is invoiced at once, as an issued invoice of its own."""
    actor.require(Perm.BILLING)
    _counter(actor.clinic)
    with transaction.atomic():
        quote = _open(actor, quote)
        percent = settings_for(actor.clinic).deposit_percent
        amount = deposit_amount(quote.total_gross, percent, quote.currency)
        if amount > 0:
            invoice = Invoice.objects.create(
                clinic=actor.clinic,
                patient=quote.patient,
                currency=quote.currency,
                created_by=actor.user,
            )
            _add_line(
                invoice,
                description=f"Deposit ({percent.normalize():f} %) on quote {quote.display_number}",
                quantity=Decimal(1),
                unit_price=amount,
                tax_rate=Decimal(0),
                tax_inclusive=False,
            )
            quote.deposit_invoice = _stamp(actor, invoice)
        sold = _sell_quoted_packages(actor, quote)
        quote.status = QuoteStatus.ACCEPTED
        quote.deposit_percent = percent
        quote.accepted_by = actor.user
        quote.accepted_at = timezone.now()
        quote.save()
        audit_record(
            action="billing.quote.accept",
            actor=actor,
            patient=quote.patient,
            obj=quote,
            changes={
                "deposit_percent": percent,
                "deposit": amount,
                "deposit_invoice": (
                    quote.deposit_invoice.display_number if quote.deposit_invoice else ""
                ),
                "packages_sold": sold,
            },
        )
    return quote


def _sell_quoted_packages(actor: Actor, quote: Quote) -> list[str]:
    """Accepting a package's quote sells the package: its sessions are the patient's from
    today (used as records are signed) at the quoted price; the quote's final invoice is the
    sale's invoice (its line names the sale), the deposit already taken off."""
    from anagen.billing.services.packages import new_sale

    sold = []
    for line in quote.lines.select_related("package").filter(package__isnull=False):
        assert line.package is not None
        sale = new_sale(
            actor=actor,
            patient=quote.patient,
            package=line.package,
            sold_on=actor.today(),
            price=line.unit_price,
        )
        line.package_sale = sale
        line.save(update_fields=["package_sale"])
        audit_record(
            action="billing.package.sell",
            actor=actor,
            patient=quote.patient,
            obj=sale,
            changes={
                "package": sale.name,
                "sessions": sale.sessions_total,
                "price": sale.price,
                "currency": sale.currency,
                "expires_on": sale.expires_on,
                "quote": quote.display_number,
            },
        )
        sold.append(sale.name)
    return sold


@serialised
def quote_invoice(*, actor: Actor, quote: Quote) -> Invoice:
    """The final invoice of an accepted quote: its lines copied, the deposit paid so far taken
    off what is due (never more than the invoice's total)."""
    actor.require(Perm.BILLING)
    if quote.clinic_id != actor.clinic.pk:
        raise ValidationError("This quote belongs to another clinic.")
    _counter(actor.clinic)
    with transaction.atomic():
        quote = Quote.objects.select_for_update().get(pk=quote.pk)
        if quote.status != QuoteStatus.ACCEPTED:
            raise ValidationError("Only an accepted quote is invoiced.")
        if quote.final_invoice_id is not None:
            raise ValidationError("This quote is already invoiced.")
        invoice = Invoice.objects.create(
            clinic=actor.clinic, patient=quote.patient, currency=quote.currency,
            created_by=actor.user,
        )  # fmt: skip
        for line in quote.lines.all():
            _add_line(
                invoice,
                description=line.description,
                quantity=line.quantity,
                unit_price=line.unit_price,
                tax_rate=line.tax_rate,
                tax_inclusive=line.tax_inclusive,
                price_item=line.price_item,
                package_sale=line.package_sale,
                procedure=line.procedure,
            )
        invoice = _stamp(actor, invoice)
        deposit = quote.deposit_invoice
        paid = selectors.invoice_paid(deposit) if deposit is not None else Decimal(0)
        invoice.deposit_applied = min(max(paid, Decimal(0)), invoice.total_gross)
        invoice.save(update_fields=["deposit_applied"])
        quote.final_invoice = invoice
        quote.save(update_fields=["final_invoice"])
        audit_record(
            action="billing.quote.invoice",
            actor=actor,
            patient=quote.patient,
            obj=invoice,
            changes={
                "quote": quote.display_number,
                "number": invoice.display_number,
                "total_gross": invoice.total_gross,
                "deposit_applied": invoice.deposit_applied,
            },
        )
    return invoice
