"""The clinic's calendar version: a token that changes whenever anything the calendar grid shows
changes, so the rendered grid can be cached under it (issue 15: rendered once per data version).

What the grid shows: appointments (booked, moved, cancelled, checked in…), the resource bookings
that make a slot busy, resources and their working hours, staff leave, clinic closures and public
holidays (the clinic's country and region), the clinic's time zone, and the patients' names on the
cells. A ``post_save``/``post_delete`` receiver for each of those models (``connect()``, called
from the app's ``ready()``) calls ``bump(clinic_id)``; code that writes them without signals
(``bulk_create``, ``QuerySet.update``, raw SQL, data loaders) must call ``bump`` itself.

How: one row per clinic (``CalendarVersion``) holding a random token. ``bump`` replaces the token
AFTER the transaction commits (``transaction.on_commit``, once per clinic per transaction), so a
booking holds no clinic-wide lock (bookings lock only the resources they take) and a reader that
sees the new token also sees the committed change. Until then the writing transaction itself
reads its own changes: ``current()`` answers None ("do not use a cache") while the current
transaction has a pending bump for the clinic. The token is random, not a counter: a database
rolled back or rebuilt (tests, a restore) never meets a cache entry of another history.

Reading costs one primary-key query (``current``); the first read of a clinic with no row yet
creates it.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models.signals import post_delete, post_save

logger = logging.getLogger(__name__)


class _Bump:
    """The on-commit callback replacing one clinic's token (recognisable, to register it once)."""

    __slots__ = ("clinic_id",)

    def __init__(self, clinic_id: int) -> None:
        self.clinic_id = clinic_id

    def __call__(self) -> None:
        bump_now(self.clinic_id)


def _pending(clinic_id: int) -> bool:
    """Has the current transaction changed this clinic's calendar (bump not yet applied)?"""
    if not connection.in_atomic_block:
        return False
    return any(
        isinstance(entry[1], _Bump) and entry[1].clinic_id == clinic_id
        for entry in connection.run_on_commit
    )


def bump(clinic_id: Any) -> None:
    """Something the calendar of this clinic shows changed (or will, when the current transaction
    commits): replace its token then. Cheap to call many times in one transaction."""
    cid = getattr(clinic_id, "pk", clinic_id)
    if cid is None:
        return
    cid = int(cid)
    if connection.in_atomic_block:
        open_sids = set(connection.savepoint_ids)
        for entry in connection.run_on_commit:
            # Registered already, and discarded only by a rollback that would discard this one too.
            func = entry[1]
            if isinstance(func, _Bump) and func.clinic_id == cid and set(entry[0]) <= open_sids:
                return
    transaction.on_commit(_Bump(cid), robust=True)


def bump_now(clinic_id: int) -> int:
    """Replace the clinic's token now (inside the current transaction, if any); the new token."""
    from anagen.scheduling.models import CalendarVersion

    token = secrets.randbits(62)
    if CalendarVersion.objects.filter(clinic_id=clinic_id).update(token=token):
        return token
    try:
        with transaction.atomic():
            CalendarVersion.objects.create(clinic_id=clinic_id, token=token)
    except IntegrityError:  # created meanwhile by another request: replace it
        CalendarVersion.objects.filter(clinic_id=clinic_id).update(token=token)
    return token


def current(clinic_id: int) -> int | None:
    """The clinic's calendar token (one query), or None when the current transaction has changed
    the calendar and not committed yet (then nothing cached may be used or stored)."""
    from anagen.scheduling.models import CalendarVersion

    if _pending(clinic_id):
        return None
    rows = list(CalendarVersion.objects.filter(clinic_id=clinic_id).values_list("token", flat=True))
    if rows:
        return rows[0]
    return bump_now(clinic_id)


# --- Signal receivers -----------------------------------------------------------------------


def _on_clinic_field(instance: Any, **kwargs: Any) -> None:
    bump(instance.clinic_id)


def _on_clinic(instance: Any, **kwargs: Any) -> None:
    bump(instance.pk)


_PATIENT_SHOWN = frozenset({"given_name", "family_name", "deleted_at", "clinic", "clinic_id"})


def _on_patient(instance: Any, update_fields: Any = None, **kwargs: Any) -> None:
    if update_fields is not None and not (_PATIENT_SHOWN & set(update_fields)):
        return  # a save of fields the calendar does not show
    bump(instance.clinic_id)


def _clinic_of_resource(resource_id: int | None, instance: Any, attr: str) -> int | None:
    cached = instance._state.fields_cache.get(attr)
    if cached is not None:
        return int(cached.clinic_id)
    if resource_id is None:
        return None
    from anagen.scheduling.models import Resource

    rows = list(Resource.objects.filter(pk=resource_id).values_list("clinic_id", flat=True))
    return rows[0] if rows else None


def _on_resource_booking(instance: Any, **kwargs: Any) -> None:
    appointment = instance._state.fields_cache.get("appointment")
    if appointment is not None:
        bump(appointment.clinic_id)
        return
    bump(_clinic_of_resource(instance.resource_id, instance, "resource"))


def _on_working_hours(instance: Any, **kwargs: Any) -> None:
    bump(_clinic_of_resource(instance.resource_id, instance, "resource"))


def _on_leave(instance: Any, **kwargs: Any) -> None:
    membership = instance._state.fields_cache.get("membership")
    if membership is not None:
        bump(membership.clinic_id)
        return
    from anagen.accounts.models import Membership

    rows = list(
        Membership.objects.filter(pk=instance.membership_id).values_list("clinic_id", flat=True)
    )
    if rows:
        bump(rows[0])


def connect() -> None:
    """Register the receivers (the scheduling app's ``ready()``)."""
    from anagen.accounts.models import Clinic
    from anagen.patients.models import Patient
    from anagen.scheduling.models import (
        Appointment,
        ClinicClosure,
        Resource,
        ResourceBooking,
        StaffLeave,
        WorkingHours,
    )

    receivers: list[tuple[type, Any]] = [
        (Appointment, _on_clinic_field),
        (Resource, _on_clinic_field),
        (ClinicClosure, _on_clinic_field),
        (Clinic, _on_clinic),
        (Patient, _on_patient),
        (ResourceBooking, _on_resource_booking),
        (WorkingHours, _on_working_hours),
        (StaffLeave, _on_leave),
    ]
    for model, receiver in receivers:
        uid = f"calendar-version-{model.__name__}"
        post_save.connect(receiver, sender=model, weak=False, dispatch_uid=uid + "-save")
        if model is not Clinic:  # a deleted clinic's version row goes with it
            post_delete.connect(receiver, sender=model, weak=False, dispatch_uid=uid + "-delete")
