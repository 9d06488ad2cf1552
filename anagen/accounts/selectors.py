from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from anagen.accounts.models import ApiToken, Clinic, Membership, Role, User
from anagen.accounts.permissions import role_requires_mfa


def memberships_of(*, user: User) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user, is_active=True).select_related(
        "clinic", "clinic__organisation"
    )


def membership_active_for(*, user: User, clinic_id: Any) -> Membership | None:
    """The membership for the clinic chosen in the session, else the user's first clinic."""
    memberships = memberships_of(user=user)
    if clinic_id is not None:
        chosen = memberships.filter(clinic_id=clinic_id).first()
        if chosen is not None:
            return chosen
    return memberships.order_by("clinic__name").first()


def staff_of(*, clinic: Clinic, include_inactive: bool = True) -> QuerySet[Membership]:
    qs = Membership.objects.filter(clinic=clinic).select_related("user")
    if not include_inactive:
        qs = qs.filter(is_active=True)
    return qs.order_by("-is_active", "user__last_name", "user__first_name")


def api_tokens_of(*, membership: Membership) -> QuerySet[ApiToken]:
    """A member's own API tokens for one clinic, newest first."""
    return ApiToken.objects.filter(membership=membership).order_by("-created_at")


def api_token_of(*, membership: Membership, token_id: int) -> ApiToken | None:
    return api_tokens_of(membership=membership).filter(pk=token_id).first()


def mfa_required_for(*, user: User) -> bool:
    """Whether `user` must sign in with a second factor: an active membership whose role is in
    the two-factor role table (permissions.py), or in a clinic that requires it of everyone."""
    roles = [r for r in Role.values if role_requires_mfa(r)]
    return (
        Membership.objects.filter(user=user, is_active=True)
        .filter(Q(role__in=roles) | Q(clinic__mfa_required_for_all=True))
        .exists()
    )


def totp_device_of(*, user: User) -> TOTPDevice | None:
    """The user's confirmed authenticator app, if any."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("-pk").first()


def recovery_device_of(*, user: User) -> StaticDevice | None:
    return StaticDevice.objects.filter(user=user, confirmed=True).order_by("-pk").first()


def mfa_enrolled(*, user: User) -> bool:
    """A confirmed authenticator app: what makes the sign-in ask for a code."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def recovery_codes_left(*, user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()
