"""Scheduling API: treatment plans and appointments (list, read, create, update).

Same services and rules as the pages. A slot that is already taken is a 409 problem document
naming the resource and time; other rule violations are 422 with field paths.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status

from anagen.accounts.access import patient_for
from anagen.interop.auth import api_actor as _actor
from anagen.interop.paging import MAX_PAGE, page_of
from anagen.scheduling import selectors, services

router = Router()


def _conflict(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    from anagen.interop.api import problem  # the API root imports this module

    errors = [
        {"field": f"body.{field}", "message": " ".join(msgs)}
        for field, msgs in exc.message_dict.items()
    ]
    return problem(request, 409, "Conflict", "That time is already booked.", errors=errors)


class AppointmentOut(Schema):
    id: int
    patient_id: int
    plan_id: int | None
    sequence: int
    kind: str
    procedure: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    target_on: dt.date | None
    window_earliest: dt.date | None
    window_latest: dt.date | None
    practitioner_id: int
    room_id: int
    centrifuge_id: int | None
    status: str
    notes: str
    created_at: dt.datetime
    updated_at: dt.datetime


class PlanOut(Schema):
    id: int
    patient_id: int
    protocol_id: str
    protocol_name: str
    procedure: str
    start_on: dt.date
    status: str
    created_by_id: int
    created_at: dt.datetime
    appointments: list[AppointmentOut]

    @staticmethod
    def resolve_appointments(obj: Any) -> list[Any]:
        return list(obj.appointments.order_by("sequence"))


class SlotIn(Schema):
    n: int = Field(ge=1, le=50)
    starts_at: dt.datetime
    practitioner_id: int
    room_id: int
    centrifuge_id: int | None = None


class PlanIn(Schema):
    patient_id: int
    protocol_id: str = Field(min_length=1, max_length=64)
    start_on: dt.date
    choices: list[SlotIn] | None = Field(
        None, description="One slot per session; omitted: the first free slot of each window."
    )


class PreviewIn(Schema):
    patient_id: int
    protocol_id: str = Field(min_length=1, max_length=64)
    start_on: dt.date


class SlotOut(Schema):
    starts_at: dt.datetime
    ends_at: dt.datetime
    practitioner_id: int
    room_id: int
    centrifuge_id: int | None


class SessionPreviewOut(Schema):
    n: int
    kind: str
    target_on: dt.date | None
    window_earliest: dt.date
    window_latest: dt.date
    duration_minutes: int
    slots: list[SlotOut]


class PlanPatch(Schema):
    status: Literal["cancelled"]
    reason: str = Field(min_length=1, max_length=500)


class AppointmentIn(Schema):
    patient_id: int
    kind: Literal["consultation", "maintenance"]
    procedure: str = Field("", max_length=40)
    starts_at: dt.datetime
    practitioner_id: int
    room_id: int
    centrifuge_id: int | None = None
    notes: str = Field("", max_length=2000)


class AppointmentPatch(Schema):
    starts_at: dt.datetime | None = Field(None, description="Move (by the same delta).")
    and_following: bool = Field(False, description="Also move the later sessions of the plan.")
    confirm_outside_window: bool = False
    status: Literal["checked_in", "completed", "cancelled", "no_show"] | None = None
    reason: str = Field("", max_length=500, description="Required to cancel.")
    notes: str | None = Field(None, max_length=2000)


class Page(Schema):
    count: int
    page: int
    pages: int


class AppointmentPage(Page):
    results: list[AppointmentOut]


class PlanPage(Page):
    results: list[PlanOut]


class AppointmentQuery(Schema):
    starts_from: dt.datetime | None = Field(None, alias="from")
    starts_before: dt.datetime | None = Field(None, alias="to")
    patient: int | None = None
    practitioner: int | None = None
    room: int | None = None
    status: str | None = Field(None, max_length=20)
    page: int = Field(1, ge=1, le=MAX_PAGE)
    page_size: int = Field(50, ge=1, le=200)


class PlanQuery(Schema):
    patient: int | None = None
    status: str | None = Field(None, max_length=20)
    page: int = Field(1, ge=1, le=MAX_PAGE)
    page_size: int = Field(25, ge=1, le=100)


@router.get("/plans", response=PlanPage, summary="List treatment plans")
def list_plans(request: HttpRequest, filters: Query[PlanQuery]) -> dict[str, Any]:
    actor = _actor(request)
    qs = selectors.plans_for(actor).prefetch_related("appointments")
    if filters.patient is not None:
        qs = qs.filter(patient=patient_for(actor, filters.patient))
    if filters.status:
        qs = qs.filter(status=filters.status)
    return page_of(qs.order_by("-created_at", "-id"), filters.page, filters.page_size)


@router.post(
    "/plans/preview",
    response=list[SessionPreviewOut],
    summary="Preview a series: windows and free slots",
)
def preview_plan(request: HttpRequest, payload: PreviewIn) -> list[dict[str, Any]]:
    actor = _actor(request)
    sessions = services.plan_preview(
        actor=actor,
        patient=patient_for(actor, payload.patient_id),
        protocol_id=payload.protocol_id,
        start_on=payload.start_on,
    )
    return [
        {
            **{k: getattr(s, k) for k in ("n", "kind", "target_on", "duration_minutes")},
            "window_earliest": s.window_earliest,
            "window_latest": s.window_latest,
            "slots": [
                {
                    "starts_at": slot.starts_at,
                    "ends_at": slot.ends_at,
                    "practitioner_id": slot.practitioner.pk,
                    "room_id": slot.room.pk,
                    "centrifuge_id": slot.centrifuge.pk if slot.centrifuge else None,
                }
                for slot in s.slots
            ],
        }
        for s in sessions
    ]


@router.get("/plans/{plan_id}", response=PlanOut, summary="Read a treatment plan")
def get_plan(request: HttpRequest, plan_id: int) -> object:
    return selectors.plan_for(_actor(request), plan_id)


@router.post(
    "/plans",
    response={201: PlanOut, 409: dict},
    summary="Choose a protocol and book its whole series (all or none)",
)
def create_plan(request: HttpRequest, payload: PlanIn) -> Any:
    actor = _actor(request)
    patient = patient_for(actor, payload.patient_id)
    choices = (
        [services.SlotChoice(**c.dict()) for c in payload.choices]
        if payload.choices is not None
        else None
    )
    try:
        plan = services.plan_book_series(
            actor=actor,
            patient=patient,
            protocol_id=payload.protocol_id,
            start_on=payload.start_on,
            choices=choices,
        )
    except services.BookingConflict as exc:
        return _conflict(request, exc)
    return Status(201, plan)


@router.patch("/plans/{plan_id}", response=PlanOut, summary="Cancel a treatment plan")
def update_plan(request: HttpRequest, plan_id: int, payload: PlanPatch) -> object:
    actor = _actor(request)
    plan = selectors.plan_for(actor, plan_id)
    return services.plan_cancel(actor=actor, plan=plan, reason=payload.reason)


@router.get("/appointments", response=AppointmentPage, summary="List appointments")
def list_appointments(request: HttpRequest, filters: Query[AppointmentQuery]) -> dict[str, Any]:
    actor = _actor(request)
    qs = selectors.appointments_for(actor)
    if filters.patient is not None:
        qs = qs.filter(patient=patient_for(actor, filters.patient))
    if filters.starts_from:
        qs = qs.filter(starts_at__gte=filters.starts_from)
    if filters.starts_before:
        qs = qs.filter(starts_at__lt=filters.starts_before)
    if filters.practitioner:
        qs = qs.filter(practitioner_id=filters.practitioner)
    if filters.room:
        qs = qs.filter(room_id=filters.room)
    if filters.status:
        qs = qs.filter(status=filters.status)
    return page_of(qs.order_by("starts_at", "id"), filters.page, filters.page_size)


@router.get("/appointments/{appointment_id}", response=AppointmentOut, summary="Read one")
def get_appointment(request: HttpRequest, appointment_id: int) -> object:
    return selectors.appointment_for(_actor(request), appointment_id)


@router.post(
    "/appointments",
    response={201: AppointmentOut, 409: dict},
    summary="Book a consultation or maintenance session",
)
def create_appointment(request: HttpRequest, payload: AppointmentIn) -> Any:
    actor = _actor(request)
    patient = patient_for(actor, payload.patient_id)
    try:
        appt = services.appointment_book(
            actor=actor,
            patient=patient,
            kind=payload.kind,
            procedure=payload.procedure,
            starts_at=payload.starts_at,
            practitioner_id=payload.practitioner_id,
            room_id=payload.room_id,
            centrifuge_id=payload.centrifuge_id,
            notes=payload.notes,
        )
    except services.BookingConflict as exc:
        return _conflict(request, exc)
    return Status(201, appt)


@router.patch(
    "/appointments/{appointment_id}",
    response={200: AppointmentOut, 409: dict},
    summary="Move, change status or edit notes",
)
def update_appointment(request: HttpRequest, appointment_id: int, payload: AppointmentPatch) -> Any:
    actor = _actor(request)
    appt = selectors.appointment_for(actor, appointment_id)
    data = payload.dict(exclude_unset=True)
    if not {"starts_at", "status", "notes"} & {k for k, v in data.items() if v is not None}:
        raise ValidationError({"__all__": "Send starts_at, status or notes."})
    try:
        with transaction.atomic():  # all the changes of one PATCH, or none
            if payload.notes is not None:
                services.appointment_update_notes(
                    actor=actor, appointment=appt, notes=payload.notes
                )
            if payload.starts_at is not None:
                services.appointment_move(
                    actor=actor,
                    appointment=appt,
                    new_start=payload.starts_at,
                    and_following=payload.and_following,
                    confirm_outside_window=payload.confirm_outside_window,
                )
            if payload.status == "checked_in":
                services.appointment_check_in(actor=actor, appointment=appt)
            elif payload.status == "completed":
                services.appointment_complete(actor=actor, appointment=appt)
            elif payload.status == "cancelled":
                services.appointment_cancel(
                    actor=actor, appointment=appt, reason=payload.reason
                )
            elif payload.status == "no_show":
                services.appointment_no_show(actor=actor, appointment=appt)
    except services.BookingConflict as exc:
        return _conflict(request, exc)
    return selectors.appointment_for(actor, appt.pk)
