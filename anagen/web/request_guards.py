"""Guards every request passes: private responses are never cached, NUL text never stored.

- A response to a signed-in user or an API token carries patient data or could:
  `Cache-Control: no-store` keeps it out of browser and proxy caches (shared computers at a
  front desk are the norm).
- PostgreSQL cannot store a NUL character in text, and nobody types one: a query parameter,
  form field or JSON string holding one is refused up front (422 with the field for the API,
  a 400 page for pages) instead of failing deep in the database.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_cache_control

from anagen.interop.problems import problem

NUL = "\x00"


def _nul_paths(value: Any, path: str) -> list[str]:
    if isinstance(value, str):
        return [path] if NUL in value else []
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _nul_paths(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _nul_paths(v, f"{path}[{i}]")]
    return []


def _unstorable_fields(request: HttpRequest) -> list[str]:
    fields = [f"query.{k}" for k, vs in request.GET.lists() if any(NUL in v for v in vs)]
    if request.method in ("POST", "PUT", "PATCH"):
        ctype = request.content_type or ""
        if ctype == "application/json":
            try:
                body = json.loads(request.body or b"null")
            except (ValueError, UnicodeDecodeError):
                return fields  # the API answers an unreadable body itself
            fields += _nul_paths(body, "body")
        elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            fields += [f"body.{k}" for k, vs in request.POST.lists() if any(NUL in v for v in vs)]
    return fields


class RequestGuardMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        fields = _unstorable_fields(request)
        response = self._refuse(request, fields) if fields else self.get_response(request)
        user = getattr(request, "user", None)
        if getattr(request, "actor", None) is not None or (user and user.is_authenticated):
            patch_cache_control(response, no_store=True, private=True)
        return response

    def _refuse(self, request: HttpRequest, fields: list[str]) -> HttpResponse:
        message = "Contains a character that cannot be stored (a NUL byte): remove it."
        if request.path.startswith("/api/"):
            errors = [{"field": f, "message": message} for f in fields]
            return problem(422, "Invalid input", errors=errors)
        return render(
            request,
            "400.html",
            {"reason": "Part of what was sent contains a character that cannot be stored."},
            status=400,
        )
