"""Rescheduling: move a session (and optionally the later ones of its plan) by the same delta."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.accounts.clinic_time import human_date
from anagen.accounts.permissions import Perm
from anagen.audit.services import audit_record
from anagen.scheduling import availability as av
from anagen.scheduling.models import Appointment, AppointmentStatus, Resource, ResourceBooking
from anagen.scheduling.services._common import (
    BookingConflict,
    OutsideWindow,
    _check_patient,
    _event,
    _insert_bookings,
    _lock_resources,
    _patient_busy_messages,
    _patient_overlap_error,
    _problem_messages,
    _tz,
)
from anagen.serialised_writes import serialised


@dataclass(frozen=True)
class MoveWarning:
    appointment: Appointment
    new_day: dt.date

    @property
    def message(self) -> str:
        a = self.appointment
        return (
            f"Session {a.sequence} would move to {self.new_day:%a} {human_date(self.new_day)}, "
            f"outside its protocol window {human_date(a.window_earliest)} – "
            f"{human_date(a.window_latest)}."
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
    actor.require(Perm.BOOK)
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
            {b.resource for b in bookings},
            lo,
            hi,
            tz,
            exclude_appointments=[a.pk for a in targets],
            spans=[(s, e) for _r, _p, s, e, _b in moved],
        )
        problems = cal.problems([(r, p, s, e) for r, p, s, e, _b in moved])
        if problems:
            raise BookingConflict({"new_start": _problem_messages(problems, tz)}, code="conflict")
        busy = _patient_busy_messages(
            appointment.patient,
            [(a.starts_at + delta, a.ends_at + delta) for a in targets],
            tz,
            exclude_ids=[a.pk for a in targets],
        )
        if busy:
            raise BookingConflict({"new_start": busy}, code="conflict")
        # Delete and re-insert: shifting rows one by one could collide with the series' own rows.
        ResourceBooking.objects.filter(pk__in=[b.pk for b in bookings]).delete()
        by_appt: dict[int, list[tuple[Resource, str, dt.datetime, dt.datetime]]] = {}
        for r, p, s, e, b in moved:
            by_appt.setdefault(b.appointment_id, []).append((r, p, s, e))
        outside = {w.appointment.pk for w in warnings}
        # Shift the far end first so a session never lands on a not-yet-moved one of the same
        # series (PostgreSQL checks the patient constraint row by row).
        for a in sorted(targets, key=lambda a: a.starts_at, reverse=delta > dt.timedelta(0)):
            old = a.starts_at
            a.starts_at += delta
            a.ends_at += delta
            a.history = [
                *a.history,
                _event(
                    actor, "moved", starts_at=old, to=a.starts_at, outside_window=a.pk in outside
                ),
            ]
            try:
                with transaction.atomic():
                    a.save(update_fields=["starts_at", "ends_at", "history", "updated_at"])
            except IntegrityError as exc:
                raise _patient_overlap_error(exc, "new_start") from None
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
