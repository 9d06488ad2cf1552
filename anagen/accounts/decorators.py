from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from anagen.accounts.permissions import Perm


def clinic_view(perm: Perm | None = None) -> Callable[..., Any]:
    """A page for a signed-in member of a clinic, optionally requiring a permission.

    A missing permission is a 403 page that says which; it never reveals another clinic's data
    because objects are looked up through the access helper afterwards.
    """

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            actor = getattr(request, "actor", None)
            if actor is None:
                return render(request, "accounts/no_clinic.html", status=403)
            if perm is not None and not actor.can(perm):
                return render(
                    request, "403.html", {"reason": f"Your role cannot {perm.label}."}, status=403
                )
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
