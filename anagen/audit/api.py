"""Audit log API: the clinic's audit trail, filtered, for roles that may view it (AUDIT_VIEW)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from pydantic import JsonValue

from anagen.accounts.permissions import Perm
from anagen.audit.models import AuditEvent
from anagen.audit.selectors import Cursor, audit_page
from anagen.interop.auth import api_actor
from anagen.interop.schemas import QueryIn

router = Router()


class AuditQuery(QueryIn):
    user_id: int | None = Field(None, ge=1, description="Only events by this staff user.")
    patient_id: int | None = Field(None, ge=1, description="Only events about this patient.")
    action: str = Field(
        "",
        max_length=64,
        description="Only actions starting with this (`procedures` or `procedures.lot.recall`).",
    )
    date_from: dt.date | None = Field(None, description="From this day (clinic's date).")
    date_to: dt.date | None = Field(None, description="To this day, included.")
    before: str = Field(
        "",
        max_length=60,
        description="Where the page starts: the `next` of the page before (empty: the newest).",
    )
    page_size: int = Field(50, ge=1, le=100, description="Events per page (at most 100).")


class AuditEventOut(Schema):
    id: int = Field(description="Event id (increasing).")
    at: dt.datetime = Field(description="When it happened.")
    action: str = Field(description="Action code (e.g. `procedures.session.sign`).")
    action_label: str = Field(description="The action in words.")
    user: str = Field(description="Who did it (user name; empty for the system).")
    via: str = Field(description="How: `web`, `api`, `task`, `cli` or `system`.")
    patient_id: int | None = Field(description="The patient concerned (absent if none).")
    object_type: str = Field(description="Kind of record concerned (may be empty).")
    object_id: str = Field(description="Id of the record concerned (may be empty).")
    changes: JsonValue = Field(
        description=(
            "What changed: old and new values, by field (`{}` when nothing did; null when "
            "the values were erased with the patient's record)."
        )
    )
    changes_erased: bool = Field(
        description="True when an erasure removed the values (who, when and what stay)."
    )

    @staticmethod
    def resolve_changes(obj: AuditEvent) -> Any:
        return obj.stored_changes

    @staticmethod
    def resolve_action_label(obj: AuditEvent) -> str:
        return obj.action_label

    @staticmethod
    def resolve_user(obj: AuditEvent) -> str:
        return obj.actor.get_username() if obj.actor else obj.username


class AuditPage(Schema):
    results: list[AuditEventOut] = Field(description="The events of this page, newest first.")
    next: str | None = Field(
        description="Send it as `before` for the next (older) page; absent on the last page."
    )


@router.get(
    "/events",
    response=AuditPage,
    summary="The audit log",
    description=(
        "Who did what, for which patient, when and how, newest first; filtered by user, "
        "patient, action (prefix) and days (the clinic's dates). Paged by position: send a "
        "page's `next` as `before` for the older events. Only roles that may view the log."
    ),
)
def list_events(request: HttpRequest, q: Query[AuditQuery]) -> Any:
    actor = api_actor(request, Perm.AUDIT_VIEW)
    if q.date_from and q.date_to and q.date_from > q.date_to:
        raise ValidationError({"query.date_to": "The end day is before the start day."})
    before = Cursor.parse(q.before) if q.before else None
    if q.before and before is None:
        raise ValidationError({"query.before": "Send the `next` value of the page before."})
    rows, cursor = audit_page(
        clinic=actor.clinic,
        user_id=q.user_id,
        patient_id=q.patient_id,
        action=q.action,
        date_from=q.date_from,
        date_to=q.date_to,
        before=before,
        size=q.page_size,
    )
    return {"results": rows, "next": cursor.token() if cursor else None}
