"""No lost updates on the pages: one guard for every form that changes a record.

A page that edits a record puts the record's version (`anagen.interop.etag.version_of` of the
record's parts: its row and the rows it is composed of) in a hidden field of each of its forms
(template: ``{% include "web/_version.html" %}`` with ``record_version`` in the context). On
save the view asks `refusal(request, *parts, what=...)`: "" when the form was loaded from the
record as it is now (or carries no version: older pages, scripted posts), else a sentence that
says who changed the record and when, and that nothing was saved. The view then saves nothing,
re-renders the form bound to what was typed (nothing is lost) with the message and the
record's *current* version, so saving again - after a look - goes through.

The latest change being the same person's own (a section saved in place a moment before) is
not a conflict.

One-click actions (sign, issue, close, remove, withdraw, cancel) use `retry=` instead: nothing
was typed, so the sentence asks to look at the record and act again.

Pages whose forms save in place (htmx) answer a successful save with the new version in the
`X-Record-Version` header; anagen/static/anagen/versions.js copies it into every form of the
page, so the page's other sections do not refuse the same person's next save.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import models
from django.db.models import Q, QuerySet
from django.db.models.lookups import Exact
from django.http import HttpRequest, HttpResponse

from anagen.accounts.clinic_time import human_datetime
from anagen.interop.etag import VERSION_FIELD, Part, stale_edit, version_of

__all__ = [
    "VERSION_FIELD",
    "VERSION_HEADER",
    "changed_by",
    "page_version",
    "refusal",
    "with_version",
]

VERSION_HEADER = "X-Record-Version"


def page_version(*parts: Part) -> str:
    """The version a page's forms carry (hidden field `record_version`)."""
    return version_of(*parts)


def _simple_filters(qs: QuerySet[Any]) -> dict[str, Any] | None:
    """`column=value` filters of a plain related queryset (`session.zones.all()`), or None."""
    where = qs.query.where
    if where.negated or where.connector != "AND":
        return None
    filters: dict[str, Any] = {}
    for child in where.children:
        target = getattr(getattr(child, "lhs", None), "target", None)
        if not isinstance(child, Exact) or target is None:
            return None
        value = child.rhs
        if isinstance(value, models.Model):
            value = value.pk
        if hasattr(value, "resolve_expression"):
            return None
        filters[target.attname] = value
    return filters


@dataclass(frozen=True)
class Change:
    """The latest saved change of a record: who (a name to show), their user id, when."""

    who: str
    when: dt.datetime | None
    user_id: int | None = None


def _person(user: Any) -> str:
    if user is None:
        return "someone"
    return str(user.get_full_name() or user.get_username())


def _from_history(rows: QuerySet[Any]) -> Change | None:
    last = rows.order_by("-history_date", "-history_id").select_related("history_user").first()
    if last is None:
        return None
    return Change(_person(last.history_user), last.history_date, last.history_user_id)


# Audit actions that read or send a record without changing it.
_NOT_CHANGES = (
    Q(action__endswith="read")
    | Q(action__endswith=".pdf")
    | Q(action__endswith=".list")
    | Q(action__endswith=".email")
    | Q(action__contains="export")
    | Q(action__endswith="download")
)


def _from_audit(obj: models.Model) -> Change | None:
    AuditEvent = apps.get_model("audit", "AuditEvent")
    event = (
        AuditEvent.objects.filter(object_type=obj._meta.label_lower, object_id=str(obj.pk))
        .exclude(_NOT_CHANGES)
        .select_related("actor")
        .order_by("-id")
        .first()
    )
    if event is None:
        return None
    who = _person(event.actor) if event.actor else (event.username or "someone")
    return Change(who, event.at, event.actor_id)


def _history_of(model: type[models.Model]) -> Any:
    history = getattr(model, "history", None)
    return history if history is not None and hasattr(history, "filter") else None


def _row_change(row: models.Model) -> Change | None:
    history = _history_of(type(row))
    changes = [_from_audit(row)]
    if history is not None:
        changes.append(_from_history(history.filter(id=row.pk)))
    return _latest(changes)


def _queryset_change(qs: QuerySet[Any]) -> Change | None:
    """The last change among a queryset's rows, removed rows included when the rows keep a
    history and the queryset is a plain filter (a record's lines, say)."""
    history = _history_of(qs.model)
    if history is None:
        return _latest([_from_audit(row) for row in qs[:50]])
    filters = _simple_filters(qs)
    if filters is None:
        return _from_history(history.filter(id__in=list(qs.values_list("pk", flat=True))))
    return _from_history(history.filter(**filters))


def _latest(changes: list[Change | None]) -> Change | None:
    dated = [c for c in changes if c is not None and c.when is not None]
    return max(dated, key=lambda c: c.when or dt.datetime.min) if dated else None


def changed_by(*parts: Part) -> Change:
    """Who made the latest change to a record made of `parts` (its rows' history, else the
    audit trail), and when."""
    changes: list[Change | None] = []
    for part in parts:
        if isinstance(part, QuerySet):
            changes.append(_queryset_change(part))
        elif part is not None and part.pk is not None:
            changes.append(_row_change(part))
    return _latest(changes) or Change(who="someone", when=None)


def refusal(
    request: HttpRequest,
    *parts: Part,
    what: str = "this record",
    retry: str = "",
) -> str:
    """'' when this POST may change the record; else why not (who changed it, when).

    `retry`: for a one-click action (nothing typed), the action to try again ("sign it")."""
    if request.method != "POST" or not stale_edit(request.POST.get(VERSION_FIELD), *parts):
        return ""
    change = changed_by(*parts)
    user_id = getattr(request.user, "pk", None)
    if user_id is not None and change.user_id == user_id:
        # The latest change is this person's own (another section of the same page saved in
        # place a moment before, or a click that raced that save): not a conflict. Someone
        # else's change after it would be the latest one, and refused.
        return ""
    when = f" on {human_datetime(change.when)}" if change.when else ""
    if retry:
        return (
            f"{change.who} changed {what}{when} after you opened it. Nothing was done: "
            f"look at it as it is now, then {retry} again."
        )
    return (
        f"{change.who} changed {what}{when} while you were editing. Nothing was saved. "
        "Your entries are kept: check them against the record as it is now, then save again."
    )


def with_version(response: HttpResponse, *parts: Part) -> HttpResponse:
    """Put the record's new version on an in-place (htmx) answer (see versions.js)."""
    response[VERSION_HEADER] = version_of(*parts)
    return response
