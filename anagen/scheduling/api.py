"""Scheduling API: treatment plans and appointments (list, read, create, update).

Same services and rules as the pages. A slot that is already taken is a 409 problem document
naming the resource and time (the service's conflict, mapped in `anagen.interop.errors`); other
rule violations are 422 with field paths.
"""

from __future__ import annotations

import datetime as dt
import typing
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status

from anagen.accounts.access import Actor, patient_for
from anagen.accounts.permissions import Perm
from anagen.interop.auth import api_actor
from anagen.interop.etag import (
    PRECONDITION_PROBLEMS,
    IfMatch,
    etag_documented,
    require_if_match,
    tag,
)
from anagen.interop.paging import MAX_PAGE, page_of
from anagen.interop.problems import problems
from anagen.interop.render import instant_text, json_response, page_response, row_reader
from anagen.interop.schemas import BodyIn, QueryIn
from anagen.scheduling import selectors, services

router = Router()


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
        return sorted(obj.appointments.all(), key=lambda a: a.sequence)


# A list's rows are read straight off the objects (no per-row validation: anagen.interop.render).
_appointment_row = row_reader(AppointmentOut)
_plan_row = row_reader(
    PlanOut,
    appointments=lambda p: [_appointment_row(a) for a in PlanOut.resolve_appointments(p)],
)


# The plans list: each plan's appointments come from one query of values (`list_plans`).
_APPOINTMENT_FIELDS = tuple(AppointmentOut.model_fields)
_APPOINTMENT_INSTANTS = tuple(
    name
    for name, info in AppointmentOut.model_fields.items()
    if dt.datetime in (info.annotation, *typing.get_args(info.annotation))
)
_plan_head_row = row_reader(PlanOut, appointments=lambda p: None)


class SlotIn(BodyIn):
    n: int = Field(ge=1, le=50)
    starts_at: dt.datetime
    practitioner_id: int
    room_id: int
    centrifuge_id: int | None = None


class PlanIn(BodyIn):
    patient_id: int
    protocol_id: str = Field(min_length=1, max_length=64)
    start_on: dt.date
    choices: list[SlotIn] | None = Field(
        None, description="One slot per session; omitted: the first free slot of each window."
    )


class PreviewIn(BodyIn):
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


class PlanPatch(BodyIn):
    status: Literal["cancelled"]
    reason: str = Field(min_length=1, max_length=500)


class AppointmentIn(BodyIn):
    patient_id: int
    kind: Literal["consultation", "maintenance"]
    procedure: str = Field("", max_length=40)
    starts_at: dt.datetime
    practitioner_id: int
    room_id: int
    centrifuge_id: int | None = None
    notes: str = Field("", max_length=2000)


class AppointmentPatch(BodyIn):
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


class AppointmentQuery(QueryIn):
    starts_from: dt.datetime | None = Field(None, alias="from")
    starts_before: dt.datetime | None = Field(None, alias="to")
    patient: int | None = None
    practitioner: int | None = None
    room: int | None = None
    status: str | None = Field(None, max_length=20)
    page: int = Field(1, ge=1, le=MAX_PAGE)
    page_size: int = Field(50, ge=1, le=200)


class PlanQuery(QueryIn):
    patient: int | None = None
    status: str | None = Field(None, max_length=20)
    page: int = Field(1, ge=1, le=MAX_PAGE)
    page_size: int = Field(25, ge=1, le=100)


@router.get(
    "/plans",
    response={200: PlanPage, **problems(404)},
    summary="List treatment plans",
    description=(
        "Treatment plans of the clinic, or of one patient, with their appointments; filter by "
        "status. Paged."
    ),
)
def list_plans(request: HttpRequest, filters: Query[PlanQuery]) -> HttpResponse:
    actor = api_actor(request, Perm.PATIENT_VIEW)
    qs = selectors.plan_search(
        actor=actor,
        patient=patient_for(actor, filters.patient) if filters.patient is not None else None,
        status=filters.status,
    )
    page = page_of(qs, filters.page, filters.page_size)
    # The page's appointments in one query of plain values, written as `_appointment_row`
    # writes them (anagen/interop/render.py): no model instance per appointment (issue 15).
    shown: dict[int, list[dict[str, Any]]] = {}
    for values in selectors.plan_appointment_values(
        [plan.pk for plan in page["results"]], _APPOINTMENT_FIELDS, _APPOINTMENT_INSTANTS
    ):
        row = dict(zip(_APPOINTMENT_FIELDS, values, strict=True))
        for name in _APPOINTMENT_INSTANTS:
            if type(row[name]) is dt.datetime:  # (PostgreSQL sends them as text already)
                row[name] = instant_text(row[name])
        shown.setdefault(row["plan_id"], []).append(row)
    results = []
    for plan in page["results"]:
        row = _plan_head_row(plan)
        row["appointments"] = shown.get(plan.pk, [])  # the key keeps its place (last)
        results.append(row)
    return json_response({**page, "results": results})


@router.post(
    "/plans/preview",
    response={200: list[SessionPreviewOut], **problems(404)},
    summary="Preview a series: windows and free slots",
    description=(
        "For a protocol and start day, each session's target day, allowed window and free slots "
        "(practitioner, room, centrifuge), without booking anything."
    ),
)
def preview_plan(request: HttpRequest, payload: PreviewIn) -> list[dict[str, Any]]:
    actor = api_actor(request, Perm.PLAN)
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


@router.get(
    "/plans/{plan_id}",
    response=PlanOut,
    summary="Read a treatment plan",
    description=(
        "One plan with its appointments. The ETag is the plan's: send it in If-Match to cancel it."
    ),
    openapi_extra=etag_documented(write=False),
)
def get_plan(request: HttpRequest, plan_id: int, response: HttpResponse) -> object:
    return tag(response, selectors.plan_for(api_actor(request, Perm.PATIENT_VIEW), plan_id))


@router.post(
    "/plans",
    response={201: PlanOut, **problems(404, 409)},
    summary="Choose a protocol and book its whole series (all or none)",
    description=(
        "Creates a plan from a protocol and books every session of the series in its window, in "
        "the chosen slots or the first free ones; if one cannot be booked, none is (409)."
    ),
)
def create_plan(request: HttpRequest, payload: PlanIn) -> Any:
    actor = api_actor(request, Perm.PLAN)
    patient = patient_for(actor, payload.patient_id)
    choices = (
        [services.SlotChoice(**c.dict()) for c in payload.choices]
        if payload.choices is not None
        else None
    )
    plan = services.plan_book_series(
        actor=actor,
        patient=patient,
        protocol_id=payload.protocol_id,
        start_on=payload.start_on,
        choices=choices,
    )
    return Status(201, plan)


@router.patch(
    "/plans/{plan_id}",
    response={200: PlanOut, **PRECONDITION_PROBLEMS},
    summary="Cancel a treatment plan (If-Match: the ETag of your last read)",
    description=(
        "Cancels the plan and its future appointments, with a reason. Needs the plan's ETag in "
        "If-Match."
    ),
    openapi_extra=etag_documented(),
)
def update_plan(
    request: HttpRequest,
    plan_id: int,
    payload: PlanPatch,
    response: HttpResponse,
    if_match: IfMatch = None,
) -> object:
    actor = api_actor(request, Perm.BOOK)
    plan = selectors.plan_for(actor, plan_id)
    require_if_match(if_match, plan)
    return tag(response, services.plan_cancel(actor=actor, plan=plan, reason=payload.reason))


@router.get(
    "/appointments",
    response={200: AppointmentPage, **problems(404)},
    summary="List appointments",
    description=(
        "Appointments between two instants, filtered by patient, practitioner, room and status, "
        "in start order. Paged."
    ),
)
def list_appointments(request: HttpRequest, filters: Query[AppointmentQuery]) -> HttpResponse:
    actor = api_actor(request, Perm.PATIENT_VIEW)
    qs = selectors.appointment_search(
        actor=actor,
        patient=patient_for(actor, filters.patient) if filters.patient is not None else None,
        starts_from=filters.starts_from,
        starts_before=filters.starts_before,
        practitioner_id=filters.practitioner,
        room_id=filters.room,
        status=filters.status,
    )
    return page_response(page_of(qs, filters.page, filters.page_size), _appointment_row)


@router.get(
    "/appointments/{appointment_id}",
    response=AppointmentOut,
    summary="Read one",
    description="One appointment of the clinic.",
)
def get_appointment(request: HttpRequest, appointment_id: int) -> object:
    return selectors.appointment_for(api_actor(request, Perm.PATIENT_VIEW), appointment_id)


@router.post(
    "/appointments",
    response={201: AppointmentOut, **problems(404, 409)},
    summary="Book a consultation or maintenance session",
    description=(
        "Books a single appointment outside a plan's series. A slot taken by the practitioner, "
        "room or centrifuge, or outside opening hours, is refused (409 or 422)."
    ),
)
def create_appointment(request: HttpRequest, payload: AppointmentIn) -> Any:
    actor = api_actor(request, Perm.BOOK)
    patient = patient_for(actor, payload.patient_id)
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
    return Status(201, appt)


def _patch_actor(request: HttpRequest, payload: AppointmentPatch) -> Actor:
    """The permission of each change the PATCH asks for: moving, cancelling, a no-show and notes
    are booking; arrival is check-in; completing a visit is performing it."""
    needed = {
        "checked_in": Perm.CHECK_IN,
        "completed": Perm.SESSION_PERFORM,
        "cancelled": Perm.BOOK,
        "no_show": Perm.BOOK,
    }
    actor = api_actor(request, needed[payload.status] if payload.status else Perm.BOOK)
    if payload.starts_at is not None or payload.notes is not None:
        actor.require(Perm.BOOK)
    return actor


@router.patch(
    "/appointments/{appointment_id}",
    response={200: AppointmentOut, **problems(409)},
    summary="Move, change status or edit notes",
    description=(
        "Moves the appointment (and optionally the following ones of its plan), changes its "
        "status (check-in, no-show, cancel) or its notes. A move outside the protocol's window "
        "needs `confirm_outside_window` (409 before)."
    ),
)
def update_appointment(request: HttpRequest, appointment_id: int, payload: AppointmentPatch) -> Any:
    actor = _patch_actor(request, payload)
    appt = selectors.appointment_for(actor, appointment_id)
    data = payload.dict(exclude_unset=True)
    if not {"starts_at", "status", "notes"} & {k for k, v in data.items() if v is not None}:
        raise ValidationError({"__all__": "Send starts_at, status or notes."})
    with transaction.atomic():  # all the changes of one PATCH, or none
        if payload.notes is not None:
            services.appointment_update_notes(actor=actor, appointment=appt, notes=payload.notes)
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
            services.appointment_cancel(actor=actor, appointment=appt, reason=payload.reason)
        elif payload.status == "no_show":
            services.appointment_no_show(actor=actor, appointment=appt)
    return selectors.appointment_for(actor, appt.pk)
