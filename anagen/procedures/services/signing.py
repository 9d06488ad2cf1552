"""Closing the room work (checklist complete) and the physician's signature that locks it."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.accounts.permissions import Perm
from anagen.audit.services import audit_record
from anagen.procedures import selectors
from anagen.procedures.models import SessionStatus, TreatmentSession
from anagen.procedures.services._common import _check_session


def _checklist_refusal(session: TreatmentSession) -> None:
    missing = [
        i.label + (f" ({i.detail})" if i.detail else "")
        for i in selectors.session_checklist(session)
        if not i.ok
    ]
    if missing:
        raise ValidationError({"__all__": ["The checklist is not complete:", *missing]})


@transaction.atomic
def session_close(*, actor: Actor, session: TreatmentSession) -> TreatmentSession:
    """The room work is done: the checklist must be complete; the physician signs next."""
    _check_session(actor, session)
    session = TreatmentSession.objects.select_for_update().get(pk=session.pk)
    if session.status != SessionStatus.IN_PROGRESS:
        raise ValidationError({"__all__": "Only a session in progress can be closed."})
    _checklist_refusal(session)
    session.status = SessionStatus.READY_TO_SIGN
    if session.completed_at is None:
        session.completed_at = timezone.now()
    session.save(update_fields=["status", "completed_at", "updated_at"])
    audit_record(
        action="procedures.session.close",
        actor=actor,
        patient=session.patient,
        obj=session,
        changes={"status": [SessionStatus.IN_PROGRESS, SessionStatus.READY_TO_SIGN]},
    )
    return session


@transaction.atomic
def session_sign(*, actor: Actor, session: TreatmentSession) -> TreatmentSession:
    """The physician signs; the record is locked from then on (amendments only)."""
    _check_session(actor, session, Perm.SESSION_SIGN)
    session = TreatmentSession.objects.select_for_update().get(pk=session.pk)
    if session.is_signed:
        raise ValidationError({"__all__": "This session is already signed."})
    _checklist_refusal(session)
    old = session.status
    now = timezone.now()
    session.status = SessionStatus.SIGNED
    session.signed_by = actor.user
    session.signed_at = now
    session.completed_at = session.completed_at or now
    session.save(update_fields=["status", "signed_by", "signed_at", "completed_at", "updated_at"])
    audit_record(
        action="procedures.session.sign",
        actor=actor,
        patient=session.patient,
        obj=session,
        changes={"status": [old, SessionStatus.SIGNED]},
    )
    from anagen.billing.services import package_consume_for_session  # a package session is used

    package_consume_for_session(actor=actor, session=session)
    appointment = session.appointment
    if appointment is not None and appointment.status == "checked_in":
        from anagen.scheduling.services import appointment_complete

        appointment_complete(actor=actor, appointment=appointment)
    return session
