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
    "MesoDose",
    "add_months",
    "ae_label",
    "ae_open_outcomes",
    "ae_seriousness",
    "ae_seriousness_criteria",
    "ae_terms",
    "ae_vocab",
    "choices",
    "delivery_tolerance_ml",
    "human_date",
    "lot_allergy_matches",
    "meso_session_totals",
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


@dataclass(frozen=True)
class MesoDose:
    """One delivery of a formulation already recorded in the session (for session totals)."""

    ingredients: tuple[Ingredient, ...]
    points: int
    volume_per_point_ml: Decimal
    area_cm2: Decimal | None
    area_code: str
    formulation: str = ""  # the formulation's key (its name), for per-formulation totals

    @property
    def volume_ml(self) -> float:
        return float(self.volume_per_point_ml) * self.points


def _per_percent(code: str) -> float:
    spec = rules()["mesotherapy"]["ingredients"].get(code) or {}
    return float(spec.get("mg_per_mL_per_percent", 10))


def _dose_mg(dose: MesoDose, ingredient: Ingredient) -> float | None:
    mg_ml = _mg_per_ml(ingredient, _per_percent(ingredient.code))
    return None if mg_ml is None else mg_ml * dose.volume_ml


def meso_session_totals(doses: Sequence[MesoDose]) -> list[dict[str, Any]]:
    """Per ingredient (by name, in first-seen order): injections, mL and mg summed over the
    session's deliveries (mg is None when a concentration is not in mg/mL or %)."""
    totals: dict[str, dict[str, Any]] = {}
    for dose in doses:
        for ing in dose.ingredients:
            key = ing.code or ing.name.casefold()
            row = totals.setdefault(
                key, {"name": ing.name, "code": ing.code, "points": 0, "volume_ml": 0.0, "mg": 0.0}
            )
            row["points"] += dose.points
            row["volume_ml"] += dose.volume_ml
            mg = _dose_mg(dose, ing)
            row["mg"] = None if mg is None or row["mg"] is None else row["mg"] + mg
    for row in totals.values():
        row["volume_ml"] = round(row["volume_ml"], 3)
        row["mg"] = None if row["mg"] is None else round(row["mg"], 3)
    return list(totals.values())


def _shown(value: float, places: int = 2) -> str:
    return f"{value:.{places}f}".rstrip("0").rstrip(".")


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
    session_so_far: Sequence[MesoDose] = (),
    formulation: str = "",
    earlier_formulation_sessions_on: Sequence[dt.date] = (),
) -> list[Finding]:
    """Apply the mesotherapy rules of the data file to one delivery added to a session.

    Label limits are per session and per area: the delivery is added to ``session_so_far`` (the
    deliveries already recorded in this session) and injections, mL and mg of each rule-bearing
    ingredient are summed over all of them; mg/cm² sums the milligrams given to the same area.
    ``earlier_sessions_on``: the dates of the patient's earlier sessions that used the same
    rule-bearing ingredient (interval and session-count limits);
    ``earlier_formulation_sessions_on``: earlier sessions with the same formulation (the
    interval every formulation keeps). Findings at level "stop" are limits the service refuses;
    "warning" findings are shown and kept.
    """
    data = rules()["mesotherapy"]
    out: list[Finding] = []

    def add(rule: Mapping[str, Any], code: str, value: str, key: str = "message") -> None:
        out.append(Finding(code, rule["level"], rule[key].format(value=value), rule["source"]))

    if vial == "multi":
        rule = data["multi_dose_vial"]
        out.append(Finding("multi_dose_vial", rule["level"], rule["message"], rule["source"]))
    new = MesoDose(
        ingredients=tuple(ingredients),
        points=points,
        volume_per_point_ml=volume_per_point_ml,
        area_cm2=area_cm2,
        area_code=area_code,
        formulation=formulation,
    )
    doses = [*session_so_far, new]

    # Limits every formulation keeps (warnings): volume per point, per session, interval.
    limits = data["formulation_limits"]
    if float(volume_per_point_ml) > float(limits["volume_per_point_mL"]["max"]) + 1e-9:
        add(limits["volume_per_point_mL"], "volume_per_point", _fmt(volume_per_point_ml))
    same = [d for d in doses if d.formulation == formulation] if formulation else [new]
    formulation_volume = sum(d.volume_ml for d in same)
    if formulation_volume > float(limits["session_volume_mL"]["max"]) + 1e-9:
        add(limits["session_volume_mL"], "session_volume", _shown(formulation_volume))
    before = [d for d in earlier_formulation_sessions_on if d <= on]
    min_days = int(limits["interval_days"]["min"])
    if before and (on - max(before)).days < min_days:
        add(limits["interval_days"], "formulation_interval", human_date(max(before)))

    for ingredient in new.ingredients:
        spec = data["ingredients"].get(ingredient.code)
        if spec is None:
            continue
        per_percent = float(spec.get("mg_per_mL_per_percent", 10))
        with_code = [(d, i) for d in doses for i in d.ingredients if i.code == ingredient.code]
        total_points = sum(d.points for d, _ in with_code)
        total_volume = sum(d.volume_ml for d, _ in with_code)
        mgs = [_dose_mg(d, i) for d, i in with_code]
        total_mg = None if any(m is None for m in mgs) else sum(m for m in mgs if m is not None)
        in_area = [(d, m) for (d, _), m in zip(with_code, mgs, strict=True)]
        in_area = [(d, m) for d, m in in_area if d.area_code == area_code]
        for rule in spec["rules"]:
            kind, limit = rule["kind"], rule.get("value")
            shown: str | None = None
            if kind in ("max_dose_mg_per_cm2", "max_session_mg") and total_mg is None:
                add(rule, f"{rule['rule']}_concentration", spec["label"], "concentration_message")
                continue
            if kind == "max_dose_mg_per_cm2":
                if area_cm2 is None:  # the limit is per area: the area is required
                    add(rule, f"{rule['rule']}_area", "", "area_message")
                    continue
                areas = [float(d.area_cm2) for d, _ in in_area if d.area_cm2]
                area_mg = sum(m or 0.0 for _, m in in_area)
                dose = area_mg / max(areas)
                if dose > float(limit) + 1e-9:
                    shown = _shown(dose)
            elif kind == "max_session_mg":
                assert total_mg is not None
                if total_mg > float(limit) + 1e-9:
                    shown = _shown(total_mg, 1)
            elif kind == "max_points":
                if total_points > int(limit):
                    shown = str(total_points)
            elif kind == "max_session_volume_mL":
                if total_volume > float(limit) + 1e-9:
                    shown = _shown(total_volume)
            elif kind == "volume_per_point_mL":
                if abs(float(volume_per_point_ml) - float(limit)) > 1e-9:
                    shown = _fmt(volume_per_point_ml)
            elif kind == "min_interval_months":
                earlier = [d for d in earlier_sessions_on if d <= on]
                if earlier and on < add_months(max(earlier), int(limit)):
                    shown = f"on {human_date(max(earlier))}"
            elif kind == "max_sessions":
                n = len({d for d in earlier_sessions_on if d <= on}) + 1
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
                add(rule, rule["rule"], shown)
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


def ae_seriousness_criteria() -> dict[str, dict[str, Any]]:
    """The ICH E2A seriousness criteria, in display order (code → label, source, implied_by)."""
    vocab = ae_vocab()["seriousness_criteria"]
    return {code: entry for code, entry in vocab.items() if not code.startswith("_")}


def ae_seriousness(criteria: Iterable[str], *, grade: int, action: str, outcome: str) -> list[str]:
    """The criteria that apply: those ticked plus those the recorded facts imply (a fatal
    outcome or grade 5 is death, grade 4 life-threatening, hospitalisation as the action taken
    is hospitalisation). Serious = at least one. Unknown codes raise ValueError."""
    vocab = ae_seriousness_criteria()
    chosen = set(criteria)
    unknown = chosen - set(vocab)
    if unknown:
        raise ValueError(f"unknown seriousness criteria: {sorted(unknown)}")
    for code, entry in vocab.items():
        implied = entry.get("implied_by") or {}
        if (
            outcome in implied.get("outcomes", ())
            or action in implied.get("actions", ())
            or grade in implied.get("ctcae_grades", ())
        ):
            chosen.add(code)
    return [code for code in vocab if code in chosen]


# --- allergies and lots -----------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return ["".join(ch for ch in w if ch.isalnum()) for w in text.casefold().split()]


def lot_allergy_matches(
    *,
    product: str,
    category: str,
    lot: str,
    allergies: Sequence[tuple[str, str]],
    ingredients: Sequence[str] = (),
) -> list[Finding]:
    """Stops for a lot of ``product`` (its name, category and any ingredient names) recorded
    for a patient with these ``allergies`` ((substance, reaction) from the latest intake).
    Level "stop": the service refuses unless a physician records it with a reason."""
    data = rules()["lot_allergy"]
    name = product.casefold()
    names = [name, *(i.casefold() for i in ingredients)]
    out: list[Finding] = []
    for substance, reaction in allergies:
        allergy = " ".join(substance.split())
        low = allergy.casefold()
        shown = f"Allergy to {allergy}" + (f" ({reaction.strip()})" if reaction.strip() else "")
        matched: tuple[str, str] | None = None
        for code, group in data["groups"].items():
            if not any(w in low for w in group["allergy_words"]):
                continue
            if category in group["product_categories"] or any(
                w in n for w in group["product_words"] for n in names
            ):
                matched = (code, f"a {group['label']} product")
                break
        if matched is None:
            # The whole substance in a name (or a whole name in the substance), else a
            # telling word of either: class words like "acid" never match alone.
            generic = set(data.get("generic_words", ()))
            phrase = " ".join(_words(low))
            whole = any(phrase in n or (len(n) >= 4 and n in phrase) for n in names)
            significant = [w for w in _words(low) if len(w) >= 4 and w not in generic]
            if (
                whole
                or any(w in n for w in significant for n in names)
                or any(
                    w in low for n in names for w in _words(n) if len(w) >= 4 and w not in generic
                )
            ):
                matched = ("allergy_product", f"a product containing {allergy}")
        if matched is None:
            continue
        code, what = matched
        source = data["groups"][code]["source"] if code in data["groups"] else data["other_source"]
        out.append(
            Finding(
                f"allergy_{code}" if code != "allergy_product" else code,
                "stop",
                data["message"].format(patient_allergy=shown, product=product, lot=lot, what=what),
                source,
            )
        )
    return out
