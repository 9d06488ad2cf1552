"""Writes for staff and clinics; each records an audit event in the same transaction."""

from __future__ import annotations

import logging
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
    PasswordResetAttempt,
    Role,
    User,
)
from anagen.accounts.permissions import Perm, role_has
from anagen.audit.models import AuditAction
from anagen.audit.services import audit_record, diff_fields

logger = logging.getLogger(__name__)


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
    # Only the digests are stored: the codes are shown once, then exist nowhere on the server.
    StaticToken.objects.bulk_create(
        StaticToken(device=device, token=mfa.recovery_code_digest(user.pk, c)) for c in codes
    )
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
        token = mfa.recovery_code_digest(user.pk, typed) if model is StaticDevice else typed
        device = otp_verify_token(user, candidate.persistent_id, token) if typed else None
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


PASSWORD_RESET_WINDOW = timedelta(hours=1)


def password_reset_allowed(*, email: str, ip_address: str | None) -> bool:
    """Record a request for a password-reset email and say whether to send it: at most
    ANAGEN_PASSWORD_RESET_EMAIL_LIMIT (default 3) per address and
    ANAGEN_PASSWORD_RESET_IP_LIMIT (default 10) per client address an hour. Refused requests
    count too, so hammering keeps the limit closed; the person sees the same answer either way."""
    now = timezone.now()
    since = now - PASSWORD_RESET_WINDOW
    per_email = int(getattr(settings, "ANAGEN_PASSWORD_RESET_EMAIL_LIMIT", 3))
    per_ip = int(getattr(settings, "ANAGEN_PASSWORD_RESET_IP_LIMIT", 10))
    digest = PasswordResetAttempt.digest(email)
    with transaction.atomic():
        PasswordResetAttempt.objects.filter(at__lt=since).delete()
        recent = PasswordResetAttempt.objects.filter(at__gte=since)
        by_email = recent.filter(email_digest=digest).count()
        by_ip = recent.filter(ip_address=ip_address).count() if ip_address else 0
        PasswordResetAttempt.objects.create(email_digest=digest, ip_address=ip_address, at=now)
    allowed = by_email < per_email and by_ip < per_ip
    if not allowed:
        logger.warning(
            "Password-reset email not sent: limit reached (%s)",
            "address" if by_email >= per_email else "client address",
        )
    return allowed


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


# --- The clinic's settings and logo (the clinic admin's settings page) -------------------------

CLINIC_SETTING_FIELDS = (
    "name",
    "timezone",
    "default_phone_region",
    "consent_drawn_signature",
    "mfa_required_for_all",
)


def _clinic_settings_errors(values: dict[str, object]) -> dict[str, str]:
    from zoneinfo import available_timezones

    import phonenumbers

    errors: dict[str, str] = {}
    name = str(values.get("name", "")).strip()
    if not name or len(name) > 200:
        errors["name"] = "Give the clinic a name of 1 to 200 characters."
    if str(values.get("timezone", "")) not in available_timezones():
        errors["timezone"] = "Choose the clinic's time zone from the list."
    region = str(values.get("default_phone_region", "")).upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        errors["default_phone_region"] = (
            "Give the country of the clinic's phone numbers as two letters, e.g. GB."
        )
    return errors


@transaction.atomic
def clinic_settings_update(
    *,
    actor: Actor,
    name: str,
    timezone: str,
    default_phone_region: str,
    consent_drawn_signature: bool,
    mfa_required_for_all: bool,
) -> Clinic:
    """Change the active clinic's own settings; every changed field is audited (old and new)."""
    actor.require(Perm.CLINIC_SETTINGS)
    values: dict[str, object] = {
        "name": name.strip(),
        "timezone": timezone,
        "default_phone_region": default_phone_region.strip().upper(),
        "consent_drawn_signature": bool(consent_drawn_signature),
        "mfa_required_for_all": bool(mfa_required_for_all),
    }
    errors = _clinic_settings_errors(values)
    if errors:
        raise ValidationError(errors)
    clinic = Clinic.objects.select_for_update().get(pk=actor.clinic.pk)
    changes = {f: [getattr(clinic, f), v] for f, v in values.items() if getattr(clinic, f) != v}
    if changes:
        for f, (_, v) in changes.items():
            setattr(clinic, f, v)
            setattr(actor.clinic, f, v)
        clinic.save(update_fields=list(changes))
        audit_record(action=AuditAction.CLINIC_SETTINGS, actor=actor, obj=clinic, changes=changes)
    return clinic


@transaction.atomic
def clinic_logo_set(*, actor: Actor, content: bytes | None) -> Clinic:
    """Replace the clinic's logo with an upload (checked and re-encoded as PNG), or remove it
    (``content=None``). The old file is deleted once the change is committed."""
    from django.core.files.base import ContentFile

    from anagen.accounts import logo

    actor.require(Perm.CLINIC_SETTINGS)
    png = logo.logo_encode(content) if content is not None else None
    clinic = Clinic.objects.select_for_update().get(pk=actor.clinic.pk)
    old_name = clinic.logo.name or ""
    if png is None and not old_name:
        return clinic
    if png is not None:
        clinic.logo.save(logo.logo_file_name(clinic.pk, png), ContentFile(png), save=False)
    else:
        clinic.logo = ""  # type: ignore[assignment]
    clinic.save(update_fields=["logo"])
    actor.clinic.logo = clinic.logo
    audit_record(
        action=AuditAction.CLINIC_LOGO,
        actor=actor,
        obj=clinic,
        changes={
            "logo": ["set" if old_name else "none", "set" if png is not None else "none"],
            **({"bytes": len(png)} if png is not None else {}),
        },
    )
    new_name = clinic.logo.name or ""
    if old_name and old_name != new_name:
        storage = clinic.logo.storage
        transaction.on_commit(lambda: storage.delete(old_name))
    return clinic
