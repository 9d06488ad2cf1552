"""Free-standing appointments: a consultation or a maintenance session; notes on any booking."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.accounts.permissions import Perm
from anagen.audit.services import audit_record
from anagen.clinical import PROCEDURES
from anagen.patients.models import Patient
from anagen.scheduling import availability as av
from anagen.scheduling.models import Appointment, AppointmentKind, Recall, RecallStatus
from anagen.scheduling.services._common import (
    _check_patient,
    _create_appointment,
    _lock_resources,
    _resolve_combo,
    _tz,
)
from anagen.serialised_writes import serialised


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
    actor.require(Perm.BOOK)
    _check_patient(actor, patient)
    errors = {}
    if kind not in (AppointmentKind.CONSULTATION, AppointmentKind.MAINTENANCE):
        errors["kind"] = (
            "Book a consultation or a maintenance session here; series come from a plan."
        )
    if kind == AppointmentKind.CONSULTATION and procedure:
        errors["procedure"] = "A consultation has no procedure."
    if kind == AppointmentKind.MAINTENANCE and procedure not in PROCEDURES:
        labels = ", ".join(str(p["label"]) for p in PROCEDURES.values())
        errors["procedure"] = f"Choose one of: {labels}."
    tz = _tz(actor.clinic)
    if timezone.is_naive(starts_at):
        starts_at = starts_at.replace(tzinfo=tz)
    if starts_at < timezone.now():
        errors["starts_at"] = "That time is in the past."
    if errors:
        raise ValidationError(errors)
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


def appointment_update_notes(*, actor: Actor, appointment: Appointment, notes: str) -> Appointment:
    actor.require(Perm.BOOK)
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
