"""Writing audit events. Callers run this inside the same transaction as the change it records."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import models, transaction
from django.utils import timezone

from anagen.audit import chain
from anagen.audit.models import AuditAction, AuditChangeValues, AuditEvent
from anagen.audit.reads import note_audited
from anagen.serialised_writes import serialised

if TYPE_CHECKING:
    from anagen.accounts.access import Actor
    from anagen.accounts.models import Clinic, User
    from anagen.patients.models import Patient


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime | Decimal):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def audit_record(
    *,
    action: AuditAction | str,
    actor: Actor | None = None,
    user: User | None = None,
    clinic: Clinic | None = None,
    patient: Patient | None = None,
    obj: models.Model | None = None,
    changes: dict[str, Any] | None = None,
    username: str = "",
    ip_address: str | None = None,
    via: str | None = None,
) -> AuditEvent:
    # A closed list: an action nobody declared is a bug, not a new kind of event.
    action = AuditAction(action)
    note_audited()
    if actor is not None:
        user = actor.user
        clinic = clinic or actor.clinic
        via = via or actor.via
    return _append(
        _new_event(
            action=action,
            user=user,
            clinic=clinic,
            patient=patient,
            obj=obj,
            changes=changes,
            username=username,
            ip_address=ip_address,
            via=via,
        )
    )


def _new_event(
    *,
    action: AuditAction,
    user: User | None,
    clinic: Clinic | None,
    patient: Patient | None,
    obj: models.Model | None,
    changes: dict[str, Any] | None,
    username: str = "",
    ip_address: str | None = None,
    via: str | None = None,
) -> AuditEvent:
    """An unsaved event; its values go to AuditChangeValues when the chain appends it."""
    event = AuditEvent(
        at=timezone.now(),  # looked up now (tests may move the clock)
        action=action,
        actor=user,
        username=username or (user.get_username() if user else ""),
        clinic=clinic,
        patient=patient,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        ip_address=ip_address,
        via=via or "web",
    )
    event.changes = _jsonable(changes or {})
    return event


def audit_record_many(
    *,
    action: AuditAction | str,
    actor: Actor,
    items: Iterable[tuple[Patient | None, models.Model | None, dict[str, Any]]],
) -> list[AuditEvent]:
    """One event per (patient, object, changes), as ``audit_record`` would write each, appended
    to the actor's clinic chain in one go (a batch write: one head lock, bulk inserts)."""
    action = AuditAction(action)
    note_audited()
    events = [
        _new_event(
            action=action,
            user=actor.user,
            clinic=actor.clinic,
            patient=patient,
            obj=obj,
            changes=changes,
            via=actor.via,
        )
        for patient, obj, changes in items
    ]
    return _append_many(events)


@serialised
def _append_many(events: list[AuditEvent]) -> list[AuditEvent]:
    with transaction.atomic():
        return chain.append_many(events)


@serialised
def _append(event: AuditEvent) -> AuditEvent:
    # Appended to its clinic's hash chain in the caller's transaction (or a new one). On
    # PostgreSQL in one statement (issue 15): no savepoint in the caller's transaction (a failed
    # audit write fails that transaction), and outside one the statement is its own.
    conn = transaction.get_connection()
    if conn.vendor == "postgresql":
        if conn.in_atomic_block:
            with transaction.atomic(savepoint=False):
                if chain.append_in_one_statement(event):
                    return event
        elif chain.append_in_one_statement(event):
            return event
    with transaction.atomic():
        return chain.append(event)


def diff_fields(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """{field: [old, new]} for the fields whose value changed."""
    return {
        k: [_jsonable(before.get(k)), _jsonable(after.get(k))]
        for k in after
        if before.get(k) != after.get(k)
    }


# --- erasure: the values of a purged patient's audit events ---------------------------------


def audit_values_mentioning(*, clinic_id: int, needles: Iterable[str]) -> list[int]:
    """Events of the clinic about no one patient (searches, lists) whose values mention one of
    `needles` (a patient's name, e-mail, phone), case-insensitively: their values go with the
    patient's at an erasure purge. A batch job: it reads those events' values once."""
    words = sorted({n.casefold() for n in needles if n and len(n.strip()) >= 3})
    if not words:
        return []
    rows = AuditChangeValues.objects.filter(
        patient_id__isnull=True, event__clinic_id=clinic_id
    ).values_list("event_id", "changes")
    found = []
    for event_id, changes in rows.iterator(chunk_size=2000):
        text = json.dumps(changes, ensure_ascii=False).casefold()
        if any(word in text for word in words):
            found.append(event_id)
    return found


def audit_values_erase(
    *, patient_id: int, purge_event: AuditEvent, also: Iterable[int] = ()
) -> int:
    """Delete the values of every audit event about the patient, and of the events `also`
    (listed in the purge event, `list_events_erased`), keeping the purge event's own. The
    events stay (who, when, what, which record) and keep verifying by their digests."""
    own = chain.purge_patient_values(patient_id=patient_id, keep_event_id=purge_event.pk)
    others = AuditChangeValues.objects.filter(event_id__in=list(also)).exclude(
        event_id=purge_event.pk
    )
    deleted, _ = others.delete()
    return own + deleted
