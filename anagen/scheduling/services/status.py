"""Status actions: check-in (arrival), completion, cancellation, no-show.

Arrival and treatment are separate steps. Checking a patient in records that they arrived; anyone
who may check patients in may do it, and it runs no clinical gate (front desk never sees clinical
reasons). Care's gate (screening, consent) runs when the session record starts (procedures). A
procedure appointment (PRP, mesotherapy: it needs a session record) completes when its session
record is signed; only visits without one (a consultation) are completed by hand.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.accounts.permissions import Perm
from anagen.audit.services import audit_record
from anagen.scheduling.models import (
    OPEN_STATUSES,
    Appointment,
    AppointmentStatus,
    PlanStatus,
    TreatmentPlan,
)
from anagen.scheduling.services._common import _check_patient, _event, _today
from anagen.scheduling.services.recalls import _maybe_complete_plan

COMPLETES_WITH_SESSION = "This appointment completes when its session record is signed."


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


def appointment_check_in(*, actor: Actor, appointment: Appointment) -> Appointment:
    """Record that the patient arrived (on the day of the appointment). No clinical gate here:
    the session record runs care's gate when it starts."""
    actor.require(Perm.CHECK_IN)
    _check_patient(actor, appointment.patient)
    if appointment.local_date != _today(appointment.clinic):
        raise ValidationError(
            {"status": "Check-in is only possible on the day of the appointment."}
        )
    return _set_status(actor, appointment, AppointmentStatus.CHECKED_IN, [AppointmentStatus.BOOKED])


def _session_signed(appointment: Appointment) -> bool:
    from anagen.procedures.models import SessionStatus

    return Appointment.objects.filter(
        pk=appointment.pk, treatment_session__status=SessionStatus.SIGNED
    ).exists()


def appointment_complete(*, actor: Actor, appointment: Appointment) -> Appointment:
    """Complete a visit. A procedure appointment completes only once its session record is
    signed (signing calls this); a consultation is completed by hand."""
    actor.require(Perm.SESSION_PERFORM)
    _check_patient(actor, appointment.patient)
    if appointment.needs_session_record and not _session_signed(appointment):
        raise ValidationError({"status": COMPLETES_WITH_SESSION})
    return _set_status(
        actor, appointment, AppointmentStatus.COMPLETED, [AppointmentStatus.CHECKED_IN]
    )


def appointment_cancel(*, actor: Actor, appointment: Appointment, reason: str) -> Appointment:
    actor.require(Perm.BOOK)
    _check_patient(actor, appointment.patient)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the appointment is cancelled."})
    return _set_status(
        actor, appointment, AppointmentStatus.CANCELLED, OPEN_STATUSES, reason=reason[:500]
    )


def appointment_no_show(*, actor: Actor, appointment: Appointment) -> Appointment:
    actor.require(Perm.BOOK)
    _check_patient(actor, appointment.patient)
    if appointment.starts_at > timezone.now():
        raise ValidationError({"status": "A no-show can only be recorded once the time has come."})
    return _set_status(actor, appointment, AppointmentStatus.NO_SHOW, [AppointmentStatus.BOOKED])
