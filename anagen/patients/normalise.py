"""Normalising what people type: names for search, phone numbers to E.164, dates in many forms."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

import phonenumbers


def fold_text(text: str) -> str:
    """Lower-case, accent-free, single-spaced: 'José  Álvarez' → 'jose alvarez'."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.casefold().replace("-", " ").replace("'", "").split())


def search_name_for(given_name: str, family_name: str) -> str:
    return fold_text(f"{given_name} {family_name}")


class PhoneError(ValueError):
    pass


def phone_to_e164(raw: str, region: str) -> str:
    """Parse a phone number as typed (national form uses the clinic's region) into E.164."""
    raw = raw.strip()
    if not raw:
        return ""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise PhoneError(
            "Enter a valid phone number, e.g. 07700 900123 or +44 7700 900123."
        ) from None
    if not phonenumbers.is_possible_number(number):
        raise PhoneError("That phone number has the wrong number of digits.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def digits_of(text: str) -> str:
    return re.sub(r"\D", "", text)


_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y")


def parse_loose_date(text: str) -> dt.date | None:
    """A date typed in a search box (ISO or day-first), or None if it is not a date."""
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
    return None
