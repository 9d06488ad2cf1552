"""Screening rules, decision precedence and earliest_on (clinical-facts.md 4)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from anagen.clinical import CONDITIONS, ValidationError, screen


def doc(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"procedure": "prp_scalp", "planned_on": "2026-11-21"}
    base.update(overrides)
    return base


def rules(result: dict[str, Any]) -> list[str]:
    return [f["rule"] for f in result["findings"]]


ISSUE_EXAMPLE = {
    "procedure": "prp_scalp",
    "planned_on": "2026-11-21",
    "patient": {
        "birth_date": "1984-05-02",
        "sex": "male",
        "pregnant": False,
        "breastfeeding": False,
        "smoker": False,
    },
    "diagnosis": {"code": "androgenetic_alopecia", "follicles_present": True},
    "conditions": [],
    "medications": [
        {
            "category": "nsaid",
            "name": "ibuprofen",
            "last_dose_on": "2026-11-20",
            "prescribed": False,
        }
    ],
    "events": [],
    "labs": {"platelets_per_uL": 180000, "hemoglobin_g_dL": 13.1},
    "first_line_tried": [],
}


def test_issue_example_nsaid_defers_to_last_dose_plus_seven_days() -> None:
    result = screen(ISSUE_EXAMPLE)
    assert result["decision"] == "defer"
    assert result["earliest_on"] == "2026-11-27"  # 2026-11-20 + 7 days
    assert result["ruleset"] == "anagen-prp-screening@2.0.0"
    assert rules(result) == ["nsaid_washout"]
    finding = result["findings"][0]
    assert finding["level"] == "defer" and finding["source"]


def test_nsaid_washout_has_passed_on_its_last_day() -> None:
    meds = [{"category": "nsaid", "name": "ibuprofen", "last_dose_on": "2026-11-14"}]
    assert screen(doc(medications=meds))["decision"] == "eligible"  # 14 + 7 = 21 = planned_on
    meds[0]["last_dose_on"] = "2026-11-15"
    result = screen(doc(medications=meds))
    assert result["decision"] == "defer" and result["earliest_on"] == "2026-11-22"


def test_non_prescribed_aspirin_has_ten_day_window() -> None:
    meds = [{"category": "aspirin", "last_dose_on": "2026-11-20", "prescribed": False}]
    result = screen(doc(medications=meds))
    assert result["decision"] == "defer"
    assert result["earliest_on"] == "2026-11-30"
    assert rules(result) == ["aspirin_washout"]


@pytest.mark.parametrize("category", ["anticoagulant", "antiplatelet", "aspirin"])
def test_prescribed_antithrombotic_is_review_and_never_advised_to_stop(category: str) -> None:
    meds = [
        {"category": category, "name": "drug", "last_dose_on": "2026-11-20", "prescribed": True}
    ]
    result = screen(doc(medications=meds))
    assert result["decision"] == "review"
    assert result["earliest_on"] is None
    (finding,) = result["findings"]
    assert finding["level"] == "relative"
    assert "consult the prescriber" in finding["message"]
    assert "do not stop" in finding["message"]


@pytest.mark.parametrize(
    "condition", ["platelet_dysfunction", "bleeding_disorder", "hemodynamic_instability", "sepsis"]
)
def test_absolute_conditions_contraindicate(condition: str) -> None:
    result = screen(doc(conditions=[condition]))
    assert result["decision"] == "contraindicated"
    assert result["findings"][0]["level"] == "absolute"


@pytest.mark.parametrize(
    ("platelets", "decision", "rule"),
    [
        (49_999, "contraindicated", "critical_thrombocytopenia"),
        (50_000, "review", "low_platelets"),
        (99_999, "review", "low_platelets"),
        (100_000, "eligible", None),
    ],
)
def test_platelet_thresholds(platelets: int, decision: str, rule: str | None) -> None:
    result = screen(doc(labs={"platelets_per_uL": platelets}))
    assert result["decision"] == decision
    assert rules(result) == ([rule] if rule else [])


def test_hemoglobin_below_ten_is_review() -> None:
    assert screen(doc(labs={"hemoglobin_g_dL": 9.9}))["decision"] == "review"
    assert screen(doc(labs={"hemoglobin_g_dL": 10}))["decision"] == "eligible"


@pytest.mark.parametrize("code", ["alopecia_totalis", "alopecia_universalis"])
def test_totalis_universalis_review_on_scalp_only(code: str) -> None:
    # Areata is non-scarring (facts §13): extensive disease is reviewed, not "no follicles".
    result = screen(doc(diagnosis={"code": code}))
    assert result["decision"] == "review" and result["earliest_on"] is None
    assert "non-scarring" in result["findings"][0]["message"]
    assert "no living follicles" not in result["findings"][0]["message"].lower()
    assert screen(doc(procedure="prp_face", diagnosis={"code": code}))["decision"] == "eligible"


def test_no_follicles_is_not_indicated() -> None:
    result = screen(doc(diagnosis={"code": "androgenetic_alopecia", "follicles_present": False}))
    assert result["decision"] == "not_indicated"
    assert rules(result) == ["no_living_follicles"]


def test_alopecia_areata_needs_a_first_line_treatment() -> None:
    aa = {"code": "alopecia_areata"}
    assert screen(doc(diagnosis=aa))["decision"] == "review"
    tried = screen(doc(diagnosis=aa, first_line_tried=["intralesional_corticosteroid"]))
    assert tried["decision"] == "eligible"


@pytest.mark.parametrize("flag", ["pregnant", "breastfeeding"])
def test_pregnancy_and_breastfeeding_defer_without_a_date(flag: str) -> None:
    meds = [{"category": "nsaid", "last_dose_on": "2026-11-20"}]
    result = screen(doc(patient={flag: True}, medications=meds))
    assert result["decision"] == "defer"
    assert result["earliest_on"] is None  # one undated deferral makes the whole date unknown


@pytest.mark.parametrize(
    "condition",
    ["recent_fever", "systemic_infection", "infection_at_site", "severe_scalp_inflammation"],
)
def test_undated_deferrals(condition: str) -> None:
    result = screen(doc(conditions=[condition]))
    assert result["decision"] == "defer" and result["earliest_on"] is None


def test_scalp_inflammation_does_not_defer_a_face_procedure() -> None:
    result = screen(doc(procedure="prp_face", conditions=["severe_scalp_inflammation"]))
    assert result["decision"] == "eligible"


@pytest.mark.parametrize(
    "condition", ["cancer_hematologic", "cancer_bone", "cancer_other", "chronic_liver_disease"]
)
def test_relative_conditions_review(condition: str) -> None:
    assert screen(doc(conditions=[condition]))["decision"] == "review"


def test_smoking_is_review() -> None:
    assert screen(doc(patient={"smoker": True}))["decision"] == "review"


def test_systemic_corticosteroid_two_weeks_and_current_use() -> None:
    # Le 2018 lists systemic corticosteroids within 2 weeks as a RELATIVE contraindication.
    dated = [{"category": "systemic_corticosteroid", "last_dose_on": "2026-11-10"}]
    result = screen(doc(medications=dated))
    assert result["decision"] == "review" and result["earliest_on"] is None
    assert "2026-11-10" in result["findings"][0]["message"]
    current = [{"category": "systemic_corticosteroid", "name": "prednisolone"}]
    result = screen(doc(medications=current))
    assert result["decision"] == "review" and "prednisolone" in result["findings"][0]["message"]
    past = [{"category": "systemic_corticosteroid", "last_dose_on": "2026-11-07"}]
    assert screen(doc(medications=past))["decision"] == "eligible"  # 7 + 14 = 21 = planned_on


def test_steroid_injection_at_site_within_a_month() -> None:
    events = [{"type": "corticosteroid_injection_at_site", "on": "2026-11-01"}]
    result = screen(doc(events=events))
    assert result["decision"] == "defer" and result["earliest_on"] == "2026-12-01"
    events[0]["on"] = "2026-10-22"
    assert screen(doc(events=events))["decision"] == "eligible"


def test_earliest_on_is_the_latest_dated_deferral() -> None:
    meds = [
        {"category": "nsaid", "last_dose_on": "2026-11-20"},
        {"category": "aspirin", "last_dose_on": "2026-11-19"},
    ]
    events = [{"type": "corticosteroid_injection_at_site", "on": "2026-10-25"}]
    result = screen(doc(medications=meds, events=events))
    assert result["earliest_on"] == "2026-11-29"  # aspirin 19 + 10 beats NSAID 27 and event 24


def test_precedence_and_severity_order() -> None:
    result = screen(
        doc(
            conditions=["recent_fever", "sepsis", "chronic_liver_disease"],
            diagnosis={"code": "androgenetic_alopecia", "follicles_present": False},
            patient={"smoker": True},
        )
    )
    assert result["decision"] == "contraindicated"
    assert [f["level"] for f in result["findings"]] == [
        "absolute",
        "suitability",
        "defer",
        "relative",
        "relative",
    ]


def test_mesotherapy_advisory_keeps_eligible() -> None:
    result = screen(doc(procedure="mesotherapy_face"))
    assert result["decision"] == "eligible"
    assert [f["level"] for f in result["findings"]] == ["advisory"]


def test_planned_on_defaults_to_today() -> None:
    from anagen.clinical.screening import parse_screening_input

    parsed = parse_screening_input({"procedure": "prp_scalp"}, today=date(2030, 1, 2))
    assert parsed.planned_on == date(2030, 1, 2)
    assert screen({"procedure": "prp_scalp"})["decision"] == "eligible"


def test_every_condition_code_has_a_rule() -> None:
    for code in CONDITIONS:
        assert screen(doc(conditions=[code]))["findings"], code


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"planned_on": "2026-11-21"}, "procedure"),
        (doc(procedure="prp_knee"), "procedure"),
        (doc(planned_on="21/11/2026"), "planned_on"),
        (doc(planned_on="2026-02-30"), "planned_on"),
        (doc(colour="blue"), "colour"),
        (doc(patient={"birth_date": "2027-01-01"}), "patient.birth_date"),
        (doc(patient={"smoker": "yes"}), "patient.smoker"),
        (doc(patient={"sex": "m"}), "patient.sex"),
        (doc(diagnosis={"code": "baldness"}), "diagnosis.code"),
        (doc(conditions=["ok", "flu"]), "conditions[0]"),
        (doc(conditions="sepsis"), "conditions"),
        (doc(medications=[{"name": "x"}]), "medications[0].category"),
        (
            doc(medications=[{"category": "nsaid", "last_dose_on": "yesterday"}]),
            "medications[0].last_dose_on",
        ),
        (doc(events=[{"type": "surgery", "on": "2026-11-01"}]), "events[0].type"),
        (doc(events=[{"type": "corticosteroid_injection_at_site"}]), "events[0].on"),
        (doc(labs={"platelets_per_uL": -1}), "labs.platelets_per_uL"),
        (doc(labs={"platelets_per_uL": True}), "labs.platelets_per_uL"),
        (doc(labs={"hemoglobin_g_dL": 99}), "labs.hemoglobin_g_dL"),
        (doc(labs={"ferritin": 3}), "labs.ferritin"),
        (doc(first_line_tried=["prayer"]), "first_line_tried[0]"),
        ([], "input"),
    ],
)
def test_invalid_input_names_the_field(document: Any, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        screen(document)
    assert caught.value.field == field
