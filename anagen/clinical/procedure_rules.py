"""Session-record rules: PRP preparation targets, mesotherapy label limits, delivery zones and
adverse-event vocabularies.

Pure Python (no Django). The numbers live in ``data/procedure_rules.json`` and
``data/adverse_events.json``, each rule with its source written as a reference (author, year,
title) that staff may read; this module only loads and applies them. PRP arithmetic itself
(fold, ratios, labels) is ``prp.py``'s: ``prp_flags`` reads its output.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from anagen.clinical.datafiles import load
from anagen.clinical.dates import add_months

__all__ = [
    "AE_VERSION",
    "RULES_VERSION",
    "Finding",
    "Ingredient",
    "add_months",
    "ae_label",
    "ae_open_outcomes",
    "ae_terms",
    "ae_vocab",
    "choices",
    "delivery_tolerance_ml",
    "human_date",
    "mesotherapy_check",
    "prp_flags",
    "prp_warnings",
    "rules",
    "warning_source",
    "zone_label",
    "zones_for",
]


def rules() -> dict[str, Any]:
    return load("procedure_rules")


def ae_vocab() -> dict[str, Any]:
    return load("adverse_events")


RULES_VERSION: str = rules()["version"]
AE_VERSION: str = ae_vocab()["version"]


def choices(vocab: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, str]]:
    return [
        (code, str(entry["label"])) for code, entry in vocab.items() if not code.startswith("_")
    ]


def zones_for(site: str) -> list[dict[str, str]]:
    """Delivery zones of a site (scalp, face, body), in display order."""
    return list(rules()["zones"].get(site, []))


def zone_label(code: str) -> str:
    for zones in rules()["zones"].values():
        for z in zones:
            if z["code"] == code:
                return str(z["label"])
    return code.replace("_", " ").capitalize()


def human_date(day: dt.date) -> str:
    """'10 Mar 2026': how a date reads in a message (never ISO)."""
    return f"{day.day} {day:%b %Y}"


@dataclass(frozen=True)
class Finding:
    rule: str
    level: str  # "warning" (recorded, shown) or "stop" (the service refuses)
    message: str
    source: str  # a reference: author, year, title

    def as_dict(self) -> dict[str, str]:
        return {
            "code": self.rule,
            "rule": self.rule,
            "level": self.level,
            "message": self.message,
            "source": self.source,
        }


def _fmt(value: float | Decimal) -> str:
    return f"{float(value):g}"


# --- PRP --------------------------------------------------------------------------------------


def warning_source(code: str, fallback: str = "") -> str:
    """The reference shown beside a kernel preparation warning (by its code)."""
    entry = rules()["prp_warning_sources"].get(code)
    if entry is None:
        return fallback if "clinical-facts" not in fallback else ""
    return str(entry["source"])


def prp_warnings(computed: Mapping[str, Any]) -> list[Finding]:
    """The kernel's own warnings kept in a preparation's output (bovine thrombin, fold under 2x,
    EDTA, efficiency over 100 %), each in one shape with its reference. Older records may carry
    a warning without a code or a message: they still read as a finding."""
    out = []
    for w in computed.get("warnings") or []:
        if not isinstance(w, Mapping):
            out.append(Finding("kernel", "warning", str(w), ""))
            continue
        code = str(w.get("code") or w.get("rule") or "kernel")
        out.append(
            Finding(
                code,
                str(w.get("level") or "warning"),
                str(w.get("message") or "Check this preparation."),
                warning_source(code, str(w.get("source") or "")),
            )
        )
    return out


def prp_flags(
    computed: Mapping[str, Any], *, draw_to_injection_minutes: int | None = None
) -> list[Finding]:
    """Where a kernel-evaluated preparation leaves the targets in the data file."""
    targets = rules()["prp_targets"]
    out: list[Finding] = []
    activated = bool((computed.get("paw") or {}).get("exogenous_activation"))
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
                    shown = f"on {human_date(max(before))}"
            elif kind == "max_sessions":
                n = len([d for d in earlier_sessions_on if d <= on]) + 1
                if n > int(limit):
                    shown = str(n)
            elif kind == "approved_areas":
                if area_code not in limit:
                    shown = zone_label(area_code) if area_code else "this area"
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


def ae_label(section: str, code: str) -> str:
    """The label of an adverse-event code (term, outcome, relatedness, action, grade)."""
    entry = ae_vocab()[section].get(str(code))
    return str(entry["label"]) if entry else str(code).replace("_", " ").capitalize()


def ae_open_outcomes() -> set[str]:
    return {code for code, o in ae_vocab()["outcomes"].items() if o["open"]}
