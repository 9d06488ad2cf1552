"""Session-record rules of the kernel (procedure_rules): PRP targets, the kernel's preparation
warnings in one shape, mesotherapy label limits and the adverse-event vocabularies, with worked
examples from the references each rule names."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from anagen.clinical import procedure_rules as rules
from anagen.clinical import prp_evaluate
from anagen.clinical.datafiles import load

DCA = rules.Ingredient("deoxycholic_acid", "Deoxycholic acid", Decimal("10"), "mg_per_mL")
DAY = dt.date(2026, 3, 10)


def _check(**kw: Any) -> dict[str, rules.Finding]:
    args: dict[str, Any] = dict(
        ingredients=[DCA],
        vial="single",
        points=25,
        volume_per_point_ml=Decimal("0.2"),
        area_cm2=Decimal("25"),
        area_code="submental",
        on=DAY,
    )
    args.update(kw)
    return {f.rule: f for f in rules.mesotherapy_check(**args)}


def _all_sources() -> list[str]:
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "source":
                    out.append(v)
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(load("procedure_rules"))
    walk(load("adverse_events"))
    return out


def test_data_files_are_versioned_and_every_rule_has_a_reference() -> None:
    assert rules.RULES_VERSION and rules.AE_VERSION
    for spec in rules.rules()["mesotherapy"]["ingredients"].values():
        for rule in spec["rules"]:
            assert rule["source"] and rule["facts"].startswith("clinical-facts.md 8")
    for term in rules.ae_terms().values():
        assert term["source"]
    assert list(rules.ae_vocab()["ctcae_grades"]) == ["1", "2", "3", "4", "5"]


def test_sources_read_as_references_not_file_names() -> None:
    sources = _all_sources()
    assert len(sources) > 30
    for source in sources:
        assert ".md" not in source and "§" not in source, source


def test_kybella_label_worked_example_passes() -> None:
    # Kybella label: 10 mg/mL, 0.2 mL per injection 1 cm apart = 2 mg/cm²; 25 × 0.2 mL = 5 mL.
    assert _check() == {}


def test_dose_per_cm2_and_injection_count_are_hard_stops() -> None:
    # 60 × 0.2 mL = 12 mL × 10 mg/mL = 120 mg over 25 cm² = 4.8 mg/cm² (label: 2).
    found = _check(points=60, area_cm2=Decimal("25"))
    assert found["dca_dose_per_cm2"].level == "stop"
    assert "4.8 mg/cm²" in found["dca_dose_per_cm2"].message
    assert found["dca_injections_per_session"].level == "stop"
    assert found["dca_volume_per_session"].level == "stop"  # 12 mL > 10 mL
    assert "Kybella" in found["dca_dose_per_cm2"].source


def test_percent_is_converted_and_interval_and_count_enforced() -> None:
    one_pct = rules.Ingredient("deoxycholic_acid", "DCA", Decimal("1"), "percent")  # = 10 mg/mL
    assert _check(ingredients=[one_pct]) == {}
    found = _check(earlier_sessions_on=[DAY - dt.timedelta(days=20)])
    assert found["dca_interval"].level == "stop"
    assert "(last one on 18 Feb 2026)" in found["dca_interval"].message  # a date, not ISO
    assert _check(earlier_sessions_on=[dt.date(2026, 2, 10)]) == {}  # one calendar month: ok
    six = [dt.date(2025, m, 1) for m in range(1, 7)]
    assert _check(earlier_sessions_on=six)["dca_max_sessions"].level == "stop"


def test_warnings_off_label_area_multi_dose_and_dutasteride() -> None:
    found = _check(area_code="abdomen", vial="multi")
    assert found["dca_indication"].level == "warning"
    assert "Abdomen is off-label" in found["dca_indication"].message  # the label, not the code
    assert found["multi_dose_vial"].level == "warning"
    assert "Munayco" in found["multi_dose_vial"].source
    duta = rules.Ingredient("dutasteride", "Dutasteride", Decimal("0.1"), "percent")
    found = _check(ingredients=[duta])
    assert found["dutasteride_concentration"].level == "warning"
    assert "0.1 %" in found["dutasteride_concentration"].message
    assert (
        _check(ingredients=[rules.Ingredient("dutasteride", "D", Decimal("0.01"), "percent")]) == {}
    )


def test_prp_flags_read_kernel_output() -> None:
    flags = rules.prp_flags(
        {
            "fold": 1.5,
            "anticoagulant_to_blood_ratio": 0.1,
            "activator_to_prp_ratio": 0.3,
            "paw": {"exogenous_activation": False},
        }
    )
    assert [f.rule for f in flags] == ["fold"]  # activator ratio ignored without activation
    assert flags[0].message == "Fold 1.5x is outside the 2-7x commonly quoted for hair PRP."


def test_prp_flags_worked_example_ratios() -> None:
    # 54 mL blood + 5.4 mL ACD-A = 0.1 (inside 1:9–1:10); 0.3 mL activator on 1.5 mL PRP = 0.2.
    flags = rules.prp_flags(
        {
            "fold": 5,
            "anticoagulant_to_blood_ratio": 0.1,
            "activator_to_prp_ratio": 0.2,
            "paw": {"exogenous_activation": True},
        },
        draw_to_injection_minutes=150,
    )
    assert {f.rule for f in flags} == {"activator_to_prp_ratio", "draw_to_injection_minutes"}


def _prep(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "platelets_per_uL": 200_000,
        "wbc_per_uL": 6_000,
        "neutrophils_pct": 60,
        "rbc_per_uL": 4_800_000,
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
    doc.update(overrides)
    return doc


@pytest.mark.parametrize(
    ("overrides", "code", "reference"),
    [
        (
            {"activation": {"agent": "bovine_thrombin", "volume_mL": 0.1}},
            "bovine_thrombin",
            "Ann Surg",
        ),
        (
            {"prp": {"platelets_per_uL": 300_000, "volume_mL": 1.4, "wbc_per_uL": 4000}},
            "min_fold",
            "Rachchha",
        ),
        ({"anticoagulant": {"agent": "edta", "volume_mL": 1}}, "edta_anticoagulant", "EDTA"),
        (
            {"prp": {"platelets_per_uL": 1_800_000, "volume_mL": 5, "wbc_per_uL": 4000}},
            "efficiency_over_100",
            "Magalon",
        ),
    ],
)
def test_kernel_warnings_come_out_in_one_shape_with_a_reference(
    overrides: dict[str, Any], code: str, reference: str
) -> None:
    # Efficiency worked example: 1.8M/µL × 5 mL over 200k/µL × 10 mL = 450 % (impossible).
    computed = prp_evaluate(_prep(**overrides))
    found = {f.rule: f for f in rules.prp_warnings(computed)}
    assert code in found
    finding = found[code]
    assert finding.as_dict()["code"] == finding.as_dict()["rule"] == code
    assert finding.level == "warning" and finding.message
    assert reference in finding.source and ".md" not in finding.source


def test_prp_warnings_tolerate_old_and_odd_shapes() -> None:
    found = rules.prp_warnings(
        {
            "warnings": [
                {"code": "min_fold", "message": "m", "source": "clinical-facts.md 2.5"},
                {"rule": "x", "message": "y"},
                "plain text",
                {},
            ]
        }
    )
    assert [f.rule for f in found] == ["min_fold", "x", "kernel", "kernel"]
    assert ".md" not in found[0].source and found[1].source == ""
    assert all(f.message for f in found)


def test_zone_and_ae_labels() -> None:
    assert rules.zone_label("vertex") == "Vertex / crown"
    assert rules.zones_for("scalp")[0]["code"] == "frontal"
    assert rules.ae_label("outcomes", "recovering") == "Recovering"
    assert rules.ae_open_outcomes() == {"not_resolved", "recovering", "unknown"}
    assert rules.human_date(dt.date(2026, 3, 1)) == "1 Mar 2026"
