"""What every scheduling service shares: the SQLite writer lock, errors, the booking primitives.

No double booking: see ``models.py``. Every booking path runs inside ``transaction.atomic``; on
SQLite that transaction starts with ``BEGIN IMMEDIATE`` (settings), so booking writers run one at a
time and the overlap re-check inside the transaction is decisive; on PostgreSQL the exclusion
constraint decides and its ``IntegrityError`` becomes a ``BookingConflict`` (a ValidationError).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, connection, transaction
from django.http import Http404
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.accounts.clinic_time import human_datetime, human_time, local_today, zone_of
from anagen.accounts.models import Clinic
from anagen.clinical import PROCEDURES, get_protocol
from anagen.clinical import ValidationError as KernelValidationError
from anagen.patients.models import Patient
from anagen.scheduling import availability as av
from anagen.scheduling.models import (
    Appointment,
    AppointmentStatus,
    Resource,
    ResourceBooking,
    ResourceKind,
    TreatmentPlan,
)


class BookingConflict(ValidationError):
    """A resource is already taken (or not working) at the requested time."""


class OutsideWindow(ValidationError):
    """A move would take a session out of its protocol window (confirm to go ahead)."""


class GateRefused(ValidationError):
    """Care's session gate (screening, consent) does not let the session go ahead.

    Check-in no longer raises it (arrival is not the clinical gate; the session record runs the
    gate when it starts). Kept so callers that catch it keep working.
    """


def _tz(clinic: Clinic) -> ZoneInfo:
    return zone_of(clinic)


def _fmt(at: dt.datetime, tz: ZoneInfo) -> str:
    """'Mon 30 Nov 2026, 10:00' in the clinic's zone."""
    return human_datetime(at, tz)


def _today(clinic: Clinic) -> dt.date:
    """Today's date where the clinic is (not UTC's)."""
    return local_today(clinic)


def _event(actor: Actor | None, event: str, **extra: Any) -> dict[str, Any]:
    """One entry of an appointment's history; instants are stored ISO (UTC), shown human."""
    return {
        "at": timezone.now().isoformat(timespec="seconds"),
        "by": actor.user.get_username() if actor else "system",
        "event": event,
        **{
            k: (v.isoformat() if isinstance(v, dt.date | dt.datetime) else v)
            for k, v in extra.items()
        },
    }


def _check_patient(actor: Actor, patient: Patient) -> None:
    # Callers reach the patient through patient_for; this guards direct service callers too.
    if patient.clinic_id != actor.clinic.pk or patient.deleted_at is not None:
        raise Http404("No such patient.")


def _check_resource(actor: Actor, resource: Resource, what: str = "resource") -> None:
    if resource.clinic_id != actor.clinic.pk:
        raise Http404(f"No such {what}.")


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
        when = f"{_fmt(s, tz)}–{human_time(e, tz)}"
        if what == "busy":
            out.append(f"{prefix}{resource.name} is already booked at {when}.")
        elif what == "closed":
            out.append(f"{prefix}{resource.name} cannot be booked at {when}: closed or on leave.")
        else:
            out.append(f"{prefix}{resource.name} is not working at {when}.")
    return out


def _insert_bookings(
    appointment: Appointment, items: list[tuple[Resource, str, dt.datetime, dt.datetime]]
) -> None:
    tz = _tz(appointment.clinic)
    if any(e - s > av.MAX_HOLD for _r, _p, s, e in items):
        # The free-slot search reads bookings by a bounded start range (availability.MAX_HOLD).
        raise ValidationError({"starts_at": "A booking cannot hold a resource that long."})
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


# Appointments in these states free the patient's time (like their resource bookings).
PATIENT_FREE_STATUSES = (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW)
PATIENT_OVERLAP_CONSTRAINT = "scheduling_patient_no_overlap"  # migration 0005, PostgreSQL


def _patient_busy_messages(
    patient: Patient,
    spans: Iterable[tuple[dt.datetime, dt.datetime]],
    tz: ZoneInfo,
    exclude_ids: Iterable[int] = (),
    prefix: str = "",
) -> list[str]:
    """Why the patient cannot be at these times: their other live appointments overlapping.

    Issue 13: one patient cannot be in two overlapping appointments. On PostgreSQL the exclusion
    constraint of migration 0005 is the guarantee; on SQLite this re-check, inside the booking
    services' serialised transaction (``anagen.serialised_writes``), is decisive.

    On PostgreSQL the patient's row is locked first, so two desks booking one patient with
    different practitioners and rooms queue here instead of deadlocking on the constraint (two
    in-flight overlapping inserts wait on each other); the second then gets this message.
    """
    if connection.in_atomic_block:
        list(Patient.all_objects.select_for_update().filter(pk=patient.pk).values_list("pk"))
    out: list[str] = []
    excluded = list(exclude_ids)
    for start, end in spans:
        clash = (
            Appointment.objects.filter(patient=patient, starts_at__lt=end, ends_at__gt=start)
            .exclude(status__in=PATIENT_FREE_STATUSES)
            .exclude(pk__in=excluded)
            .order_by("starts_at")
            .first()
        )
        if clash is not None:
            when = f"{_fmt(clash.starts_at, tz)}–{human_time(clash.ends_at, tz)}"
            message = (
                f"{prefix}This patient already has an appointment at {when} "
                f"({clash.get_kind_display().lower()})."
            )
            if message not in out:
                out.append(message)
    return out


def _patient_overlap_error(exc: IntegrityError, field: str = "starts_at") -> BookingConflict:
    """PostgreSQL's patient constraint fired (a concurrent booking won): a 409, not a 500."""
    if PATIENT_OVERLAP_CONSTRAINT not in str(exc):
        raise exc
    return BookingConflict(
        {field: "This patient already has an appointment at that time."}, code="conflict"
    )


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
    ends_at = start + dt.timedelta(minutes=av.duration_minutes(holds))
    busy = _patient_busy_messages(patient, [(start, ends_at)], cal.tz, prefix=error_prefix)
    if busy:
        raise BookingConflict({"starts_at": busy}, code="conflict")
    target, earliest, latest = window
    try:
        with transaction.atomic():  # a savepoint: PostgreSQL's patient constraint may fire
            appt = Appointment.objects.create(
                clinic=actor.clinic,
                patient=patient,
                plan=plan,
                sequence=sequence,
                kind=kind,
                procedure=procedure,
                starts_at=start,
                ends_at=ends_at,
                target_on=target,
                window_earliest=earliest,
                window_latest=latest,
                practitioner=combo.practitioner,
                room=combo.room,
                centrifuge=combo.centrifuge,
                notes=notes,
                history=[_event(actor, "booked", starts_at=start)],
            )
    except IntegrityError as exc:
        raise _patient_overlap_error(exc) from None
    _insert_bookings(appt, items)
    for r, _phase, s, e in items:
        cal.add(r.pk, s, e)
    return appt
