"""Writes for staff and clinics; each records an audit event in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from importlib import import_module

from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django_otp import verify_token as otp_verify_token
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from anagen.accounts import mfa
from anagen.accounts.access import Actor
from anagen.accounts.models import (
    TOKEN_DEFAULT_DAYS,
    TOKEN_MAX_DAYS,
    ApiToken,
    Clinic,
    Membership,
    Role,
    User,
)
from anagen.accounts.permissions import Perm, role_has
from anagen.audit.models import AuditAction
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


# --- API token last use -------------------------------------------------------------------------

TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)


def api_token_touch(*, token: ApiToken) -> bool:
    """Record that `token` was just used, at most once a minute (no write on every call)."""
    now = timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < TOKEN_TOUCH_INTERVAL:
        return False
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now
    return True


# --- Two-factor sign-in -------------------------------------------------------------------------


@dataclass(frozen=True)
class MfaCheck:
    """The outcome of a code typed at sign-in."""

    device: Device | None
    recovery_code_used: bool = False
    recovery_codes_left: int = 0
    wait_seconds: int = 0  # > 0: too many wrong codes, try again after this


def _recovery_codes_replace(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="Recovery codes", confirmed=True)
    codes: list[str] = []
    while len(codes) < mfa.RECOVERY_CODE_COUNT:
        code = StaticToken.random_token()
        if code not in codes:
            codes.append(code)
    StaticToken.objects.bulk_create(StaticToken(device=device, token=c) for c in codes)
    return codes


def mfa_enrol(
    *,
    user: User,
    key_hex: str,
    code: str,
    clinic: Clinic | None = None,
    ip_address: str | None = None,
) -> tuple[TOTPDevice, list[str]] | None:
    """Confirm a new authenticator app by its first code; replaces any earlier app and issues
    fresh recovery codes (returned once, never shown again). None when the code is wrong."""
    step = mfa.totp_match(key_hex, mfa.normalise_code(code))
    with transaction.atomic():
        if step is None:
            audit_record(
                action=AuditAction.MFA_FAILURE,
                user=user,
                clinic=clinic,
                ip_address=ip_address,
                changes={"stage": "enrolment"},
            )
            return None
        replaced, _ = TOTPDevice.objects.filter(user=user).delete()
        device = TOTPDevice.objects.create(
            user=user,
            name="Authenticator app",
            key=key_hex,
            step=mfa.STEP,
            digits=mfa.DIGITS,
            tolerance=mfa.TOLERANCE,
            confirmed=True,
            # The code that confirmed the app cannot be used again to sign in.
            last_t=step,
        )
        codes = _recovery_codes_replace(user)
        audit_record(
            action=AuditAction.MFA_ENROL,
            user=user,
            clinic=clinic,
            obj=device,
            ip_address=ip_address,
            changes={"replaced_earlier_app": bool(replaced), "recovery_codes": len(codes)},
        )
    return device, codes


def mfa_verify(
    *,
    user: User,
    code: str,
    clinic: Clinic | None = None,
    ip_address: str | None = None,
) -> MfaCheck:
    """Check a code typed after the password: a TOTP code (each accepted once: django-otp's
    `last_t` refuses a replay) or a recovery code (deleted when used). Failures are throttled
    per device (1, 2, 4 … seconds) and audited."""
    from anagen.accounts.selectors import recovery_codes_left

    typed = mfa.normalise_code(code)
    model: type[Device] = TOTPDevice if mfa.is_totp_shape(typed) else StaticDevice
    wait = 0
    for candidate in model.objects.filter(user=user, confirmed=True).order_by("pk"):
        allowed, info = candidate.verify_is_allowed()
        if not allowed:
            locked_until = (info or {}).get("locked_until")
            if locked_until is not None:
                wait = max(wait, int((locked_until - timezone.now()).total_seconds()) + 1)
            continue
        device = otp_verify_token(user, candidate.persistent_id, typed) if typed else None
        if device is None:
            continue
        if isinstance(device, StaticDevice):
            left = recovery_codes_left(user=user)
            audit_record(
                action=AuditAction.MFA_RECOVERY_CODE_USE,
                user=user,
                clinic=clinic,
                obj=device,
                ip_address=ip_address,
                changes={"recovery_codes_left": left},
            )
            return MfaCheck(device=device, recovery_code_used=True, recovery_codes_left=left)
        return MfaCheck(device=device)
    audit_record(
        action=AuditAction.MFA_FAILURE,
        user=user,
        clinic=clinic,
        ip_address=ip_address,
        changes={"stage": "sign-in", "kind": "app" if model is TOTPDevice else "recovery"}
        | ({"throttled": True} if wait else {}),
    )
    return MfaCheck(device=None, wait_seconds=wait)


@transaction.atomic
def recovery_codes_regenerate(
    *, user: User, clinic: Clinic | None = None, ip_address: str | None = None
) -> list[str]:
    """New recovery codes (the old ones stop working), returned once."""
    codes = _recovery_codes_replace(user)
    audit_record(
        action=AuditAction.MFA_RECOVERY_CODES_REGENERATE,
        user=user,
        clinic=clinic,
        ip_address=ip_address,
        changes={"recovery_codes": len(codes)},
    )
    return codes


@transaction.atomic
def mfa_reset(*, actor: Actor, membership: Membership) -> Membership:
    """A clinic admin clears a staff member's two-factor set-up (a lost phone): their devices
    and recovery codes go, their sessions end, and they enrol again at their next sign-in."""
    actor.require(Perm.STAFF_MANAGE)
    if membership.clinic_id != actor.clinic.pk:
        raise ValidationError("No such staff member.")
    audit_record(
        action=AuditAction.MFA_RESET,
        actor=actor,
        obj=membership,
        changes=_mfa_clear(membership.user),
    )
    return membership


def _mfa_clear(user: User) -> dict[str, object]:
    removed, _ = TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    sessions = _sessions_delete(user=user)
    return {"username": user.username, "apps_removed": removed, "sessions_ended": sessions}


@transaction.atomic
def mfa_reset_by_operator(*, user: User) -> None:
    """The same reset from the command line (`anagen mfa_reset USERNAME`), for the server's
    operator when no clinic admin can sign in (e.g. the only admin lost their phone)."""
    audit_record(action=AuditAction.MFA_RESET, user=user, via="cli", changes=_mfa_clear(user))


# --- Passwords ----------------------------------------------------------------------------------


@transaction.atomic
def password_set(
    *,
    user: User,
    password: str,
    reset: bool = False,
    ip_address: str | None = None,
) -> User:
    """Set a new password (already validated by the form): changed by its owner when signed in,
    or reset through an emailed link. Other signed-in sessions stop working (Django's session
    hash covers the password)."""
    user.set_password(password)
    user.save(update_fields=["password"])
    audit_record(
        action=AuditAction.PASSWORD_RESET if reset else AuditAction.PASSWORD_CHANGE,
        user=user,
        ip_address=ip_address,
    )
    return user


@transaction.atomic
def clinic_set_mfa_required(*, actor: Actor, required: bool) -> Clinic:
    """Require two-factor sign-in of every member of the actor's clinic (or only of the roles
    that always need it)."""
    actor.require(Perm.STAFF_MANAGE)
    clinic = actor.clinic
    if clinic.mfa_required_for_all != required:
        old = clinic.mfa_required_for_all
        clinic.mfa_required_for_all = required
        clinic.save(update_fields=["mfa_required_for_all"])
        audit_record(
            action=AuditAction.CLINIC_MFA_POLICY,
            actor=actor,
            obj=clinic,
            changes={"mfa_required_for_all": [old, required]},
        )
    return clinic
