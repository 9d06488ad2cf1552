"""Coded vocabularies, loaded from ``data/vocabularies.json``.

Each constant maps a stable code to its entry: ``{"label": str, "source": str, ...}``; diagnoses
also carry ``icd10``, ``icd10_title``, ``icd10_status``, ``snomed_ct`` and ``snomed_ct_term``
(each None where clinical-facts.md has no code).
"""

from __future__ import annotations

from typing import Any

from anagen.clinical.datafiles import entries, load

Vocabulary = dict[str, dict[str, Any]]

VOCABULARIES_VERSION: str = load("vocabularies")["version"]
DIAGNOSES: Vocabulary = entries("vocabularies", "diagnoses")
CONDITIONS: Vocabulary = entries("vocabularies", "conditions")
MEDICATION_CATEGORIES: Vocabulary = entries("vocabularies", "medication_categories")
EVENT_TYPES: Vocabulary = entries("vocabularies", "event_types")
PRIOR_TREATMENTS: Vocabulary = entries("vocabularies", "prior_treatments")
PROCEDURES: Vocabulary = entries("vocabularies", "procedures")
SEXES: Vocabulary = entries("vocabularies", "sexes")
ANTICOAGULANT_AGENTS: Vocabulary = entries("vocabularies", "anticoagulant_agents")
ACTIVATION_AGENTS: Vocabulary = entries("vocabularies", "activation_agents")
