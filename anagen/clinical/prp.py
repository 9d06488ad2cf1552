"""PRP preparation calculators and the classifications derived from measured values.

Fold, dose, efficiency and purity, each spin's g-force, and the PAW, DEPA, Mishra and Dohan
Ehrenfest labels. Bands and conventions live in ``data/prp_classifications.json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from anagen.clinical import inputs as inp
from anagen.clinical.bands import bands_from_data, grade
from anagen.clinical.centrifuge import rcf_from_rpm, rpm_from_rcf
from anagen.clinical.datafiles import load
from anagen.clinical.errors import ValidationError
from anagen.clinical.rounding import round_half_up, round_int
from anagen.clinical.vocabularies import ACTIVATION_AGENTS, ANTICOAGULANT_AGENTS

_DATA = load("prp_classifications")
_COUNTS = ("platelets_per_uL", "wbc_per_uL", "neutrophils_pct", "rbc_per_uL", "hematocrit_pct")
_TOP = (
    "whole_blood",
    *_COUNTS,
    "blood_volume_mL",
    "anticoagulant",
    "spins",
    "prp",
    "activation",
    "injected_volume_mL",
)
ALPHA, BETA = "\u03b1", "\u03b2"  # PAW neutrophil letters
_PER_UL_MAX = 100_000_000_000.0  # 1e11/uL: far above any real blood or PRP count


@dataclass(frozen=True)
class Counts:
    """Cell counts of one sample (per µL, and % of WBC for neutrophils)."""

    platelets_per_uL: float
    wbc_per_uL: float
    neutrophils_pct: float | None = None
    rbc_per_uL: float | None = None
    hematocrit_pct: float | None = None

    @property
    def neutrophils_per_uL(self) -> float | None:
        if self.neutrophils_pct is None:
            return None
        return self.wbc_per_uL * self.neutrophils_pct / 100


@dataclass(frozen=True)
class Spin:
    rcf_g: float
    minutes: float
    rpm: float | None = None
    radius_cm: float | None = None


@dataclass(frozen=True)
class Preparation:
    whole_blood: Counts
    blood_volume_mL: float
    anticoagulant_agent: str | None
    anticoagulant_volume_mL: float
    spins: tuple[Spin, ...]
    prp: Counts
    prp_volume_mL: float
    activation_agent: str
    activation_volume_mL: float
    injected_volume_mL: float

    @property
    def activated(self) -> bool:
        return bool(ACTIVATION_AGENTS[self.activation_agent]["exogenous"])


# --- input -------------------------------------------------------------------------------------


def _counts(doc: Mapping[str, Any], path: str) -> Counts:
    def number(key: str, *, required: bool, maximum: float = _PER_UL_MAX) -> float | None:
        field = inp.join(path, key)
        value = doc.get(key)
        if value is None:
            if required:
                raise ValidationError(field, "is required")
            return None
        return inp.as_number(value, field, maximum=maximum)

    platelets = number("platelets_per_uL", required=True)
    wbc = number("wbc_per_uL", required=True)
    assert platelets is not None and wbc is not None
    return Counts(
        platelets_per_uL=platelets,
        wbc_per_uL=wbc,
        neutrophils_pct=number("neutrophils_pct", required=False, maximum=100),
        rbc_per_uL=number("rbc_per_uL", required=False),
        hematocrit_pct=number("hematocrit_pct", required=False, maximum=100),
    )


def _spins(raw: object) -> tuple[Spin, ...]:
    spins = []
    for i, item in enumerate(inp.as_list(raw, "spins")):
        path = f"spins[{i}]"
        spin = inp.as_object(item, path, ("g", "rpm", "radius_cm", "minutes"))
        minutes = inp.as_number(
            inp.get(spin, "minutes", parent=path), f"{path}.minutes", positive=True
        )
        radius = spin.get("radius_cm")
        radius_cm = (
            inp.as_number(radius, f"{path}.radius_cm", positive=True)
            if radius is not None
            else None
        )
        if spin.get("g") is not None and spin.get("rpm") is not None:
            raise ValidationError(f"{path}.rpm", "give the spin as g or as rpm, not both")
        if spin.get("rpm") is not None:
            rpm = inp.as_number(spin["rpm"], f"{path}.rpm", positive=True)
            if radius_cm is None:
                raise ValidationError(
                    f"{path}.radius_cm", "is required with rpm (rpm alone cannot be converted to g)"
                )
            spins.append(
                Spin(
                    rcf_g=rcf_from_rpm(radius_cm, rpm),
                    minutes=minutes,
                    rpm=rpm,
                    radius_cm=radius_cm,
                )
            )
        elif spin.get("g") is not None:
            g = inp.as_number(spin["g"], f"{path}.g", positive=True)
            rpm_value = rpm_from_rcf(radius_cm, g) if radius_cm is not None else None
            spins.append(Spin(rcf_g=g, minutes=minutes, rpm=rpm_value, radius_cm=radius_cm))
        else:
            raise ValidationError(f"{path}.g", "is required (or rpm with radius_cm)")
    return tuple(spins)


def parse_preparation(doc: object) -> Preparation:
    top = inp.as_object(doc, "", _TOP)
    if "whole_blood" in top:  # counts may be nested or at the top level, not both
        for key in _COUNTS:
            if key in top:
                raise ValidationError(key, "give whole-blood counts either here or in whole_blood")
        wb_doc = inp.as_object(top["whole_blood"], "whole_blood", _COUNTS)
        whole_blood = _counts(wb_doc, "whole_blood")
    else:
        whole_blood = _counts(top, "")
    if whole_blood.platelets_per_uL <= 0:
        field = "whole_blood.platelets_per_uL" if "whole_blood" in top else "platelets_per_uL"
        raise ValidationError(field, "must be greater than 0 (fold and efficiency divide by it)")

    blood_volume = inp.as_number(inp.get(top, "blood_volume_mL"), "blood_volume_mL", positive=True)
    anticoagulant = inp.as_object(
        inp.get(top, "anticoagulant", {}), "anticoagulant", ("agent", "volume_mL")
    )
    ac_agent = anticoagulant.get("agent")
    ac_volume = anticoagulant.get("volume_mL")

    prp_doc = inp.as_object(inp.get(top, "prp"), "prp", (*_COUNTS, "volume_mL"))
    prp = _counts(prp_doc, "prp")
    prp_volume = inp.as_number(
        inp.get(prp_doc, "volume_mL", parent="prp"), "prp.volume_mL", positive=True
    )

    activation = inp.as_object(inp.get(top, "activation", {}), "activation", ("agent", "volume_mL"))
    act_agent = inp.as_code(activation.get("agent", "none"), "activation.agent", ACTIVATION_AGENTS)
    act_volume = (
        inp.as_number(activation["volume_mL"], "activation.volume_mL")
        if activation.get("volume_mL") is not None
        else 0.0
    )
    if act_agent == "none" and act_volume > 0:
        raise ValidationError("activation.volume_mL", "must be 0 or omitted when agent is none")

    prep = Preparation(
        whole_blood=whole_blood,
        blood_volume_mL=blood_volume,
        anticoagulant_agent=(
            inp.as_code(ac_agent, "anticoagulant.agent", ANTICOAGULANT_AGENTS)
            if ac_agent is not None
            else None
        ),
        anticoagulant_volume_mL=(
            inp.as_number(ac_volume, "anticoagulant.volume_mL") if ac_volume is not None else 0.0
        ),
        spins=_spins(inp.get(top, "spins", [])),
        prp=prp,
        prp_volume_mL=prp_volume,
        activation_agent=act_agent,
        activation_volume_mL=act_volume,
        injected_volume_mL=inp.as_number(
            inp.get(top, "injected_volume_mL"), "injected_volume_mL", positive=True
        ),
    )
    if prep.prp_volume_mL > prep.blood_volume_mL + prep.anticoagulant_volume_mL:
        raise ValidationError("prp.volume_mL", "exceeds the volume of blood and anticoagulant")
    if prep.injected_volume_mL > prep.prp_volume_mL + prep.activation_volume_mL:
        raise ValidationError(
            "injected_volume_mL", "exceeds the PRP volume plus the activator volume"
        )
    return prep


# --- calculators ----------------------------------------------------------------------------


def fold(prep: Preparation) -> float:
    return prep.prp.platelets_per_uL / prep.whole_blood.platelets_per_uL


def dose_billion(prep: Preparation) -> float:
    """Injected platelets in 10⁹, allowing for dilution by the activator (see data conventions)."""
    prp_fraction = prep.prp_volume_mL / (prep.prp_volume_mL + prep.activation_volume_mL)
    return prep.prp.platelets_per_uL * 1000 * prep.injected_volume_mL * prp_fraction / 1e9


def efficiency_pct(prep: Preparation) -> float:
    recovered = prep.prp.platelets_per_uL * prep.prp_volume_mL
    drawn = prep.whole_blood.platelets_per_uL * prep.blood_volume_mL
    return recovered / drawn * 100


def purity_pct(counts: Counts) -> float | None:
    if counts.rbc_per_uL is None:
        return None
    cells = counts.platelets_per_uL + counts.rbc_per_uL + counts.wbc_per_uL
    return counts.platelets_per_uL / cells * 100 if cells > 0 else None


def depa_grade(axis: str, value: float | None) -> str | None:
    """DEPA letter for ``axis`` (dose_billion, efficiency_pct or purity_pct)."""
    if value is None:
        return None
    return grade(value, bands_from_data(_DATA["depa"][axis])).grade


def leukocyte_rich(prep: Preparation) -> bool:
    return prep.prp.wbc_per_uL > prep.whole_blood.wbc_per_uL


def paw(prep: Preparation) -> dict[str, Any]:
    data = _DATA["paw"]
    platelets = prep.prp.platelets_per_uL
    if platelets <= prep.whole_blood.platelets_per_uL:
        p = str(data["platelets_at_or_below_baseline"])
    else:
        p = grade(platelets, bands_from_data(data["platelets_above_baseline_per_uL"])).grade
    white = "A" if leukocyte_rich(prep) else "B"
    prp_n, wb_n = prep.prp.neutrophils_per_uL, prep.whole_blood.neutrophils_per_uL
    neutrophils = None if prp_n is None or wb_n is None else (ALPHA if prp_n > wb_n else BETA)
    parts = [p, *(["x"] if prep.activated else []), white, *([neutrophils] if neutrophils else [])]
    return {
        "platelets": p,
        "exogenous_activation": prep.activated,
        "white_cells": white,
        "neutrophils": neutrophils,
        "code": "-".join(parts),
    }


def mishra(prep: Preparation, fold_value: float) -> dict[str, Any]:
    data = _DATA["mishra"]
    key = ("leukocyte_rich" if leukocyte_rich(prep) else "leukocyte_poor") + (
        "_activated" if prep.activated else "_not_activated"
    )
    type_ = int(data["types"][key])
    concentration = "A" if fold_value >= float(data["fold_for_A"]) else "B"
    return {"type": type_, "concentration": concentration, "code": f"{type_}{concentration}"}


def dohan_ehrenfest(prep: Preparation) -> str:
    data = _DATA["dohan_ehrenfest"]
    return str(data["leukocyte_rich"] if leukocyte_rich(prep) else data["leukocyte_poor"])


def _plain(value: float | None) -> float | int | None:
    """Echo a measured number as written: 15.0 minutes prints as 15."""
    if value is not None and float(value).is_integer():
        return int(value)
    return value


def _warning(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message, "source": _DATA["warnings"][code]["source"]}


def _impossible(prep: Preparation) -> list[tuple[str, str, float]]:
    """(sample, field, value) of every count outside the data file's plausible ranges."""
    out = []
    for sample, counts in (("whole_blood", prep.whole_blood), ("prp", prep.prp)):
        for field, bounds in _DATA["plausible"][sample].items():
            value = getattr(counts, field)
            if value is None:
                continue
            low, high = bounds.get("above"), bounds.get("max")
            if (low is not None and not value > low) or (high is not None and value > high):
                out.append((sample, field, value))
    return out


def _impossible_message(sample: str, field: str, value: float) -> str:
    bounds = _DATA["plausible"][sample][field]
    label = str(bounds["label"])
    shown = f"{value:,.0f}".replace(",", " ")
    if bounds.get("above") is not None and not value > bounds["above"]:
        why = "cannot be 0"
    else:
        why = f"is above the plausible {bounds['max']:,}/µL".replace(",", " ")
    return (
        f"{label[:1].upper()}{label[1:]} {shown}/µL {why}: check the count; "
        "the grades that use it are not given."
    )


def _warnings(
    prep: Preparation,
    fold_value: float,
    efficiency: float,
    impossible: list[tuple[str, str, float]],
) -> list[dict[str, str]]:
    warnings = [
        {
            **_warning("impossible_value", _impossible_message(*item)),
            "field": f"{item[0]}.{item[1]}",
        }
        for item in impossible
    ]
    if prep.activation_agent == "bovine_thrombin":
        warnings.append(
            _warning(
                "bovine_thrombin",
                "Bovine thrombin is highly immunogenic "
                "(antibodies cross-reacting with human clotting factors); "
                "do not use it as a default activator.",
            )
        )
    min_fold = float(_DATA["warnings"]["min_fold"]["value"])
    if fold_value < min_fold and not impossible:
        shown = round_half_up(fold_value, 2)
        warnings.append(
            _warning(
                "min_fold",
                f"Fold {shown:g}x is below {min_fold:g}x: the product is barely concentrated.",
            )
        )
    if prep.anticoagulant_agent == "edta":
        warnings.append(
            _warning(
                "edta_anticoagulant", "EDTA is for baseline counts, not for the injected product."
            )
        )
    if efficiency > 100 and not impossible:
        shown = round_half_up(efficiency, 1)
        warnings.append(
            _warning(
                "efficiency_over_100",
                f"Efficiency {shown:g} % is above 100 %: check the counts and volumes; "
                "no efficiency grade is given.",
            )
        )
    return warnings


def evaluate(prep: Preparation) -> dict[str, Any]:
    """Numbers rounded for display; every grade from the unrounded value (clinical-facts 13).
    A grade that reads an impossible count is null, with a warning naming the count."""
    raw_fold = fold(prep)
    raw_dose = dose_billion(prep)
    raw_efficiency = efficiency_pct(prep)
    raw_purity = purity_pct(prep.prp)
    impossible = _impossible(prep)
    bad = {field for _, field, _ in impossible}
    platelets_ok = "platelets_per_uL" not in bad
    white_ok = "wbc_per_uL" not in bad
    purity_ok = not bad  # purity reads platelets, red and white cells of the PRP
    paw_value = paw(prep) if platelets_ok and white_ok else None
    mishra_value = mishra(prep, raw_fold) if platelets_ok and white_ok else None
    return {
        "fold": round_half_up(raw_fold, 2),
        "dose_billion": round_half_up(raw_dose, 2),
        "efficiency_pct": round_half_up(raw_efficiency, 1),
        "purity_pct": round_half_up(raw_purity, 1) if raw_purity is not None else None,
        "anticoagulant_to_blood_ratio": round_half_up(
            prep.anticoagulant_volume_mL / prep.blood_volume_mL, 3
        ),
        "activator_to_prp_ratio": round_half_up(prep.activation_volume_mL / prep.prp_volume_mL, 3),
        "spins": [
            {
                "n": n,
                "rcf_g": round_int(s.rcf_g),
                "rpm": round_int(s.rpm) if s.rpm is not None else None,
                "radius_cm": _plain(s.radius_cm),
                "minutes": _plain(s.minutes),
            }
            for n, s in enumerate(prep.spins, start=1)
        ],
        "paw": paw_value
        or {
            "platelets": None,
            "exogenous_activation": prep.activated,
            "white_cells": None,
            "neutrophils": None,
            "code": None,
        },
        "depa": {
            "dose": depa_grade("dose_billion", raw_dose) if platelets_ok else None,
            "efficiency": (
                depa_grade("efficiency_pct", raw_efficiency)
                if platelets_ok and raw_efficiency <= 100
                else None
            ),
            "purity": depa_grade("purity_pct", raw_purity) if purity_ok else None,
            "activation": prep.activation_agent,
        },
        "mishra": mishra_value or {"type": None, "concentration": None, "code": None},
        "dohan_ehrenfest": dohan_ehrenfest(prep) if white_ok else None,
        "warnings": _warnings(prep, raw_fold, raw_efficiency, impossible),
    }


def prp_evaluate(doc: object) -> dict[str, Any]:
    """Evaluate one JSON-shaped preparation record (see the ``prp`` CLI verb)."""
    return evaluate(parse_preparation(doc))
