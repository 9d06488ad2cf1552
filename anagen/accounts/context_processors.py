from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from anagen.accounts.selectors import memberships_of
from anagen.accounts.signed_in import remembered


def clinic_context(request: HttpRequest) -> dict[str, Any]:
    actor = getattr(request, "actor", None)
    if actor is None:
        return {"actor": None}
    user = actor.user
    # The clinics a person may switch between (the page header): remembered with the rest of
    # the signed-in context (anagen/accounts/signed_in.py forgets it when a membership, clinic
    # or person is saved), not a query on every page (issue 15).
    return {
        "actor": actor,
        "my_memberships": remembered(
            ("memberships", user.pk), lambda: list(memberships_of(user=user))
        ),
    }
