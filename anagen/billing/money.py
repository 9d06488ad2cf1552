"""Money arithmetic: Decimal amounts in an ISO 4217 currency, never floats.

Pure Python (no Django): rounding to the currency's minor unit, a priced line's net/tax/gross,
and money in words people read ("$1,200.00", "£1,440.00", "1,200 CHF").
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

# ISO 4217 minor units that are not 2 (the common case).
MINOR_UNITS: dict[str, int] = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
    "PYG": 0, "RWF": 0, "UGX": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}  # fmt: skip
SYMBOLS: dict[str, str] = {"USD": "$", "GBP": "£", "EUR": "€", "JPY": "¥", "AUD": "A$", "CAD": "C$"}
HUNDRED = Decimal(100)


def minor_units(currency: str) -> int:
    return MINOR_UNITS.get(currency.upper(), 2)


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round half up to the currency's minor unit (cents, pence; whole yen)."""
    return Decimal(amount).quantize(quantum(currency), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class LineAmounts:
    net: Decimal
    tax: Decimal
    gross: Decimal


def line_amounts(
    *, quantity: Decimal, unit_price: Decimal, tax_rate: Decimal, tax_inclusive: bool, currency: str
) -> LineAmounts:
    """One line's net, tax and gross, each rounded to the minor unit (per line, not per total).

    Tax-exclusive: net = qty × price, tax = net × rate. Tax-inclusive: gross = qty × price,
    net = gross ÷ (1 + rate), tax = gross - net (so net + tax is the gross shown on the price).
    """
    rate = Decimal(tax_rate)
    if tax_inclusive:
        gross = round_money(quantity * unit_price, currency)
        net = round_money(gross * HUNDRED / (HUNDRED + rate), currency)
        return LineAmounts(net=net, tax=gross - net, gross=gross)
    net = round_money(quantity * unit_price, currency)
    tax = round_money(net * rate / HUNDRED, currency)
    return LineAmounts(net=net, tax=tax, gross=net + tax)


def format_money(amount: Decimal | int | None, currency: str) -> str:
    """'$1,200.00', '-£40.00', '¥12,000', '1,200.00 CHF'."""
    if amount is None:
        return ""
    value = round_money(Decimal(amount), currency)
    places = minor_units(currency)
    sign = "-" if value < 0 else ""
    digits = f"{abs(value):,.{places}f}"
    symbol = SYMBOLS.get(currency.upper())
    if symbol:
        return f"{sign}{symbol}{digits}"
    return f"{sign}{digits} {currency.upper()}"


def format_rate(rate: Decimal) -> str:
    """'20 %', '8.875 %'."""
    text = f"{Decimal(rate).normalize():f}"
    return f"{text} %"
