"""The data files are versioned, every entry carries its source, and codes match the facts file."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from anagen.clinical import (
    CONDITIONS,
    DIAGNOSES,
    MEDICATION_CATEGORIES,
    PROCEDURES,
)
from anagen.clinical.datafiles import load
from anagen.clinical.screening import _LEVELS, reference_text, source_for_rule

DATA_FILES = sorted(
    p.name.removesuffix(".json")
    for p in resources.files("anagen.clinical").joinpath("data").iterdir()
    if p.name.endswith(".json")
)


@pytest.mark.parametrize("name", DATA_FILES)
def test_data_file_is_versioned(name: str) -> None:
    assert load(name)["version"]


def test_vocabulary_entries_have_labels_and_sources() -> None:
    vocab = load("vocabularies")
    for section, entries in vocab.items():
        if isinstance(entries, dict):
            for code, entry in entries.items():
                assert entry["label"] and entry["source"], (section, code)


def test_screening_rules_have_level_message_and_references() -> None:
    ruleset = load("screening")
    references = load("references")["references"]
    assert ruleset["name"] and ruleset["version"]
    for rule in ruleset["rules"]:
        assert rule["level"] in _LEVELS
        assert rule["message"] and rule["references"], rule["id"]
        assert all(r in references for r in rule["references"]), rule["id"]
        assert "source" not in rule, rule["id"]
    for threshold in ruleset["thresholds"].values():
        assert threshold["references"]
        assert all(r in references for r in threshold["references"])


def test_references_read_as_references() -> None:
    """Author (or publisher), title and where: never a file name or a section of our notes."""
    for ref_id, ref in load("references")["references"].items():
        assert ref["title"] and ref["published"], ref_id
        assert ref["authors"] or ref["title"].startswith("["), ref_id
        assert ref["year"] is None or 1950 < ref["year"] < 2100, ref_id
        text = reference_text(ref_id)
        assert ".md" not in text and "clinical-facts" not in text, ref_id


def test_screening_finding_source_is_a_reference() -> None:
    assert source_for_rule("nsaid_washout").startswith("Krauss Dermatology. Pre-PRP instructions.")
    assert "Le QD (2018). What are contraindications for PRP knee injections? Medscape." in (
        source_for_rule("platelet_dysfunction")
    )


def test_screening_washouts() -> None:
    ruleset = load("screening")
    washouts = {r["id"]: r["washout_days"] for r in ruleset["rules"] if "washout_days" in r}
    assert washouts == {
        "nsaid_washout": 7,
        "nsaid_prescribed": 7,
        "aspirin_washout": 10,
        "systemic_corticosteroid": 14,
        "corticosteroid_injection_at_site": 30,
        "anticoagulant_therapy": 7,
        "antiplatelet_therapy": 10,  # the prescribed-aspirin row (clopidogrel & co: 7)
        "supplement": 7,
    }


def test_issue_vocabularies() -> None:
    assert set(PROCEDURES) == {
        "prp_scalp",
        "prp_face",
        "mesotherapy_scalp",
        "mesotherapy_face",
        "mesotherapy_body",
    }
    assert set(CONDITIONS) == {
        "platelet_dysfunction",
        "bleeding_disorder",
        "hemodynamic_instability",
        "sepsis",
        "infection_at_site",
        "severe_scalp_inflammation",
        "systemic_infection",
        "recent_fever",
        "cancer_hematologic",
        "cancer_bone",
        "cancer_other",
        "chronic_liver_disease",
        "chemotherapy",
        "immunosuppression",
        "autoimmune_disease",
        "keloid_tendency",
    }
    assert set(MEDICATION_CATEGORIES) == {
        "anticoagulant",
        "antiplatelet",
        "nsaid",
        "aspirin",
        "systemic_corticosteroid",
        "isotretinoin",
        "supplement",
        "other",
    }
    assert len(DIAGNOSES) == 9


@pytest.mark.parametrize(
    ("code", "icd10", "snomed"),
    [
        ("alopecia_areata", "L63.9", "68225006"),
        ("alopecia_totalis", "L63.0", None),
        ("alopecia_universalis", "L63.1", None),
        ("androgenetic_alopecia", "L64.9", "87872006"),
        ("cicatricial_alopecia", "L66.9", "400088006"),
    ],
)
def test_diagnosis_codes_match_facts_section_9(code: str, icd10: str, snomed: str | None) -> None:
    assert DIAGNOSES[code]["icd10"] == icd10
    assert DIAGNOSES[code]["snomed_ct"] == snomed


def test_data_files_are_strict_json() -> None:
    def reject(constant: str) -> None:
        pytest.fail(f"non-JSON constant {constant}")

    for name in DATA_FILES:
        text = resources.files("anagen.clinical").joinpath("data", f"{name}.json").read_text()
        json.loads(text, parse_constant=reject)
