from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from anagen.accounts.selectors import memberships_of


def clinic_context(request: HttpRequest) -> dict[str, Any]:
    actor = getattr(request, "actor", None)
    if actor is None:
        return {"actor": None}
    return {
        "actor": actor,
        "my_memberships": list(memberships_of(user=actor.user)),
    }
