"""Half-up rounding for displayed numbers (Python's round() is banker's rounding: 0.5 → 0)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def round_half_up(value: float, digits: int = 0) -> float:
    # repr() is the shortest text that round-trips, so 25.085 is rounded as written, not as the
    # binary 25.08499999... it is stored as.
    quantum = Decimal(1).scaleb(-digits)
    return float(Decimal(repr(float(value))).quantize(quantum, rounding=ROUND_HALF_UP))


def round_int(value: float) -> int:
    return int(round_half_up(value, 0))
