from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template

from anagen.billing import selectors
from anagen.billing.money import format_money, format_rate

register = template.Library()


@register.filter
def money(amount: Decimal | None, currency: str) -> str:
    """{{ invoice.total_gross|money:invoice.currency }} → '$1,200.00'."""
    return format_money(amount, currency)


@register.filter
def qty(value: Decimal) -> str:
    """1.000 → '1', 2.500 → '2.5'."""
    return f"{Decimal(value).normalize():f}"


@register.filter
def rate(value: Decimal) -> str:
    return format_rate(value)


@register.inclusion_tag("billing/_chart_card.html")
def billing_card(patient: Any, actor: Any) -> dict[str, Any]:
    """The chart's money card: balance (front desk, admin) and package sessions (everyone)."""
    summary = None
    if actor.perms.billing:
        summary = selectors.patient_balance(actor=actor, patient=patient)
    packages = (
        selectors.patient_packages(actor=actor, patient=patient)
        if actor.perms.package_status_view
        else []
    )
    return {"patient": patient, "actor": actor, "summary": summary, "packages": packages}


@register.inclusion_tag("billing/_package_note.html")
def package_note(patient: Any, actor: Any) -> dict[str, Any]:
    """Package sessions left, where a session is booked (every role that sees packages)."""
    show = bool(actor.perms.package_status_view)
    packages = selectors.patient_packages(actor=actor, patient=patient) if show else []
    return {"show": show, "packages": packages}
