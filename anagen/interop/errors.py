"""Domain errors mapped to status codes, in one place.

| raised                                        | status | title             |
|-----------------------------------------------|--------|-------------------|
| request does not match the schema             | 422    | Invalid input     |
| `ValidationError` from a service              | 422    | Invalid input     |
| `ValidationError` with code duplicate/conflict | 409    | Conflict          |
| `IntegrityError` (a rule only the database saw) | 409/422 |                 |
| `OverflowError` (a number beyond the database) | 422    | Invalid input     |
| `PermissionDenied` (the role may not)         | 403    | Forbidden         |
| `Http404` (not in the caller's clinic)        | 404    | Not found         |
| `AuthenticationError` (no token, no session)  | 401    | Unauthorized      |
| any other `HttpError`                         | its own status               |

Every answer is a problem document (`anagen.interop.problems`); validation problems list each
field path (`body.sessions[0].starts_at`, `query.page`, `path.patient_id`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DomainValidationError
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as RequestValidationError

from anagen.interop.problems import problem

logger = logging.getLogger(__name__)

# ValidationError codes that mean "the input is fine, the state of things says no".
CONFLICT_CODES = frozenset({"duplicate", "conflict"})

# Words for the few messages the web framework writes itself.
_FRAMEWORK_MESSAGES = {
    "Cannot parse request body": "The request body is not valid JSON.",
    "CSRF check Failed": "Signed-in calls that change data must send the CSRF token.",
    "Unauthorized": "Send a bearer token or sign in.",
    "Forbidden": "Your role may not do this.",
}


def field_path(loc: list[Any]) -> str:
    """["body", "payload", "sessions", 0, "n"] -> "body.sessions[0].n" (where, then the path)."""
    parts = [str(p) for p in loc]
    # the framework puts its parameter name after the location: keep only the document's path
    if len(parts) >= 2 and parts[0] == "body" and parts[1] == "payload":
        parts = ["body", *parts[2:]]
    out = parts[0] if parts else "body"
    for p in parts[1:]:
        out += f"[{p}]" if p.isdigit() else f".{p}"
    return out


def _domain_field(name: str) -> str:
    if name == "__all__":
        return "body"
    if name.split(".", 1)[0] in ("body", "query", "path"):
        return name  # the service (or handler) already said where
    return f"body.{name}"


def _code_of(exc: DomainValidationError) -> str | None:
    code = getattr(exc, "code", None)
    if code is None and len(exc.args) > 1 and isinstance(exc.args[1], str):
        code = exc.args[1]  # a dict of field errors keeps its code only in args
    return code


def _message(error: dict[str, Any]) -> str:
    text = str(error.get("msg", ""))
    return text.removeprefix("Value error, ")  # our validators' own words, without the wrapper


def request_invalid(exc: RequestValidationError) -> HttpResponse:
    errors = [
        {"field": field_path(list(e.get("loc", []))), "message": _message(e)} for e in exc.errors
    ]
    return problem(422, errors=errors)


def domain_invalid(exc: DomainValidationError) -> HttpResponse:
    if hasattr(exc, "error_dict"):
        errors = [
            {"field": _domain_field(field), "message": " ".join(msgs)}
            for field, msgs in exc.message_dict.items()
        ]
    else:
        errors = [{"field": "body", "message": " ".join(exc.messages)}]
    status = 409 if _code_of(exc) in CONFLICT_CODES else 422
    return problem(status, errors=errors)


def integrity(exc: IntegrityError) -> HttpResponse:
    # A rule the database enforces that no service checked first: a bug to fix, not a 500.
    logger.warning("Database refused a write: %s", exc)
    text = str(exc).lower()
    if "check" in text or getattr(getattr(exc, "__cause__", None), "sqlstate", "") == "23514":
        return problem(422, detail="A value is outside what the record allows.")
    return problem(409, detail="This conflicts with a record that already exists.")


def overflow(exc: OverflowError) -> HttpResponse:
    # An integer beyond the database's 64-bit range (SQLite raises this).
    return problem(422, errors=[{"field": "query", "message": "A number is out of range."}])


def forbidden(exc: PermissionDenied) -> HttpResponse:
    return problem(403, detail=str(exc) or _FRAMEWORK_MESSAGES["Forbidden"])


def not_found(exc: Http404) -> HttpResponse:
    detail = str(exc)
    if not detail or "matches the given query" in detail:
        detail = "No such resource."
    return problem(404, detail=detail)


def unauthenticated(exc: AuthenticationError) -> HttpResponse:
    return problem(401, detail=_FRAMEWORK_MESSAGES["Unauthorized"])


def http_error(exc: HttpError) -> HttpResponse:
    return problem(exc.status_code, detail=_FRAMEWORK_MESSAGES.get(exc.message, exc.message))


HANDLERS: dict[type[Exception], Callable[[Any], HttpResponse]] = {
    RequestValidationError: request_invalid,
    DomainValidationError: domain_invalid,
    IntegrityError: integrity,
    OverflowError: overflow,
    PermissionDenied: forbidden,
    Http404: not_found,
    AuthenticationError: unauthenticated,
    HttpError: http_error,
}


def problem_for(exc: Exception) -> HttpResponse | None:
    """The problem response for a domain error, or None for one this table does not know."""
    for cls in type(exc).__mro__:
        if cls in HANDLERS:
            return HANDLERS[cls](exc)
    return None


def install_error_handlers(api: NinjaAPI) -> None:
    """Route every known error of `api` through the one table above."""

    def handle(request: HttpRequest, exc: Exception | type[Exception]) -> HttpResponse:
        if isinstance(exc, type):  # pragma: no cover - the framework passes instances
            exc = exc()
        response = problem_for(exc)
        if response is None:  # pragma: no cover - only known classes are registered
            raise exc
        return response

    for exc_class in HANDLERS:
        api.add_exception_handler(exc_class, handle)
