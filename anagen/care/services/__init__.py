"""Writes of consultation records: assessments, screening, consent, and the pre-session gate.

Every write records an audit event in the same transaction. Clinical judgement (scales, SALT,
screening rules) is the kernel's; these modules gather the patient's data for it and store what
it said. One module per topic; this package re-exports their names so
``from anagen.care import services; services.assessment_create`` keeps working.
"""

from anagen.care.services.assessments import (
    PULL_TEST_POSITIVE_FRACTION,
    SIGNED_LOCKED,
    AssessmentData,
    _clean_assessment,
    assessment_create,
    assessment_sign,
    assessment_update,
)
from anagen.care.services.common import (
    _require,
    _scale_label,
    care_record_read,
    procedure_label,
    unknown_procedure_message,
)
from anagen.care.services.consent import (
    UNKNOWN_KIND,
    can_publish_templates,
    consent_document_html,
    consent_sign,
    consent_template_publish,
    consent_withdraw,
    sha256_of,
)
from anagen.care.services.gate import NOT_CLEARED, GateResult, session_gate
from anagen.care.services.screening import (
    FIRST_LINE,
    NOT_OVERRIDABLE,
    OVERRIDE_MIN_REASON,
    _earlier_override,
    _latest_intake,
    _screening_run,
    override_changes,
    screening_document,
    screening_fingerprint,
    screening_override,
    screening_run,
)

__all__ = [
    "FIRST_LINE",
    "NOT_CLEARED",
    "NOT_OVERRIDABLE",
    "OVERRIDE_MIN_REASON",
    "PULL_TEST_POSITIVE_FRACTION",
    "SIGNED_LOCKED",
    "UNKNOWN_KIND",
    "AssessmentData",
    "GateResult",
    "_clean_assessment",
    "_earlier_override",
    "_latest_intake",
    "_require",
    "_scale_label",
    "_screening_run",
    "assessment_create",
    "assessment_sign",
    "assessment_update",
    "can_publish_templates",
    "care_record_read",
    "consent_document_html",
    "consent_sign",
    "consent_template_publish",
    "consent_withdraw",
    "override_changes",
    "procedure_label",
    "screening_document",
    "screening_fingerprint",
    "screening_override",
    "screening_run",
    "session_gate",
    "sha256_of",
    "unknown_procedure_message",
]
