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
    etag_of,
    require_if_match,
)
from anagen.interop.examples import example
from anagen.interop.paging import PageQuery, page_of
from anagen.interop.problems import problems
from anagen.interop.render import page_response, row_reader
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
    rotor_radius_cm: Decimal | None = Field(
        None, description="Centrifuge rotor radius, cm (turns a spin's rpm into g)."
    )
    notes: str = Field("", description="The session's free-text notes.")
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


class TopicalOut(Schema):
    device: str = Field(description="The microneedling device.")
    needle_depth_mm: Decimal = Field(description="Needle depth, mm.")
    passes: int = Field(description="Number of passes.")
    volume_ml: Decimal = Field(description="PRP applied, mL.")


class SessionDetailOut(SessionOut):
    zones: list[ZoneOut]
    lot_uses: list[LotUseOut]
    checklist: list[ChecklistOut]
    topical: TopicalOut | None = Field(
        None, description="PRP applied topically with microneedling (absent when not recorded)."
    )

    @staticmethod
    def resolve_topical(obj: TreatmentSession) -> Any:
        return selectors.topical_of(obj)

    @staticmethod
    def resolve_zones(obj: TreatmentSession) -> list[Any]:
        return list(obj.zones.all())

    @staticmethod
    def resolve_lot_uses(obj: TreatmentSession) -> list[Any]:
        return list(selectors.session_lot_uses(obj))

    @staticmethod
    def resolve_checklist(obj: TreatmentSession) -> list[Any]:
        return selectors.session_checklist(obj)


# A list's rows are read straight off the objects (no per-row validation: anagen.interop.render).
_session_row = row_reader(SessionOut)


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
    description=(
        "A patient's treatment sessions, newest first, with their phases and signature. Paged."
    ),
)
def list_sessions(request: HttpRequest, patient_id: int, q: Query[PageQuery]) -> HttpResponse:
    actor = api_actor(request, Perm.CLINICAL_VIEW)
    patient = patient_for(actor, patient_id)
    page = selectors.session_list_page(
        actor=actor, patient=patient, page=q.page, page_size=q.page_size
    )
    audit_record(action="procedures.session.list", actor=actor, patient=patient)
    return page_response(page, _session_row)


@router.post(
    "/sessions",
    response={201: SessionDetailOut, **problems(404)},
    summary="Start a session (care's gate: screening and consent)",
    description=(
        "Opens a session record for a patient (from a checked-in appointment or for a "
        "procedure). Care's gate must let it go ahead: a current screening and a valid consent "
        "(422 lists the reasons otherwise)."
    ),
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
    description=(
        "The ETag is the session record's version: the session with its preparation, injection "
        "map, mesotherapy deliveries and topical application (send it to change any of them)."
    ),
    openapi_extra=etag_documented(write=False),
)
def read_session(request: HttpRequest, session_id: int, response: HttpResponse) -> Any:
    actor = api_actor(request, Perm.CLINICAL_VIEW)
    session = selectors.session_get(actor=actor, session_id=session_id)
    services.session_read(actor=actor, session=session)
    return _tagged(response, session)


def _tagged[T](response: HttpResponse, session: TreatmentSession, body: T | None = None) -> Any:
    """Put the session record's ETag on the answer; returns `body` (the session without one)."""
    response["ETag"] = etag_of(*selectors.session_record_parts(session))
    return session if body is None else body


def _require(if_match: str | None, session: TreatmentSession) -> None:
    """428 without If-Match, 412 when the session record changed since it was read."""
    require_if_match(if_match, *selectors.session_record_parts(session))


class SessionDetailsIn(BodyIn):
    delivery_mode: Literal["injection", "topical"] = Field(
        None,  # type: ignore[arg-type]
        description="PRP sessions: `injection` or `topical` (absent: unchanged).",
    )
    rotor_radius_cm: Decimal | None = Field(
        None,
        ge=1,
        le=50,
        max_digits=5,
        decimal_places=2,
        description="PRP sessions: the centrifuge rotor radius, cm, 1–50 (null clears it).",
    )
    baseline_photos_taken: bool = Field(
        None,  # type: ignore[assignment]
        description="Whether the baseline photos were taken (absent: unchanged).",
    )
    aftercare_given: bool = Field(
        None,  # type: ignore[assignment]
        description="Whether the aftercare instructions were given (absent: unchanged).",
    )
    notes: str = Field(
        None,  # type: ignore[assignment]
        max_length=5000,
        description="The session's free-text notes (absent: unchanged).",
    )
    reason: str = Field(
        "",
        max_length=500,
        description="Why the record changes: required once the session is signed (amendment).",
    )

    model_config = example(
        delivery_mode="injection",
        rotor_radius_cm="10.5",
        baseline_photos_taken=True,
        aftercare_given=True,
        notes="Tolerated well.",
        reason="",
    )


@router.patch(
    "/sessions/{session_id}",
    response={200: SessionDetailOut, **PRECONDITION_PROBLEMS},
    summary="Change the session's details",
    description=(
        "Changes the details the session page edits: delivery mode and rotor radius (PRP "
        "sessions), the baseline-photo and aftercare ticks, and the notes. Only the fields "
        "sent change. A signed session needs a `reason` (the change is kept as an amendment). "
        "If-Match: the session record's ETag (from reading it)."
    ),
    openapi_extra=etag_documented(),
)
def update_session_details(
    request: HttpRequest,
    session_id: int,
    payload: SessionDetailsIn,
    response: HttpResponse,
    if_match: IfMatch = None,
) -> Any:
    actor = api_actor(request, Perm.SESSION_PERFORM)
    session = selectors.session_get(actor=actor, session_id=session_id)
    _require(if_match, session)
    data = payload.dict(exclude_unset=True)
    reason = data.pop("reason", "")
    for name in ("delivery_mode", "baseline_photos_taken", "aftercare_given", "notes"):
        if name in data and data[name] is None:
            raise ValidationError({name: "Leave it out to keep it; it cannot be null."})
    if not session.is_prp:
        for name in ("delivery_mode", "rotor_radius_cm"):
            if name in data:
                raise ValidationError({name: "Only PRP sessions have this detail."})
    if not data:
        raise ValidationError({"__all__": "Send at least one detail to change."})
    session = services.session_details_update(
        actor=actor, session=session, data=data, reason=reason
    )
    return _tagged(response, session)


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
    operator_id: int | None = Field(
        None, description="Who prepared the PRP: a user id of an active member of the clinic."
    )
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
    operator_id: int | None = Field(None, description="Who prepared the PRP (a user id).")
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
    return _tagged(response, session, prep)


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
    _require(if_match, session)
    data = payload.dict()
    reason = data.pop("reason")
    operator_id = data.pop("operator_id")
    data["operator"] = (
        selectors.clinic_member_get(actor, operator_id) if operator_id is not None else None
    )
    data["spins"] = [{k: v for k, v in s.items() if v is not None} for s in data["spins"]]
    prep = services.preparation_record(actor=actor, session=session, data=data, reason=reason)
    return _tagged(response, session, prep)


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
    description=(
        "Records the lot of a product used in the session. An expired or recalled lot is "
        "refused; a lot of a product the patient is allergic to needs a physician's reason."
    ),
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
    recalled_at: dt.datetime | None = Field(
        None, description="When the lot was recalled (absent while it is not)."
    )
    recall_reason: str = Field("", description="Why it was recalled (empty while it is not).")

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


@router.get(
    "/lots",
    response=LotPage,
    summary="Lots in stock (soonest expiry first)",
    description=(
        "The clinic's lots with their stock used, expiry and recall, soonest expiry first. Paged."
    ),
)
def list_lots(request: HttpRequest, q: Query[PageQuery]) -> Any:
    actor = api_actor(request, Perm.INVENTORY_MANAGE)
    return _page(selectors.lots_for(actor), q)


@router.post(
    "/lots",
    response={201: LotOut, **problems(404)},
    summary="Receive a lot",
    description=(
        "Receives a lot of a product into stock (lot number, expiry, quantity); an expired lot "
        "is refused."
    ),
)
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
    description=(
        "The adverse events recorded for a session, with their CTCAE grade, seriousness and "
        "outcome."
    ),
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
    description=(
        "Records an adverse event of a session: term, CTCAE v5 grade, seriousness criteria, "
        "relatedness, action and outcome. Allowed after signing too."
    ),
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


# --- injection zones, phases, closing and signing ----------------------------------------------


class ZoneIn(BodyIn):
    zone: str = Field(
        min_length=1,
        max_length=30,
        description="Zone code of the session's site (e.g. `vertex`, `frontal`).",
    )
    volume_ml: Decimal = Field(
        gt=0, max_digits=6, decimal_places=2, description="PRP volume injected in the zone, mL."
    )
    depth_mm: Decimal | None = Field(
        None, gt=0, le=12, max_digits=4, decimal_places=1, description="Needle depth, mm (0–12]."
    )
    technique: str = Field(
        min_length=1, max_length=30, description="Injection technique code (e.g. `nappage`)."
    )
    needle_gauge: int | None = Field(None, ge=18, le=34, description="Needle gauge, 18–34 G.")


class ZonesIn(BodyIn):
    zones: list[ZoneIn] = Field(
        max_length=30, description="The whole injection map: it replaces the recorded one."
    )
    reason: str = Field(
        "",
        max_length=500,
        description="Why the record changes: required once the session is signed (amendment).",
    )

    model_config = example(
        zones=[
            {
                "zone": "vertex",
                "volume_ml": "2.5",
                "depth_mm": "2.0",
                "technique": "nappage",
                "needle_gauge": 30,
            }
        ],
        reason="",
    )


@router.put(
    "/sessions/{session_id}/zones",
    response={200: list[ZoneOut], **PRECONDITION_PROBLEMS},
    summary="Record the injection map",
    description=(
        "Replaces the session's per-zone injection map (PRP sessions; mesotherapy is recorded "
        "per formulation delivery). Zones must belong to the session's site; a signed session "
        "needs a `reason` and the change is kept as an amendment. If-Match: the session "
        "record's ETag (from reading it); the answer carries the record's new ETag."
    ),
    openapi_extra=etag_documented(),
)
def put_zones(
    request: HttpRequest,
    session_id: int,
    payload: ZonesIn,
    response: HttpResponse,
    if_match: IfMatch = None,
) -> Any:
    actor = api_actor(request, Perm.SESSION_PERFORM)
    session = selectors.session_get(actor=actor, session_id=session_id)
    _require(if_match, session)
    zones = [z.dict() for z in payload.zones]
    created = services.delivery_record(
        actor=actor, session=session, zones=zones, reason=payload.reason
    )
    return _tagged(response, session, created)


class TopicalIn(BodyIn):
    device: str = Field(min_length=1, max_length=120, description="The microneedling device.")
    needle_depth_mm: Decimal = Field(
        gt=0, le=3, max_digits=4, decimal_places=2, description="Needle depth, mm (0–3]."
    )
    passes: int = Field(ge=1, le=20, description="Number of passes, 1–20.")
    volume_ml: Decimal = Field(gt=0, max_digits=6, decimal_places=2, description="PRP applied, mL.")
    reason: str = Field(
        "",
        max_length=500,
        description="Why the record changes: required once the session is signed (amendment).",
    )

    model_config = example(
        device="Dermapen 4",
        needle_depth_mm="0.5",
        passes=3,
        volume_ml="4.0",
        reason="",
    )


@router.put(
    "/sessions/{session_id}/topical",
    response={200: TopicalOut, **PRECONDITION_PROBLEMS},
    summary="Record the topical application (microneedling)",
    description=(
        "PRP sessions: PRP applied topically after microneedling (device, needle depth, passes, "
        "volume); the session's delivery mode becomes `topical`. A signed session needs a "
        "`reason` (amendment). If-Match: the session record's ETag (from reading it)."
    ),
    openapi_extra=etag_documented(),
)
def put_topical(
    request: HttpRequest,
    session_id: int,
    payload: TopicalIn,
    response: HttpResponse,
    if_match: IfMatch = None,
) -> Any:
    actor = api_actor(request, Perm.SESSION_PERFORM)
    session = selectors.session_get(actor=actor, session_id=session_id)
    _require(if_match, session)
    topical = services.topical_record(
        actor=actor,
        session=session,
        data=payload.dict(exclude={"reason"}),
        reason=payload.reason,
    )
    return _tagged(response, session, topical)


PhaseCode = Literal[
    "checked_in_at",
    "cream_applied_at",
    "draw_at",
    "spin_started_at",
    "activation_at",
    "injection_started_at",
    "completed_at",
]


class PhaseIn(BodyIn):
    phase: PhaseCode = Field(
        description="The phase to time-stamp (mesotherapy has no draw, spin or activation)."
    )
    at: dt.datetime | None = Field(
        None, description="When it happened (ISO 8601); now when absent. Not in the future."
    )
    reason: str = Field(
        "", max_length=500, description="Why: required once the session is signed (amendment)."
    )

    model_config = example(phase="draw_at", at="2026-11-30T09:15:00Z", reason="")


@router.post(
    "/sessions/{session_id}/phases",
    response={200: SessionOut},
    summary="Time-stamp a phase",
    description=(
        "Stamps one phase of the session (check-in, cream, draw, spin, activation, delivery, "
        "completion), now or at a given time when recorded afterwards."
    ),
)
def stamp_phase(request: HttpRequest, session_id: int, payload: PhaseIn) -> Any:
    actor = api_actor(request, Perm.SESSION_PERFORM)
    session = selectors.session_get(actor=actor, session_id=session_id)
    return services.session_phase_stamp(
        actor=actor, session=session, phase=payload.phase, at=payload.at, reason=payload.reason
    )


@router.post(
    "/sessions/{session_id}/close",
    response={200: SessionOut},
    summary="Close the room work",
    description=(
        "The room work is done: the checklist must be complete (422 lists what is missing). "
        "The session is then ready for the physician's signature."
    ),
)
def close_session(request: HttpRequest, session_id: int) -> Any:
    actor = api_actor(request, Perm.SESSION_PERFORM)
    session = selectors.session_get(actor=actor, session_id=session_id)
    return services.session_close(actor=actor, session=session)


@router.post(
    "/sessions/{session_id}/sign",
    response={200: SessionOut, **PRECONDITION_PROBLEMS},
    summary="Sign the session (locks it)",
    description=(
        "The physician signs: the checklist must be complete; from then on changes are "
        "amendments with a reason. If-Match: the session record's ETag (from reading it)."
    ),
    openapi_extra=etag_documented(),
)
def sign_session(
    request: HttpRequest, session_id: int, response: HttpResponse, if_match: IfMatch = None
) -> Any:
    actor = api_actor(request, Perm.SESSION_SIGN)
    session = selectors.session_get(actor=actor, session_id=session_id)
    _require(if_match, session)
    session = services.session_sign(actor=actor, session=session)
    return _tagged(response, session)


# --- mesotherapy -------------------------------------------------------------------------------


class IngredientOut(Schema):
    code: str = Field(description="Ingredient code used by the label limits (may be empty).")
    name: str = Field(description="Ingredient name as on the label.")
    concentration: Decimal | None = Field(description="Concentration, in `unit`.")
    unit: str = Field(description="Unit of the concentration (e.g. mg/mL).")


class FormulationOut(Schema):
    id: int = Field(description="Formulation id (for a delivery's `formulation_id`).")
    name: str = Field(description="The formulation's name in the clinic.")
    ingredients: list[IngredientOut] = Field(description="What it contains.")

    @staticmethod
    def resolve_ingredients(obj: Any) -> list[Any]:
        return list(obj.ingredients.all())


@router.get(
    "/formulations",
    response=list[FormulationOut],
    summary="Mesotherapy formulations",
    description="The clinic's mesotherapy formulations with their ingredients, by name.",
)
def list_formulations(request: HttpRequest) -> Any:
    actor = api_actor(request, Perm.CLINICAL_VIEW)
    return list(selectors.formulations_for(actor))


class MesoDeliveryIn(BodyIn):
    formulation_id: int = Field(description="The formulation delivered (see /formulations).")
    zone: str = Field(min_length=1, max_length=30, description="Area code of the session's site.")
    technique: Literal["epidermal", "papule", "nappage", "point_by_point"] = Field(
        description="Mesotherapy technique (depth band)."
    )
    device: Literal["needle", "gun"] = Field(description="Needle or mesotherapy gun.")
    injection_points: int = Field(ge=1, le=1000, description="Number of injection points.")
    volume_per_point_ml: Decimal = Field(
        gt=0, le=5, max_digits=6, decimal_places=3, description="Volume per point, mL."
    )
    area_cm2: Decimal | None = Field(
        None, gt=0, max_digits=7, decimal_places=1, description="Treated area, cm²."
    )
    reason: str = Field(
        "", max_length=500, description="Why: required once the session is signed (amendment)."
    )
    allergy_override_reason: str = Field(
        "",
        max_length=1000,
        description="A physician's reason to record a formulation the patient is allergic to.",
    )

    model_config = example(
        formulation_id=1,
        zone="vertex",
        technique="nappage",
        device="needle",
        injection_points=40,
        volume_per_point_ml="0.05",
        area_cm2="60.0",
        reason="",
        allergy_override_reason="",
    )


class MesoDeliveryOut(Schema):
    id: int = Field(description="Delivery id.")
    session_id: int = Field(description="The session it belongs to.")
    formulation_id: int = Field(description="The formulation delivered.")
    formulation: str = Field(description="The formulation's name.")
    zone: str = Field(description="Area code.")
    technique: str = Field(description="Mesotherapy technique code.")
    device: str = Field(description="`needle` or `gun`.")
    injection_points: int = Field(description="Number of injection points.")
    volume_per_point_ml: Decimal = Field(description="Volume per point, mL.")
    area_cm2: Decimal | None = Field(description="Treated area, cm² (absent when not measured).")
    findings: list[dict[str, Any]] = Field(
        description="Warnings of the label-limit rules at the time of recording."
    )
    rules_version: str = Field(description="Version of the rules the findings come from.")

    @staticmethod
    def resolve_formulation(obj: Any) -> str:
        return str(obj.formulation.name)


@router.get(
    "/sessions/{session_id}/meso-deliveries",
    response=list[MesoDeliveryOut],
    summary="Mesotherapy deliveries of a session",
    description="Each formulation delivered to an area, with the rules' warnings.",
)
def list_meso_deliveries(request: HttpRequest, session_id: int) -> Any:
    actor = api_actor(request, Perm.CLINICAL_VIEW)
    session = selectors.session_get(actor=actor, session_id=session_id)
    services.session_read(actor=actor, session=session)
    return list(selectors.meso_deliveries_of(session))


@router.post(
    "/sessions/{session_id}/meso-deliveries",
    response={201: MesoDeliveryOut, **PRECONDITION_PROBLEMS},
    summary="Record a mesotherapy delivery",
    description=(
        "One formulation delivered to one area. Label limits are hard stops (422); other "
        "findings are kept as warnings. A formulation with an ingredient the patient is "
        "allergic to needs a physician's `allergy_override_reason`. If-Match: the session "
        "record's ETag (from reading it); the answer carries the record's new ETag."
    ),
    openapi_extra=etag_documented(status=201),
)
def create_meso_delivery(
    request: HttpRequest,
    session_id: int,
    payload: MesoDeliveryIn,
    response: HttpResponse,
    if_match: IfMatch = None,
) -> Status[Any]:
    actor = api_actor(request, Perm.SESSION_PERFORM)
    session = selectors.session_get(actor=actor, session_id=session_id)
    formulation = selectors.formulation_get(actor, payload.formulation_id)
    _require(if_match, session)
    data = payload.dict(exclude={"formulation_id", "reason", "allergy_override_reason"})
    delivery = services.meso_delivery_add(
        actor=actor,
        session=session,
        formulation=formulation,
        data=data,
        reason=payload.reason,
        allergy_override_reason=payload.allergy_override_reason,
    )
    return Status(201, _tagged(response, session, delivery))


@router.delete(
    "/sessions/{session_id}/meso-deliveries/{delivery_id}",
    response={204: None, **PRECONDITION_PROBLEMS},
    summary="Remove a delivery recorded by mistake",
    description=(
        "Only before the session is signed (then a correction is an amendment). If-Match: the "
        "session record's ETag (from reading it); the answer carries the record's new ETag."
    ),
    openapi_extra=etag_documented(status=204),
)
def delete_meso_delivery(
    request: HttpRequest,
    session_id: int,
    delivery_id: int,
    response: HttpResponse,
    if_match: IfMatch = None,
) -> Status[None]:
    actor = api_actor(request, Perm.SESSION_PERFORM)
    session = selectors.session_get(actor=actor, session_id=session_id)
    delivery = selectors.meso_delivery_get(session, delivery_id)
    _require(if_match, session)
    services.meso_delivery_remove(actor=actor, delivery=delivery)
    _tagged(response, session)
    return Status(204, None)


# --- adverse-event follow-ups ------------------------------------------------------------------


class FollowUpIn(BodyIn):
    on: dt.date | None = Field(
        None, description="Day of the follow-up (clinic's date); today when absent."
    )
    outcome: str = Field(
        min_length=1,
        max_length=30,
        description="Outcome code (e.g. `recovering`, `recovered`): the event follows it.",
    )
    note: str = Field("", max_length=5000, description="What was seen or done.")

    model_config = example(on="2026-11-30", outcome="recovered", note="Bruise gone.")


class FollowUpOut(Schema):
    id: int = Field(description="Follow-up id.")
    event_id: int = Field(description="The adverse event followed up.")
    on: dt.date = Field(description="Day of the follow-up.")
    outcome: str = Field(description="Outcome code at that day.")
    note: str = Field(description="What was seen or done.")


@router.get(
    "/sessions/{session_id}/adverse-events/{event_id}/follow-ups",
    response=list[FollowUpOut],
    summary="Follow-ups of an adverse event",
    description="The event's follow-up notes, oldest first.",
)
def list_follow_ups(request: HttpRequest, session_id: int, event_id: int) -> Any:
    actor = api_actor(request, Perm.CLINICAL_VIEW)
    session = selectors.session_get(actor=actor, session_id=session_id)
    event = selectors.adverse_event_get(session, event_id)
    services.session_read(actor=actor, session=session)
    return list(selectors.adverse_event_follow_ups(event))


@router.post(
    "/sessions/{session_id}/adverse-events/{event_id}/follow-ups",
    response={201: FollowUpOut},
    summary="Follow up an adverse event",
    description=(
        "A follow-up note; the event's outcome follows the latest one until it is resolved. "
        "Not dated in the future nor before the onset; a resolved event takes no more."
    ),
)
def create_follow_up(
    request: HttpRequest, session_id: int, event_id: int, payload: FollowUpIn
) -> Status[Any]:
    actor = api_actor(request, Perm.SESSION_PERFORM)
    session = selectors.session_get(actor=actor, session_id=session_id)
    event = selectors.adverse_event_get(session, event_id)
    follow = services.adverse_event_follow_up(actor=actor, event=event, data=payload.dict())
    return Status(201, follow)


# --- products and lot recall -------------------------------------------------------------------


class ProductIn(BodyIn):
    name: str = Field(min_length=1, max_length=120, description="Product name (unique).")
    category: Literal[
        "kit",
        "tube",
        "anticoagulant",
        "activator",
        "anaesthetic_cream",
        "needle",
        "meso_ingredient",
    ] = Field(description="What kind of product it is.")
    manufacturer: str = Field("", max_length=120, description="Who makes it.")

    model_config = example(name="PRP kit 10 mL", category="kit", manufacturer="Acme")


class ProductOut(Schema):
    id: int = Field(description="Product id (for a lot's `product_id`).")
    name: str = Field(description="Product name.")
    category: str = Field(description="Category code.")
    manufacturer: str = Field(description="Who makes it (may be empty).")
    is_active: bool = Field(description="Whether lots of it are offered in the room.")


class ProductPage(Schema):
    count: int = Field(description="Number of products.")
    page: int = Field(description="This page's number (from 1).")
    pages: int = Field(description="Number of pages.")
    results: list[ProductOut] = Field(description="The products of this page.")


@router.get(
    "/products",
    response=ProductPage,
    summary="Products",
    description="The clinic's products (kits, tubes, agents, needles), by category and name.",
)
def list_products(request: HttpRequest, q: Query[PageQuery]) -> Any:
    actor = api_actor(request, Perm.INVENTORY_MANAGE)
    return _page(selectors.products_for(actor).order_by("category", "name", "id"), q)


@router.post(
    "/products",
    response={201: ProductOut},
    summary="Add a product",
    description="A product the clinic stocks; its lots are then received with POST /lots.",
)
def create_product(request: HttpRequest, payload: ProductIn) -> Status[Any]:
    actor = api_actor(request, Perm.INVENTORY_MANAGE)
    return Status(201, services.product_create(actor=actor, data=payload.dict()))


@router.get(
    "/lots/{lot_id}",
    response=LotOut,
    summary="One lot",
    description="A lot of a product with its stock, expiry and recall.",
)
def get_lot(request: HttpRequest, lot_id: int) -> Any:
    actor = api_actor(request, Perm.INVENTORY_MANAGE)
    return selectors.lot_get(actor, lot_id)


class RecallIn(BodyIn):
    reason: str = Field(
        min_length=1,
        max_length=1000,
        description="Why the lot is recalled (the supplier's notice or what was found).",
    )

    model_config = example(reason="Supplier notice 2026-114: sterility.")


@router.post(
    "/lots/{lot_id}/recall",
    response={200: LotOut},
    summary="Recall a lot",
    description=(
        "From now on the lot cannot be chosen for a session. Who, when and why are kept; a "
        "recall is not undone. The exposed patients are listed by GET /lots/{lot_id}/exposures."
    ),
)
def recall_lot(request: HttpRequest, lot_id: int, payload: RecallIn) -> Any:
    actor = api_actor(request, Perm.INVENTORY_MANAGE)
    lot = selectors.lot_get(actor, lot_id)
    services.lot_recall(actor=actor, lot=lot, reason=payload.reason)
    return selectors.lot_get(actor, lot_id)


class ExposureOut(Schema):
    patient_id: int = Field(description="The exposed patient.")
    session_id: int = Field(description="The session in which the lot was used.")
    quantity: int = Field(description="Units of the lot used.")
    used_at: dt.datetime = Field(description="When it was used.")

    @staticmethod
    def resolve_patient_id(obj: Any) -> int:
        return int(obj.patient.pk)

    @staticmethod
    def resolve_session_id(obj: Any) -> int:
        return int(obj.session.pk)


@router.get(
    "/lots/{lot_id}/exposures",
    response=list[ExposureOut],
    summary="Patients exposed to a lot",
    description="Every patient and session in which the lot was used (audited read).",
)
def lot_exposures(request: HttpRequest, lot_id: int) -> Any:
    actor = api_actor(request, Perm.INVENTORY_MANAGE)
    actor.require(Perm.CLINICAL_VIEW)
    lot = selectors.lot_get(actor, lot_id)
    exposures = selectors.recall_exposures(actor, lot)
    services.lot_recall_read(actor=actor, lot=lot, exposures=exposures)
    return exposures
