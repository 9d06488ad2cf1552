"""No lost updates: entity tags for records, `If-Match` on the API and a version on the pages.

A record's version is a hash of the row as the database holds it now (every stored column, and
the rows of the records it is composed of, such as a session and its preparation). Any saved
change gives a new version, so it is a *strong* validator in the sense of RFC 9110 §8.8.1 with
no column to add to any table.

API (one pattern for every protected operation)::

    @router.patch("/{id}", response={200: XOut, **PRECONDITION_PROBLEMS},
                  openapi_extra=etag_documented())
    def update_x(request, id: int, response: HttpResponse, if_match: IfMatch = None):
        x = ...                                 # permission, then the object (403/404 first)
        require_if_match(if_match, x)           # 428 without, 412 on a stale tag
        x = services.x_update(...)
        return tag(response, x)                 # the new ETag

    @router.get("/{id}", response=XOut, openapi_extra=etag_documented(write=False))
    def get_x(request, id: int, response: HttpResponse):
        return tag(response, x)

Pages carry the version they were loaded with in a hidden field (`VERSION_FIELD`); on save
`stale_edit(posted, current_rows)` says whether someone saved in between and `last_change(obj)`
says who and when (row history, else the audit trail).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

from django.apps import apps
from django.db import models
from django.db.models import QuerySet
from django.db.models.fields.files import FieldFile
from django.http import HttpResponse
from ninja import Header
from ninja.errors import HttpError

from anagen.interop.problems import Problem

VERSION_FIELD = "record_version"

IF_MATCH_DESCRIPTION = (
    "The `ETag` of the record as you last read it. Required to change it: without it the "
    "answer is 428, and 412 when someone changed the record since (read it again, re-apply "
    "your change, send the new tag)."
)

IfMatch = Annotated[str | None, Header(alias="If-Match", description=IF_MATCH_DESCRIPTION)]

PRECONDITION_PROBLEMS: dict[int, type[Problem]] = {412: Problem, 428: Problem}

STALE_DETAIL = (
    "The record changed since you read it (its ETag is no longer the one sent in If-Match). "
    "Read it again, re-apply your change and send the new ETag."
)
MISSING_DETAIL = (
    "Send the record's ETag (from the last read) in an If-Match header to change it, so a "
    "change made by someone else in between is not overwritten."
)


def _canonical(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value.is_finite() else str(value)
    if isinstance(value, bytes | memoryview):
        return hashlib.sha256(bytes(value)).hexdigest()
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _stored(row: models.Model) -> dict[str, Any]:
    """The row's columns as the database holds them now (not as this instance remembers)."""
    model = type(row)
    names = [f.attname for f in model._meta.concrete_fields]
    values = model._base_manager.filter(pk=row.pk).values(*names).first()
    return values or {}


def _loaded(row: models.Model) -> dict[str, Any] | None:
    """The row's columns as this instance was loaded, or None when one was not loaded (deferred)
    or the instance is not a saved row. Only for an instance read in this request and unchanged
    since: it saves reading the row a second time (tag_read)."""
    if row.pk is None or row._state.adding:
        return None
    values = row.__dict__
    out: dict[str, Any] = {}
    for f in type(row)._meta.concrete_fields:
        if f.attname not in values:
            return None
        value = values[f.attname]
        if isinstance(value, FieldFile):
            value = value.name  # what the column holds (and what .values() reads)
        out[f.attname] = value
    return out


Part = models.Model | QuerySet[Any] | None


def _part_body(part: Part, *, as_loaded: bool = False) -> Any:
    if part is None:
        return None
    if isinstance(part, QuerySet):
        names = [f.attname for f in part.model._meta.concrete_fields]
        rows = part.order_by("pk").values(*names)
        return {"model": part.model._meta.label_lower, "rows": _canonical(list(rows))}
    if part.pk is None:
        return None
    row = _loaded(part) if as_loaded else None
    if row is None:
        row = _stored(part)
    return {"model": part._meta.label_lower, "pk": part.pk, "row": _canonical(row)}


def version_of(*parts: Part, as_loaded: bool = False) -> str:
    """The version (an opaque token) of one record made of `parts`: rows, querysets of rows
    (a record's lines, say) or None for a part that is absent. `as_loaded`: the instances are
    rows this request just read and did not change (their values are used as they are)."""
    digest = hashlib.sha256()
    for part in parts:
        body = _part_body(part, as_loaded=as_loaded)
        digest.update(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())
        digest.update(b";")
    return digest.hexdigest()[:32]


def etag_of(*rows: Part) -> str:
    """The strong entity tag (quoted, RFC 9110) of the record made of `rows`."""
    return f'"{version_of(*rows)}"'


def tag[M: models.Model](response: HttpResponse, row: M, *parts: Part) -> M:
    """Put the ETag of the record (`row` and its `parts`) on the answer; returns `row`."""
    response["ETag"] = etag_of(row, *parts)
    return row


def tag_read[M: models.Model](response: HttpResponse, row: M, *parts: Part) -> M:
    """`tag` for a read: `row` (and any instance among `parts`) was just read by this request
    and is unchanged, so its version is computed from the values loaded, without reading the
    row again (the same tag `tag` gives; querysets among `parts` are still read)."""
    response["ETag"] = f'"{version_of(row, *parts, as_loaded=True)}"'
    return row


def _tags(header: str) -> list[str]:
    return [t.strip() for t in header.split(",") if t.strip()]


def if_match_ok(header: str, *rows: Part) -> bool:
    """Strong comparison of an If-Match header with the record's current tag (`*` = any)."""
    tags = _tags(header)
    if "*" in tags:
        return True
    current = etag_of(*rows)
    return any(t == current for t in tags)  # weak tags (W/"…") never match strongly


def require_if_match(if_match: str | None, *rows: Part) -> None:
    """428 without an If-Match, 412 when it does not name the record's current version."""
    if if_match is None or not if_match.strip():
        raise HttpError(428, MISSING_DETAIL)
    if not if_match_ok(if_match, *rows):
        raise HttpError(412, STALE_DETAIL)


def _header_doc(description: str) -> dict[str, Any]:
    return {"description": description, "schema": {"type": "string"}}


def etag_documented(*, write: bool = True, status: int = 200) -> dict[str, Any]:
    """`openapi_extra` for an operation that answers with an ETag (and, writing, needs If-Match)."""
    return {
        "responses": {
            status: {
                "headers": {
                    "ETag": _header_doc(
                        "The record's current version: send it back in If-Match to change it."
                    )
                }
            }
        }
    }


# --- pages ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """Who last changed a record and when (None when nobody is on record)."""

    who: str
    when: dt.datetime | None


def _person(user: Any) -> str:
    if user is None:
        return "someone"
    full = user.get_full_name() if hasattr(user, "get_full_name") else ""
    return str(full or user.get_username())


def last_change(obj: models.Model) -> Change:
    """The last saved change of `obj`: its row history when it has one, else the audit trail."""
    history = getattr(obj, "history", None)
    if history is not None and hasattr(history, "order_by"):
        last = (
            history.order_by("-history_date", "-history_id").select_related("history_user").first()
        )
        if last is not None:
            return Change(who=_person(last.history_user), when=last.history_date)
    AuditEvent = apps.get_model("audit", "AuditEvent")
    event = (
        AuditEvent.objects.filter(object_type=obj._meta.label_lower, object_id=str(obj.pk))
        .exclude(action__endswith=".read")
        .select_related("actor")
        .order_by("-id")
        .first()
    )
    if event is None:
        return Change(who="someone", when=None)
    return Change(who=_person(event.actor) if event.actor else event.username, when=event.at)


def stale_edit(posted_version: str | None, *rows: Part) -> bool:
    """True when a page's form was loaded from another version of the record than the current
    one (a form posted without its version is not checked: older pages, scripted posts)."""
    if not posted_version:
        return False
    return posted_version != version_of(*rows)
