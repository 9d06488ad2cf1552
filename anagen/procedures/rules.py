"""Versioned session-record rules: PRP target flags, mesotherapy label limits, AE vocabularies.

The numbers live in ``data/procedure_rules.json`` and ``data/adverse_events.json`` (each rule
with its source in clinical-facts.md); this module only loads them and applies them. PRP
arithmetic itself (fold, ratios, labels) is the kernel's: ``prp_flags`` reads the kernel's output.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

_DATA = Path(__file__).resolve().parent / "data"


@cache
def _load(name: str) -> dict[str, Any]:
    with (_DATA / f"{name}.json").open(encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


def rules() -> dict[str, Any]:
    return _load("procedure_rules")


def ae_vocab() -> dict[str, Any]:
    return _load("adverse_events")


RULES_VERSION: str = rules()["version"]
AE_VERSION: str = ae_vocab()["version"]


def choices(vocab: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    return [(code, str(entry["label"])) for code, entry in vocab.items()]


def zones_for(site: str) -> list[dict[str, str]]:
    """Delivery zones of a site (scalp, face, body), in display order."""
    return list(rules()["zones"].get(site, []))


def zone_label(code: str) -> str:
    for zones in rules()["zones"].values():
        for z in zones:
            if z["code"] == code:
                return str(z["label"])
    return code


@dataclass(frozen=True)
class Finding:
    rule: str
    level: str  # "warning" (recorded, shown) or "stop" (the service refuses)
    message: str
    source: str

    def as_dict(self) -> dict[str, str]:
        return {
            "rule": self.rule,
            "level": self.level,
            "message": self.message,
            "source": self.source,
        }


def _fmt(value: float | Decimal) -> str:
    return f"{float(value):g}"


# --- PRP --------------------------------------------------------------------------------------


def prp_flags(
    computed: dict[str, Any], *, draw_to_injection_minutes: int | None = None
) -> list[Finding]:
    """Where a kernel-evaluated preparation leaves the targets in the data file."""
    targets = rules()["prp_targets"]
    out: list[Finding] = []
    activated = bool(computed.get("paw", {}).get("exogenous_activation"))
    values: dict[str, Any] = {
        "fold": computed.get("fold"),
        "anticoagulant_to_blood_ratio": computed.get("anticoagulant_to_blood_ratio"),
        "activator_to_prp_ratio": computed.get("activator_to_prp_ratio"),
        "draw_to_injection_minutes": draw_to_injection_minutes,
    }
    for key, value in values.items():
        rule = targets[key]
        if value is None or (rule.get("only_when_activated") and not activated):
            continue
        if key == "anticoagulant_to_blood_ratio" and value == 0:
            continue  # no anticoagulant recorded (e.g. PRF): nothing to compare
        low, high = rule.get("min"), rule.get("max")
        if (low is not None and value < low) or (high is not None and value > high):
            out.append(
                Finding(
                    key, rule["level"], rule["message"].format(value=_fmt(value)), rule["source"]
                )
            )
    return out


def delivery_tolerance_ml() -> Decimal:
    return Decimal(str(rules()["prp_targets"]["delivery_tolerance_mL"]["value"]))


# --- mesotherapy --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ingredient:
    code: str  # an ingredient code of the data file, or "" for one without rules
    name: str
    concentration: Decimal | None
    unit: str  # "percent", "mg_per_mL", ...


def add_months(day: dt.date, months: int) -> dt.date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _mg_per_ml(ingredient: Ingredient, per_percent: float) -> float | None:
    if ingredient.concentration is None:
        return None
    if ingredient.unit == "mg_per_mL":
        return float(ingredient.concentration)
    if ingredient.unit == "percent":
        return float(ingredient.concentration) * per_percent
    return None


def _percent(ingredient: Ingredient, per_percent: float = 10.0) -> float | None:
    if ingredient.concentration is None:
        return None
    if ingredient.unit == "percent":
        return float(ingredient.concentration)
    if ingredient.unit == "mg_per_mL":
        return float(ingredient.concentration) / per_percent
    return None


def mesotherapy_check(
    *,
    ingredients: Iterable[Ingredient],
    vial: str,
    points: int,
    volume_per_point_ml: Decimal,
    area_cm2: Decimal | None,
    area_code: str,
    on: dt.date,
    earlier_sessions_on: Sequence[dt.date] = (),
) -> list[Finding]:
    """Apply the mesotherapy rules of the data file to one delivery.

    ``earlier_sessions_on``: the dates of the patient's earlier sessions that used the same
    rule-bearing ingredient (for interval and session-count limits). Findings at level "stop"
    are label limits the service refuses; "warning" findings are shown and kept.
    """
    data = rules()["mesotherapy"]
    out: list[Finding] = []
    if vial == "multi":
        rule = data["multi_dose_vial"]
        out.append(Finding("multi_dose_vial", rule["level"], rule["message"], rule["source"]))
    session_volume = float(volume_per_point_ml) * points
    for ingredient in ingredients:
        spec = data["ingredients"].get(ingredient.code)
        if spec is None:
            continue
        per_percent = float(spec.get("mg_per_mL_per_percent", 10))
        for rule in spec["rules"]:
            kind, limit = rule["kind"], rule.get("value")
            shown: str | None = None
            if kind == "max_dose_mg_per_cm2":
                mg_ml = _mg_per_ml(ingredient, per_percent)
                if mg_ml is not None and area_cm2:
                    dose = mg_ml * session_volume / float(area_cm2)
                    if dose > float(limit) + 1e-9:
                        shown = f"{dose:.2f}".rstrip("0").rstrip(".")
            elif kind == "max_points":
                if points > int(limit):
                    shown = str(points)
            elif kind == "max_session_volume_mL":
                if session_volume > float(limit) + 1e-9:
                    shown = _fmt(round(session_volume, 2))
            elif kind == "volume_per_point_mL":
                if abs(float(volume_per_point_ml) - float(limit)) > 1e-9:
                    shown = _fmt(volume_per_point_ml)
            elif kind == "min_interval_months":
                before = [d for d in earlier_sessions_on if d <= on]
                if before and on < add_months(max(before), int(limit)):
                    shown = f"on {max(before):%Y-%m-%d}"
            elif kind == "max_sessions":
                n = len([d for d in earlier_sessions_on if d <= on]) + 1
                if n > int(limit):
                    shown = str(n)
            elif kind == "approved_areas":
                if area_code not in limit:
                    shown = area_code or "this area"
            elif kind == "percent_range":
                pct = _percent(ingredient, per_percent)
                if pct is not None and not (float(limit[0]) <= pct <= float(limit[1])):
                    shown = _fmt(pct)
            elif kind == "always":
                shown = ""
            if shown is not None:
                out.append(
                    Finding(
                        rule["rule"],
                        rule["level"],
                        rule["message"].format(value=shown),
                        rule["source"],
                    )
                )
    return out


# --- adverse events ---------------------------------------------------------------------------


def ae_terms() -> dict[str, dict[str, Any]]:
    return dict(ae_vocab()["terms"])


def ae_open_outcomes() -> set[str]:
    return {code for code, o in ae_vocab()["outcomes"].items() if o["open"]}
