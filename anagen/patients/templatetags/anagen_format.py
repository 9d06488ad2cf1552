"""Number formatting for clinical values: as precise as entered, without trailing zeros."""

from __future__ import annotations

from decimal import Decimal

from django import template

register = template.Library()


def plain(value: Decimal | float | int | None) -> str:
    if value is None:
        return ""
    text = format(Decimal(str(value)).normalize(), "f")
    return text


register.filter("plain", plain)
