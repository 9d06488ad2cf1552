from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from anagen.accounts.permissions import ROLE_PERMS
from anagen.accounts.selectors import memberships_of


def clinic_context(request: HttpRequest) -> dict[str, Any]:
    actor = getattr(request, "actor", None)
    if actor is None:
        return {"actor": None}
    return {
        "actor": actor,
        "perms_now": {p.value.replace(".", "_") for p in ROLE_PERMS.get(actor.role, ())},
        "my_memberships": list(memberships_of(user=actor.user)),
    }
