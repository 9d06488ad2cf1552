"""What the billing services share: the SQLite writer lock and money on the clinic's terms."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError

from anagen.billing.money import minor_units, round_money


def money_in(value: Any, currency: str, *, field: str, allow_zero: bool = False) -> Decimal:
    """A user-typed amount as Decimal in the currency's minor unit, or a clear error."""
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        raise ValidationError({field: "Enter an amount, e.g. 1200.00."}) from None
    if not amount.is_finite():
        raise ValidationError({field: "Enter an amount, e.g. 1200.00."})
    if amount < 0 or (amount == 0 and not allow_zero):
        raise ValidationError({field: "The amount must be more than zero."})
    if amount >= Decimal(10) ** 10:
        raise ValidationError({field: "That amount is too large."})
    if round_money(amount, currency) != amount:  # 1.234 dollars; 2.50 yen
        places = minor_units(currency)
        raise ValidationError(
            {field: f"{currency} amounts have {places} decimal place{'s' if places != 1 else ''}."}
        )
    return round_money(amount, currency)
