"""PRP calculators and classifications (clinical-facts.md 1.2-1.6, 2.4-2.6, 10 T11-T13, T17)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from anagen.clinical import ValidationError, prp_evaluate


def preparation(**overrides: Any) -> dict[str, Any]:
    """Muthu 2022-like double spin: 10 mL blood, 6.4x, recovery in the published 86-99 %."""
    base: dict[str, Any] = {
        "platelets_per_uL": 200_000,
        "wbc_per_uL": 6_000,
        "neutrophils_pct": 60,
        "rbc_per_uL": 4_800_000,
        "hematocrit_pct": 42,
        "blood_volume_mL": 10,
        "anticoagulant": {"agent": "acd_a", "volume_mL": 1},
        "spins": [{"g": 100, "minutes": 15}, {"g": 1600, "minutes": 20}],
        "prp": {
            "platelets_per_uL": 1_280_000,
            "wbc_per_uL": 4_000,
            "neutrophils_pct": 20,
            "rbc_per_uL": 30_000,
            "volume_mL": 1.4,
        },
        "activation": {"agent": "none"},
        "injected_volume_mL": 1.4,
    }
    base.update(overrides)
    return base


def test_t12_fold_and_efficiency() -> None:
    result = prp_evaluate(preparation())
    assert result["fold"] == 6.4
    assert result["efficiency_pct"] == 89.6  # 1.28e6 x 1.4 / (2e5 x 10)
    assert 86 <= result["efficiency_pct"] <= 99
    assert [s["rcf_g"] for s in result["spins"]] == [100, 1600]
    assert result["dose_billion"] == 1.79  # 1.28e6/uL x 1.4 mL = 1.792e9
    assert result["purity_pct"] == 97.4  # 1.28e6 / (1.28e6 + 3e4 + 4e3)
    assert result["warnings"] == []


@pytest.mark.parametrize(
    ("platelets", "volume", "dose", "grade"),
    [
        (1_000_000, 5, 5.0, "B"),  # T17: exactly 5.0 x10^9 is not "> 5", so B
        (1_086_000, 5, 5.43, "A"),  # T11: Magellan's 5.43 is A
        (210_000, 1, 0.21, "D"),  # T11: lowest published device dose
        (600_000, 5, 3.0, "C"),
        (200_000, 5, 1.0, "D"),
        (202_000, 5, 1.01, "C"),
    ],
)
def test_depa_dose(platelets: int, volume: float, dose: float, grade: str) -> None:
    prp = {
        "platelets_per_uL": platelets,
        "wbc_per_uL": 100,
        "rbc_per_uL": 1000,
        "volume_mL": volume,
    }
    result = prp_evaluate(preparation(prp=prp, injected_volume_mL=volume, blood_volume_mL=60))
    assert result["dose_billion"] == dose
    assert result["depa"]["dose"] == grade


@pytest.mark.parametrize(
    ("prp_volume", "efficiency", "grade"),
    [(0.9, 90.0, "B"), (0.9009, 90.1, "A"), (0.7, 70.0, "C"), (0.3, 30.0, "D"), (0.31, 31.0, "C")],
)
def test_depa_efficiency_boundaries(prp_volume: float, efficiency: float, grade: str) -> None:
    prp = {"platelets_per_uL": 2_000_000, "wbc_per_uL": 100, "volume_mL": prp_volume}
    result = prp_evaluate(preparation(prp=prp, injected_volume_mL=0.1))  # 2e5 x 10 drawn
    assert result["efficiency_pct"] == efficiency
    assert result["depa"]["efficiency"] == grade


@pytest.mark.parametrize(
    ("rbc", "purity", "grade"),
    [(0, 100.0, "A"), (100_000, 90.0, "B"), (300_000, 75.0, "C"), (900_000, 50.0, "D")],
)
def test_depa_purity_boundaries(rbc: int, purity: float, grade: str) -> None:
    prp = {"platelets_per_uL": 900_000, "wbc_per_uL": 0, "rbc_per_uL": rbc, "volume_mL": 1}
    result = prp_evaluate(preparation(prp=prp, injected_volume_mL=1))
    assert result["purity_pct"] == purity
    assert result["depa"]["purity"] == grade


def test_depa_activation_is_echoed_and_purity_needs_rbc() -> None:
    prp = {"platelets_per_uL": 900_000, "wbc_per_uL": 10, "volume_mL": 2}
    result = prp_evaluate(
        preparation(prp=prp, injected_volume_mL=2, activation={"agent": "calcium_chloride"})
    )
    assert result["depa"]["activation"] == "calcium_chloride"
    assert result["purity_pct"] is None and result["depa"]["purity"] is None


def counts(platelets: int, wbc: int, neutrophils_pct: float) -> dict[str, Any]:
    return {
        "platelets_per_uL": platelets,
        "wbc_per_uL": wbc,
        "neutrophils_pct": neutrophils_pct,
        "volume_mL": 3,
    }


@pytest.mark.parametrize(
    ("prp", "activation", "code"),
    [
        (counts(400_000, 1_000, 10), "none", "P2-B-\u03b2"),  # ACP = P2-B-beta
        (counts(1_600_000, 20_000, 70), "none", "P4-A-\u03b1"),  # Magellan = P4-A-alpha
        (counts(1_000_000, 15_000, 65), "none", "P3-A-\u03b1"),  # GPS III = P3-A-alpha
        (counts(1_000_000, 15_000, 65), "calcium_chloride", "P3-x-A-\u03b1"),
        (counts(200_000, 6_000, 60), "none", "P1-B-\u03b2"),  # at baseline: P1, B, beta
        (counts(750_000, 100, 1), "none", "P2-B-\u03b2"),
        (counts(750_001, 100, 1), "none", "P3-B-\u03b2"),
        (counts(1_250_000, 100, 1), "none", "P3-B-\u03b2"),
        (counts(1_250_001, 100, 1), "none", "P4-B-\u03b2"),
    ],
)
def test_paw(prp: dict[str, Any], activation: str, code: str) -> None:
    result = prp_evaluate(
        preparation(prp=prp, injected_volume_mL=3, activation={"agent": activation})
    )
    assert result["paw"]["code"] == code
    assert result["paw"]["exogenous_activation"] is (activation != "none")


def test_paw_without_neutrophils_leaves_the_letter_out() -> None:
    prp = {"platelets_per_uL": 400_000, "wbc_per_uL": 1_000, "volume_mL": 3}
    result = prp_evaluate(preparation(prp=prp, injected_volume_mL=3))
    assert result["paw"]["neutrophils"] is None
    assert result["paw"]["code"] == "P2-B"


@pytest.mark.parametrize(
    ("platelets", "wbc", "agent", "code", "family"),
    [
        (1_100_000, 9_000, "none", "1A", "L-PRP"),  # 5.5x leukocyte-rich unactivated: Mishra "1A"
        (1_000_000, 9_000, "calcium_gluconate", "2A", "L-PRP"),  # exactly 5x is A
        (900_000, 3_000, "none", "3B", "P-PRP"),
        (900_000, 6_000, "autologous_thrombin", "4B", "P-PRP"),  # equal WBC is not raised
    ],
)
def test_mishra_and_dohan_ehrenfest(
    platelets: int, wbc: int, agent: str, code: str, family: str
) -> None:
    prp = {"platelets_per_uL": platelets, "wbc_per_uL": wbc, "volume_mL": 3}
    result = prp_evaluate(preparation(prp=prp, injected_volume_mL=3, activation={"agent": agent}))
    assert result["mishra"]["code"] == code
    assert result["dohan_ehrenfest"] == family


def test_t13_activator_ratio_and_dilution() -> None:
    # Kim 2013: 10 % calcium gluconate at 1:10. Counts are measured before activation, so the
    # injected mix (1.54 mL) holds 1.4 mL of PRP.
    result = prp_evaluate(
        preparation(
            activation={"agent": "calcium_gluconate", "volume_mL": 0.14}, injected_volume_mL=1.54
        )
    )
    assert result["activator_to_prp_ratio"] == 0.1
    assert result["dose_billion"] == 1.79  # same platelets as 1.4 mL unactivated
    assert result["anticoagulant_to_blood_ratio"] == 0.1


def test_rpm_spin_is_converted_with_its_radius() -> None:
    spins = [
        {"rpm": 3000, "radius_cm": 10, "minutes": 15},
        {"g": 1600, "radius_cm": 15, "minutes": 20},
    ]
    result = prp_evaluate(preparation(spins=spins))
    assert result["spins"][0] == {
        "n": 1,
        "rcf_g": 1006,
        "rpm": 3000,
        "radius_cm": 10,
        "minutes": 15,
    }
    assert result["spins"][1]["rpm"] == 3089


def test_warnings() -> None:
    prp = {"platelets_per_uL": 300_000, "wbc_per_uL": 100, "volume_mL": 3}
    result = prp_evaluate(
        preparation(
            prp=prp,
            injected_volume_mL=3,
            activation={"agent": "bovine_thrombin"},
            anticoagulant={"agent": "edta", "volume_mL": 1},
        )
    )
    codes = [w["code"] for w in result["warnings"]]
    assert codes == ["bovine_thrombin", "min_fold", "edta_anticoagulant"]
    assert all(w["source"] for w in result["warnings"])


def test_whole_blood_may_be_nested() -> None:
    flat = preparation()
    nested = {k: v for k, v in flat.items() if not k.endswith(("_per_uL", "_pct"))}
    nested["whole_blood"] = {
        k: flat[k]
        for k in (
            "platelets_per_uL",
            "wbc_per_uL",
            "neutrophils_pct",
            "rbc_per_uL",
            "hematocrit_pct",
        )
    }
    assert prp_evaluate(nested) == prp_evaluate(flat)


def _without(path: str) -> dict[str, Any]:
    document = preparation()
    *parents, last = path.split(".")
    target = document
    for key in parents:
        target = target[key]
    del target[last]
    return document


@pytest.mark.parametrize(
    ("document", "field"),
    [
        (preparation(spins=[{"rpm": 3000, "minutes": 10}]), "spins[0].radius_cm"),
        (
            preparation(spins=[{"g": 100, "minutes": 10}, {"rpm": 3000, "minutes": 10}]),
            "spins[1].radius_cm",
        ),
        (
            preparation(spins=[{"g": 100, "rpm": 900, "radius_cm": 10, "minutes": 10}]),
            "spins[0].rpm",
        ),
        (preparation(spins=[{"minutes": 10}]), "spins[0].g"),
        (preparation(spins=[{"g": 100}]), "spins[0].minutes"),
        (preparation(spins=[{"g": -100, "minutes": 5}]), "spins[0].g"),
        (preparation(blood_volume_mL=-10), "blood_volume_mL"),
        (preparation(blood_volume_mL="10"), "blood_volume_mL"),
        (preparation(neutrophils_pct=101), "neutrophils_pct"),
        (preparation(hematocrit_pct=True), "hematocrit_pct"),
        (preparation(platelets_per_uL=0), "platelets_per_uL"),
        (preparation(injected_volume_mL=5), "injected_volume_mL"),
        (preparation(activation={"agent": "sunlight"}), "activation.agent"),
        (preparation(activation={"agent": "none", "volume_mL": 1}), "activation.volume_mL"),
        (preparation(anticoagulant={"agent": "acd_a", "volume_mL": -1}), "anticoagulant.volume_mL"),
        (preparation(anticoagulant={"agent": "citrate"}), "anticoagulant.agent"),
        (
            preparation(prp={"platelets_per_uL": 1e6, "wbc_per_uL": 1, "volume_mL": 20}),
            "prp.volume_mL",
        ),
        (
            preparation(prp={"platelets_per_uL": 1e6, "wbc_per_uL": 1, "volume_mL": 1, "x": 1}),
            "prp.x",
        ),
        (preparation(whole_blood={"platelets_per_uL": 2e5, "wbc_per_uL": 5e3}), "platelets_per_uL"),
        (_without("prp.volume_mL"), "prp.volume_mL"),
        (_without("prp.wbc_per_uL"), "prp.wbc_per_uL"),
        (_without("platelets_per_uL"), "platelets_per_uL"),
        (_without("injected_volume_mL"), "injected_volume_mL"),
        (preparation(spin=[]), "spin"),
    ],
)
def test_invalid_preparation(document: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        prp_evaluate(copy.deepcopy(document))
    assert caught.value.field == field


# --- issue 10, point 6: grades from raw values; impossible values get no grade ----------------


def test_grades_come_from_raw_values_not_rounded_ones() -> None:
    # 999,000 / 200,000 = 4.995x: shown as 5 (2 decimals) but below Mishra's 5x cut-off → B.
    prp = {"platelets_per_uL": 999_000, "wbc_per_uL": 4_000, "volume_mL": 1.4}
    result = prp_evaluate(preparation(prp=prp))
    assert result["fold"] == 5.0
    assert result["mishra"]["concentration"] == "B" and result["mishra"]["code"] == "3B"
    # 1,000,100/µL × 5 mL = 5.0005 ×10⁹: shown as 5.0 but above DEPA's "> 5" → A.
    prp = {"platelets_per_uL": 1_000_100, "wbc_per_uL": 100, "volume_mL": 5}
    result = prp_evaluate(preparation(prp=prp, injected_volume_mL=5, blood_volume_mL=60))
    assert result["dose_billion"] == 5.0 and result["depa"]["dose"] == "A"


def test_efficiency_over_100_gets_no_depa_efficiency_grade() -> None:
    # 1.8M/µL × 5 mL over 200k/µL × 10 mL = 450 % (Magalon 2016: no device above 90 %).
    prp = {"platelets_per_uL": 1_800_000, "wbc_per_uL": 4_000, "volume_mL": 5}
    result = prp_evaluate(preparation(prp=prp, injected_volume_mL=5))
    assert result["efficiency_pct"] == 450.0
    assert result["depa"]["efficiency"] is None
    assert result["depa"]["dose"] == "A"  # the other axes still graded
    (warning,) = [w for w in result["warnings"] if w["code"] == "efficiency_over_100"]
    assert "450 %" in warning["message"] and "no efficiency grade" in warning["message"]


@pytest.mark.parametrize(
    ("overrides", "field", "named", "withheld"),
    [
        (
            {"platelets_per_uL": 5_000_000},
            "whole_blood.platelets_per_uL",
            "Whole-blood platelets 5 000 000/µL is above the plausible 3 000 000/µL",
            ("fold_grades",),
        ),
        (
            {"wbc_per_uL": 0},
            "whole_blood.wbc_per_uL",
            "Whole-blood white cells 0/µL cannot be 0",
            ("white",),
        ),
        (
            {"prp": {"platelets_per_uL": 0, "wbc_per_uL": 4_000, "volume_mL": 1.4}},
            "prp.platelets_per_uL",
            "PRP platelets 0/µL cannot be 0",
            ("fold_grades",),
        ),
        (
            {"prp": {"platelets_per_uL": 900_000_000, "wbc_per_uL": 4_000, "volume_mL": 1.4}},
            "prp.platelets_per_uL",
            "PRP platelets 900 000 000/µL is above the plausible 20 000 000/µL",
            ("fold_grades",),
        ),
    ],
)
def test_impossible_values_get_no_grade_and_a_warning_naming_them(
    overrides: dict[str, Any], field: str, named: str, withheld: tuple[str, ...]
) -> None:
    result = prp_evaluate(preparation(**overrides))
    (warning,) = [w for w in result["warnings"] if w["code"] == "impossible_value"]
    assert warning["field"] == field and warning["message"].startswith(named)
    assert warning["source"]
    assert result["paw"]["code"] is None and result["mishra"]["code"] is None
    assert result["depa"]["purity"] is None
    if "fold_grades" in withheld:
        assert result["depa"]["dose"] is None and result["depa"]["efficiency"] is None
        assert result["dohan_ehrenfest"] == "P-PRP"  # white cells are plausible
    else:
        assert result["dohan_ehrenfest"] is None
        assert result["depa"]["dose"] is not None
    assert not {w["code"] for w in result["warnings"]} & {"min_fold", "efficiency_over_100"}
