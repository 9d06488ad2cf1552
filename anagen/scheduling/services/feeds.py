"""A practitioner's iCalendar feed secret: rotated by the practitioner or a resource manager."""

from __future__ import annotations

import hashlib
import secrets

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.accounts.permissions import Perm
from anagen.audit.services import audit_record
from anagen.scheduling.models import CalendarFeedToken, Resource, ResourceKind


def feed_token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def feed_may_rotate(actor: Actor, resource: Resource) -> bool:
    """The practitioner themself (an active member) or someone who manages resources."""
    if actor.can(Perm.RESOURCES_MANAGE):
        return True
    return bool(actor.perm_set) and resource.membership_id == actor.membership.pk


def feed_token_rotate(*, actor: Actor, resource: Resource) -> str:
    """Issue a new secret for a practitioner's feed; the old URL stops working at once.

    Returns the raw token, shown once: only its hash is stored.
    """
    actor.require(Perm.PATIENT_VIEW)  # an active member of the clinic
    if resource.clinic_id != actor.clinic.pk or resource.kind != ResourceKind.PRACTITIONER:
        raise Http404("No such practitioner.")
    if not feed_may_rotate(actor, resource):
        raise PermissionDenied(
            "Only the practitioner or someone who manages resources can rotate this feed."
        )
    raw = secrets.token_urlsafe(32)
    with transaction.atomic():
        token, created = CalendarFeedToken.objects.get_or_create(
            resource=resource, defaults={"token_hash": feed_token_hash(raw)}
        )
        if not created:
            token.token_hash = feed_token_hash(raw)
            token.rotated_at = timezone.now()
            token.save(update_fields=["token_hash", "rotated_at"])
        audit_record(action="feed_token.rotate", actor=actor, obj=resource)
    return raw
