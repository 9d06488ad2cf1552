"""The REST API root at /api/v1/ with OpenAPI docs at /api/v1/docs.

Errors are RFC 9457 problem documents; validation problems list each field path.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from anagen.care.api import router as care_router
from anagen.interop.auth import ClinicSessionAuth, TokenAuth
from anagen.outcomes.api import router as outcomes_router
from anagen.patients.api import router as patients_router
from anagen.procedures.api import router as procedures_router
from anagen.scheduling.api import router as scheduling_router

api = NinjaAPI(
    title="Anagen API",
    version="1",
    description="Patients and clinical records of the clinic the caller belongs to.",
    auth=[TokenAuth(), ClinicSessionAuth()],
    urls_namespace="api-v1",
)


def problem(
    request: HttpRequest, status: int, title: str, detail: str = "", errors: list[Any] | None = None
) -> HttpResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors is not None:
        body["errors"] = errors
    response = api.create_response(request, body, status=status)
    response["Content-Type"] = "application/problem+json"
    return response


def _field_path(loc: list[Any]) -> str:
    # ninja locations look like ["body", "payload", "phone"]: keep where (body/query/path)
    # and the path inside the document, drop ninja's parameter name.
    parts = [str(p) for p in loc]
    if len(parts) >= 2 and parts[0] == "body" and parts[1] == "payload":
        parts = ["body", *parts[2:]]
    out = parts[0] if parts else ""
    for p in parts[1:]:
        out += f"[{p}]" if p.isdigit() else f".{p}"
    return out


@api.exception_handler(NinjaValidationError)
def _on_validation(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    errors = [
        {"field": _field_path(list(e.get("loc", []))), "message": e.get("msg", "")}
        for e in exc.errors
    ]
    return problem(request, 422, "Invalid input", errors=errors)


@api.exception_handler(DjangoValidationError)
def _on_service_validation(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
    if hasattr(exc, "error_dict"):
        errors = [
            {"field": f"body.{field}" if field != "__all__" else "body", "message": " ".join(msgs)}
            for field, msgs in exc.message_dict.items()
        ]
    else:
        errors = [{"field": "body", "message": " ".join(exc.messages)}]
    status = 409 if getattr(exc, "code", None) == "duplicate" else 422
    return problem(request, status, "Invalid input" if status == 422 else "Conflict", errors=errors)


@api.exception_handler(OverflowError)
def _on_overflow(request: HttpRequest, exc: OverflowError) -> HttpResponse:
    # An integer parameter beyond the database's 64-bit range (SQLite raises this).
    errors = [{"field": "query", "message": "A number is out of range."}]
    return problem(request, 422, "Invalid input", errors=errors)


@api.exception_handler(Http404)
def _on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return problem(request, 404, "Not found", str(exc) or "No such resource.")


@api.exception_handler(PermissionDenied)
def _on_forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return problem(request, 403, "Forbidden", str(exc))


@api.exception_handler(AuthenticationError)
def _on_unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return problem(request, 401, "Unauthorized", "Send a bearer token or sign in.")


@api.exception_handler(HttpError)
def _on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return problem(request, exc.status_code, exc.message)


api.add_router("/patients", patients_router, tags=["patients"])
api.add_router("/care", care_router, tags=["care"])
api.add_router("/scheduling", scheduling_router, tags=["scheduling"])
api.add_router("/procedures", procedures_router, tags=["procedures"])
api.add_router("/outcomes", outcomes_router, tags=["outcomes"])
