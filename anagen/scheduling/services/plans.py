"""Treatment plans: preview a protocol's series with free slots, book it all or none, cancel it.

Choosing a protocol is a prescription (``Perm.PLAN``); cancelling a plan is a booking matter.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.accounts.clinic_time import human_date
from anagen.accounts.models import Clinic
from anagen.accounts.permissions import Perm
from anagen.audit.services import audit_record
from anagen.clinical import build_plan
from anagen.patients.models import Patient
from anagen.scheduling import availability as av
from anagen.scheduling.models import (
    OPEN_STATUSES,
    AppointmentKind,
    AppointmentStatus,
    PlanStatus,
    Resource,
    ResourceBooking,
    TreatmentPlan,
)
from anagen.scheduling.services._common import (
    BookingConflict,
    _check_patient,
    _clinic_resources,
    _create_appointment,
    _event,
    _lock_resources,
    _protocol,
    _resolve_combo,
    _today,
    _tz,
)
from anagen.serialised_writes import serialised


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

    @property
    def kind_label(self) -> str:
        try:
            return str(AppointmentKind(self.kind).label)
        except ValueError:
            return self.kind.replace("_", " ").capitalize()


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
    procedure: str,
    finder: av.SlotFinder,
    now: dt.datetime,
    limit: int,
) -> list[ProposedSlot]:
    """First free slot of each day of the window, days closest to the target first."""
    slots: list[ProposedSlot] = []
    today = now.astimezone(finder.tz).date()
    minutes = av.duration_minutes(holds)
    for day in av.days_by_closeness(max(s.earliest_on, today), s.latest_on, s.target_on):
        found = finder.first_free(holds, procedure, day, now)
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
    finder: av.SlotFinder,
    slots_per_session: int,
    now: dt.datetime,
) -> list[SessionPreview]:
    procedure = _protocol(protocol_id)["procedure"]
    holds = av.layout(procedure, protocol_id)
    return [
        SessionPreview(
            n=s.n,
            kind=s.kind,
            target_on=s.target_on,
            window_earliest=s.earliest_on,
            window_latest=s.latest_on,
            duration_minutes=av.duration_minutes(holds),
            slots=_session_slots(s, holds, procedure, finder, now, slots_per_session),
        )
        for s in _series_sessions(protocol_id, start_on)
    ]


def _prefer_slot(
    preview: list[SessionPreview],
    *,
    protocol_id: str,
    finder: av.SlotFinder,
    now: dt.datetime,
    prefer_start: dt.datetime,
    prefer_practitioner_id: int | None,
) -> None:
    """Offer the free slot a person clicked in the calendar first for session 1, when it lies in
    that session's window and every resource is free (closed days and leave included)."""
    if not preview or prefer_start < now:
        return
    first = preview[0]
    day = prefer_start.astimezone(finder.tz).date()
    if not first.window_earliest <= day <= first.window_latest:
        return
    procedure = _protocol(protocol_id)["procedure"]
    holds = av.layout(procedure, protocol_id)
    start = prefer_start.astimezone(dt.UTC)
    combo = finder.free_at(holds, procedure, start, prefer_practitioner_id)
    if combo is None:
        return
    slot = ProposedSlot(
        starts_at=start,
        ends_at=start + dt.timedelta(minutes=av.duration_minutes(holds)),
        practitioner=combo.practitioner,
        room=combo.room,
        centrifuge=combo.centrifuge,
    )
    others = [s for s in first.slots if s.starts_at.astimezone(finder.tz).date() != day]
    first.slots = [slot, *others]


def _finder(
    clinic: Clinic, patient: Patient, protocol_id: str, start_on: dt.date, tz: ZoneInfo
) -> av.SlotFinder:
    """The free-slot search over the series' windows (hours, closures, the patient's time)."""
    sessions = _series_sessions(protocol_id, start_on)
    return av.SlotFinder(
        _clinic_resources(clinic),
        tz,
        min(s.earliest_on for s in sessions),
        max(s.latest_on for s in sessions),
        patient_id=patient.pk,
    )


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
    prefer_start: dt.datetime | None = None,
    prefer_practitioner_id: int | None = None,
) -> list[SessionPreview]:
    """Every session of the series with its window and the first free slots inside it.

    ``prefer_start`` (and ``prefer_practitioner_id``): a free slot chosen in the calendar grid,
    proposed first for session 1 when it is free and inside that session's window."""
    actor.require(Perm.PLAN)
    _check_patient(actor, patient)
    _protocol(protocol_id)
    _check_start(actor.clinic, start_on)
    finder = _finder(actor.clinic, patient, protocol_id, start_on, _tz(actor.clinic))
    now = timezone.now()
    preview = _preview(
        protocol_id=protocol_id,
        start_on=start_on,
        finder=finder,
        slots_per_session=slots_per_session,
        now=now,
    )
    if prefer_start is not None:
        _prefer_slot(
            preview,
            protocol_id=protocol_id,
            finder=finder,
            now=now,
            prefer_start=prefer_start,
            prefer_practitioner_id=prefer_practitioner_id,
        )
    return preview


# A series searched without choices is searched again when a concurrent booking took one of its
# slots between the search and the lock (PostgreSQL); after this many tries the person is told.
SERIES_ATTEMPTS = 4


class _SlotTaken(Exception):
    """A slot found by the search was taken meanwhile (search again)."""

    def __init__(self, conflict: BookingConflict) -> None:
        super().__init__(str(conflict))
        self.conflict = conflict


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

    Locks only the chosen resources: the search runs on a snapshot, then the chosen practitioner,
    room and centrifuge rows are locked (PostgreSQL, in id order), re-checked and booked. When a
    concurrent booking took a searched slot meanwhile the series is searched again (at most
    ``SERIES_ATTEMPTS`` times); chosen slots that are taken are a conflict at once.
    """
    actor.require(Perm.PLAN)
    _check_patient(actor, patient)
    doc = _protocol(protocol_id)
    _check_start(actor.clinic, start_on)
    sessions = _series_sessions(protocol_id, start_on)
    by_n = {c.n: c for c in choices or []}
    if choices is not None:
        unknown = sorted(set(by_n) - {s.n for s in sessions})
        missing = [s.n for s in sessions if s.n not in by_n]
        if unknown or missing:
            raise ValidationError(
                {"choices": f"Choose one slot for each session 1–{len(sessions)}."}
            )
    attempts = SERIES_ATTEMPTS if not by_n else 1
    for attempt in range(attempts):
        try:
            return _book_series_once(actor, patient, doc, protocol_id, start_on, sessions, by_n)
        except _SlotTaken as taken:
            if attempt == attempts - 1:
                raise BookingConflict(
                    {
                        "choices": "The calendar is changing fast: the free slots found were "
                        "taken by other bookings meanwhile. Try again."
                    },
                    code="conflict",
                ) from taken.conflict
    raise AssertionError("unreachable")


def _book_series_once(
    actor: Actor,
    patient: Patient,
    doc: dict[str, Any],
    protocol_id: str,
    start_on: dt.date,
    sessions: list[Any],
    by_n: dict[int, SlotChoice],
) -> TreatmentPlan:
    tz = _tz(actor.clinic)
    now = timezone.now()
    procedure = doc["procedure"]
    holds = av.layout(procedure, protocol_id)
    searched = not by_n
    with transaction.atomic():
        finder = _finder(actor.clinic, patient, protocol_id, start_on, tz)
        picks: list[tuple[Any, dt.datetime, av.Combo]] = []
        for s in sessions:
            prefix = f"Session {s.n}: "
            choice = by_n.get(s.n)
            if choice is None:
                slots = _session_slots(s, holds, procedure, finder, now, 1)
                if not slots:
                    raise ValidationError(
                        {
                            "choices": f"{prefix}no free slot between {human_date(s.earliest_on)}"
                            f" and {human_date(s.latest_on)}; add working hours or choose "
                            "another start date."
                        }
                    )
                slot = slots[0]
                start = slot.starts_at
                combo = av.Combo(slot.practitioner, slot.room, slot.centrifuge)
                finder.book(holds, combo, start)
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
                            "choices": f"{prefix}{human_date(day)} is outside its window "
                            f"{human_date(s.earliest_on)} – {human_date(s.latest_on)}."
                        }
                    )
                combo = _resolve_combo(
                    actor.clinic,
                    procedure,
                    choice.practitioner_id,
                    choice.room_id,
                    choice.centrifuge_id,
                    prefix,
                )
            picks.append((s, start, combo))
        # Lock only what was chosen, then re-read just those resources around just those times.
        chosen = {
            r.pk: r
            for _s, _start, c in picks
            for r in (c.practitioner, c.room, c.centrifuge)
            if r is not None
        }
        try:
            _lock_resources(chosen)
        except BookingConflict as exc:  # (a lock that fails is a race lost too)
            if searched:
                raise _SlotTaken(exc) from None
            raise
        minutes = dt.timedelta(minutes=av.duration_minutes(holds))
        cal = finder.recheck_calendar(
            chosen.values(), [(start, start + minutes) for _s, start, _c in picks]
        )
        plan = TreatmentPlan.objects.create(
            clinic=actor.clinic,
            patient=patient,
            protocol_id=protocol_id,
            protocol_name=doc["name"],
            procedure=procedure,
            start_on=start_on,
            created_by=actor.user,
        )
        for s, start, combo in picks:
            try:
                _create_appointment(
                    actor=actor,
                    patient=patient,
                    plan=plan,
                    sequence=s.n,
                    kind=s.kind if s.kind in AppointmentKind.values else AppointmentKind.INDUCTION,
                    procedure=procedure,
                    protocol_id=protocol_id,
                    start=start,
                    combo=combo,
                    cal=cal,
                    window=(s.target_on, s.earliest_on, s.latest_on),
                    error_prefix=f"Session {s.n}: ",
                )
            except BookingConflict as exc:
                if searched:
                    raise _SlotTaken(exc) from None
                raise
        audit_record(
            action="plan.create",
            actor=actor,
            patient=patient,
            obj=plan,
            changes={"protocol_id": protocol_id, "start_on": start_on, "sessions": len(sessions)},
        )
    return plan


def plan_cancel(*, actor: Actor, plan: TreatmentPlan, reason: str) -> TreatmentPlan:
    """Cancel a plan and every open appointment of it (freeing their slots)."""
    actor.require(Perm.BOOK)
    _check_patient(actor, plan.patient)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the plan is cancelled."})
    if plan.status in (PlanStatus.COMPLETED, PlanStatus.CANCELLED):
        raise ValidationError(
            {"status": f"The plan is already {plan.get_status_display().lower()}."}
        )
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
