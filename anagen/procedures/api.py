"""REST endpoints for sessions, preparations, lot use, adverse events and lots.

Same services and access rules as the pages: another clinic's object is a 404, service refusals
(gate, expired lot, locked session) are 422 problems with field paths, roles are 403.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status

from anagen.accounts.access import patient_for
from anagen.accounts.permissions import Perm
from anagen.audit.services import audit_record
from anagen.interop.auth import api_actor
from anagen.interop.etag import (
    PRECONDITION_PROBLEMS,
    IfMatch,
    etag_documented,
    require_if_match,
    tag,
)
from anagen.interop.paging import PageQuery, page_of
from anagen.interop.problems import problems
from anagen.interop.schemas import BodyIn
from anagen.procedures import selectors, services
from anagen.procedures.models import AdverseEvent, Lot, LotUse, Preparation, TreatmentSession

router = Router()

ProcedureCode = Literal[
    "prp_scalp", "prp_face", "mesotherapy_scalp", "mesotherapy_face", "mesotherapy_body"
]


def _page(qs: QuerySet[Any], q: PageQuery) -> dict[str, Any]:
    return page_of(qs, q.page, q.page_size)


# --- sessions ----------------------------------------------------------------------------------


class ChecklistOut(Schema):
    code: str
    label: str
    ok: bool
    detail: str


class ZoneOut(Schema):
    zone: str
    volume_ml: Decimal
    depth_mm: Decimal | None
    technique: str
    needle_gauge: int | None


class LotUseOut(Schema):
    id: int
    lot_id: int
    lot_number: str
    product: str
    quantity: int
    zone: str
    used_at: dt.datetime

    @staticmethod
    def resolve_lot_number(obj: LotUse) -> str:
        return obj.lot.lot_number

    @staticmethod
    def resolve_product(obj: LotUse) -> str:
        return obj.lot.product.name


class SessionOut(Schema):
    id: int
    patient_id: int
    appointment_id: int | None
    procedure: str
    status: str
    started_at: dt.datetime
    screening_id: int | None
    consent_id: int | None
    delivery_mode: str
    checked_in_at: dt.datetime | None
    cream_applied_at: dt.datetime | None
    draw_at: dt.datetime | None
    spin_started_at: dt.datetime | None
    activation_at: dt.datetime | None
    injection_started_at: dt.datetime | None
    completed_at: dt.datetime | None
    baseline_photos_taken: bool
    aftercare_given: bool
    signed_by: str | None
    signed_at: dt.datetime | None

    @staticmethod
    def resolve_signed_by(obj: TreatmentSession) -> str | None:
        return obj.signed_by.get_username() if obj.signed_by else None


class SessionDetailOut(SessionOut):
    zones: list[ZoneOut]
    lot_uses: list[LotUseOut]
    checklist: list[ChecklistOut]

    @staticmethod
    def resolve_zones(obj: TreatmentSession) -> list[Any]:
        return list(obj.zones.all())

    @staticmethod
    def resolve_lot_uses(obj: TreatmentSession) -> list[Any]:
        return list(selectors.session_lot_uses(obj))

    @staticmethod
    def resolve_checklist(obj: TreatmentSession) -> list[Any]:
        return selectors.session_checklist(obj)


class SessionPage(Schema):
    count: int
    page: int
    pages: int
    results: list[SessionOut]


class SessionIn(BodyIn):
    patient_id: int
    procedure: ProcedureCode | None = None
    appointment_id: int | None = None


@router.get(
    "/sessions",
    response={200: SessionPage, **problems(404)},
    summary="Treatment sessions of a patient",
)
def list_sessions(request: HttpRequest, patient_id: int, q: Query[PageQuery]) -> Any:
    actor = api_actor(request, Perm.CLINICAL_VIEW)
    patient = patient_for(actor, patient_id)
    qs = selectors.session_list(actor=actor, patient=patient)
    audit_record(action="procedures.session.list", actor=actor, patient=patient)
    return _page(qs, q)


@router.post(
    "/sessions",
    response={201: SessionDetailOut, **problems(404)},
    summary="Start a session (care's gate: screening and consent)",
)
def create_session(request: HttpRequest, payload: SessionIn) -> Status[TreatmentSession]:
    actor = api_actor(request, Perm.SESSION_PERFORM)
    patient = patient_for(actor, payload.patient_id)
    appointment = None
    if payload.appointment_id is not None:
        appointment = selectors.appointment_for_session(actor, payload.appointment_id)
    if payload.procedure is None and appointment is None:
        raise ValidationError({"procedure": "Give the procedure (or an appointment)."})
    session = services.session_start(
        actor=actor,
        patient=patient,
        procedure=payload.procedure or "",
        appointment=appointment,
    )
    return Status(201, session)


@router.get(
    "/sessions/{session_id}",
    response=SessionDetailOut,
    summary="One session",
    description="The ETag covers the session and its preparation (send it to change either).",
    openapi_extra=etag_documented(write=False),
)
def read_session(request: HttpRequest, session_id: int, response: HttpResponse) -> Any:
    actor = api_actor(request, Perm.CLINICAL_VIEW)
    session = selectors.session_get(actor=actor, session_id=session_id)
    services.session_read(actor=actor, session=session)
    return tag(response, session, selectors.preparation_of(session))


# --- preparation -------------------------------------------------------------------------------


class Spin(BodyIn):
    g: float | None = Field(None, gt=0)
    rpm: float | None = Field(None, gt=0)
    radius_cm: float | None = Field(None, gt=0)
    minutes: float = Field(gt=0)


class PreparationIn(BodyIn):
    blood_volume_ml: Decimal = Field(gt=0, max_digits=6, decimal_places=2)
    tubes: int | None = Field(None, ge=1, le=20)
    anticoagulant_agent: str = Field("", max_length=30)
    anticoagulant_volume_ml: Decimal | None = Field(None, ge=0, max_digits=6, decimal_places=2)
    wb_platelets_per_ul: int | None = Field(None, ge=1, le=5_000_000)
    wb_wbc_per_ul: int | None = Field(None, ge=0, le=500_000)
    wb_neutrophils_pct: Decimal | None = Field(None, ge=0, le=100, decimal_places=1)
    wb_rbc_per_ul: int | None = Field(None, ge=0, le=10_000_000)
    spins: list[Spin] = Field(default_factory=list, max_length=4)
    prp_volume_ml: Decimal | None = Field(None, gt=0, max_digits=6, decimal_places=2)
    prp_platelets_per_ul: int | None = Field(None, ge=1, le=20_000_000)
    prp_wbc_per_ul: int | None = Field(None, ge=0, le=500_000)
    prp_neutrophils_pct: Decimal | None = Field(None, ge=0, le=100, decimal_places=1)
    prp_rbc_per_ul: int | None = Field(None, ge=0, le=10_000_000)
    activation_agent: str = Field("none", max_length=30)
    activation_volume_ml: Decimal | None = Field(None, ge=0, max_digits=6, decimal_places=2)
    injected_volume_ml: Decimal | None = Field(None, gt=0, max_digits=6, decimal_places=2)
    reason: str = Field("", max_length=500)


class PreparationOut(Schema):
    session_id: int
    blood_volume_ml: Decimal
    tubes: int | None
    anticoagulant_agent: str
    anticoagulant_volume_ml: Decimal | None
    wb_platelets_per_ul: int | None
    wb_wbc_per_ul: int | None
    wb_neutrophils_pct: Decimal | None
    wb_rbc_per_ul: int | None
    spins: list[dict[str, Any]]
    prp_volume_ml: Decimal | None
    prp_platelets_per_ul: int | None
    prp_wbc_per_ul: int | None
    prp_neutrophils_pct: Decimal | None
    prp_rbc_per_ul: int | None
    activation_agent: str
    activation_volume_ml: Decimal | None
    injected_volume_ml: Decimal | None
    computed: dict[str, Any]
    kernel_version: str
    flags: list[dict[str, str]]

    @staticmethod
    def resolve_flags(obj: Preparation) -> list[dict[str, str]]:
        return selectors.preparation_flags(obj.session, obj)


@router.get(
    "/sessions/{session_id}/preparation",
    response=PreparationOut,
    summary="The PRP preparation with the kernel's labels",
    description="The ETag is the session record's (the session with its preparation).",
    openapi_extra=etag_documented(write=False),
)
def read_preparation(request: HttpRequest, session_id: int, response: HttpResponse) -> Any:
    actor = api_actor(request, Perm.CLINICAL_VIEW)
    session = selectors.session_get(actor=actor, session_id=session_id)
    prep = selectors.preparation_of(session)
    if prep is None:
        raise Http404("No preparation recorded yet.")
    services.session_read(actor=actor, session=session)
    tag(response, session, prep)
    return prep


@router.put(
    "/sessions/{session_id}/preparation",
    response={200: PreparationOut, **PRECONDITION_PROBLEMS},
    summary="Record the preparation (a signed session needs a reason: amendment)",
    description=(
        "If-Match: the session record's ETag (from reading the session or its preparation)."
    ),
    openapi_extra=etag_documented(),
)
def put_preparation(
    request: HttpRequest,
    session_id: int,
    payload: PreparationIn,
    response: HttpResponse,
    if_match: IfMatch = None,
) -> Any:
    actor = api_actor(request, Perm.SESSION_PERFORM)
    session = selectors.session_get(actor=actor, session_id=session_id)
    require_if_match(if_match, session, selectors.preparation_of(session))
    data = payload.dict()
    reason = data.pop("reason")
    data["spins"] = [{k: v for k, v in s.items() if v is not None} for s in data["spins"]]
    prep = services.preparation_record(actor=actor, session=session, data=data, reason=reason)
    tag(response, session, prep)
    return prep


# --- lot use and lots --------------------------------------------------------------------------


class LotUseIn(BodyIn):
    lot_id: int
    quantity: int = Field(1, ge=1, le=1000)
    zone: str = Field("", max_length=30)
    reason: str = Field("", max_length=500)
    # A physician's reason to record a lot of a product the patient is allergic to.
    allergy_override_reason: str = Field("", max_length=1000)


@router.post(
    "/sessions/{session_id}/lot-uses",
    response={201: LotUseOut},
    summary="Record the lot used (an expired lot is refused)",
)
def create_lot_use(request: HttpRequest, session_id: int, payload: LotUseIn) -> Status[LotUse]:
    actor = api_actor(request, Perm.SESSION_PERFORM)
    session = selectors.session_get(actor=actor, session_id=session_id)
    lot = selectors.lot_get(actor, payload.lot_id)
    use = services.lot_use_record(
        actor=actor,
        session=session,
        lot=lot,
        quantity=payload.quantity,
        zone=payload.zone,
        reason=payload.reason,
        allergy_override_reason=payload.allergy_override_reason,
    )
    return Status(201, use)


class LotOut(Schema):
    id: int
    product_id: int
    product: str
    category: str
    lot_number: str
    expires_on: dt.date
    received_on: dt.date
    quantity: int
    used: int
    expired: bool

    @staticmethod
    def resolve_product(obj: Lot) -> str:
        return obj.product.name

    @staticmethod
    def resolve_category(obj: Lot) -> str:
        return obj.product.category

    @staticmethod
    def resolve_used(obj: Lot) -> int:
        return int(getattr(obj, "used", None) or 0)

    @staticmethod
    def resolve_expired(obj: Lot) -> bool:
        return obj.is_expired(timezone.localdate())


class LotPage(Schema):
    count: int
    page: int
    pages: int
    results: list[LotOut]


class LotIn(BodyIn):
    product_id: int
    lot_number: str = Field(min_length=1, max_length=60)
    expires_on: dt.date
    received_on: dt.date | None = None
    quantity: int = Field(ge=1, le=100000)


@router.get("/lots", response=LotPage, summary="Lots in stock (soonest expiry first)")
def list_lots(request: HttpRequest, q: Query[PageQuery]) -> Any:
    actor = api_actor(request, Perm.INVENTORY_MANAGE)
    return _page(selectors.lots_for(actor), q)


@router.post("/lots", response={201: LotOut, **problems(404)}, summary="Receive a lot")
def create_lot(request: HttpRequest, payload: LotIn) -> Status[Lot]:
    actor = api_actor(request, Perm.INVENTORY_MANAGE)
    product = selectors.product_get(actor, payload.product_id)
    lot = services.lot_receive(
        actor=actor,
        product=product,
        data=payload.dict(exclude={"product_id"}),
    )
    return Status(201, lot)


# --- adverse events ----------------------------------------------------------------------------


class AdverseEventIn(BodyIn):
    term: str = Field(max_length=40)
    term_other: str = Field("", max_length=200)
    ctcae_grade: int = Field(ge=1, le=5)
    onset_at: dt.datetime
    serious: bool = False
    seriousness_criteria: list[
        Literal[
            "death",
            "life_threatening",
            "hospitalisation",
            "disability",
            "congenital_anomaly",
            "other_important",
        ]
    ] = Field(default_factory=list, max_length=6)
    relatedness: Literal["unrelated", "unlikely", "possible", "probable", "definite"]
    action: str = Field(max_length=20)
    outcome: str = Field(max_length=30)
    zone: str = Field("", max_length=30)
    lot_id: int | None = None
    description: str = Field("", max_length=5000)


class AdverseEventOut(Schema):
    id: int
    session_id: int
    term: str
    term_label: str
    ctcae_grade: int
    onset_at: dt.datetime
    serious: bool
    seriousness_criteria: list[str]
    relatedness: str
    action: str
    outcome: str
    resolved_on: dt.date | None
    zone: str
    lot_id: int | None
    description: str


@router.get(
    "/sessions/{session_id}/adverse-events",
    response=list[AdverseEventOut],
    summary="Adverse events of a session",
)
def list_adverse_events(request: HttpRequest, session_id: int) -> Any:
    actor = api_actor(request, Perm.CLINICAL_VIEW)
    session = selectors.session_get(actor=actor, session_id=session_id)
    services.session_read(actor=actor, session=session)
    return list(selectors.adverse_events_of(session))


@router.post(
    "/sessions/{session_id}/adverse-events",
    response={201: AdverseEventOut},
    summary="Record an adverse event (CTCAE v5 grade)",
)
def create_adverse_event(
    request: HttpRequest, session_id: int, payload: AdverseEventIn
) -> Status[AdverseEvent]:
    actor = api_actor(request, Perm.SESSION_PERFORM)
    session = selectors.session_get(actor=actor, session_id=session_id)
    data = payload.dict()
    lot_id = data.pop("lot_id")
    data["lot"] = selectors.lot_get(actor, lot_id) if lot_id is not None else None
    event = services.adverse_event_record(actor=actor, session=session, data=data)
    return Status(201, event)
