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


# --- per-session and per-area totals (issue 10, point 1) -------------------------------------


def _dose(
    points: int, area: str = "submental", cm2: str | None = "45", **kw: Any
) -> rules.MesoDose:
    return rules.MesoDose(
        ingredients=kw.pop("ingredients", (DCA,)),
        points=points,
        volume_per_point_ml=Decimal(kw.pop("vpp", "0.2")),
        area_cm2=Decimal(cm2) if cm2 is not None else None,
        area_code=area,
        formulation=kw.pop("formulation", "dca"),
    )


def test_three_deliveries_of_45_injections_are_summed_per_session() -> None:
    # Issue 10's finding: 3 × (45 × 0.2 mL) of deoxycholic acid in one session = 135 injections,
    # 27 mL. Label (Kybella PI): at most 50 injections, 10 mL (100 mg at 10 mg/mL) per session.
    first = _check(points=45, area_cm2=Decimal("45"), formulation="dca")
    assert {f.level for f in first.values()} <= {"warning"}  # 45 × 0.2 mL = 9 mL, 2 mg/cm²
    second = _check(
        points=45,
        area_cm2=Decimal("45"),
        area_code="jawline_neck",
        formulation="dca",
        session_so_far=[_dose(45)],
    )
    assert "90 deoxycholic acid injections" in second["dca_injections_per_session"].message
    assert "18 mL" in second["dca_volume_per_session"].message
    assert "180 mg" in second["dca_mg_per_session"].message
    third = _check(
        points=45,
        area_cm2=Decimal("45"),
        formulation="dca",
        session_so_far=[_dose(45), _dose(45, area="jawline_neck")],
    )
    assert third["dca_injections_per_session"].level == "stop"
    assert "135 deoxycholic acid injections" in third["dca_injections_per_session"].message
    assert "27 mL" in third["dca_volume_per_session"].message
    # Two deliveries to the submental area: 180 mg over 45 cm² = 4 mg/cm² (label 2).
    assert "4 mg/cm²" in third["dca_dose_per_cm2"].message
    assert third["dca_dose_per_cm2"].level == "stop"


def test_the_51st_injection_is_refused() -> None:
    found = _check(points=1, area_cm2=Decimal("50"), session_so_far=[_dose(50, cm2="50")])
    assert "51 deoxycholic acid injections" in found["dca_injections_per_session"].message
    assert found["dca_injections_per_session"].level == "stop"
    assert {
        f.rule
        for f in rules.mesotherapy_check(
            ingredients=[DCA],
            vial="single",
            points=25,
            volume_per_point_ml=Decimal("0.2"),
            area_cm2=Decimal("50"),
            area_code="submental",
            on=DAY,
            session_so_far=[_dose(25, cm2="50")],
        )
        if f.level == "stop"
    } == set()  # exactly 50 injections, 10 mL, 100 mg, 2 mg/cm²: allowed
    # Two deliveries to one area are taken to overlap (the larger area recorded counts), so
    # 2 × 50 mg on 25 cm² is 4 mg/cm².
    overlap = _check(area_cm2=Decimal("25"), session_so_far=[_dose(25, cm2="25")])
    assert "4 mg/cm²" in overlap["dca_dose_per_cm2"].message


def test_compounded_2_5_percent_is_refused_on_milligrams() -> None:
    # 2.5 % = 25 mg/mL. 30 × 0.2 mL = 6 mL (under 10 mL, 30 injections under 50) but 150 mg,
    # over the label's 100 mg per session; over 100 cm² the area dose is 1.5 mg/cm² (passes).
    compounded = rules.Ingredient("deoxycholic_acid", "DCA 2.5 %", Decimal("2.5"), "percent")
    found = _check(ingredients=[compounded], points=30, area_cm2=Decimal("100"))
    stops = {code for code, f in found.items() if f.level == "stop"}
    assert stops == {"dca_mg_per_session"}
    assert "150 mg" in found["dca_mg_per_session"].message
    assert found["dca_concentration"].level == "warning"  # not the labelled 10 mg/mL


def test_the_area_is_required_where_the_limit_is_per_area() -> None:
    found = _check(area_cm2=None)
    assert found["dca_dose_per_cm2_area"].level == "stop"
    assert "treated area" in found["dca_dose_per_cm2_area"].message
    unknown = rules.Ingredient("deoxycholic_acid", "DCA", None, "")
    found = _check(ingredients=[unknown])
    assert found["dca_dose_per_cm2_concentration"].level == "stop"
    assert "concentration" in found["dca_dose_per_cm2_concentration"].message


def test_every_formulation_has_volume_limits_and_an_interval() -> None:
    # A dutasteride cocktail: 300 points × 0.2 mL = 60 mL in one session → a warning.
    duta = rules.Ingredient("dutasteride", "Dutasteride", Decimal("0.01"), "percent")
    found = _check(ingredients=[duta], points=300, area_cm2=None, area_code="vertex")
    assert found["session_volume"].level == "warning"
    assert "60 mL" in found["session_volume"].message
    assert all(f.level == "warning" for f in found.values())
    biotin = rules.Ingredient("", "Biotin", Decimal("5"), "mg_per_mL")
    found = _check(ingredients=[biotin], volume_per_point_ml=Decimal("0.5"), points=10)
    assert found["volume_per_point"].level == "warning"
    found = _check(
        ingredients=[biotin],
        formulation="7",
        earlier_formulation_sessions_on=[DAY - dt.timedelta(days=3)],
    )
    assert "7 Mar 2026" in found["formulation_interval"].message
    assert "formulation_interval" not in _check(
        ingredients=[biotin],
        formulation="7",
        earlier_formulation_sessions_on=[DAY - dt.timedelta(days=7)],
    )


def test_session_totals_sum_injections_ml_and_mg() -> None:
    totals = rules.meso_session_totals([_dose(45), _dose(45), _dose(45)])
    assert totals == [
        {
            "name": "Deoxycholic acid",
            "code": "deoxycholic_acid",
            "points": 135,
            "volume_ml": 27.0,
            "mg": 270.0,
        }
    ]


# --- allergy stop at lot recording (issue 10, point 4) ----------------------------------------


@pytest.mark.parametrize(
    ("allergy", "product", "category", "ingredients", "code"),
    [
        ("Lidocaine", "EMLA 5 % cream", "anaesthetic_cream", (), "allergy_local_anaesthetic"),
        ("prilocaine", "Numbing cream", "anaesthetic_cream", (), "allergy_local_anaesthetic"),
        ("Xylocaine", "Lidocaine 1 % ampoules", "meso_ingredient", (), "allergy_local_anaesthetic"),
        ("bovine products", "Bovine thrombin kit", "activator", (), "allergy_bovine_thrombin"),
        (
            "calcium chloride",
            "CaCl2 10 % (calcium chloride)",
            "activator",
            (),
            "allergy_calcium_salts",
        ),
        (
            "Biotin",
            "Hair cocktail",
            "meso_ingredient",
            ("Dutasteride", "Biotin"),
            "allergy_product",
        ),
        ("Penicillin", "RegenKit A", "kit", (), None),
        ("Lidocaine", "Sodium citrate tubes", "tube", (), None),
        # Class words never match alone; a whole phrase does.
        ("Salicylic acid", "Deoxycholic acid 10 mg/mL", "meso_ingredient", (), None),
        ("Vitamin E", "Hair cocktail", "meso_ingredient", ("Vitamin C",), None),
        ("Vitamin E", "Vitamin E serum", "meso_ingredient", (), "allergy_product"),
        (
            "Hyaluronic acid",
            "Skin booster",
            "meso_ingredient",
            ("Hyaluronic acid",),
            "allergy_product",
        ),
    ],
)
def test_lot_allergy_matches(
    allergy: str, product: str, category: str, ingredients: tuple[str, ...], code: str | None
) -> None:
    found = rules.lot_allergy_matches(
        product=product,
        category=category,
        lot="L-1",
        allergies=[(allergy, "hives")],
        ingredients=ingredients,
    )
    assert [f.rule for f in found] == ([code] if code else [])
    for f in found:
        assert f.level == "stop" and f.source and ".md" not in f.source
        assert f.message.startswith(f"Allergy to {allergy} (hives): {product} (lot L-1) is ")


# --- adverse-event seriousness (issue 10, point 8) --------------------------------------------


def test_seriousness_follows_ich_e2a_not_the_ctcae_grade() -> None:
    # Clinical facts 13: a grade-3 event need not be serious; a hospitalised grade-2 event is.
    s = rules.ae_seriousness
    assert s([], grade=3, action="medication", outcome="recovering") == []
    assert s([], grade=2, action="hospitalisation", outcome="recovering") == ["hospitalisation"]
    assert s([], grade=5, action="none", outcome="fatal") == ["death"]
    assert s([], grade=3, action="none", outcome="fatal") == ["death"]
    assert s([], grade=4, action="medication", outcome="recovering") == ["life_threatening"]
    assert s(["other_important", "disability"], grade=1, action="none", outcome="resolved") == [
        "disability",
        "other_important",
    ]
    with pytest.raises(ValueError):
        s(["frightening"], grade=1, action="none", outcome="resolved")
    criteria = rules.ae_seriousness_criteria()
    assert list(criteria) == [
        "death",
        "life_threatening",
        "hospitalisation",
        "disability",
        "congenital_anomaly",
        "other_important",
    ]
    assert all("ICH E2A" in c["source"] for c in criteria.values())
