"""REST endpoints for assessments, screenings and consents (same access rules as the pages)."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any, Literal

from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status

from anagen.accounts.access import Actor, patient_for
from anagen.accounts.permissions import Perm
from anagen.care import selectors, services
from anagen.care.models import Assessment, Consent, ScreeningRecord
from anagen.interop.auth import api_actor
from anagen.interop.etag import (
    PRECONDITION_PROBLEMS,
    IfMatch,
    etag_documented,
    require_if_match,
    tag,
)
from anagen.interop.paging import COUNT_CAP, PageQuery, page_of
from anagen.interop.render import instant_text, json_response
from anagen.interop.schemas import BodyIn

router = Router()

ProcedureCode = Literal[
    "prp_scalp", "prp_face", "mesotherapy_scalp", "mesotherapy_face", "mesotherapy_body"
]
ConsentKindCode = Literal[
    "prp_scalp",
    "prp_face",
    "mesotherapy_scalp",
    "mesotherapy_face",
    "mesotherapy_body",
    "photo_clinical",
    "photo_teaching",
    "photo_marketing",
]


def _username(user: Any) -> str | None:
    return user.get_username() if user is not None else None


def _page(qs: QuerySet[Any], q: PageQuery) -> dict[str, Any]:
    return page_of(qs, q.page, q.page_size)


# --- assessments ---------------------------------------------------------------------------


class AssessmentOut(Schema):
    id: int
    version: int
    visit_on: dt.date
    diagnosis_code: str
    diagnosis_label: str
    icd10: str | None
    snomed_ct: str | None
    scale_id: str
    scale_value: str
    salt_vertex: Decimal | None
    salt_posterior: Decimal | None
    salt_right: Decimal | None
    salt_left: Decimal | None
    salt_score: Decimal | None
    salt_band: str
    follicles_present: bool | None = Field(
        description="Living follicles in the target area; null: not assessed."
    )
    pull_test: str
    pull_test_pulled: int | None
    pull_test_shed: int | None
    notes: str
    created_by: str
    created_at: dt.datetime
    signed_by: str | None
    signed_at: dt.datetime | None

    @staticmethod
    def resolve_icd10(obj: Assessment) -> str | None:
        return obj.diagnosis.get("icd10")  # type: ignore[return-value]

    @staticmethod
    def resolve_snomed_ct(obj: Assessment) -> str | None:
        return obj.diagnosis.get("snomed_ct")  # type: ignore[return-value]

    @staticmethod
    def resolve_created_by(obj: Assessment) -> str:
        return obj.created_by.get_username()

    @staticmethod
    def resolve_signed_by(obj: Assessment) -> str | None:
        return _username(obj.signed_by)


class AssessmentIn(BodyIn):
    visit_on: dt.date
    diagnosis_code: str = Field(max_length=40)
    scale_id: str = Field("", max_length=30)
    scale_value: str = Field("", max_length=20)
    salt_vertex: Decimal | None = Field(None, ge=0, le=100)
    salt_posterior: Decimal | None = Field(None, ge=0, le=100)
    salt_right: Decimal | None = Field(None, ge=0, le=100)
    salt_left: Decimal | None = Field(None, ge=0, le=100)
    follicles_present: bool | None = Field(
        None, description="Living follicles in the target area; null or absent: not assessed."
    )
    pull_test: Literal["not_done", "negative", "positive"] = "not_done"
    pull_test_pulled: int | None = Field(None, ge=1, le=200)
    pull_test_shed: int | None = Field(None, ge=0, le=200)
    notes: str = Field("", max_length=10000)


class AssessmentPage(Schema):
    count: int
    page: int
    pages: int
    results: list[AssessmentOut]


@router.get(
    "/patients/{patient_id}/assessments",
    response=AssessmentPage,
    summary="Assessments",
    description=(
        "A patient's assessments (diagnosis, stage, SALT, pull test), newest visit first, with "
        "drafts and signed versions. Paged."
    ),
)
def list_assessments(request: HttpRequest, patient_id: int, q: Query[PageQuery]) -> Any:
    actor = api_actor(request, Perm.CLINICAL_VIEW)
    patient = patient_for(actor, patient_id)
    qs = selectors.assessment_list(actor=actor, patient=patient)
    services.care_record_read(actor=actor, patient=patient, what="assessment")
    return _page(qs, q)


@router.post(
    "/patients/{patient_id}/assessments",
    response={201: AssessmentOut},
    summary="Record an assessment (a draft until signed)",
    description=(
        "Records a draft assessment of one visit; SALT is computed from the four areas and the "
        "diagnosis gives ICD-10 and SNOMED CT codes. A physician signs it later."
    ),
)
def create_assessment(
    request: HttpRequest, patient_id: int, payload: AssessmentIn
) -> Status[Assessment]:
    actor = api_actor(request, Perm.ASSESS)
    patient = patient_for(actor, patient_id)
    assessment = services.assessment_create(
        actor=actor,
        patient=patient,
        data=services.AssessmentData(**payload.dict()),
    )
    return Status(201, assessment)


def _assessment(actor: Actor, patient_id: int, version: int) -> Assessment:
    patient = patient_for(actor, patient_id)
    assessment = selectors.assessment_get(actor=actor, patient=patient, version=version)
    if assessment is None:
        raise Http404("No such assessment.")
    return assessment


@router.get(
    "/patients/{patient_id}/assessments/{version}",
    response=AssessmentOut,
    summary="Read an assessment",
    description=(
        "One version of an assessment. The ETag is that version's: send it in If-Match to "
        "change or sign it."
    ),
    openapi_extra=etag_documented(write=False),
)
def get_assessment(
    request: HttpRequest, patient_id: int, version: int, response: HttpResponse
) -> Assessment:
    actor = api_actor(request, Perm.CLINICAL_VIEW)
    assessment = _assessment(actor, patient_id, version)
    services.care_record_read(
        actor=actor,
        patient=assessment.patient,
        what="assessment",
        obj=assessment,
    )
    return tag(response, assessment)


@router.put(
    "/patients/{patient_id}/assessments/{version}",
    response={200: AssessmentOut, **PRECONDITION_PROBLEMS},
    summary="Change a draft assessment (If-Match: the ETag of your last read)",
    description="Signed assessments are locked (422): a correction is a new version.",
    openapi_extra=etag_documented(),
)
def update_assessment(
    request: HttpRequest,
    patient_id: int,
    version: int,
    payload: AssessmentIn,
    response: HttpResponse,
    if_match: IfMatch = None,
) -> Assessment:
    actor = api_actor(request, Perm.ASSESS)
    assessment = _assessment(actor, patient_id, version)
    require_if_match(if_match, assessment)
    updated = services.assessment_update(
        actor=actor, assessment=assessment, data=services.AssessmentData(**payload.dict())
    )
    return tag(response, updated)


@router.post(
    "/patients/{patient_id}/assessments/{version}/sign",
    response={200: AssessmentOut, **PRECONDITION_PROBLEMS},
    summary="Sign an assessment (physicians; If-Match: the ETag of the version you read)",
    description=(
        "A physician signs the draft: it is locked from then on (a later change is a new "
        "version). Needs the version's ETag in If-Match."
    ),
    openapi_extra=etag_documented(),
)
def sign_assessment(
    request: HttpRequest,
    patient_id: int,
    version: int,
    response: HttpResponse,
    if_match: IfMatch = None,
) -> Assessment:
    actor = api_actor(request, Perm.ASSESSMENT_SIGN)
    assessment = _assessment(actor, patient_id, version)
    require_if_match(if_match, assessment)
    signed = services.assessment_sign(actor=actor, assessment=assessment)
    return tag(response, signed)


# --- screenings ----------------------------------------------------------------------------


class FindingOut(Schema):
    rule: str
    level: str
    message: str
    source: str


class ScreeningOut(Schema):
    id: int
    procedure: str
    planned_on: dt.date
    trigger: str
    decision: str
    effective_decision: str
    earliest_on: dt.date | None
    ruleset: str
    findings: list[FindingOut]
    inputs: dict[str, Any]
    intake_version: int | None
    assessment_version: int | None
    run_by: str
    run_at: dt.datetime
    override_by: str | None
    override_at: dt.datetime | None
    override_reason: str
    override_carried_from: int | None

    @staticmethod
    def resolve_run_by(obj: ScreeningRecord) -> str:
        return obj.run_by.get_username()

    @staticmethod
    def resolve_override_by(obj: ScreeningRecord) -> str | None:
        return _username(obj.override_by)

    @staticmethod
    def resolve_override_carried_from(obj: ScreeningRecord) -> int | None:
        return obj.override_carried_from_id


class ScreeningIn(BodyIn):
    procedure: ProcedureCode
    planned_on: dt.date | None = None


class OverrideIn(BodyIn):
    reason: str = Field(max_length=2000)


class ScreeningPage(Schema):
    count: int
    page: int
    pages: int
    results: list[ScreeningOut]


@router.get(
    "/patients/{patient_id}/screenings",
    response=ScreeningPage,
    summary="Screenings",
    description=(
        "A patient's screening runs for procedures, newest first, with their decision and "
        "findings. Paged."
    ),
)
def list_screenings(request: HttpRequest, patient_id: int, q: Query[PageQuery]) -> Any:
    actor = api_actor(request, Perm.CLINICAL_VIEW)
    patient = patient_for(actor, patient_id)
    qs = selectors.screening_list(actor=actor, patient=patient)
    services.care_record_read(actor=actor, patient=patient, what="screening")
    return _page(qs, q)


@router.post(
    "/patients/{patient_id}/screenings",
    response={201: ScreeningOut},
    summary="Screen for a procedure",
    description=(
        "Runs the screening rules for a procedure on the patient's latest intake and assessment "
        "and keeps the exact input, the decision (eligible, review, defer, not indicated, "
        "contraindicated) and each finding with its source."
    ),
)
def create_screening(
    request: HttpRequest, patient_id: int, payload: ScreeningIn
) -> Status[ScreeningRecord]:
    actor = api_actor(request, Perm.SCREEN)
    patient = patient_for(actor, patient_id)
    record = services.screening_run(
        actor=actor,
        patient=patient,
        procedure=payload.procedure,
        planned_on=payload.planned_on,
    )
    return Status(201, record)


def _screening(actor: Actor, patient_id: int, screening_id: int) -> ScreeningRecord:
    patient = patient_for(actor, patient_id)
    record = selectors.screening_get(actor=actor, patient=patient, screening_id=screening_id)
    if record is None:
        raise Http404("No such screening.")
    return record


@router.get(
    "/patients/{patient_id}/screenings/{screening_id}",
    response=ScreeningOut,
    summary="Read a screening",
    description="One screening run: its input, decision, findings and any physician's override.",
)
def get_screening(request: HttpRequest, patient_id: int, screening_id: int) -> ScreeningRecord:
    actor = api_actor(request, Perm.CLINICAL_VIEW)
    record = _screening(actor, patient_id, screening_id)
    services.care_record_read(actor=actor, patient=record.patient, what="screening", obj=record)
    return record


@router.post(
    "/patients/{patient_id}/screenings/{screening_id}/override",
    response=ScreeningOut,
    summary="Override a `review` result (physicians, with a reason)",
    description=(
        "A physician lets a procedure go ahead despite a `review` decision, with a reason (kept "
        "and audited). Other decisions cannot be overridden (422)."
    ),
)
def override_screening(
    request: HttpRequest, patient_id: int, screening_id: int, payload: OverrideIn
) -> ScreeningRecord:
    actor = api_actor(request, Perm.SCREENING_OVERRIDE)
    return services.screening_override(
        actor=actor,
        screening=_screening(actor, patient_id, screening_id),
        reason=payload.reason,
    )


# --- consents ------------------------------------------------------------------------------


class ConsentOut(Schema):
    id: int
    kind: str
    template_id: int
    template_version: int
    signed_at: dt.datetime
    signed_by_patient_name: str
    witness: str
    sha256: str
    snapshot_html: str
    withdrawn_at: dt.datetime | None
    withdrawn_reason: str

    @staticmethod
    def resolve_template_version(obj: Consent) -> int:
        return obj.template.version

    @staticmethod
    def resolve_witness(obj: Consent) -> str:
        return obj.witness.get_username()


class ConsentIn(BodyIn):
    kind: ConsentKindCode
    signed_name: str = Field(max_length=210)
    agreed: bool
    template_version: int | None = Field(
        None, description="The version shown to the patient; refused if a newer one exists."
    )


class WithdrawIn(BodyIn):
    reason: str = Field(max_length=2000)


def _instants(row: dict[str, Any]) -> dict[str, Any]:
    """The row with its instants written as the API writes them (as ``row_reader`` does)."""
    for name in ("signed_at", "withdrawn_at"):
        value = row[name]
        if type(value) is dt.datetime:
            row[name] = instant_text(value)
    return row


class ConsentPage(Schema):
    count: int
    page: int
    pages: int
    results: list[ConsentOut]


class ConsentStatusOut(Schema):
    kind: str
    label: str
    status: str
    current_version: int | None
    consent_id: int | None
    signed_at: dt.datetime | None


@router.get(
    "/patients/{patient_id}/consent-status",
    response=list[ConsentStatusOut],
    summary="Consent status per kind (front desk may read it)",
    description=(
        "For each consent kind: whether the patient holds a valid consent, needs to re-consent "
        "to a newer text, withdrew it or never signed."
    ),
)
def consent_status(request: HttpRequest, patient_id: int) -> list[dict[str, Any]]:
    actor = api_actor(request, Perm.CONSENT_STATUS_VIEW)
    patient = patient_for(actor, patient_id)
    return [
        {
            "kind": s.kind,
            "label": s.label,
            "status": s.status,
            "current_version": s.template.version if s.template else None,
            "consent_id": s.consent.pk if s.consent else None,
            "signed_at": s.consent.signed_at if s.consent else None,
        }
        for s in selectors.consent_statuses(actor=actor, patient=patient)
    ]


@router.get(
    "/patients/{patient_id}/consents",
    response=ConsentPage,
    summary="Signed consents",
    description=(
        "A patient's signed consents, newest first, with the text exactly as signed. Paged."
    ),
)
def list_consents(request: HttpRequest, patient_id: int, q: Query[PageQuery]) -> HttpResponse:
    actor = api_actor(request, Perm.CLINICAL_VIEW)
    patient = patient_for(actor, patient_id)
    services.care_record_read(actor=actor, patient=patient, what="consent")
    # One fixed query for the page and its count (issue 15); the same JSON as page_of over
    # consent_list read through _consent_row (tests/test_consent_page_fast.py).
    count, rows = selectors.consent_api_page(
        actor=actor, patient=patient, page=q.page, page_size=q.page_size, cap=COUNT_CAP
    )
    return json_response(
        {
            "count": count,
            "page": q.page,
            "pages": max(1, math.ceil(count / q.page_size)),
            "results": [_instants(row) for row in rows],
        }
    )


@router.post(
    "/patients/{patient_id}/consents",
    response={201: ConsentOut},
    summary="Sign a consent (the caller is the witness)",
    description=(
        "Records the patient's signature of the current consent text of a kind; the caller is "
        "the witness. The text is kept as signed, with its SHA-256."
    ),
)
def create_consent(request: HttpRequest, patient_id: int, payload: ConsentIn) -> Status[Consent]:
    actor = api_actor(request, Perm.CONSENT_RECORD)
    patient = patient_for(actor, patient_id)
    consent = services.consent_sign(
        actor=actor,
        patient=patient,
        kind=payload.kind,
        signed_name=payload.signed_name,
        agreed=payload.agreed,
        template_version=payload.template_version,
    )
    return Status(201, consent)


def _consent(actor: Actor, patient_id: int, consent_id: int) -> Consent:
    patient = patient_for(actor, patient_id)
    consent = selectors.consent_get(actor=actor, patient=patient, consent_id=consent_id)
    if consent is None:
        raise Http404("No such consent.")
    return consent


@router.get(
    "/patients/{patient_id}/consents/{consent_id}",
    response=ConsentOut,
    summary="Read a consent",
    description=(
        "One signed consent with its snapshot. The ETag is the consent's: send it in If-Match "
        "to withdraw it."
    ),
    openapi_extra=etag_documented(write=False),
)
def get_consent(
    request: HttpRequest, patient_id: int, consent_id: int, response: HttpResponse
) -> Consent:
    actor = api_actor(request, Perm.CLINICAL_VIEW)
    consent = _consent(actor, patient_id, consent_id)
    services.care_record_read(actor=actor, patient=consent.patient, what="consent", obj=consent)
    return tag(response, consent)


@router.post(
    "/patients/{patient_id}/consents/{consent_id}/withdraw",
    response={200: ConsentOut, **PRECONDITION_PROBLEMS},
    summary="Withdraw a consent (If-Match: the ETag of your last read)",
    description=(
        "The patient withdraws a consent, with a reason; procedures that need it are refused "
        "from then on. Needs the consent's ETag in If-Match."
    ),
    openapi_extra=etag_documented(),
)
def withdraw_consent(
    request: HttpRequest,
    patient_id: int,
    consent_id: int,
    payload: WithdrawIn,
    response: HttpResponse,
    if_match: IfMatch = None,
) -> Consent:
    actor = api_actor(request, Perm.CONSENT_RECORD)
    consent = _consent(actor, patient_id, consent_id)
    require_if_match(if_match, consent)
    withdrawn = services.consent_withdraw(actor=actor, consent=consent, reason=payload.reason)
    return tag(response, withdrawn)


class ConsentTemplateOut(Schema):
    id: int
    kind: str
    version: int
    title: str
    body: str
    published_at: dt.datetime
    clinic_specific: bool

    @staticmethod
    def resolve_clinic_specific(obj: Any) -> bool:
        return obj.clinic_id is not None


@router.get(
    "/consent-templates",
    response=list[ConsentTemplateOut],
    summary="The current consent text of each kind",
    description=(
        "The consent text in force for each kind (the clinic's own or the shipped default), "
        "with its version."
    ),
)
def list_consent_templates(request: HttpRequest) -> list[Any]:
    actor = api_actor(request, Perm.CONSENT_STATUS_VIEW)
    return list(selectors.consent_templates_current(actor.clinic).values())
