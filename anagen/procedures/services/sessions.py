"""Opening a session record (through care's gate), reading it, phases and session details."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.accounts.permissions import Perm
from anagen.audit.services import audit_record
from anagen.clinical import PROCEDURES
from anagen.patients.models import Patient
from anagen.procedures.models import DeliveryMode, TreatmentSession
from anagen.procedures.services._common import (
    GateRefused,
    _amending,
    _check_session,
    _record_change,
    _require_clinical,
    _today,
)


def session_start(
    *,
    actor: Actor,
    patient: Patient,
    procedure: str,
    appointment: Any = None,
) -> TreatmentSession:
    """Open the session record after care's gate (screening + consent) lets it go ahead."""
    from anagen.care.selectors import consent_valid_for
    from anagen.care.services import session_gate

    _require_clinical(actor)
    if patient.clinic_id != actor.clinic.pk:
        raise Http404("No such patient.")
    if appointment is not None:
        if appointment.clinic_id != actor.clinic.pk or appointment.patient_id != patient.pk:
            raise Http404("No such appointment.")
        if appointment.status != "checked_in":
            raise ValidationError(
                {"appointment": "Check the patient in before starting the session."}
            )
        if TreatmentSession.objects.filter(appointment=appointment).exists():
            raise ValidationError({"appointment": "This appointment already has a session."})
        procedure = procedure or appointment.procedure
    if procedure not in PROCEDURES:
        names = ", ".join(str(p["label"]) for p in PROCEDURES.values())
        raise ValidationError({"procedure": f"Choose a procedure: {names}."})
    gate = session_gate(actor=actor, patient=patient, procedure=procedure, on=_today(actor))
    if not gate.ok:
        raise GateRefused({"__all__": ["The session cannot start:", *gate.reasons]})
    now = timezone.now()
    radius = None
    if appointment is not None and appointment.centrifuge_id:
        radius = appointment.centrifuge.rotor_radius_cm
    with transaction.atomic():
        session = TreatmentSession.objects.create(
            clinic=actor.clinic,
            patient=patient,
            appointment=appointment,
            procedure=procedure,
            started_at=now,
            started_by=actor.user,
            screening=gate.screening,
            consent=consent_valid_for(patient, procedure),
            checked_in_at=now,
            rotor_radius_cm=radius,
        )
        audit_record(
            action="procedures.session.start",
            actor=actor,
            patient=patient,
            obj=session,
            changes={
                "procedure": procedure,
                "appointment": appointment.pk if appointment is not None else None,
                "screening": session.screening_id,
                "consent": session.consent_id,
            },
        )
    return session


def session_read(*, actor: Actor, session: TreatmentSession) -> None:
    _check_session(actor, session, Perm.CLINICAL_VIEW)
    audit_record(
        action="procedures.session.read",
        actor=actor,
        patient=session.patient,
        obj=session,
    )


@transaction.atomic
def session_phase_stamp(
    *,
    actor: Actor,
    session: TreatmentSession,
    phase: str,
    at: dt.datetime | None = None,
    reason: str = "",
) -> TreatmentSession:
    """Time-stamp a phase (now, or a time given when it is recorded afterwards)."""
    amending = _amending(actor, session, reason)
    if phase not in session.phase_fields:
        raise ValidationError({"phase": "This phase does not belong to this procedure."})
    at = at or timezone.now()
    if at > timezone.now() + dt.timedelta(minutes=5):
        raise ValidationError({"at": "A phase cannot be stamped in the future."})
    if at < session.started_at - dt.timedelta(hours=12):
        raise ValidationError({"at": "That is long before the session started."})
    before = {phase: getattr(session, phase)}
    setattr(session, phase, at)
    session.save(update_fields=[phase, "updated_at"])
    _record_change(
        actor=actor,
        session=session,
        section="phases",
        amending=amending,
        reason=reason,
        before=before,
        after={phase: at},
        obj=session,
    )
    return session


DETAIL_FIELDS = (
    "delivery_mode",
    "rotor_radius_cm",
    "baseline_photos_taken",
    "aftercare_given",
    "notes",
)


@transaction.atomic
def session_details_update(
    *,
    actor: Actor,
    session: TreatmentSession,
    data: dict[str, Any],
    reason: str = "",
) -> TreatmentSession:
    """Delivery mode, rotor radius, photo and aftercare ticks, notes."""
    amending = _amending(actor, session, reason)
    unknown = set(data) - set(DETAIL_FIELDS)
    if unknown:
        raise ValidationError({"__all__": "Some of the given details are not session details."})
    if "delivery_mode" in data and data["delivery_mode"] not in DeliveryMode.values:
        raise ValidationError({"delivery_mode": "Choose injection or topical."})
    radius = data.get("rotor_radius_cm")
    if radius is not None and not (Decimal("1") <= Decimal(radius) <= Decimal("50")):
        raise ValidationError({"rotor_radius_cm": "The rotor radius is in cm, 1 to 50."})
    before = {k: getattr(session, k) for k in data}
    for k, v in data.items():
        setattr(session, k, v)
    session.save(update_fields=[*data, "updated_at"])
    _record_change(
        actor=actor,
        session=session,
        section="details",
        amending=amending,
        reason=reason,
        before=before,
        after=dict(data),
        obj=session,
    )
    return session
