from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from anagen.accounts.models import ApiToken, Clinic, Membership, User


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
