"""Scheduling pages: plan preview and booking, calendar, appointment actions, resources, feeds."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from anagen.accounts.access import ClinicRequest, patient_for
from anagen.accounts.decorators import clinic_view
from anagen.accounts.permissions import Perm
from anagen.audit.models import AuditAction
from anagen.audit.reads import note_list
from anagen.audit.services import audit_record
from anagen.clinical import PROCEDURES
from anagen.patients.selectors import patient_search
from anagen.scheduling import feeds, selectors, services
from anagen.scheduling.forms import (
    AppointmentBookForm,
    CancelForm,
    ClosureForm,
    HolidayRegionForm,
    HoursForm,
    LeaveForm,
    MoveForm,
    PlanChooseForm,
    ResourceForm,
)
from anagen.scheduling.grid_html import CalendarQuery, calendar_body
from anagen.scheduling.models import WEEKDAY_NAMES, ResourceKind, WorkingHours
from anagen.web.confirm import unconfirmed
from anagen.web.forms import attach_errors
from anagen.web.versions import page_version, refusal

WEEKDAYS = [name[:3] for name in WEEKDAY_NAMES]


def _field(form: Any, name: str) -> forms.ChoiceField:
    field: forms.ChoiceField = form.fields[name]
    return field


def _refuse(request: HttpRequest, reason: str) -> HttpResponse:
    return render(request, "403.html", {"reason": reason}, status=403)


# --- Plan: choose a protocol, preview, book ------------------------------------------------


@clinic_view(Perm.PLAN)
def plan_new(request: ClinicRequest, patient_id: int) -> HttpResponse:
    patient = patient_for(request.actor, patient_id)
    source = request.POST if request.method == "POST" else request.GET
    form = PlanChooseForm(
        source if "protocol_id" in source else None,
        initial={"start_on": _date_or_none(source.get("start_on"))},
    )
    from_slot = str(source.get("from_slot", ""))[:80]
    prefer_start, prefer_practitioner = _slot_param(request, from_slot)
    preview: list[services.SessionPreview] | None = None
    status = 200
    chosen: dict[int, str] = {}
    if form.is_bound and form.is_valid():
        protocol_id, start_on = form.cleaned_data["protocol_id"], form.cleaned_data["start_on"]
        if request.method == "POST":
            chosen = {
                int(k[5:]): str(v)
                for k, v in request.POST.items()
                if re.fullmatch(r"slot_\d{1,2}", k)
            }
            try:
                choices = [services.SlotChoice.from_key(n, v) for n, v in sorted(chosen.items())]
                plan = services.plan_book_series(
                    actor=request.actor,
                    patient=patient,
                    protocol_id=protocol_id,
                    start_on=start_on,
                    choices=choices,
                )
            except ValidationError as exc:
                attach_errors(form, exc)
                status = 400
            else:
                messages.success(
                    request,
                    f"Booked {selectors.plan_appointments(plan).count()} sessions of "
                    f"{plan.protocol_name}.",
                )
                return redirect("patient-detail", patient_id=patient.pk)
        try:
            preview = services.plan_preview(
                actor=request.actor,
                patient=patient,
                protocol_id=protocol_id,
                start_on=start_on,
                prefer_start=prefer_start,
                prefer_practitioner_id=prefer_practitioner,
            )
        except ValidationError as exc:
            attach_errors(form, exc)
            preview, status = None, 400
    elif form.is_bound:
        status = 400
    if preview and not chosen:
        chosen = {s.n: s.slots[0].key for s in preview if s.slots}
    return render(
        request,
        "scheduling/plan_form.html",
        {
            "patient": patient,
            "form": form,
            "preview": preview,
            "chosen": chosen,
            "from_slot": from_slot if prefer_start else "",
            "bookable": bool(preview) and all(s.slots for s in preview or []),
        },
        status=status,
    )


@clinic_view(Perm.PATIENT_VIEW)
def plan_detail(request: ClinicRequest, plan_id: int) -> HttpResponse:
    plan = selectors.plan_for(request.actor, plan_id)
    form = CancelForm(request.POST or None)
    status = 200
    # No lost updates: refused when the plan changed since the page was loaded.
    stale = refusal(request, plan, what="this plan")
    if stale:
        status = 409
    elif request.method == "POST":
        if form.is_valid():
            asked = unconfirmed(
                request,
                question="Cancel this plan and its open appointments?",
                detail="The reason is kept with the plan; cancelled appointments free their slots.",
                action="Yes, cancel the plan",
                back=reverse("plan-detail", kwargs={"plan_id": plan.pk}),
            )
            if asked is not None:
                return asked
            try:
                services.plan_cancel(
                    actor=request.actor, plan=plan, reason=form.cleaned_data["reason"]
                )
            except ValidationError as exc:
                attach_errors(form, exc)
            else:
                messages.success(request, "Plan cancelled; its open appointments were cancelled.")
                return redirect("plan-detail", plan_id=plan.pk)
        status = 400
    appointments = selectors.plan_appointments(plan)
    return render(
        request,
        "scheduling/plan_detail.html",
        {
            "plan": plan,
            "appointments": appointments,
            "form": form,
            "stale": stale,
            "record_version": page_version(plan),
        },
        status=status,
    )


# --- Single appointment --------------------------------------------------------------------


def _resource_choices(request: ClinicRequest, kind: str) -> list[tuple[Any, str]]:
    return [
        (r.pk, r.name)
        for r in selectors.resources_for(request.actor, active_only=True).filter(kind=kind)
    ]


@clinic_view(Perm.BOOK)
def appointment_new(request: ClinicRequest, patient_id: int) -> HttpResponse:
    patient = patient_for(request.actor, patient_id)
    form = AppointmentBookForm(request.POST or None, initial=_booking_initial(request))
    _field(form, "practitioner").choices = _resource_choices(request, ResourceKind.PRACTITIONER)
    _field(form, "room").choices = _resource_choices(request, ResourceKind.ROOM)
    _field(form, "centrifuge").choices = [("", "—"), *_resource_choices(request, "centrifuge")]
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        tz = request.actor.tz
        try:
            appt = services.appointment_book(
                actor=request.actor,
                patient=patient,
                kind=d["kind"],
                procedure=d["procedure"] if d["kind"] == "maintenance" else "",
                starts_at=dt.datetime.combine(d["date"], d["time"], tzinfo=tz),
                practitioner_id=d["practitioner"],
                room_id=d["room"],
                centrifuge_id=d["centrifuge"],
                notes=d["notes"],
            )
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, "Appointment booked.")
            return redirect("appointment-detail", appointment_id=appt.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "scheduling/appointment_form.html",
        {"patient": patient, "form": form},
        status=status,
    )


def _detail_context(request: ClinicRequest, appt: Any) -> dict[str, Any]:
    actor = request.actor
    return {
        "appt": appt,
        "history": selectors.appointment_history(appt),
        "cancel_form": CancelForm(),
        # A procedure appointment completes when its session record is signed, not by hand.
        "can_complete_by_hand": actor.can(Perm.SESSION_PERFORM) and not appt.needs_session_record,
    }


@clinic_view(Perm.PATIENT_VIEW)
def appointment_detail(request: ClinicRequest, appointment_id: int) -> HttpResponse:
    appt = selectors.appointment_for(request.actor, appointment_id)
    return render(request, "scheduling/appointment_detail.html", _detail_context(request, appt))


ACTIONS = {
    "check_in": services.appointment_check_in,
    "complete": services.appointment_complete,
    "no_show": services.appointment_no_show,
}
DONE = {
    "check_in": "Checked in.",
    "complete": "Session completed.",
    "no_show": "Recorded as a no-show.",
    "cancel": "Appointment cancelled.",
}


@require_POST
@clinic_view(Perm.PATIENT_VIEW)
def appointment_status(request: ClinicRequest, appointment_id: int) -> HttpResponse:
    appt = selectors.appointment_for(request.actor, appointment_id)
    action = request.POST.get("action", "")
    context = _detail_context(request, appt)
    try:
        if action == "cancel":
            form = CancelForm(request.POST)
            context["cancel_form"] = form
            if not form.is_valid():
                raise ValidationError(list(form.errors.get("reason") or ["Say why."]))
            asked = unconfirmed(
                request,
                question=f"Cancel the appointment of {appt.patient}?",
                detail="The reason is kept with the appointment and the slot becomes free.",
                action="Yes, cancel the appointment",
                back=reverse("appointment-detail", kwargs={"appointment_id": appt.pk}),
            )
            if asked is not None:
                return asked
            services.appointment_cancel(
                actor=request.actor, appointment=appt, reason=form.cleaned_data["reason"]
            )
        elif action in ACTIONS:
            ACTIONS[action](actor=request.actor, appointment=appt)
        else:
            raise ValidationError("Unknown action.")
    except PermissionDenied as exc:
        return _refuse(request, str(exc))
    except ValidationError as exc:
        context["action_errors"] = exc.messages
        return render(request, "scheduling/appointment_detail.html", context, status=400)
    messages.success(request, DONE[action])
    return redirect("appointment-detail", appointment_id=appt.pk)


@clinic_view(Perm.BOOK)
def appointment_move(request: ClinicRequest, appointment_id: int) -> HttpResponse:
    appt = selectors.appointment_for(request.actor, appointment_id)
    tz = request.actor.tz
    local = appt.starts_at.astimezone(tz)
    # A free slot chosen in the calendar grid (move mode) arrives as ?date=&time=.
    picked = _booking_initial(request)
    form = MoveForm(
        request.POST or None,
        initial={
            "date": picked.get("date", local.date()),
            "time": picked.get("time", local.time()),
            "scope": "this",
        },
    )
    warnings: list[str] = []
    if request.method == "GET" and "date" in picked and "time" in picked:
        # Say before the move, not after, when the new day leaves the protocol window.
        warnings = [
            w.message
            for w in services.appointment_move_warnings(
                appointment=appt,
                new_start=dt.datetime.combine(picked["date"], picked["time"], tzinfo=tz),
                and_following=False,
            )
        ]
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            services.appointment_move(
                actor=request.actor,
                appointment=appt,
                new_start=dt.datetime.combine(d["date"], d["time"], tzinfo=tz),
                and_following=d["scope"] == "following",
                confirm_outside_window=d["confirm_outside_window"],
            )
        except services.OutsideWindow as exc:
            warnings = exc.messages
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, "Appointment moved.")
            return redirect("appointment-detail", appointment_id=appt.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "scheduling/appointment_move.html",
        {"appt": appt, "form": form, "warnings": warnings},
        status=status,
    )


# --- Calendar ------------------------------------------------------------------------------


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


@clinic_view(Perm.PATIENT_VIEW)
def calendar(request: ClinicRequest) -> HttpResponse:
    """The time grid: a day or a week, columns per practitioner (default) or per room. Its
    content is rendered once per calendar version and cached (grid_html.calendar_body)."""
    actor = request.actor
    g = request.GET
    view = "day" if g.get("view") == "day" else "week"
    room = _int_or_none(g.get("room"))
    by = "room" if room or g.get("by") == "room" else "practitioner"
    query = CalendarQuery(
        view=view,
        day=_date_or_none(g.get("date")) or actor.today(),
        by=by,
        practitioner=_int_or_none(g.get("practitioner")),
        room=room,
        all_columns=by in g,  # the filter's "All" (an empty practitioner or room)
    )
    moving = None
    if (move_id := _int_or_none(g.get("move"))) is not None and actor.can(Perm.BOOK):
        moving = selectors.appointment_for(actor, move_id)
    body = calendar_body(actor, query, moving)
    note_list(actor, what="Calendar")  # audited (anagen/audit/reads.py)
    return render(
        request,
        "scheduling/calendar.html",
        {"body": body.html, "drag_script": body.drag_script},
    )


def _date_or_none(value: object) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value or "")[:10])
    except ValueError:
        return None


def _slot_param(request: ClinicRequest, value: str) -> tuple[dt.datetime | None, int | None]:
    """``<YYYY-MM-DDTHH:MM>|<practitioner id or ->`` (a free slot in the grid), clinic-local."""
    at_text, _, who = value.partition("|")
    try:
        at = dt.datetime.fromisoformat(at_text[:16])
    except ValueError:
        return None, None
    return at.replace(tzinfo=request.actor.tz), _int_or_none(who)


def _booking_initial(request: ClinicRequest) -> dict[str, Any]:
    """What a link may prefill on the booking form: a free slot's date, time and resources, or
    a recall's kind and procedure."""
    g = request.GET
    initial: dict[str, Any] = {}
    if (d := _date_or_none(g.get("date"))) is not None:
        initial["date"] = d
    with contextlib.suppress(ValueError):
        initial["time"] = dt.time.fromisoformat(str(g.get("time", ""))[:5])
    for name in ("practitioner", "room"):
        if (v := _int_or_none(g.get(name))) is not None:
            initial[name] = v
    if g.get("kind") in ("consultation", "maintenance"):
        initial["kind"] = g["kind"]
    if g.get("procedure") in PROCEDURES:
        initial["procedure"] = g["procedure"]
    return initial


@clinic_view(Perm.BOOK)
def calendar_slot(request: ClinicRequest) -> HttpResponse:
    """A free slot of the grid: find the patient, then book a visit or plan a series there."""
    day = _date_or_none(request.GET.get("date"))
    try:
        at = dt.time.fromisoformat(str(request.GET.get("time", ""))[:5])
    except ValueError:
        at = None
    if day is None or at is None:
        return render(
            request, "400.html", {"reason": "Choose a free slot in the calendar."}, status=400
        )
    practitioner = _int_or_none(request.GET.get("practitioner"))
    room = _int_or_none(request.GET.get("room"))
    resource = None
    if practitioner or room:
        resource = selectors.resource_for(request.actor, practitioner or room)
    query = str(request.GET.get("q", ""))[:100].strip()
    found = list(patient_search(actor=request.actor, query=query)[:20]) if query else []
    starts = dt.datetime.combine(day, at, tzinfo=request.actor.tz)
    prefill = {"date": day.isoformat(), "time": at.strftime("%H:%M")}
    if practitioner:
        prefill["practitioner"] = str(practitioner)
    if room:
        prefill["room"] = str(room)
    series = {
        "start_on": day.isoformat(),
        "from_slot": f"{day.isoformat()}T{at:%H:%M}|{practitioner or '-'}",
    }
    return render(
        request,
        "scheduling/calendar_slot.html",
        {
            "starts": starts,
            "resource": resource,
            "query": query,
            "found": found,
            "prefill": urlencode(prefill),
            "series": urlencode(series),
            "keep": [("date", day.isoformat()), ("time", at.strftime("%H:%M"))]
            + ([("practitioner", str(practitioner))] if practitioner else [])
            + ([("room", str(room))] if room else []),
        },
    )


@clinic_view(Perm.RESOURCES_MANAGE)
def closures(request: ClinicRequest) -> HttpResponse:
    """Clinic closures and staff leave (whole days), and the public holidays that apply."""
    actor = request.actor
    closure_form = ClosureForm(request.POST if request.POST.get("action") == "closure" else None)
    leave_form = LeaveForm(request.POST if request.POST.get("action") == "leave" else None)
    region_form = HolidayRegionForm(
        request.POST if request.POST.get("action") == "holidays" else None,
        initial={"country": actor.clinic.holiday_country, "region": actor.clinic.holiday_region},
    )
    members = selectors.staff_for_leave(actor)
    _field(leave_form, "membership").choices = [(m.pk, str(m.user)) for m in members]
    if request.method == "POST":
        action = request.POST.get("action")
        if action in ("remove-closure", "remove-leave"):
            asked = unconfirmed(
                request,
                question=f"Remove this {'closure' if action == 'remove-closure' else 'leave'}?",
                detail="Its days are offered for booking again.",
                action="Yes, remove",
                back=reverse("calendar-closures"),
            )
            if asked is not None:
                return asked
        try:
            if action == "closure" and closure_form.is_valid():
                services.closure_add(actor=actor, **closure_form.cleaned_data)
                messages.success(request, "Closure added; no slot is offered on those days.")
                return redirect("calendar-closures")
            if action == "leave" and leave_form.is_valid():
                d = leave_form.cleaned_data
                services.leave_add(
                    actor=actor,
                    membership_id=d["membership"],
                    starts_on=d["starts_on"],
                    ends_on=d["ends_on"],
                    reason=d["reason"],
                )
                messages.success(request, "Leave added; their slots are blocked.")
                return redirect("calendar-closures")
            if action == "holidays" and region_form.is_valid():
                services.clinic_holidays_set(actor=actor, **region_form.cleaned_data)
                messages.success(request, "Public holidays updated.")
                return redirect("calendar-closures")
            if action == "remove-closure":
                services.closure_remove(
                    actor=actor, closure=selectors.closure_for(actor, request.POST.get("id"))
                )
                messages.success(request, "Closure removed.")
                return redirect("calendar-closures")
            if action == "remove-leave":
                services.leave_remove(
                    actor=actor, leave=selectors.leave_for(actor, request.POST.get("id"))
                )
                messages.success(request, "Leave removed.")
                return redirect("calendar-closures")
        except ValidationError as exc:
            target = {"closure": closure_form, "holidays": region_form}.get(str(action))
            attach_errors(target or leave_form, exc)
    today = actor.today()
    return render(
        request,
        "scheduling/closures.html",
        {
            "closure_form": closure_form,
            "leave_form": leave_form,
            "region_form": region_form,
            "closures": selectors.closures_for(actor, today),
            "leave": selectors.leave_list(actor, today),
            "holidays": selectors.holidays_ahead(actor, today),
        },
        status=400 if request.method == "POST" else 200,
    )


# --- Resources (clinic admin) --------------------------------------------------------------


def _hours_text(rows: list[WorkingHours]) -> str:
    return "\n".join(f"{WEEKDAYS[h.weekday]} {h.start:%H:%M}-{h.end:%H:%M}" for h in rows)


HOURS_LINE = re.compile(
    r"^(mon|tue|wed|thu|fri|sat|sun)\w*\s+(\d{1,2}:\d{2})\s*[-–]\s*(\d{1,2}:\d{2})$", re.I
)


def parse_hours(text: str) -> list[tuple[int, dt.time, dt.time]]:
    rows, errors = [], []
    for n, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        m = HOURS_LINE.match(line)
        try:
            if not m:
                raise ValueError
            rows.append(
                (
                    [w.lower() for w in WEEKDAYS].index(m[1][:3].lower()),
                    dt.time.fromisoformat(m[2].zfill(5)),
                    dt.time.fromisoformat(m[3].zfill(5)),
                )
            )
        except ValueError:
            errors.append(f"Line {n}: write it like “Mon 09:00-17:30”.")
    if errors:
        raise ValidationError({"hours": errors})
    return rows


@clinic_view(Perm.RESOURCES_MANAGE)
def resource_list(request: ClinicRequest) -> HttpResponse:
    form = ResourceForm(request.POST or None)
    members = selectors.practitioner_candidates(request.actor)
    _field(form, "membership").choices = [("", "—")] + [
        (m.pk, f"{m.user} ({m.get_role_display()})") for m in members
    ]
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            resource = services.resource_create(
                actor=request.actor,
                kind=d["kind"],
                name=d["name"],
                membership_id=d["membership"],
                rotor_radius_cm=d["rotor_radius_cm"],
                licensed_procedures=d["licensed_procedures"],
            )
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, f"Added {resource.name}.")
            return redirect("resource-detail", resource_id=resource.pk)
    resources = selectors.resources_with_hours(request.actor)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "scheduling/resources.html",
        {"form": form, "resources": resources},
        status=status,
    )


@clinic_view(Perm.RESOURCES_MANAGE)
def resource_detail(request: ClinicRequest, resource_id: int) -> HttpResponse:
    resource = selectors.resource_for(request.actor, resource_id)
    hours = selectors.working_hours_of(resource)
    form = HoursForm(request.POST or None, initial={"hours": _hours_text(hours)})
    if request.method == "POST":
        if "active" in request.POST:
            asked = (
                unconfirmed(
                    request,
                    question=f"Deactivate {resource}?",
                    detail="It is no longer offered for bookings; its past bookings are kept.",
                    action="Yes, deactivate",
                    back=reverse("resource-detail", kwargs={"resource_id": resource.pk}),
                )
                if request.POST["active"] != "1"
                else None
            )
            if asked is not None:
                return asked
            services.resource_update(
                actor=request.actor,
                resource=resource,
                data={"is_active": request.POST["active"] == "1"},
            )
            messages.success(request, "Saved.")
            return redirect("resource-detail", resource_id=resource.pk)
        if form.is_valid():
            try:
                rows = parse_hours(form.cleaned_data["hours"])
                services.working_hours_set(actor=request.actor, resource=resource, hours=rows)
            except ValidationError as exc:
                attach_errors(form, exc)
            else:
                messages.success(request, "Working hours saved.")
                return redirect("resource-detail", resource_id=resource.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "scheduling/resource_detail.html",
        {
            "resource": resource,
            "hours": hours,
            "form": form,
            "radius": resource.rotor_radius_cm or Decimal(0),
        },
        status=status,
    )


# --- iCalendar feeds -----------------------------------------------------------------------


@clinic_view(Perm.PATIENT_VIEW)
def feed_list(request: ClinicRequest) -> HttpResponse:
    practitioners = selectors.feed_practitioners(request.actor)
    tokens = selectors.feed_tokens(practitioners)
    new_url = ""
    if request.method == "POST":
        resource = selectors.resource_for(request.actor, request.POST.get("resource"))
        try:
            raw = services.feed_token_rotate(actor=request.actor, resource=resource)
        except PermissionDenied as exc:
            return _refuse(request, str(exc))
        except Http404:
            raise
        new_url = request.build_absolute_uri(reverse("calendar-feed", args=[raw]))
        messages.success(
            request, f"New feed address for {resource.name}; the old one stops working now."
        )
        tokens.update(selectors.feed_tokens([resource]))
    rows = [(p, tokens.get(p.pk)) for p in practitioners]
    return render(request, "scheduling/feeds.html", {"rows": rows, "new_url": new_url})


def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    """The practitioner's appointments as RFC 5545 iCalendar; the token is the only secret."""
    resource = feeds.resource_for_token(token)
    if resource is None:
        raise Http404("No such feed.")
    response = HttpResponse(feeds.build_feed(resource), content_type="text/calendar; charset=utf-8")
    membership = resource.membership
    audit_record(  # a calendar app fetched patients' appointments for this practitioner
        action=AuditAction.CALENDAR_FEED_READ,
        user=membership.user if membership is not None else None,
        clinic=resource.clinic,
        obj=resource,
        via="feed",
    )
    response["Cache-Control"] = "private, max-age=300"
    response["Content-Disposition"] = 'inline; filename="anagen.ics"'
    return response
