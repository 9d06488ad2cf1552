"""Anagen clinical kernel: pure Python (no Django), driven by the data files in ``data/``.

The Django apps call only what is re-exported here; nothing clinical is computed elsewhere.
"""

from __future__ import annotations

from anagen.clinical.centrifuge import rcf_from_rpm, rcf_report, rpm_from_rcf
from anagen.clinical.errors import ValidationError
from anagen.clinical.outcomes import (
    CM2_PER_INCH2,
    RESPONDER_RULES,
    Change,
    Density,
    HairCount,
    category_percentages,
    change,
    count_change,
    density_change,
    is_detectable,
    is_responder,
    mdc95,
    per_cm2_to_per_inch2,
    per_inch2_to_per_cm2,
    percent_change,
    reduction_pct,
    sem_from_icc,
    sem_from_retest_differences,
)
from anagen.clinical.protocols import (
    PROTOCOLS,
    SeriesPlan,
    build_plan,
    get_protocol,
    list_protocols,
    plan_series,
)
from anagen.clinical.prp import parse_preparation, prp_evaluate
from anagen.clinical.salt import SaltScore, salt, salt_score
from anagen.clinical.scales import (
    SCALES,
    ScaleDefinition,
    ScaleValue,
    list_scales,
    parse_scale,
    scales_for_diagnosis,
)
from anagen.clinical.screening import (
    DECISIONS,
    ScreeningResult,
    parse_screening_input,
    ruleset_id,
    screen,
)
from anagen.clinical.screening import (
    evaluate as evaluate_screening,
)
from anagen.clinical.vocabularies import (
    ACTIVATION_AGENTS,
    ANTICOAGULANT_AGENTS,
    CONDITIONS,
    DIAGNOSES,
    EVENT_TYPES,
    MEDICATION_CATEGORIES,
    PRIOR_TREATMENTS,
    PROCEDURES,
    SEXES,
    VOCABULARIES_VERSION,
)

__all__ = [
    "ACTIVATION_AGENTS",
    "ANTICOAGULANT_AGENTS",
    "CM2_PER_INCH2",
    "CONDITIONS",
    "DECISIONS",
    "DIAGNOSES",
    "EVENT_TYPES",
    "MEDICATION_CATEGORIES",
    "PRIOR_TREATMENTS",
    "PROCEDURES",
    "PROTOCOLS",
    "RESPONDER_RULES",
    "SCALES",
    "SEXES",
    "VOCABULARIES_VERSION",
    "Change",
    "Density",
    "HairCount",
    "SaltScore",
    "ScaleDefinition",
    "ScaleValue",
    "ScreeningResult",
    "SeriesPlan",
    "ValidationError",
    "build_plan",
    "category_percentages",
    "change",
    "count_change",
    "density_change",
    "evaluate_screening",
    "get_protocol",
    "is_detectable",
    "is_responder",
    "list_protocols",
    "list_scales",
    "mdc95",
    "parse_preparation",
    "parse_scale",
    "parse_screening_input",
    "per_cm2_to_per_inch2",
    "per_inch2_to_per_cm2",
    "percent_change",
    "plan_series",
    "prp_evaluate",
    "rcf_from_rpm",
    "rcf_report",
    "reduction_pct",
    "rpm_from_rcf",
    "ruleset_id",
    "salt",
    "salt_score",
    "scales_for_diagnosis",
    "screen",
    "sem_from_icc",
    "sem_from_retest_differences",
]
