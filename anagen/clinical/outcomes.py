"""Outcome arithmetic: change from baseline, area units, count vs density, responders, MDC.

A hair *count* belongs to a target area; a *density* is per cm². They are distinct types so they
can never be subtracted from each other (clinical-facts.md 5.1, 10 T3/T4).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from anagen.clinical import inputs as inp
from anagen.clinical.datafiles import load
from anagen.clinical.dates import add_months
from anagen.clinical.errors import ValidationError
from anagen.clinical.rounding import round_half_up

_DATA = load("outcomes")
CM2_PER_INCH2: float = float(_DATA["units"]["cm2_per_inch2"])
_PCT_DECIMALS = int(_DATA["rounding"]["percent_decimals"])
_ABS_DECIMALS = int(_DATA["rounding"]["absolute_decimals"])
RESPONDER_RULES: dict[str, dict[str, Any]] = {r["id"]: r for r in _DATA["responder_rules"]}


@dataclass(frozen=True)
class Change:
    baseline: float
    follow_up: float
    absolute: float
    percent: float


def change(baseline: float, follow_up: float) -> Change:
    """Absolute and percent change (percent of the baseline), rounded for display."""
    before = inp.as_number(baseline, "baseline", minimum=None)
    after = inp.as_number(follow_up, "follow_up", minimum=None)
    return Change(
        baseline=before,
        follow_up=after,
        absolute=round_half_up(after - before, _ABS_DECIMALS),
        percent=percent_change(before, after),
    )


def percent_change(baseline: float, follow_up: float, decimals: int = _PCT_DECIMALS) -> float:
    before = inp.as_number(baseline, "baseline", minimum=None)
    after = inp.as_number(follow_up, "follow_up", minimum=None)
    if before == 0:
        raise ValidationError("baseline", "must not be 0 for a percent change")
    return round_half_up((after - before) / abs(before) * 100, decimals)


def reduction_pct(baseline: float, follow_up: float, decimals: int = 1) -> float:
    """Relative reduction, e.g. SALT 6.82 → 4.35 is a 36.2 % reduction (clinical-facts 10 T8)."""
    return -percent_change(baseline, follow_up, decimals) + 0.0  # + 0.0 turns -0.0 into 0.0


def per_inch2_to_per_cm2(per_inch2: float, decimals: int | None = 2) -> float:
    value = inp.as_number(per_inch2, "per_inch2", minimum=None) / CM2_PER_INCH2
    return round_half_up(value, decimals) if decimals is not None else value


def per_cm2_to_per_inch2(per_cm2: float, decimals: int | None = 2) -> float:
    value = inp.as_number(per_cm2, "per_cm2", minimum=None) * CM2_PER_INCH2
    return round_half_up(value, decimals) if decimals is not None else value


@dataclass(frozen=True)
class Density:
    """Hairs per cm²."""

    per_cm2: float

    def __post_init__(self) -> None:
        inp.as_number(self.per_cm2, "density_per_cm2")

    @classmethod
    def from_per_inch2(cls, per_inch2: float) -> Density:
        return cls(per_inch2_to_per_cm2(per_inch2, decimals=None))

    @property
    def per_inch2(self) -> float:
        return self.per_cm2 * CM2_PER_INCH2


@dataclass(frozen=True)
class HairCount:
    """Hairs counted in a target area of ``area_cm2`` (e.g. a 1 cm² tattooed circle)."""

    count: float
    area_cm2: float

    def __post_init__(self) -> None:
        inp.as_number(self.count, "count")
        inp.as_number(self.area_cm2, "area_cm2", positive=True)

    @property
    def density(self) -> Density:
        return Density(self.count / self.area_cm2)

    @property
    def density_per_cm2(self) -> float:
        return self.count / self.area_cm2


def density_change(baseline: Density, follow_up: Density) -> Change:
    if not isinstance(baseline, Density) or not isinstance(follow_up, Density):
        raise ValidationError("density", "both values must be densities (hairs/cm²)")
    return change(baseline.per_cm2, follow_up.per_cm2)


def count_change(baseline: HairCount, follow_up: HairCount) -> Change:
    """Change of a count in the same target area; different areas must be compared as density."""
    if not isinstance(baseline, HairCount) or not isinstance(follow_up, HairCount):
        raise ValidationError("count", "both values must be hair counts in a target area")
    if not math.isclose(baseline.area_cm2, follow_up.area_cm2):
        raise ValidationError("area_cm2", "counts from different areas: compare densities")
    return change(baseline.count, follow_up.count)


def category_percentages(counts: Mapping[str, int], decimals: int = 1) -> dict[str, float]:
    """Share of each category, e.g. 26 of 60 → 43.3 (clinical-facts 10 T9)."""
    for key, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValidationError(key, "must be a whole number of patients, at least 0")
    total = sum(counts.values())
    if total == 0:
        raise ValidationError("counts", "must not all be 0")
    return {key: round_half_up(value / total * 100, decimals) for key, value in counts.items()}


# --- measurement error --------------------------------------------------------------------------


def sem_from_icc(sd: float, icc: float) -> float:
    """Standard error of measurement from the between-subject SD and the ICC."""
    spread = inp.as_number(sd, "sd")
    reliability = inp.as_number(icc, "icc", maximum=1)
    return spread * math.sqrt(1 - reliability)


def sem_from_retest_differences(sd_of_differences: float) -> float:
    """SEM from the SD of test-retest differences (each difference carries two errors)."""
    return inp.as_number(sd_of_differences, "sd_of_differences") / math.sqrt(2)


def mdc95(sem: float) -> float:
    """Minimal detectable change at 95 %: 1.96 * sqrt(2) * SEM (about 2.77 * SEM)."""
    return float(_DATA["mdc"]["z"]) * math.sqrt(2) * inp.as_number(sem, "sem")


def is_detectable(change_value: float, mdc: float) -> bool:
    """True only when the change is strictly beyond the MDC; False means "within measurement
    error" (a change equal to the MDC, or no change against an MDC of 0, is not detectable)."""
    return abs(inp.as_number(change_value, "change", minimum=None)) > inp.as_number(mdc, "mdc")


UNCONTROLLED_NOTE: str = str(_DATA["comparison"]["uncontrolled_note"])


def uncontrolled_references() -> list[dict[str, Any]]:
    """Sources of the placebo-adjusted effect named in ``UNCONTROLLED_NOTE``."""
    return [dict(r) for r in _DATA["comparison"]["references"]]


# --- responders ------------------------------------------------------------------------------


def _rule(rule_id: str) -> dict[str, Any]:
    rule = RESPONDER_RULES.get(rule_id)
    if rule is None:
        raise ValidationError(
            "rule",
            f"unknown responder rule {rule_id!r} (expected one of: {', '.join(RESPONDER_RULES)})",
        )
    return rule


@dataclass(frozen=True)
class FollowUpWindow:
    """When a responder rule is judged: ``months`` after the baseline, accepted from
    ``earliest_months`` to ``latest_months`` (calendar months, both ends included)."""

    months: int
    earliest_months: int
    latest_months: int

    @property
    def text(self) -> str:
        return (
            f"judged at {self.months} months after the baseline "
            f"(a follow-up from {self.earliest_months} to {self.latest_months} months)"
        )

    def contains(self, baseline_on: date, follow_up_on: date) -> bool:
        earliest = add_months(baseline_on, self.earliest_months)
        latest = add_months(baseline_on, self.latest_months)
        return earliest <= follow_up_on <= latest


def follow_up_window(rule_id: str) -> FollowUpWindow:
    """The follow-up interval a responder rule states (``data/outcomes.json``)."""
    f = _rule(rule_id)["follow_up"]
    return FollowUpWindow(
        months=int(f["months"]),
        earliest_months=int(f["earliest_months"]),
        latest_months=int(f["latest_months"]),
    )


def needs_mdc(rule_id: str) -> bool:
    """True when the rule also requires the change to be beyond measurement error."""
    return bool(_rule(rule_id).get("beyond_mdc"))


def rule_text(rule_id: str) -> str:
    """What staff read: the rule's label and its follow-up interval."""
    return f"{_rule(rule_id)['label']}, {follow_up_window(rule_id).text}"


def is_responder(
    rule_id: str, baseline: float, follow_up: float, *, mdc: float | None = None
) -> bool:
    """Apply one responder rule from ``data/outcomes.json``.

    For the global photo scale, ``follow_up`` is the rating (-3..+3) and ``baseline`` is ignored.
    A rule with ``beyond_mdc`` needs the patient's MDC: its threshold is never below measurement
    error (an increase must be at least the threshold AND strictly beyond the MDC). The caller
    picks the follow-up inside the rule's window (``follow_up_window``).
    """
    rule = _rule(rule_id)
    threshold = float(rule["threshold"])
    test = rule["test"]
    if rule.get("beyond_mdc"):
        if mdc is None:
            raise ValidationError("mdc", f"responder rule {rule_id!r} needs the MDC")
        gain = inp.as_number(follow_up, "follow_up", minimum=None) - inp.as_number(
            baseline, "baseline", minimum=None
        )
        if gain <= 0 or not is_detectable(gain, mdc):
            return False
    if test == "score_at_least":
        return inp.as_number(follow_up, "follow_up", minimum=-3, maximum=3) >= threshold
    if test == "follow_up_at_most":
        return inp.as_number(follow_up, "follow_up") <= threshold
    if test == "reduction_pct_at_least":
        return reduction_pct(baseline, follow_up, decimals=_PCT_DECIMALS) >= threshold
    if test == "increase_pct_at_least":
        return percent_change(baseline, follow_up) >= threshold
    raise RuntimeError(f"responder rule {rule_id}: unknown test {test!r}")
