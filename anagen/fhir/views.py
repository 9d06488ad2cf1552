"""The FHIR R4 endpoints under /fhir/R4/: metadata, read, search and Bulk Data $export.

Bulk Data (Access IG v2): kick-off by GET (query parameters) or POST (a Parameters resource:
`_outputFormat`, `_since`, `_type`, and `patient` at Patient and Group level); the status,
the files and the DELETE answer only the person who started the export (anyone else, in the
clinic or not, gets a 404); the files are deleted when the export expires, after which the
status and the files answer 404 saying so.

Every call but `metadata` needs a bearer API token (the API's token auth, scoped to one clinic)
whose role may read clinical records. Answers are application/fhir+json; errors are
OperationOutcome resources with the HTTP status that fits (another clinic's resource is a 404).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.utils import timezone
from django.utils.http import http_date
from django.views.decorators.csrf import csrf_exempt

from anagen.accounts.access import Actor
from anagen.accounts.clinic_time import human_datetime
from anagen.accounts.permissions import Perm
from anagen.fhir import build, capability, selectors, services
from anagen.fhir.models import BulkExport, ExportLevel, ExportStatus
from anagen.interop.auth import TokenAuth

FHIR_JSON = "application/fhir+json; charset=utf-8"
NDJSON = "application/fhir+ndjson"
OUTPUT_FORMATS = ("application/fhir+ndjson", "application/ndjson", "ndjson")
EXPORT_PARAMS = ("_outputFormat", "_type", "_since")

ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    413: "too-long",
    500: "exception",
}


def fhir_response(body: Any, status: int = 200, **headers: str) -> HttpResponse:
    response = HttpResponse(
        json.dumps(body, ensure_ascii=False), status=status, content_type=FHIR_JSON
    )
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def outcome(status: int, text: str, severity: str = "error", **headers: str) -> HttpResponse:
    body = build.validated(
        {
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": severity,
                    "code": ISSUE_CODES.get(
                        status, "informational" if status < 300 else "processing"
                    ),
                    "diagnostics": text,
                }
            ],
        }
    )
    return fhir_response(body, status, **headers)


def base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/fhir/R4")


View = Callable[..., HttpResponseBase]


def fhir_view(*methods: str, auth: bool = True) -> Callable[[View], View]:
    """Method check, bearer-token auth (CLINICAL_VIEW) and errors as OperationOutcome."""

    def decorate(fn: View) -> View:
        @csrf_exempt
        @wraps(fn)
        def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if request.method not in methods:
                return outcome(405, f"Use {' or '.join(methods)} here.", Allow=", ".join(methods))
            try:
                if not auth:
                    return fn(request, *args, **kwargs)
                if TokenAuth()(request) is None:
                    return outcome(
                        401,
                        "A valid bearer API token is required (Authorization: Bearer <token>).",
                        WWW_Authenticate='Bearer realm="fhir"',
                    )
                actor: Actor = request.actor  # type: ignore[attr-defined]
                actor.require(Perm.CLINICAL_VIEW)
                return fn(request, actor, *args, **kwargs)
            except Http404 as exc:
                return outcome(404, str(exc) or "Not found in this clinic.")
            except PermissionDenied as exc:
                return outcome(403, str(exc) or "Your role cannot read clinical records.")
            except selectors.SearchError as exc:
                return outcome(400, str(exc))

        return view

    return decorate


# --- metadata -----------------------------------------------------------------------------------


@fhir_view("GET", auth=False)
def metadata(request: HttpRequest) -> HttpResponse:
    return fhir_response(capability.capability_statement(base_url(request)))


# --- read and search ----------------------------------------------------------------------------


def _ctx(request: HttpRequest) -> build.Ctx:
    return build.Ctx(base=base_url(request), site=request.build_absolute_uri("/").rstrip("/"))


@fhir_view("GET")
def read(request: HttpRequest, actor: Actor, rtype: str, rid: str) -> HttpResponse:
    if rtype == "Group":
        return fhir_response(capability.clinic_group(actor, rid))
    if rtype not in selectors.RESOURCES:
        raise Http404(f"{rtype} is not served here (see /fhir/R4/metadata).")
    source, row = selectors.read(actor, rtype, rid)
    resource = build.validated(source.build(row, _ctx(request)))
    services.audit_read(actor=actor, rtype=rtype, source=source, row=row)
    return fhir_response(resource)


def _link(base: str, rtype: str, params: dict[str, list[str]], offset: int, count: int) -> str:
    query = [(k, v) for k, vs in params.items() if k not in ("_offset", "_count") for v in vs]
    query += [("_count", str(count))]
    if offset:
        query.append(("_offset", str(offset)))
    return f"{base}/{rtype}?{urlencode(query)}"


@fhir_view("GET")
def search(request: HttpRequest, actor: Actor, rtype: str) -> HttpResponse:
    if rtype not in selectors.RESOURCES:
        raise Http404(f"{rtype} is not served here (see /fhir/R4/metadata).")
    query = selectors.parse_query(actor, rtype, request.GET)
    page = selectors.search(actor, rtype, query)
    ctx = _ctx(request)
    base = ctx.base
    params = dict(request.GET.lists())
    links = [{"relation": "self", "url": _link(base, rtype, params, query.offset, query.count)}]
    if query.count and query.offset + query.count < page.total:
        nxt = query.offset + query.count
        links.append({"relation": "next", "url": _link(base, rtype, params, nxt, query.count)})
    if query.offset and query.count:
        prev = max(0, query.offset - query.count)
        links.append({"relation": "previous", "url": _link(base, rtype, params, prev, query.count)})
    entries = []
    for source, row in page.rows:
        resource = source.build(row, ctx)
        entries.append(
            {
                "fullUrl": f"{base}/{rtype}/{resource['id']}",
                "resource": resource,
                "search": {"mode": "match"},
            }
        )
    bundle = build.validated(
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": page.total,
            "link": links,
            **({"entry": entries} if entries else {}),
        }
    )
    services.audit_search(
        actor=actor, rtype=rtype, rows=page.rows, query=request.META.get("QUERY_STRING", "")
    )
    return fhir_response(bundle)


# --- Bulk Data $export ---------------------------------------------------------------------------

# Parameters of a kick-off (Bulk Data Access IG v2), and the Parameters value each takes in a
# POST body. `patient` narrows a Patient- or Group-level export to some patients (POST only).
PARAMETER_VALUES = {
    "_outputFormat": "valueString",
    "_since": "valueInstant",
    "_type": "valueString",
    "patient": "valueReference",
}


class KickOffError(ValueError):
    """A kick-off we cannot honour (a 400 OperationOutcome, or `status`)."""

    def __init__(self, text: str, status: int = 400) -> None:
        super().__init__(text)
        self.status = status


def _parameters_body(request: HttpRequest) -> dict[str, list[str]]:
    """The export parameters of a POST kick-off: a FHIR Parameters resource."""
    if request.GET:
        raise KickOffError(
            "A POST kick-off takes its parameters in the Parameters body, not in the URL."
        )
    try:
        raw = request.body
    except RequestDataTooBig:
        raise KickOffError("The Parameters body is too large.", 413) from None
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        raise KickOffError("The body is not JSON: send a FHIR Parameters resource.") from None
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise KickOffError("Send a FHIR Parameters resource (resourceType Parameters).")
    try:
        build.validated_model(body)
    except Exception:  # the R4B model says why; the caller needs to know it is not valid
        raise KickOffError("The Parameters resource is not valid FHIR R4.") from None
    params: dict[str, list[str]] = {}
    for parameter in body.get("parameter") or []:
        name = str(parameter.get("name", ""))
        kind = PARAMETER_VALUES.get(name)
        if kind is None:
            raise KickOffError(f"Export parameters not supported: {name}.")
        value = parameter.get(kind)
        if kind == "valueReference":
            value = (value or {}).get("reference") if isinstance(value, dict) else None
        if not isinstance(value, str) or not value.strip():
            raise KickOffError(f"The {name} parameter takes a {kind}.")
        params.setdefault(name, []).append(value.strip())
    return params


def _query_params(request: HttpRequest) -> dict[str, list[str]]:
    unknown = sorted(set(request.GET) - set(EXPORT_PARAMS))
    if "patient" in unknown:
        raise KickOffError("Send the patient parameter in a POST kick-off (a Parameters body).")
    if unknown:
        raise KickOffError(f"Export parameters not supported: {', '.join(unknown)}.")
    return {name: request.GET.getlist(name) for name in request.GET}


def _kick_off(request: HttpRequest, actor: Actor, level: str) -> HttpResponse:
    if "respond-async" not in request.headers.get("Prefer", ""):
        return outcome(400, "A bulk export needs the header Prefer: respond-async.")
    try:
        params = _parameters_body(request) if request.method == "POST" else _query_params(request)
    except KickOffError as exc:
        return outcome(exc.status, str(exc))
    formats = params.get("_outputFormat", [])
    if len(formats) > 1:
        return outcome(400, "Give _outputFormat once.")
    if formats and formats[0] not in OUTPUT_FORMATS:
        return outcome(
            400, f"_outputFormat {formats[0]!r} is not supported (use application/fhir+ndjson)."
        )
    types = list(selectors.RESOURCES)
    asked = [t.strip() for raw in params.get("_type", []) for t in raw.split(",") if t.strip()]
    if asked:
        bad = [t for t in asked if t not in selectors.RESOURCES]
        if bad:
            return outcome(400, f"_type names types not served here: {', '.join(bad)}.")
        types = [t for t in types if t in asked]
    since = None
    if params.get("_since"):
        if len(params["_since"]) > 1:
            return outcome(400, "Give _since once.")
        since = selectors.parse_instant(params["_since"][0])
    patient_ids: list[int] = []
    if params.get("patient"):
        if level == ExportLevel.SYSTEM:
            return outcome(
                400, "The patient parameter is for Patient/$export and Group/[id]/$export."
            )
        patient_ids = selectors.export_patient_ids(actor, params["patient"])
    job = services.export_start(
        actor=actor,
        level=level,
        types=types,
        since=since,
        patient_ids=patient_ids,
        request_url=request.build_absolute_uri(),
        base_url=base_url(request),
    )
    status_url = f"{base_url(request)}/$export-status/{job.key}"
    return outcome(
        202,
        "The export has started: poll the Content-Location URL for its status.",
        severity="information",
        Content_Location=status_url,
    )


@fhir_view("GET", "POST")
def export_system(request: HttpRequest, actor: Actor) -> HttpResponse:
    return _kick_off(request, actor, ExportLevel.SYSTEM)


@fhir_view("GET", "POST")
def export_patients(request: HttpRequest, actor: Actor) -> HttpResponse:
    return _kick_off(request, actor, ExportLevel.PATIENT)


@fhir_view("GET", "POST")
def export_group(request: HttpRequest, actor: Actor, group_id: str) -> HttpResponse:
    if group_id != capability.group_id(actor.clinic):
        raise Http404("No such group in this clinic.")
    return _kick_off(request, actor, ExportLevel.GROUP)


def _expired(job: BulkExport) -> str:
    when = human_datetime(job.expires_at) if job.expires_at else ""
    return (
        f"This export expired{' on ' + when if when else ''}: its files are deleted "
        f"{_lifetime_words()} after it finished. Start a new export."
    )


def _lifetime_words() -> str:
    hours = services.export_lifetime().total_seconds() / 3600
    return f"{hours:g} hour{'s' if hours != 1 else ''}"


def _current(actor: Actor, key: str) -> BulkExport:
    """The caller's own export; a finished one past its time is expired on the way."""
    job = selectors.export_for(actor, key)
    if job.status == ExportStatus.DONE and job.expires_at and job.expires_at <= timezone.now():
        services.export_expire(job)
        job = selectors.export_for(actor, key)
    return job


@fhir_view("GET", "DELETE")
def export_status(request: HttpRequest, actor: Actor, key: str) -> HttpResponse:
    job = _current(actor, key)
    if job.status == ExportStatus.CANCELLED:
        raise Http404("This export was cancelled.")
    if job.status == ExportStatus.EXPIRED:
        raise Http404(_expired(job))
    if request.method == "DELETE":
        services.export_cancel(actor=actor, job=job)
        return outcome(
            202, "The export is cancelled and its files deleted.", severity="information"
        )
    if job.status in (ExportStatus.QUEUED, ExportStatus.RUNNING):
        response = HttpResponse(status=202)
        response["X-Progress"] = job.progress or "Queued"
        response["Retry-After"] = "2"
        return response
    if job.status == ExportStatus.FAILED:
        return outcome(500, job.error or "The export failed.")
    file_base = f"{base_url(request)}/$export-file/{job.key}"
    manifest = {
        "transactionTime": build.instant(job.transaction_time),
        "request": job.request_url,
        "requiresAccessToken": True,
        "output": [
            {"type": o["type"], "url": f"{file_base}/{o['name']}", "count": o["count"]}
            for o in job.output
        ],
        "error": [],
    }
    response = HttpResponse(json.dumps(manifest), content_type="application/json")
    if job.expires_at:  # Bulk Data IG: when the files will no longer be available
        response["Expires"] = http_date(job.expires_at.timestamp())
    return response


@fhir_view("GET")
def export_file(request: HttpRequest, actor: Actor, key: str, name: str) -> HttpResponseBase:
    job = _current(actor, key)
    if job.status == ExportStatus.EXPIRED:
        raise Http404(_expired(job))
    names = {o["name"] for o in job.output} if job.status == ExportStatus.DONE else set()
    if name not in names:
        raise Http404("No such file in this export.")
    path = services.export_folder(job) / name
    if not path.is_file():
        raise Http404("This file is no longer available.")
    services.export_file_served(actor=actor, job=job, name=name)
    return FileResponse(path.open("rb"), content_type=NDJSON)
