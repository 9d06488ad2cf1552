"""Resources (practitioners, rooms, centrifuges) and their working hours: ``Perm.RESOURCES_MANAGE``.

A practitioner resource is a member whose role may perform sessions (asked of the permission
table, never of role names).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from anagen.accounts.access import Actor
from anagen.accounts.models import Membership
from anagen.accounts.permissions import Perm, role_has
from anagen.audit.services import audit_record
from anagen.clinical import PROCEDURES
from anagen.scheduling import calendar_version
from anagen.scheduling.models import WEEKDAY_NAMES, Resource, ResourceKind, WorkingHours
from anagen.scheduling.services._common import _check_resource


def _unknown_procedures(codes: list[str]) -> str:
    unknown = [p for p in codes if p not in PROCEDURES]
    return f"Unknown procedures: {', '.join(unknown)}." if unknown else ""


def resource_create(
    *,
    actor: Actor,
    kind: str,
    name: str = "",
    membership_id: int | None = None,
    rotor_radius_cm: Any = None,
    licensed_procedures: list[str] | None = None,
) -> Resource:
    actor.require(Perm.RESOURCES_MANAGE)
    errors: dict[str, str] = {}
    membership = None
    licensed = list(licensed_procedures or [])
    if kind == ResourceKind.PRACTITIONER:
        membership = (
            Membership.objects.filter(pk=membership_id or 0, clinic=actor.clinic, is_active=True)
            .select_related("user")
            .first()
        )
        if membership is None or not role_has(membership.role, Perm.SESSION_PERFORM):
            errors["membership_id"] = (
                "Choose an active staff member of this clinic who may perform sessions."
            )
        elif Resource.objects.filter(membership=membership).exists():
            errors["membership_id"] = f"{membership.user} is already a practitioner resource."
        else:
            name = name or str(membership.user)
        if unknown := _unknown_procedures(licensed):
            errors["licensed_procedures"] = unknown
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
    actor.require(Perm.RESOURCES_MANAGE)
    _check_resource(actor, resource)
    errors = {}
    if "licensed_procedures" in data and (
        unknown := _unknown_procedures(data["licensed_procedures"])
    ):
        errors["licensed_procedures"] = unknown
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
    actor.require(Perm.RESOURCES_MANAGE)
    _check_resource(actor, resource)
    for weekday, start, end in hours:
        if not 0 <= weekday <= 6:
            raise ValidationError({"hours": "Choose a weekday from Monday to Sunday."})
        if start >= end:
            raise ValidationError(
                {
                    "hours": f"{WEEKDAY_NAMES[weekday]} {start:%H:%M}–{end:%H:%M}: "
                    "the start must be before the end."
                }
            )
    with transaction.atomic():
        WorkingHours.objects.filter(resource=resource).delete()
        WorkingHours.objects.bulk_create(
            WorkingHours(resource=resource, weekday=w, start=s, end=e) for w, s, e in hours
        )
        calendar_version.bump(resource.clinic_id)  # bulk_create sends no signal
        audit_record(
            action="resource.hours",
            actor=actor,
            obj=resource,
            changes={"hours": [[w, s.isoformat(), e.isoformat()] for w, s, e in hours]},
        )
