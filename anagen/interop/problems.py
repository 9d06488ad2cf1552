"""Problem documents (RFC 9457): the one shape of every API error, and its OpenAPI schema.

Routers declare the problems an operation can return beyond the ones every operation shares
(`response={201: PatientOut, **problems(409)}`); `document_problems` adds the shared ones
(401/403 for every authenticated call, 422 for invalid input, 400 for an unreadable body, 413
for a body over the size limit, 404 for an id in the path or the body, 412/428 for an If-Match
header, 409/422 for a reused Idempotency-Key on a POST) and gives every 4xx answer the
`application/problem+json` media type.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse
from ninja import Field, Schema

PROBLEM_MEDIA_TYPE = "application/problem+json"

TITLES: dict[int, str] = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    412: "Precondition failed",
    413: "Content too large",
    422: "Invalid input",
    428: "Precondition required",
    429: "Too many requests",
}

DESCRIPTIONS: dict[int, str] = {
    400: "The request body could not be read.",
    401: "No valid bearer token or signed-in session.",
    403: "The caller's role may not do this.",
    404: "No such object in the caller's clinic.",
    409: "Conflicts with the current state (a taken slot, a possible duplicate).",
    412: "The record changed since the ETag sent in If-Match: read it again and retry.",
    413: "The request body is larger than the API accepts (ANAGEN_API_MAX_BODY bytes).",
    422: "Invalid input: each error names its field (body.x, query.y, path.z).",
    428: "No If-Match header: send the ETag of your last read to change this record.",
}


class ProblemError(Schema):
    field: str = Field(description="Where: `body.<path>`, `query.<name>` or `path.<name>`.")
    message: str


class Problem(Schema):
    type: str = Field("about:blank", description="Always about:blank: the status says it all.")
    title: str
    status: int
    detail: str = Field("", description="What went wrong, in words (may be absent).")
    errors: list[ProblemError] = Field(
        default_factory=list, description="One entry per invalid field (may be absent)."
    )


def problem(
    status: int, title: str = "", detail: str = "", errors: list[dict[str, str]] | None = None
) -> HttpResponse:
    """An `application/problem+json` response."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title or TITLES.get(status) or HTTPStatus(status).phrase,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if errors is not None:
        body["errors"] = errors
    return HttpResponse(
        json.dumps(body, cls=DjangoJSONEncoder), status=status, content_type=PROBLEM_MEDIA_TYPE
    )


def problems(*statuses: int) -> dict[int, type[Problem]]:
    """The extra problem responses of one operation, for its `response=` mapping."""
    return {status: Problem for status in statuses}


# --- the OpenAPI document -------------------------------------------------------------------

_REF = "#/components/schemas/Problem"


def _problem_components() -> dict[str, Any]:
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})
    return {**defs, "Problem": schema}


def _body_names_records(operation: dict[str, Any], components: dict[str, Any]) -> bool:
    """Whether the request body names records by id (`patient_id`, `lot_id`, `patient_ids`):
    an id of another clinic, or of nothing, is a 404."""
    for media in operation.get("requestBody", {}).get("content", {}).values():
        schema = media.get("schema", {})
        ref = schema.get("$ref", "")
        if ref:
            schema = components.get(ref.rsplit("/", 1)[-1], {})
        if any(n.endswith(("_id", "_ids")) for n in schema.get("properties", {})):
            return True
    return False


def _shared_statuses(
    operation: dict[str, Any], secured: bool, components: dict[str, Any]
) -> set[int]:
    statuses: set[int] = set()
    if secured:
        statuses |= {401, 403}
    parameters = operation.get("parameters", [])
    if parameters or "requestBody" in operation:
        statuses.add(422)
    if "requestBody" in operation:
        statuses |= {400, 413}
    if any(p.get("in") == "path" for p in parameters) or _body_names_records(operation, components):
        statuses.add(404)
    if any(p.get("in") == "header" and p.get("name") == "If-Match" for p in parameters):
        statuses |= {412, 428}
    return statuses


IDEMPOTENCY_KEY_PARAMETER: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "A key of your choosing (1 to 255 printable ASCII characters) that makes a retry safe: "
        "sending the same request with the same key again within 24 hours replays the first "
        "answer (with `Idempotent-Replayed: true`) instead of doing it twice. The same key "
        "with another path or body is a 422; while the first request runs, a 409."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}


def _document_idempotency(method: str, operation: dict[str, Any]) -> None:
    """POST operations honour an `Idempotency-Key` header (`anagen.interop.idempotency`)."""
    if method.lower() != "post":
        return
    parameters = operation.setdefault("parameters", [])
    if not any(p.get("in") == "header" and p.get("name") == "Idempotency-Key" for p in parameters):
        parameters.append(dict(IDEMPOTENCY_KEY_PARAMETER))
    responses = operation.setdefault("responses", {})
    for status in (409, 422):
        responses.setdefault(status, {"description": DESCRIPTIONS[status]})


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the problem responses each operation can return to an OpenAPI document, and the
    `Idempotency-Key` header of POST operations."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(_problem_components())
    global_security = bool(schema.get("security"))
    for path_item in schema.get("paths", {}).values():
        for method, operation in path_item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            _document_idempotency(method, operation)
            responses = operation["responses"]
            secured = bool(operation.get("security", global_security))
            declared = {int(code) for code in responses if str(code).startswith("4")}
            responses = {str(code): value for code, value in responses.items()}
            shared = _shared_statuses(operation, secured, components)
            for status in sorted(declared | shared):
                responses[str(status)] = {
                    "description": DESCRIPTIONS.get(status, TITLES.get(status, "Problem")),
                    "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": _REF}}},
                }
            operation["responses"] = dict(sorted(responses.items()))
    return schema
