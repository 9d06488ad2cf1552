"""Readers for JSON-shaped input: each checks one value and names its field when it is wrong.

Bools are rejected where numbers are expected (``True`` is an ``int`` in Python), non-finite numbers
are rejected, and unknown keys are errors so a typo never silently drops a clinical fact.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from anagen.clinical.dates import parse_iso_date
from anagen.clinical.errors import ValidationError

MISSING: Any = object()


def join(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def as_object(value: object, field: str, allowed: Iterable[str]) -> Mapping[str, Any]:
    """A JSON object whose keys are all in ``allowed``."""
    if not isinstance(value, Mapping):
        raise ValidationError(field or "input", "must be a JSON object")
    allowed_set = set(allowed)
    for key in value:
        if key not in allowed_set:
            raise ValidationError(join(field, str(key)), "unknown field")
    return value


def as_list(value: object, field: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValidationError(field, "must be a list")
    return value


def get(obj: Mapping[str, Any], key: str, default: Any = MISSING, *, parent: str = "") -> Any:
    if key in obj and obj[key] is not None:
        return obj[key]
    if default is MISSING:
        raise ValidationError(join(parent, key), "is required")
    return default


def as_number(
    value: object,
    field: str,
    *,
    minimum: float | None = 0.0,
    maximum: float | None = None,
    positive: bool = False,
) -> float:
    """A finite number in range; by default not negative."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(field, f"must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValidationError(field, "must be a finite number")
    if positive and number <= 0:
        raise ValidationError(field, f"must be greater than 0, got {value!r}")
    if minimum is not None and number < minimum:
        raise ValidationError(field, f"must be at least {_num(minimum)}, got {value!r}")
    if maximum is not None and number > maximum:
        raise ValidationError(field, f"must be at most {_num(maximum)}, got {value!r}")
    return number


def as_bool(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(field, f"must be true or false, got {value!r}")
    return value


def as_text(value: object, field: str, *, max_length: int = 200) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(field, "must be a non-empty string")
    if len(value) > max_length:
        raise ValidationError(field, f"must be at most {max_length} characters")
    return value


def as_code(value: object, field: str, vocabulary: Mapping[str, Any]) -> str:
    """One code of ``vocabulary``; an unknown code is an error, listing the known ones."""
    if not isinstance(value, str) or value not in vocabulary:
        known = ", ".join(sorted(vocabulary))
        raise ValidationError(field, f"unknown code {value!r} (expected one of: {known})")
    return value


def as_date(value: object, field: str) -> date:
    return parse_iso_date(value, field)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
