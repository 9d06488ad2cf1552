"""Writes of scheduling data: plans, bookings, moves, status changes, resources, reminders.

Every write that touches a patient records an audit event in the same transaction.

Who may do what (decided here; tested in tests/test_booking.py, test_move_status.py, test_pages.py):
- choosing a protocol (creating a treatment plan): physicians only, it is a prescription;
- booking single appointments, rescheduling, check-in, cancel, no-show: physician, nurse, front
  desk (booking needs no clinical detail);
- completing a session: physician or nurse (they performed it);
- resources, working hours, reminder rules: clinic admin; a practitioner may rotate the secret of
  their own calendar feed, a clinic admin anyone's.

No double booking: see ``models.py``. Every booking path runs inside ``transaction.atomic``; on
SQLite that transaction starts with ``BEGIN IMMEDIATE`` (settings), so booking writers run one at a
time and the overlap re-check inside the transaction is decisive; on PostgreSQL the exclusion
constraint decides and its ``IntegrityError`` becomes a ``BookingConflict`` (a ValidationError).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import (
    DEFAULT_DB_ALIAS,
    IntegrityError,
    OperationalError,
    connections,
    transaction,
)
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.accounts.models import Clinic, Membership, Role
from anagen.accounts.permissions import Perm
from anagen.audit.services import audit_record
from anagen.clinical import PROCEDURES, build_plan, get_protocol
from anagen.clinical import ValidationError as KernelValidationError
from anagen.patients.models import Patient
from anagen.scheduling import availability as av
from anagen.scheduling.models import (
    OPEN_STATUSES,
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    CalendarFeedToken,
    Channel,
    PlanStatus,
    Recall,
    RecallStatus,
    ReminderRule,
    ReminderSent,
    ReminderStatus,
    Resource,
    ResourceBooking,
    ResourceKind,
    TreatmentPlan,
    WorkingHours,
)

log = logging.getLogger(__name__)

PLAN_ROLES = frozenset({Role.PHYSICIAN})
BOOKING_ROLES = frozenset({Role.PHYSICIAN, Role.NURSE, Role.FRONT_DESK})
PERFORMING_ROLES = frozenset({Role.PHYSICIAN, Role.NURSE})
ADMIN_ROLES = frozenset({Role.CLINIC_ADMIN})
DEFAULT_REMINDER_RULES = ((Channel.EMAIL, 48), (Channel.SMS, 48), (Channel.SMS, 2))


_SQLITE_WRITER = threading.Lock()
_LOCK_RETRY_SECONDS = 20.0


def serialised[F: Callable[..., Any]](fn: F) -> F:
    """On SQLite, run a booking write alone: one writer per process, retried while locked.

    SQLite has no exclusion constraint, so the in-transaction overlap re-check is what prevents
    double booking, and it is only decisive if no other booking writes in between. The settings
    open every transaction with ``BEGIN IMMEDIATE`` (writers across processes queue on the
    database lock for up to ``timeout`` seconds); inside one process a lock queues the threads,
    and a "database is locked" error (e.g. a shared-cache test database, which does not wait) is
    retried instead of surfacing as a 500. On PostgreSQL this is a plain call: the exclusion
    constraint decides. Inside an outer transaction it is a plain call too (cannot retry there).
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        conn = connections[DEFAULT_DB_ALIAS]
        if conn.vendor != "sqlite" or conn.in_atomic_block:
            return fn(*args, **kwargs)
        deadline = time.monotonic() + _LOCK_RETRY_SECONDS
        with _SQLITE_WRITER:
            while True:
                try:
                    return fn(*args, **kwargs)
                except OperationalError as exc:
                    if "locked" not in str(exc) or time.monotonic() > deadline:
                        raise
                    time.sleep(0.02)

    return wrapper  # type: ignore[return-value]


class BookingConflict(ValidationError):
    """A resource is already taken (or not working) at the requested time."""


class OutsideWindow(ValidationError):
    """A move would take a session out of its protocol window (confirm to go ahead)."""


class GateRefused(ValidationError):
    """Care's session gate (screening, consent) does not let the session go ahead."""


def _require_role(actor: Actor, roles: frozenset[str], what: str) -> None:
    actor.require(Perm.PATIENT_VIEW)  # an active membership
    if actor.role not in roles:
        names = ", ".join(sorted(Role(r).label.lower() for r in roles))
        raise PermissionDenied(f"Only a {names} can {what}.")


def _tz(clinic: Clinic) -> ZoneInfo:
    return ZoneInfo(clinic.timezone)


def _fmt(at: dt.datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%a %d %b %Y %H:%M")


def _today(clinic: Clinic) -> dt.date:
    return timezone.now().astimezone(_tz(clinic)).date()


def _event(actor: Actor | None, event: str, **extra: Any) -> dict[str, Any]:
    return {
        "at": timezone.now().isoformat(timespec="seconds"),
        "by": actor.user.get_username() if actor else "system",
        "event": event,
        **{k: (str(v) if isinstance(v, dt.date | dt.datetime) else v) for k, v in extra.items()},
    }


def _check_patient(actor: Actor, patient: Patient) -> None:
    # Callers reach the patient through patient_for; this guards direct service callers too.
    if patient.clinic_id != actor.clinic.pk or patient.deleted_at is not None:
        from django.http import Http404

        raise Http404("No such patient.")


def _protocol(protocol_id: str) -> dict[str, Any]:
    try:
        return get_protocol(protocol_id)
    except KernelValidationError as exc:
        raise ValidationError({"protocol_id": exc.message}) from None


def _lock_resources(ids: Iterable[int]) -> None:
    """Row-lock the resources being booked, in id order (PostgreSQL; a no-op on SQLite).

    Contenders for the same resource then queue here, so the overlap re-check that follows is
    decisive and concurrent inserts never deadlock on the exclusion constraint (two in-flight
    inserts of overlapping rows wait on each other). The constraint stays the guarantee.
    """
    list(
        Resource.objects.select_for_update()
        .filter(pk__in=sorted(set(ids)))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _clinic_resources(clinic: Clinic) -> list[Resource]:
    return list(
        Resource.objects.filter(clinic=clinic, is_active=True).select_related("membership__user")
    )


def _problem_messages(
    problems: list[tuple[str, Resource, dt.datetime, dt.datetime]], tz: ZoneInfo, prefix: str = ""
) -> list[str]:
    seen: set[tuple[str, int]] = set()
    out = []
    for what, resource, s, e in problems:
        if (what, resource.pk) in seen:
            continue
        seen.add((what, resource.pk))
        when = f"{_fmt(s, tz)}–{e.astimezone(tz):%H:%M}"
        if what == "busy":
            out.append(f"{prefix}{resource.name} is already booked at {when}.")
        else:
            out.append(f"{prefix}{resource.name} is not working at {when}.")
    return out


# --- Preview -------------------------------------------------------------------------------


@dataclass
class ProposedSlot:
    starts_at: dt.datetime
    ends_at: dt.datetime
    practitioner: Resource
    room: Resource
    centrifuge: Resource | None

    @property
    def key(self) -> str:
        """A compact form value: ``<iso start>|<practitioner>|<room>|<centrifuge or ->``."""
        c = str(self.centrifuge.pk) if self.centrifuge else "-"
        return f"{self.starts_at.isoformat()}|{self.practitioner.pk}|{self.room.pk}|{c}"


@dataclass
class SessionPreview:
    n: int
    kind: str
    target_on: dt.date | None
    window_earliest: dt.date
    window_latest: dt.date
    duration_minutes: int
    slots: list[ProposedSlot] = field(default_factory=list)


@dataclass(frozen=True)
class SlotChoice:
    n: int
    starts_at: dt.datetime
    practitioner_id: int
    room_id: int
    centrifuge_id: int | None = None

    @classmethod
    def from_key(cls, n: int, key: str) -> SlotChoice:
        try:
            start, p, r, c = key.split("|")
            return cls(
                n=n,
                starts_at=dt.datetime.fromisoformat(start),
                practitioner_id=int(p),
                room_id=int(r),
                centrifuge_id=None if c == "-" else int(c),
            )
        except ValueError:
            raise ValidationError({"choices": f"Session {n}: not a valid slot."}) from None


def _series_sessions(protocol_id: str, start_on: dt.date) -> list[Any]:
    plan = build_plan(protocol_id, start_on)
    return [s for s in plan.sessions if s.kind != "maintenance"]


def _session_slots(
    s: Any,
    holds: list[av.PhaseHold],
    combos: list[av.Combo],
    cal: av.Calendar,
    now: dt.datetime,
    limit: int,
) -> list[ProposedSlot]:
    """First free slot of each day of the window, days closest to the target first."""
    slots: list[ProposedSlot] = []
    today = now.astimezone(cal.tz).date()
    minutes = av.duration_minutes(holds)
    for day in av.days_by_closeness(max(s.earliest_on, today), s.latest_on, s.target_on):
        found = av.first_free(cal, holds, combos, day, now)
        if found is None:
            continue
        start, combo = found
        slots.append(
            ProposedSlot(
                starts_at=start,
                ends_at=start + dt.timedelta(minutes=minutes),
                practitioner=combo.practitioner,
                room=combo.room,
                centrifuge=combo.centrifuge,
            )
        )
        if len(slots) >= limit:
            break
    return slots


def _preview(
    *,
    protocol_id: str,
    start_on: dt.date,
    resources: list[Resource],
    cal: av.Calendar,
    slots_per_session: int,
    now: dt.datetime,
) -> list[SessionPreview]:
    procedure = _protocol(protocol_id)["procedure"]
    holds = av.layout(procedure, protocol_id)
    combos = av.combos_for(resources, procedure)
    return [
        SessionPreview(
            n=s.n,
            kind=s.kind,
            target_on=s.target_on,
            window_earliest=s.earliest_on,
            window_latest=s.latest_on,
            duration_minutes=av.duration_minutes(holds),
            slots=_session_slots(s, holds, combos, cal, now, slots_per_session),
        )
        for s in _series_sessions(protocol_id, start_on)
    ]


def _series_range(
    protocol_id: str, start_on: dt.date, tz: ZoneInfo
) -> tuple[dt.datetime, dt.datetime]:
    sessions = _series_sessions(protocol_id, start_on)
    first = av.local(min(s.earliest_on for s in sessions), dt.time(0), tz)
    last = av.local(max(s.latest_on for s in sessions) + dt.timedelta(days=1), dt.time(0), tz)
    return first, last


def _check_start(clinic: Clinic, start_on: dt.date) -> None:
    if start_on < _today(clinic):
        raise ValidationError({"start_on": "A series cannot start in the past."})


def plan_preview(
    *,
    actor: Actor,
    patient: Patient,
    protocol_id: str,
    start_on: dt.date,
    slots_per_session: int = av.SLOTS_PER_SESSION,
) -> list[SessionPreview]:
    """Every session of the series with its window and the first free slots inside it."""
    _require_role(actor, PLAN_ROLES, "choose a protocol")
    _check_patient(actor, patient)
    _protocol(protocol_id)
    _check_start(actor.clinic, start_on)
    tz = _tz(actor.clinic)
    resources = _clinic_resources(actor.clinic)
    lo, hi = _series_range(protocol_id, start_on, tz)
    cal = av.Calendar.load(resources, lo, hi, tz)
    return _preview(
        protocol_id=protocol_id,
        start_on=start_on,
        resources=resources,
        cal=cal,
        slots_per_session=slots_per_session,
        now=timezone.now(),
    )


# --- Booking -------------------------------------------------------------------------------


def _insert_bookings(
    appointment: Appointment, items: list[tuple[Resource, str, dt.datetime, dt.datetime]]
) -> None:
    tz = _tz(appointment.clinic)
    try:
        with transaction.atomic():  # a savepoint: the constraint's error must not poison the rest
            ResourceBooking.objects.bulk_create(
                ResourceBooking(
                    appointment=appointment, resource=r, phase=phase, starts_at=s, ends_at=e
                )
                for r, phase, s, e in items
            )
    except (IntegrityError, OperationalError) as exc:
        # Only PostgreSQL's exclusion constraint gets here (or its deadlock detector, when two
        # in-flight inserts overlap): a concurrent booking won the race.
        if isinstance(exc, OperationalError) and "deadlock" not in str(exc):
            raise
        taken = [
            ("busy", r, s, e)
            for r, _p, s, e in items
            if ResourceBooking.objects.filter(
                resource=r, active=True, starts_at__lt=e, ends_at__gt=s
            ).exists()
        ]
        messages = _problem_messages(taken, tz) or ["That time was just taken; choose another."]
        raise BookingConflict({"starts_at": messages}, code="conflict") from None


def _resolve_combo(
    clinic: Clinic,
    procedure: str,
    practitioner_id: int | None,
    room_id: int | None,
    centrifuge_id: int | None,
    field_prefix: str = "",
) -> av.Combo:
    ids = [i for i in (practitioner_id, room_id, centrifuge_id) if i is not None]
    found = {r.pk: r for r in Resource.objects.filter(clinic=clinic, is_active=True, pk__in=ids)}
    errors: dict[str, str] = {}

    def pick(rid: int | None, kind: str, name: str) -> Resource | None:
        r = found.get(rid) if rid is not None else None
        if r is None or r.kind != kind:
            errors[name] = f"{field_prefix}Choose an active {kind} of this clinic."
            return None
        return r

    practitioner = pick(practitioner_id, ResourceKind.PRACTITIONER, "practitioner_id")
    room = pick(room_id, ResourceKind.ROOM, "room_id")
    centrifuge = None
    if av.needs_centrifuge(procedure):
        centrifuge = pick(centrifuge_id, ResourceKind.CENTRIFUGE, "centrifuge_id")
    elif centrifuge_id is not None:
        errors["centrifuge_id"] = f"{field_prefix}This procedure needs no centrifuge."
    if practitioner and procedure and procedure not in (practitioner.licensed_procedures or []):
        label = PROCEDURES[procedure]["label"]
        errors["practitioner_id"] = (
            f"{field_prefix}{practitioner.name} is not licensed for {label}."
        )
    if errors:
        raise ValidationError(errors)
    assert practitioner is not None and room is not None
    return av.Combo(practitioner, room, centrifuge)


def _create_appointment(
    *,
    actor: Actor,
    patient: Patient,
    plan: TreatmentPlan | None,
    sequence: int,
    kind: str,
    procedure: str,
    protocol_id: str | None,
    start: dt.datetime,
    combo: av.Combo,
    cal: av.Calendar,
    window: tuple[dt.date | None, dt.date | None, dt.date | None] = (None, None, None),
    notes: str = "",
    error_prefix: str = "",
) -> Appointment:
    holds = av.layout(procedure, protocol_id)
    items = av.holds_for(holds, combo, start)
    problems = cal.problems(items)
    if problems:
        raise BookingConflict(
            {"starts_at": _problem_messages(problems, cal.tz, error_prefix)}, code="conflict"
        )
    target, earliest, latest = window
    appt = Appointment.objects.create(
        clinic=actor.clinic,
        patient=patient,
        plan=plan,
        sequence=sequence,
        kind=kind,
        procedure=procedure,
        starts_at=start,
        ends_at=start + dt.timedelta(minutes=av.duration_minutes(holds)),
        target_on=target,
        window_earliest=earliest,
        window_latest=latest,
        practitioner=combo.practitioner,
        room=combo.room,
        centrifuge=combo.centrifuge,
        notes=notes,
        history=[_event(actor, "booked", starts_at=start)],
    )
    _insert_bookings(appt, items)
    for r, _phase, s, e in items:
        cal.add(r.pk, s, e)
    return appt


@serialised
def plan_book_series(
    *,
    actor: Actor,
    patient: Patient,
    protocol_id: str,
    start_on: dt.date,
    choices: list[SlotChoice] | None = None,
) -> TreatmentPlan:
    """Create the plan and book every session of the series, all or none.

    Without ``choices`` each session takes its first proposed slot. A choice must lie inside its
    session's window; an unavailable resource is a ``BookingConflict`` naming it and the time.
    """
    _require_role(actor, PLAN_ROLES, "choose a protocol")
    _check_patient(actor, patient)
    doc = _protocol(protocol_id)
    _check_start(actor.clinic, start_on)
    tz = _tz(actor.clinic)
    now = timezone.now()
    sessions = _series_sessions(protocol_id, start_on)
    by_n = {c.n: c for c in choices or []}
    if choices is not None:
        unknown = sorted(set(by_n) - {s.n for s in sessions})
        missing = [s.n for s in sessions if s.n not in by_n]
        if unknown or missing:
            raise ValidationError(
                {"choices": f"Choose one slot for each session 1–{len(sessions)}."}
            )
    with transaction.atomic():
        resources = _clinic_resources(actor.clinic)
        _lock_resources(r.pk for r in resources)
        lo, hi = _series_range(protocol_id, start_on, tz)
        cal = av.Calendar.load(resources, lo, hi, tz)
        plan = TreatmentPlan.objects.create(
            clinic=actor.clinic,
            patient=patient,
            protocol_id=protocol_id,
            protocol_name=doc["name"],
            procedure=doc["procedure"],
            start_on=start_on,
            created_by=actor.user,
        )
        holds = av.layout(doc["procedure"], protocol_id)
        combos = av.combos_for(resources, doc["procedure"])
        for s in sessions:
            prefix = f"Session {s.n}: "
            choice = by_n.get(s.n)
            if choice is None:
                slots = _session_slots(s, holds, combos, cal, now, 1)
                if not slots:
                    raise ValidationError(
                        {
                            "choices": f"{prefix}no free slot between {s.earliest_on} and "
                            f"{s.latest_on}; add working hours or choose another start date."
                        }
                    )
                slot = slots[0]
                start = slot.starts_at
                combo = av.Combo(slot.practitioner, slot.room, slot.centrifuge)
            else:
                start = choice.starts_at
                if timezone.is_naive(start):
                    start = start.replace(tzinfo=tz)
                start = start.astimezone(dt.UTC)
                day = start.astimezone(tz).date()
                if start < now:
                    raise ValidationError({"choices": f"{prefix}that time is in the past."})
                if not s.earliest_on <= day <= s.latest_on:
                    raise ValidationError(
                        {
                            "choices": f"{prefix}{day} is outside its window "
                            f"{s.earliest_on} – {s.latest_on}."
                        }
                    )
                combo = _resolve_combo(
                    actor.clinic,
                    doc["procedure"],
                    choice.practitioner_id,
                    choice.room_id,
                    choice.centrifuge_id,
                    prefix,
                )
            _create_appointment(
                actor=actor,
                patient=patient,
                plan=plan,
                sequence=s.n,
                kind=s.kind if s.kind in AppointmentKind.values else AppointmentKind.INDUCTION,
                procedure=doc["procedure"],
                protocol_id=protocol_id,
                start=start,
                combo=combo,
                cal=cal,
                window=(s.target_on, s.earliest_on, s.latest_on),
                error_prefix=prefix,
            )
        audit_record(
            action="plan.create",
            actor=actor,
            patient=patient,
            obj=plan,
            changes={"protocol_id": protocol_id, "start_on": start_on, "sessions": len(sessions)},
        )
    return plan


@serialised
def appointment_book(
    *,
    actor: Actor,
    patient: Patient,
    kind: str,
    procedure: str,
    starts_at: dt.datetime,
    practitioner_id: int,
    room_id: int,
    centrifuge_id: int | None = None,
    notes: str = "",
) -> Appointment:
    """Book one free-standing appointment (consultation or maintenance session)."""
    _require_role(actor, BOOKING_ROLES, "book appointments")
    _check_patient(actor, patient)
    errors = {}
    if kind not in (AppointmentKind.CONSULTATION, AppointmentKind.MAINTENANCE):
        errors["kind"] = (
            "Book a consultation or a maintenance session here; series come from a plan."
        )
    if kind == AppointmentKind.CONSULTATION and procedure:
        errors["procedure"] = "A consultation has no procedure."
    if kind == AppointmentKind.MAINTENANCE and procedure not in PROCEDURES:
        errors["procedure"] = f"Choose one of: {', '.join(PROCEDURES)}."
    if timezone.is_naive(starts_at):
        starts_at = starts_at.replace(tzinfo=_tz(actor.clinic))
    if starts_at < timezone.now():
        errors["starts_at"] = "That time is in the past."
    if errors:
        raise ValidationError(errors)
    tz = _tz(actor.clinic)
    with transaction.atomic():
        combo = _resolve_combo(actor.clinic, procedure, practitioner_id, room_id, centrifuge_id)
        resources = [r for r in (combo.practitioner, combo.room, combo.centrifuge) if r]
        _lock_resources(r.pk for r in resources)
        cal = av.Calendar.load(
            resources, starts_at - dt.timedelta(hours=4), starts_at + dt.timedelta(hours=4), tz
        )
        appt = _create_appointment(
            actor=actor,
            patient=patient,
            plan=None,
            sequence=1,
            kind=kind,
            procedure=procedure,
            protocol_id=None,
            start=starts_at.astimezone(dt.UTC),
            combo=combo,
            cal=cal,
            notes=notes,
        )
        if kind == AppointmentKind.MAINTENANCE:
            Recall.objects.filter(patient=patient, status=RecallStatus.OPEN).update(
                status=RecallStatus.BOOKED
            )
        audit_record(
            action="appointment.book",
            actor=actor,
            patient=patient,
            obj=appt,
            changes={"kind": kind, "starts_at": appt.starts_at, "procedure": procedure},
        )
    return appt


# --- Rescheduling --------------------------------------------------------------------------


@dataclass(frozen=True)
class MoveWarning:
    appointment: Appointment
    new_day: dt.date

    @property
    def message(self) -> str:
        a = self.appointment
        return (
            f"Session {a.sequence} would move to {self.new_day:%a %d %b %Y}, outside its protocol "
            f"window {a.window_earliest:%d %b} – {a.window_latest:%d %b %Y}."
        )


def appointment_move_targets(appointment: Appointment, and_following: bool) -> list[Appointment]:
    targets = [appointment]
    if and_following and appointment.plan_id:
        targets += list(
            Appointment.objects.filter(
                plan_id=appointment.plan_id,
                sequence__gt=appointment.sequence,
                status=AppointmentStatus.BOOKED,
            )
            .select_related("clinic")
            .order_by("sequence")
        )
    return targets


def appointment_move_warnings(
    *, appointment: Appointment, new_start: dt.datetime, and_following: bool
) -> list[MoveWarning]:
    tz = _tz(appointment.clinic)
    delta = new_start - appointment.starts_at
    return [
        MoveWarning(a, (a.starts_at + delta).astimezone(tz).date())
        for a in appointment_move_targets(appointment, and_following)
        if a.outside_window((a.starts_at + delta).astimezone(tz).date())
    ]


@serialised
def appointment_move(
    *,
    actor: Actor,
    appointment: Appointment,
    new_start: dt.datetime,
    and_following: bool = False,
    confirm_outside_window: bool = False,
) -> list[Appointment]:
    """Move a session (and optionally the later sessions of its plan) by the same delta.

    A session that would leave its protocol window is refused with a warning (code
    ``outside_window``) unless ``confirm_outside_window``; then it moves and the audit says so.
    """
    _require_role(actor, BOOKING_ROLES, "reschedule appointments")
    _check_patient(actor, appointment.patient)
    tz = _tz(appointment.clinic)
    if timezone.is_naive(new_start):
        new_start = new_start.replace(tzinfo=tz)
    new_start = new_start.astimezone(dt.UTC)
    if appointment.status != AppointmentStatus.BOOKED:
        raise ValidationError(
            {
                "new_start": f"Only a booked appointment can move (this one is "
                f"{appointment.get_status_display().lower()})."
            }
        )
    if new_start < timezone.now():
        raise ValidationError({"new_start": "An appointment cannot move into the past."})
    delta = new_start - appointment.starts_at
    if not delta:
        raise ValidationError({"new_start": "That is the time it already has."})
    with transaction.atomic():
        # Lock the series rows (PostgreSQL) so two people moving it do not interleave.
        targets = list(
            Appointment.objects.select_for_update(of=("self",))
            .filter(pk__in=[a.pk for a in appointment_move_targets(appointment, and_following)])
            .select_related("clinic", "practitioner", "room", "centrifuge", "patient")
            .order_by("sequence")
        )
        if any(a.status != AppointmentStatus.BOOKED for a in targets):
            raise ValidationError({"new_start": "The appointment changed meanwhile; reload."})
        warnings = [
            MoveWarning(a, (a.starts_at + delta).astimezone(tz).date())
            for a in targets
            if a.outside_window((a.starts_at + delta).astimezone(tz).date())
        ]
        if warnings and not confirm_outside_window:
            raise OutsideWindow({"new_start": [w.message for w in warnings]})
        bookings = list(
            ResourceBooking.objects.filter(appointment__in=targets, active=True).select_related(
                "resource"
            )
        )
        _lock_resources(b.resource_id for b in bookings)
        moved = [(b.resource, b.phase, b.starts_at + delta, b.ends_at + delta, b) for b in bookings]
        lo = min(m[2] for m in moved)
        hi = max(m[3] for m in moved)
        cal = av.Calendar.load(
            {b.resource for b in bookings}, lo, hi, tz, exclude_appointments=[a.pk for a in targets]
        )
        problems = cal.problems([(r, p, s, e) for r, p, s, e, _b in moved])
        if problems:
            raise BookingConflict({"new_start": _problem_messages(problems, tz)}, code="conflict")
        # Delete and re-insert: shifting rows one by one could collide with the series' own rows.
        ResourceBooking.objects.filter(pk__in=[b.pk for b in bookings]).delete()
        by_appt: dict[int, list[tuple[Resource, str, dt.datetime, dt.datetime]]] = {}
        for r, p, s, e, b in moved:
            by_appt.setdefault(b.appointment_id, []).append((r, p, s, e))
        outside = {w.appointment.pk for w in warnings}
        for a in targets:
            old = a.starts_at
            a.starts_at += delta
            a.ends_at += delta
            a.history = [
                *a.history,
                _event(
                    actor, "moved", starts_at=old, to=a.starts_at, outside_window=a.pk in outside
                ),
            ]
            a.save(update_fields=["starts_at", "ends_at", "history", "updated_at"])
            _insert_bookings(a, by_appt.get(a.pk, []))
            audit_record(
                action="appointment.move",
                actor=actor,
                patient=a.patient,
                obj=a,
                changes={
                    "starts_at": [old, a.starts_at],
                    "outside_window_confirmed": a.pk in outside,
                },
            )
    return targets


# --- Status actions ------------------------------------------------------------------------


def _session_gate(*, actor: Actor, patient: Patient, procedure: str, on: dt.date) -> Any:
    from anagen.care.services import session_gate

    return session_gate(actor=actor, patient=patient, procedure=procedure, on=on)


def _set_status(
    actor: Actor,
    appointment: Appointment,
    status: str,
    allowed_from: Iterable[str],
    **extra: Any,
) -> Appointment:
    with transaction.atomic():
        appt = (
            Appointment.objects.select_for_update()
            .select_related("clinic", "patient")
            .get(pk=appointment.pk)
        )
        if appt.status not in allowed_from:
            raise ValidationError(
                {
                    "status": f"A {appt.get_status_display().lower()} appointment cannot become "
                    f"{AppointmentStatus(status).label.lower()}."
                }
            )
        old = appt.status
        appt.status = status
        appt.history = [*appt.history, _event(actor, status, **extra)]
        appt.save(update_fields=["status", "history", "updated_at"])
        if status in (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW):
            appt.bookings.update(active=False)  # the slot frees up
        audit_record(
            action=f"appointment.{status}",
            actor=actor,
            patient=appt.patient,
            obj=appt,
            changes={"status": [old, status], **extra},
        )
        if status == AppointmentStatus.CHECKED_IN and appt.plan_id:
            TreatmentPlan.objects.filter(pk=appt.plan_id, status=PlanStatus.PLANNED).update(
                status=PlanStatus.ACTIVE
            )
        if status == AppointmentStatus.COMPLETED and appt.plan_id:
            _maybe_complete_plan(actor, appt)
    appointment.refresh_from_db()
    return appointment


def appointment_check_in(
    *, actor: Actor, appointment: Appointment
) -> Appointment:
    """Check the patient in, if care's gate (screening + consent) lets the session go ahead."""
    _require_role(actor, BOOKING_ROLES, "check patients in")
    _check_patient(actor, appointment.patient)
    tz = _tz(appointment.clinic)
    day = appointment.starts_at.astimezone(tz).date()
    if day != _today(appointment.clinic):
        raise ValidationError(
            {"status": "Check-in is only possible on the day of the appointment."}
        )
    if appointment.procedure:
        gate = _session_gate(
            actor=actor, patient=appointment.patient, procedure=appointment.procedure, on=day
        )
        if not gate.ok:
            raise GateRefused({"status": ["The session cannot go ahead:", *gate.reasons]})
    return _set_status(
        actor, appointment, AppointmentStatus.CHECKED_IN, [AppointmentStatus.BOOKED]
    )


def appointment_complete(
    *, actor: Actor, appointment: Appointment
) -> Appointment:
    _require_role(actor, PERFORMING_ROLES, "complete a session")
    _check_patient(actor, appointment.patient)
    return _set_status(
        actor, appointment, AppointmentStatus.COMPLETED, [AppointmentStatus.CHECKED_IN]
    )


def appointment_cancel(
    *, actor: Actor, appointment: Appointment, reason: str
) -> Appointment:
    _require_role(actor, BOOKING_ROLES, "cancel appointments")
    _check_patient(actor, appointment.patient)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the appointment is cancelled."})
    return _set_status(
        actor, appointment, AppointmentStatus.CANCELLED, OPEN_STATUSES, reason=reason[:500]
    )


def appointment_no_show(*, actor: Actor, appointment: Appointment) -> Appointment:
    _require_role(actor, BOOKING_ROLES, "record a no-show")
    _check_patient(actor, appointment.patient)
    if appointment.starts_at > timezone.now():
        raise ValidationError({"status": "A no-show can only be recorded once the time has come."})
    return _set_status(
        actor, appointment, AppointmentStatus.NO_SHOW, [AppointmentStatus.BOOKED]
    )


def appointment_update_notes(
    *, actor: Actor, appointment: Appointment, notes: str
) -> Appointment:
    _require_role(actor, BOOKING_ROLES, "edit appointments")
    _check_patient(actor, appointment.patient)
    with transaction.atomic():
        old = appointment.notes
        appointment.notes = notes[:2000]
        appointment.save(update_fields=["notes", "updated_at"])
        audit_record(
            action="appointment.update",
            actor=actor,
            patient=appointment.patient,
            obj=appointment,
            changes={"notes": [old, appointment.notes]},
        )
    return appointment


def recall_window(plan: TreatmentPlan, last_done_on: dt.date) -> tuple[dt.date, dt.date] | None:
    """The kernel's maintenance window, shifted by how late (or early) the last session ran."""
    planned = build_plan(plan.protocol_id, plan.start_on).sessions
    maintenance = [s for s in planned if s.kind == "maintenance"]
    if not maintenance:
        return None
    last_target = [s for s in planned if s.kind != "maintenance"][-1].target_on
    shift = last_done_on - last_target if last_target else dt.timedelta(0)
    return maintenance[0].earliest_on + shift, maintenance[0].latest_on + shift


def _maybe_complete_plan(actor: Actor, appt: Appointment) -> None:
    assert appt.plan_id is not None
    plan = TreatmentPlan.objects.select_for_update().get(pk=appt.plan_id)
    if plan.status in (PlanStatus.COMPLETED, PlanStatus.CANCELLED):
        return
    if plan.appointments.filter(status__in=OPEN_STATUSES).exists():
        return
    plan.status = PlanStatus.COMPLETED
    plan.save(update_fields=["status"])
    audit_record(action="plan.complete", actor=actor, patient=plan.patient, obj=plan)
    window = recall_window(plan, appt.starts_at.astimezone(_tz(appt.clinic)).date())
    if window and not Recall.objects.filter(plan=plan).exists():
        recall = Recall.objects.create(
            clinic=plan.clinic,
            patient=plan.patient,
            plan=plan,
            due_from=window[0],
            due_until=window[1],
        )
        audit_record(
            action="recall.create",
            actor=actor,
            patient=plan.patient,
            obj=recall,
            changes={"due_from": window[0], "due_until": window[1]},
        )


def plan_cancel(
    *, actor: Actor, plan: TreatmentPlan, reason: str
) -> TreatmentPlan:
    """Cancel a plan and every open appointment of it (freeing their slots)."""
    _require_role(actor, BOOKING_ROLES, "cancel a plan")
    _check_patient(actor, plan.patient)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the plan is cancelled."})
    if plan.status in (PlanStatus.COMPLETED, PlanStatus.CANCELLED):
        raise ValidationError({"status": f"The plan is already {plan.status}."})
    with transaction.atomic():
        open_appts = list(plan.appointments.filter(status__in=OPEN_STATUSES))
        for a in open_appts:
            a.status = AppointmentStatus.CANCELLED
            a.history = [*a.history, _event(actor, "cancelled", reason=f"plan cancelled: {reason}")]
            a.save(update_fields=["status", "history", "updated_at"])
        ResourceBooking.objects.filter(appointment__in=open_appts).update(active=False)
        plan.status = PlanStatus.CANCELLED
        plan.save(update_fields=["status"])
        audit_record(
            action="plan.cancel",
            actor=actor,
            patient=plan.patient,
            obj=plan,
            changes={"reason": reason, "appointments_cancelled": len(open_appts)},
        )
    return plan


def recall_dismiss(*, actor: Actor, recall: Recall) -> Recall:
    _require_role(actor, BOOKING_ROLES, "dismiss a recall")
    _check_patient(actor, recall.patient)
    with transaction.atomic():
        recall.status = RecallStatus.DISMISSED
        recall.save(update_fields=["status"])
        audit_record(
            action="recall.dismiss", actor=actor, patient=recall.patient, obj=recall
        )
    return recall


# --- Resources -----------------------------------------------------------------------------


def resource_create(
    *,
    actor: Actor,
    kind: str,
    name: str = "",
    membership_id: int | None = None,
    rotor_radius_cm: Any = None,
    licensed_procedures: list[str] | None = None,
) -> Resource:
    _require_role(actor, ADMIN_ROLES, "manage resources")
    errors: dict[str, str] = {}
    membership = None
    licensed = list(licensed_procedures or [])
    if kind == ResourceKind.PRACTITIONER:
        membership = (
            Membership.objects.filter(pk=membership_id or 0, clinic=actor.clinic, is_active=True)
            .select_related("user")
            .first()
        )
        if membership is None or membership.role not in (Role.PHYSICIAN, Role.NURSE):
            errors["membership_id"] = "Choose an active physician or nurse of this clinic."
        elif Resource.objects.filter(membership=membership).exists():
            errors["membership_id"] = f"{membership.user} is already a practitioner resource."
        else:
            name = name or str(membership.user)
        unknown = [p for p in licensed if p not in PROCEDURES]
        if unknown:
            errors["licensed_procedures"] = f"Unknown procedures: {', '.join(unknown)}."
        rotor_radius_cm = None
    elif kind == ResourceKind.CENTRIFUGE:
        if rotor_radius_cm is None or rotor_radius_cm <= 0:
            errors["rotor_radius_cm"] = "Give the rotor radius in cm (greater than 0)."
        licensed = []
    elif kind == ResourceKind.ROOM:
        rotor_radius_cm = None
        licensed = []
    else:
        errors["kind"] = "Choose practitioner, room or centrifuge."
    if not name.strip() and "membership_id" not in errors:
        errors["name"] = "Give it a name."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        resource = Resource.objects.create(
            clinic=actor.clinic,
            kind=kind,
            name=name.strip(),
            membership=membership,
            rotor_radius_cm=rotor_radius_cm,
            licensed_procedures=licensed,
        )
        audit_record(
            action="resource.create",
            actor=actor,
            obj=resource,
            changes={"kind": kind, "name": resource.name},
        )
    return resource


def resource_update(*, actor: Actor, resource: Resource, data: dict[str, Any]) -> Resource:
    _require_role(actor, ADMIN_ROLES, "manage resources")
    if resource.clinic_id != actor.clinic.pk:
        from django.http import Http404

        raise Http404("No such resource.")
    errors = {}
    if "licensed_procedures" in data:
        unknown = [p for p in data["licensed_procedures"] if p not in PROCEDURES]
        if unknown:
            errors["licensed_procedures"] = f"Unknown procedures: {', '.join(unknown)}."
    radius = data.get("rotor_radius_cm", 1)
    if resource.kind == ResourceKind.CENTRIFUGE and (radius is None or radius <= 0):
        errors["rotor_radius_cm"] = "Give the rotor radius in cm (greater than 0)."
    if errors:
        raise ValidationError(errors)
    allowed = {"name", "is_active", "licensed_procedures", "rotor_radius_cm"}
    changes = {}
    with transaction.atomic():
        for k, v in data.items():
            if k in allowed and getattr(resource, k) != v:
                changes[k] = [getattr(resource, k), v]
                setattr(resource, k, v)
        resource.save()
        audit_record(action="resource.update", actor=actor, obj=resource, changes=changes)
    return resource


def working_hours_set(
    *, actor: Actor, resource: Resource, hours: list[tuple[int, dt.time, dt.time]]
) -> None:
    """Replace a resource's working hours (clinic-local times)."""
    _require_role(actor, ADMIN_ROLES, "manage resources")
    if resource.clinic_id != actor.clinic.pk:
        from django.http import Http404

        raise Http404("No such resource.")
    for weekday, start, end in hours:
        if not 0 <= weekday <= 6:
            raise ValidationError({"hours": "Weekday must be 0 (Monday) to 6 (Sunday)."})
        if start >= end:
            raise ValidationError(
                {"hours": f"{start:%H:%M}–{end:%H:%M}: the start must be before the end."}
            )
    with transaction.atomic():
        WorkingHours.objects.filter(resource=resource).delete()
        WorkingHours.objects.bulk_create(
            WorkingHours(resource=resource, weekday=w, start=s, end=e) for w, s, e in hours
        )
        audit_record(
            action="resource.hours",
            actor=actor,
            obj=resource,
            changes={"hours": [[w, s.isoformat(), e.isoformat()] for w, s, e in hours]},
        )


def reminder_rules_ensure_defaults(*, clinic: Clinic) -> None:
    for channel, hours in DEFAULT_REMINDER_RULES:
        ReminderRule.objects.get_or_create(clinic=clinic, channel=channel, lead_hours=hours)


# --- Calendar feed -------------------------------------------------------------------------


def feed_token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def feed_token_rotate(*, actor: Actor, resource: Resource) -> str:
    """Issue a new secret for a practitioner's feed; the old URL stops working at once.

    Returns the raw token, shown once: only its hash is stored.
    """
    actor.require(Perm.PATIENT_VIEW)
    if resource.clinic_id != actor.clinic.pk or resource.kind != ResourceKind.PRACTITIONER:
        from django.http import Http404

        raise Http404("No such practitioner.")
    if actor.role not in ADMIN_ROLES and resource.membership_id != actor.membership.pk:
        raise PermissionDenied("Only the practitioner or a clinic admin can rotate this feed.")
    raw = secrets.token_urlsafe(32)
    with transaction.atomic():
        token, created = CalendarFeedToken.objects.get_or_create(
            resource=resource, defaults={"token_hash": feed_token_hash(raw)}
        )
        if not created:
            token.token_hash = feed_token_hash(raw)
            token.rotated_at = timezone.now()
            token.save(update_fields=["token_hash", "rotated_at"])
        audit_record(action="feed_token.rotate", actor=actor, obj=resource)
    return raw


# --- Reminders -----------------------------------------------------------------------------


def _reminder_text(appt: Appointment) -> str:
    when = appt.starts_at.astimezone(_tz(appt.clinic)).strftime("%a %d %b %Y at %H:%M")
    # No procedure or clinical detail: a reminder may be read by someone else.
    return (
        f"Reminder: you have an appointment at {appt.clinic.name} on {when}. "
        "Please call us to change it."
    )


def reminders_send_due(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Send each due reminder once (email and SMS rules per clinic), honouring consent.

    Claims the (appointment, rule) row before sending, so two workers never send it twice.
    """
    now = now or timezone.now()
    counts = {s.value: 0 for s in ReminderStatus}
    rules = ReminderRule.objects.filter(is_active=True).select_related("clinic")
    for rule in rules:
        due = (
            Appointment.objects.filter(
                clinic=rule.clinic,
                status=AppointmentStatus.BOOKED,
                starts_at__gt=now,
                starts_at__lte=now + dt.timedelta(hours=rule.lead_hours),
            )
            .exclude(reminders__rule=rule)
            .select_related("patient", "clinic")
        )
        for appt in due:
            patient = appt.patient
            if rule.channel == Channel.SMS:
                consent, address = patient.sms_reminders, patient.phone
            else:
                consent, address = patient.email_reminders, patient.email
            status = (
                ReminderStatus.SENT if consent and address else ReminderStatus.SKIPPED_NO_CONSENT
            )
            try:
                with transaction.atomic():
                    sent = ReminderSent.objects.create(
                        appointment=appt, rule=rule, channel=rule.channel, status=status
                    )
            except IntegrityError:
                continue  # another worker claimed it
            if status == ReminderStatus.SENT:
                failure = _deliver(
                    rule.channel,
                    address,
                    f"Appointment reminder — {appt.clinic.name}",
                    _reminder_text(appt),
                )
                if failure:
                    log.warning("reminder %s failed: %s", sent.pk, failure)
                    status = ReminderStatus.FAILED
                    sent.status = status
                    sent.detail = failure[:300]
                    sent.save(update_fields=["status", "detail"])
            audit_record(
                action=f"reminder.{status}",
                clinic=appt.clinic,
                patient=patient,
                obj=appt,
                changes={"channel": rule.channel, "lead_hours": rule.lead_hours},
                via="task",
            )
            counts[status] += 1
    counts.update(_recall_reminders_send(now=now))
    return counts


def _deliver(channel: str, address: str, subject: str, body: str) -> str:
    """Send by SMS or email; the error text on failure, "" on success."""
    from anagen.scheduling.sms import get_sms_backend

    try:
        if channel == Channel.SMS:
            get_sms_backend().send(to=address, body=body)
        else:
            send_mail(
                subject=subject,
                message=body,
                from_email=settings.DEFAULT_FROM_EMAIL,
                recipient_list=[address],
            )
    except Exception as exc:  # a provider failure must not stop the others
        return str(exc) or exc.__class__.__name__
    return ""


def _recall_reminders_send(*, now: dt.datetime) -> dict[str, int]:
    """Tell each patient once when their maintenance window opens: email if they agreed to
    email reminders, else SMS if they agreed to SMS, else nothing (recorded as skipped)."""
    counts = {"recall_sent": 0, "recall_skipped_no_consent": 0, "recall_failed": 0}
    due = Recall.objects.filter(
        status=RecallStatus.OPEN, reminded_at__isnull=True, due_from__lte=now.date()
    ).select_related("patient", "clinic")
    for recall in due:
        # Claim the recall first, so two workers never send the same message.
        if not Recall.objects.filter(pk=recall.pk, reminded_at__isnull=True).update(
            reminded_at=now
        ):
            continue
        patient = recall.patient
        channel: Channel | None
        if patient.email_reminders and patient.email:
            channel, address = Channel.EMAIL, patient.email
        elif patient.sms_reminders and patient.phone:
            channel, address = Channel.SMS, patient.phone
        else:
            channel, address = None, ""
        status = "skipped_no_consent"
        if channel:
            body = (
                f"It is time to book your maintenance session at {recall.clinic.name} "
                f"(between {recall.due_from:%d %b %Y} and {recall.due_until:%d %b %Y}). "
                "Please call us to book."
            )
            failure = _deliver(channel, address, f"Time to book — {recall.clinic.name}", body)
            status = "failed" if failure else "sent"
        Recall.objects.filter(pk=recall.pk).update(reminder_status=status)
        audit_record(
            action=f"recall_reminder.{status}",
            clinic=recall.clinic,
            patient=patient,
            obj=recall,
            changes={"channel": channel or ""},
            via="task",
        )
        counts[f"recall_{status}"] += 1
    return counts


# --- Reminder rules (clinic admin) -----------------------------------------------------------


@transaction.atomic
def reminder_rule_add(*, actor: Actor, channel: str, lead_hours: int) -> ReminderRule:
    """A new lead time for reminders; one rule per channel and lead time."""
    if actor.role not in ADMIN_ROLES:
        raise PermissionDenied("Only a clinic admin can change reminder rules.")
    if channel not in Channel.values:
        raise ValidationError({"channel": "Choose email or SMS."})
    if not 1 <= lead_hours <= 24 * 14:
        raise ValidationError({"lead_hours": "Lead time must be between 1 hour and 14 days."})
    if ReminderRule.objects.filter(
        clinic=actor.clinic, channel=channel, lead_hours=lead_hours
    ).exists():
        raise ValidationError(
            {"lead_hours": "There is already a rule for this channel and lead time."}
        )
    rule = ReminderRule.objects.create(clinic=actor.clinic, channel=channel, lead_hours=lead_hours)
    audit_record(
        action="reminder_rule.create",
        actor=actor,
        obj=rule,
        changes={"channel": channel, "lead_hours": lead_hours},
    )
    return rule


@transaction.atomic
def reminder_rule_set_active(*, actor: Actor, rule: ReminderRule, active: bool) -> ReminderRule:
    if actor.role not in ADMIN_ROLES:
        raise PermissionDenied("Only a clinic admin can change reminder rules.")
    if rule.is_active != active:
        rule.is_active = active
        rule.save(update_fields=["is_active"])
        audit_record(
            action="reminder_rule.update",
            actor=actor,
            obj=rule,
            changes={"is_active": [not active, active]},
        )
    return rule
