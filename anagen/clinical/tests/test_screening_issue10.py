"""Issue 10 screening rules, each with a worked example from its source (facts §4, §5.4, §13)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from anagen.clinical import ValidationError, screen
from anagen.clinical.cli import main
from anagen.clinical.datafiles import load


def doc(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"procedure": "prp_scalp", "planned_on": "2026-11-21"}
    base.update(overrides)
    return base


def only(result: dict[str, Any]) -> dict[str, Any]:
    (finding,) = result["findings"]
    return finding


# --- point 5: severities and dates ----------------------------------------------------------


def test_contraindicated_result_has_no_earliest_date() -> None:
    # The case: sepsis + ibuprofen showed "earliest 2026-12-05".
    meds = [{"category": "nsaid", "name": "ibuprofen", "last_dose_on": "2026-11-28"}]
    result = screen(doc(planned_on="2026-11-30", conditions=["sepsis"], medications=meds))
    assert result["decision"] == "contraindicated" and result["earliest_on"] is None


def test_not_indicated_result_has_no_earliest_date() -> None:
    meds = [{"category": "nsaid", "last_dose_on": "2026-11-20"}]
    diagnosis = {"code": "androgenetic_alopecia", "follicles_present": False}
    result = screen(doc(diagnosis=diagnosis, medications=meds))
    assert result["decision"] == "not_indicated" and result["earliest_on"] is None


def test_prescribed_nsaid_is_review_over_the_counter_defers() -> None:
    prescribed = [{"category": "nsaid", "name": "naproxen", "prescribed": True}]
    result = screen(doc(medications=prescribed))
    assert result["decision"] == "review" and only(result)["rule"] == "nsaid_prescribed"
    assert "naproxen" in only(result)["message"]
    otc = [{"category": "nsaid", "name": "ibuprofen", "prescribed": False}]
    assert screen(doc(medications=otc))["decision"] == "defer"


def test_anticoagulant_past_its_window_is_history() -> None:
    # facts §13: "an anticoagulant stopped two years ago is history, not current therapy".
    stopped = [{"category": "anticoagulant", "name": "warfarin", "last_dose_on": "2024-11-21"}]
    assert screen(doc(medications=stopped))["findings"] == []
    recent = [{"category": "anticoagulant", "name": "warfarin", "last_dose_on": "2026-11-18"}]
    finding = only(screen(doc(medications=recent)))
    assert finding["rule"] == "anticoagulant_therapy" and "warfarin" in finding["message"]
    current = [{"category": "anticoagulant", "name": "apixaban"}]
    assert "apixaban" in only(screen(doc(medications=current)))["message"]


# --- point 4: missing rules -----------------------------------------------------------------


def test_under_18_is_review_with_the_age() -> None:
    result = screen(doc(patient={"birth_date": "2009-11-22", "sex": "female"}))
    finding = only(result)
    assert result["decision"] == "review" and finding["rule"] == "minor"
    assert "Age 16" in finding["message"]
    # The 18th birthday on the planned day: an adult.
    assert screen(doc(patient={"birth_date": "2008-11-21"}))["findings"] == []


@pytest.mark.parametrize(
    ("substance", "rule"),
    [
        ("Lidocaine", "allergy_local_anaesthetic"),
        ("EMLA cream", "allergy_local_anaesthetic"),
        ("prilocaine", "allergy_local_anaesthetic"),
        ("Bovine thrombin", "allergy_bovine_thrombin"),
        ("calcium gluconate", "allergy_calcium_salts"),
    ],
)
def test_procedure_allergies_are_review_naming_the_substance(substance: str, rule: str) -> None:
    allergies = [{"substance": substance, "reaction": "urticaria"}]
    result = screen(doc(allergies=allergies))
    finding = only(result)
    assert result["decision"] == "review" and finding["rule"] == rule
    assert substance in finding["message"] and "urticaria" in finding["message"]


def test_other_allergy_is_surfaced_without_blocking() -> None:
    result = screen(doc(allergies=[{"substance": "penicillin"}]))
    assert result["decision"] == "eligible"
    assert only(result)["rule"] == "allergy_recorded" and "penicillin" in only(result)["message"]


def test_activator_allergies_only_matter_for_prp() -> None:
    allergies = [{"substance": "bovine thrombin"}]
    result = screen(doc(procedure="mesotherapy_face", allergies=allergies))
    assert result["decision"] == "eligible"


@pytest.mark.parametrize(
    "condition", ["chemotherapy", "immunosuppression", "autoimmune_disease", "keloid_tendency"]
)
def test_new_conditions_are_review(condition: str) -> None:
    result = screen(doc(conditions=[condition]))
    assert result["decision"] == "review" and only(result)["rule"] == condition


def test_isotretinoin_within_six_months_is_review_naming_the_drug() -> None:
    # Package insert: wait 6 months after isotretinoin (facts §13).
    meds = [{"category": "isotretinoin", "name": "Roaccutane", "last_dose_on": "2026-06-01"}]
    result = screen(doc(medications=meds))
    finding = only(result)
    assert result["decision"] == "review" and finding["rule"] == "isotretinoin"
    assert "Roaccutane" in finding["message"] and "2026-06-01" in finding["message"]
    assert "2026-12-01" in finding["message"]  # 6 calendar months later
    meds[0]["last_dose_on"] = "2026-05-21"
    assert screen(doc(medications=meds))["findings"] == []  # window ended on the planned day


def test_supplement_is_no_longer_other() -> None:
    meds = [{"category": "supplement", "name": "fish oil", "last_dose_on": "2026-11-18"}]
    finding = only(screen(doc(medications=meds)))
    assert finding["rule"] == "supplement" and "fish oil" in finding["message"]


def test_extensive_alopecia_areata_review_with_salt() -> None:
    # SALT worked example (facts §5.4 / T15): 47.6 is below 50; NAAF: SALT >= 50 is severe.
    aa = {"code": "alopecia_areata", "salt": 47.6}
    tried = ["intralesional_corticosteroid"]
    assert screen(doc(diagnosis=aa, first_line_tried=tried))["decision"] == "eligible"
    aa["salt"] = 50
    result = screen(doc(diagnosis=aa, first_line_tried=tried))
    finding = only(result)
    assert result["decision"] == "review" and finding["rule"] == "extensive_alopecia_areata"
    assert "SALT 50" in finding["message"] and "systemic" in finding["message"]


def test_scarring_alopecia_with_unknown_follicles_is_review() -> None:
    result = screen(doc(diagnosis={"code": "cicatricial_alopecia"}))
    assert result["decision"] == "review"
    assert "scarring_follicles_unknown" in [f["rule"] for f in result["findings"]]
    known = screen(doc(diagnosis={"code": "cicatricial_alopecia", "follicles_present": True}))
    assert known["decision"] == "eligible"


def test_stale_labs_are_review() -> None:
    # The case: a 10-year-old platelet count was accepted.
    labs = {"platelets_per_uL": 250_000, "taken_on": "2016-11-21"}
    finding = only(screen(doc(labs=labs)))
    assert finding["rule"] == "stale_labs" and "2016-11-21" in finding["message"]
    window = load("screening")["thresholds"]["lab_max_age_days"]["value"]
    assert window == 90
    fresh = {"platelets_per_uL": 250_000, "taken_on": "2026-08-23"}  # 90 days before
    assert screen(doc(labs=fresh))["findings"] == []


@pytest.mark.parametrize(
    ("hb", "sex", "decision", "rule"),
    [
        (7.9, "female", "defer", "severe_anaemia"),  # WHO 2011: severe < 8 g/dL
        (8.0, "female", "review", "low_hemoglobin"),  # moderate 8-10.9; Le 2018: < 10 relative
        (9.9, "male", "review", "low_hemoglobin"),
        (10.5, "female", "eligible", "mild_anaemia"),  # below 12 (women): mild, advisory
        (12.5, "male", "eligible", "mild_anaemia"),  # below 13 (men)
        (12.5, "female", "eligible", None),
    ],
)
def test_anaemia_by_severity(hb: float, sex: str, decision: str, rule: str | None) -> None:
    result = screen(doc(patient={"sex": sex}, labs={"hemoglobin_g_dL": hb}))
    assert result["decision"] == decision
    assert [f["rule"] for f in result["findings"]] == ([rule] if rule else [])
    if rule:
        assert f"{hb:g}" in result["findings"][0]["message"]


def test_steroid_injection_event_uses_kind() -> None:
    events = [{"kind": "corticosteroid_injection_at_site", "on": "2026-11-01"}]
    result = screen(doc(events=events))
    assert result["decision"] == "defer" and result["earliest_on"] == "2026-12-01"


def test_every_finding_lists_its_inputs() -> None:
    result = screen(
        doc(
            labs={"platelets_per_uL": 95_000},
            medications=[{"category": "anticoagulant", "name": "warfarin"}],
        )
    )
    inputs = {f["rule"]: f["inputs"] for f in result["findings"]}
    assert inputs["low_platelets"] == {"Platelets (/uL)": 95_000}
    assert inputs["anticoagulant_therapy"]["warfarin (Anticoagulant)"]["last dose"]


# --- point 6: impossible values --------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "field"),
    [
        (doc(labs={"platelets_per_uL": 5_000_000}), "labs.platelets_per_uL"),
        (doc(labs={"platelets_per_uL": 0}), "labs.platelets_per_uL"),
        (doc(labs={"hemoglobin_g_dL": 0}), "labs.hemoglobin_g_dL"),
        (doc(labs={"hemoglobin_g_dL": 31}), "labs.hemoglobin_g_dL"),
        (doc(patient={"sex": "male", "pregnant": True}), "patient.pregnant"),
        (
            doc(medications=[{"category": "nsaid", "last_dose_on": "2026-11-22"}]),
            "medications[0].last_dose_on",
        ),
        (doc(labs={"taken_on": "2026-11-22"}), "labs.taken_on"),
        (
            doc(events=[{"kind": "corticosteroid_injection_at_site", "on": "2027-01-01"}]),
            "events[0].on",
        ),
        (doc(diagnosis={"code": "alopecia_areata", "salt": 101}), "diagnosis.salt"),
        (doc(allergies=[{"reaction": "rash"}]), "allergies[0].substance"),
        (doc(medications=[{"category": "vitamins"}]), "medications[0].category"),
    ],
)
def test_impossible_input_is_an_error(document: Any, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        screen(document)
    assert caught.value.field == field


def test_a_dose_after_today_is_an_error_when_today_is_known() -> None:
    meds = [{"category": "nsaid", "last_dose_on": "2026-12-02"}]
    document = doc(planned_on="2026-12-05", medications=meds)
    assert screen(document)["decision"] == "defer"
    with pytest.raises(ValidationError, match="future"):
        screen(document, today=date(2026, 12, 1))


# --- the CLI contract ------------------------------------------------------------------------


def test_cli_screen_contract(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    document = {
        "procedure": "prp_scalp",
        "planned_on": date.today().isoformat(),
        "patient": {"birth_date": "1990-01-01", "sex": "female"},
        "diagnosis": {"code": "alopecia_areata", "salt": 62.5},
        "allergies": [{"substance": "lidocaine", "reaction": "anaphylaxis"}],
        "medications": [{"category": "isotretinoin", "name": "isotretinoin"}],
        "labs": {"platelets_per_uL": 250_000, "taken_on": date.today().isoformat()},
        "events": [],
        "first_line_tried": ["topical_corticosteroid"],
    }
    path = tmp_path / "in.json"
    path.write_text(json.dumps(document))
    assert main(["screen", str(path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["decision"] == "review" and out["earliest_on"] is None
    messages = " ".join(f["message"] for f in out["findings"])
    assert "lidocaine" in messages and "SALT 62.5" in messages and "isotretinoin" in messages

    document["labs"] = {"platelets_per_uL": 5_000_000}
    path.write_text(json.dumps(document))
    assert main(["screen", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: labs.platelets_per_uL:")
