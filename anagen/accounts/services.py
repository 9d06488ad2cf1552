"""Writes for staff and clinics; each records an audit event in the same transaction."""

from __future__ import annotations

from datetime import timedelta
from importlib import import_module

from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.accounts.models import (
    TOKEN_DEFAULT_DAYS,
    TOKEN_MAX_DAYS,
    ApiToken,
    Membership,
    Role,
    User,
)
from anagen.accounts.permissions import Perm, role_has
from anagen.audit.services import audit_record, diff_fields


@transaction.atomic
def staff_create(
    *,
    actor: Actor,
    username: str,
    first_name: str,
    last_name: str,
    email: str,
    role: str,
    password: str,
) -> Membership:
    """Create a staff account in the actor's clinic, or add an existing account to it."""
    actor.require(Perm.STAFF_MANAGE)
    if role not in Role.values:
        raise ValidationError({"role": "Choose a role."})
    user = User.objects.filter(username__iexact=username).first()
    if user is None:
        user = User(username=username, first_name=first_name, last_name=last_name, email=email)
        user.set_password(password)
        user.save()
    elif Membership.objects.filter(user=user, clinic=actor.clinic).exists():
        raise ValidationError({"username": "This person is already on this clinic's staff."})
    membership = Membership.objects.create(user=user, clinic=actor.clinic, role=role)
    audit_record(
        action="staff.create",
        actor=actor,
        obj=membership,
        changes={"username": user.username, "role": [None, role]},
    )
    return membership


def _guard_last_admin(membership: Membership) -> None:
    """A clinic keeps at least one active member who may manage staff."""
    if not role_has(membership.role, Perm.STAFF_MANAGE):
        return
    managers = [r for r in Role.values if role_has(r, Perm.STAFF_MANAGE)]
    others = Membership.objects.filter(
        clinic=membership.clinic, role__in=managers, is_active=True
    ).exclude(pk=membership.pk)
    if not others.exists():
        raise ValidationError("A clinic must keep at least one active clinic admin.")


@transaction.atomic
def membership_change_role(*, actor: Actor, membership: Membership, role: str) -> Membership:
    actor.require(Perm.STAFF_MANAGE)
    if role not in Role.values:
        raise ValidationError({"role": "Choose a role."})
    if not diff_fields({"role": membership.role}, {"role": role}):
        return membership
    if not role_has(role, Perm.STAFF_MANAGE):
        _guard_last_admin(membership)
    old = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    audit_record(
        action="staff.role_change",
        actor=actor,
        obj=membership,
        changes={"username": membership.user.username, "role": [old, role]},
    )
    return membership


@transaction.atomic
def membership_set_active(*, actor: Actor, membership: Membership, active: bool) -> Membership:
    actor.require(Perm.STAFF_MANAGE)
    if membership.is_active == active:
        return membership
    if not active:
        if membership.pk == actor.membership.pk:
            raise ValidationError("You cannot deactivate yourself.")
        _guard_last_admin(membership)
    membership.is_active = active
    membership.save(update_fields=["is_active"])
    changes: dict[str, object] = {
        "username": membership.user.username,
        "is_active": [not active, active],
    }
    if not active:
        # Deactivation revokes, not just blocks: reactivating must not revive an old token or
        # an old signed-in session, so the tokens are revoked and the person signs in again.
        changes["tokens_revoked"] = ApiToken.objects.filter(
            membership=membership, revoked_at__isnull=True
        ).update(revoked_at=timezone.now())
        changes["sessions_ended"] = _sessions_delete(user=membership.user)
    audit_record(
        action="staff.activate" if active else "staff.deactivate",
        actor=actor,
        obj=membership,
        changes=changes,
    )
    return membership


def _sessions_delete(*, user: User) -> int:
    """End every live session of `user` (through the session engine, so caches forget it too)."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if str(session.get_decoded().get("_auth_user_id")) == str(user.pk):
            store(session_key=session.session_key).delete()
            ended += 1
    return ended


def api_token_days(value: object) -> int:
    """A token lifetime in whole days, 1 to TOKEN_MAX_DAYS; ValidationError otherwise."""
    text = str(value).strip() if value is not None else ""
    if text == "":
        return TOKEN_DEFAULT_DAYS
    if not text.isdigit() or not 1 <= int(text) <= TOKEN_MAX_DAYS:
        raise ValidationError(f"A token lasts 1 to {TOKEN_MAX_DAYS} days (whole days).")
    return int(text)


@transaction.atomic
def api_token_create(
    *, membership: Membership, name: str, days: int = TOKEN_DEFAULT_DAYS
) -> tuple[ApiToken, str]:
    """A new bearer token valid for `days` days; the raw key is returned once, never stored."""
    days = api_token_days(days)
    raw = ApiToken.new_raw_key()
    token = ApiToken.objects.create(
        membership=membership,
        name=name,
        key_hash=ApiToken.hash_key(raw),
        expires_at=timezone.now() + timedelta(days=days),
    )
    audit_record(
        action="api_token.create",
        user=membership.user,
        clinic=membership.clinic,
        obj=token,
        changes={"name": name, "days": days},
    )
    return token, raw


@transaction.atomic
def api_token_revoke(*, token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(
            action="api_token.revoke",
            user=token.membership.user,
            clinic=token.membership.clinic,
            obj=token,
            changes={"name": token.name},
        )
    return token
