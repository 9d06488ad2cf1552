"""Reads of the audit trail (issue 15: fast at millions of rows).

Filtering by patient reads the (patient, at, id) index; the date filter is a range on `at`
between the clinic-local day bounds (no cast of the column); the action list is the closed
AuditAction list (no `SELECT DISTINCT` over the table); the page is keyset-paged (older than the
last row shown), so no page counts or skips rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from django.db.models import F, Q, QuerySet
from django.db.models.lookups import Exact

from anagen.accounts.clinic_time import zone_of
from anagen.accounts.models import Clinic
from anagen.audit.models import AuditAction, AuditEvent


def _day_start(clinic: Clinic, day: dt.date) -> dt.datetime:
    """The instant the clinic's local day begins."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=zone_of(clinic))


def actions_meant(choice: str) -> list[str]:
    """The actions a filter choice means: one action ("chart.read"), or a kind ("consent"): every
    declared action of that kind and no other ("consent_template.*" is a kind of its own). A list
    the (action, at) index answers, where a prefix match (LIKE) cannot under every collation."""
    if "." in choice:
        return [choice]
    return [str(a.value) for a in AuditAction if str(a.value).split(".")[0] == choice]


def _filtered(
    qs: QuerySet[AuditEvent],
    clinic: Clinic,
    *,
    user_id: int | None,
    action: str,
    date_from: dt.date | None,
    date_to: dt.date | None,
) -> QuerySet[AuditEvent]:
    if user_id:
        qs = qs.filter(actor_id=user_id)
    if action:
        qs = qs.filter(action__in=actions_meant(action))
    if date_from:
        qs = qs.filter(at__gte=_day_start(clinic, date_from))
    if date_to:
        qs = qs.filter(at__lt=_day_start(clinic, date_to + dt.timedelta(days=1)))
    return qs


# What the audit trail shows of a patient (the record number, and whether it was deleted) and
# of a member of staff (the name; the user name for the API). Other columns are not read.
_PATIENT_SHOWN = ("id", "record_number", "deleted_at")
_ACTOR_SHOWN = ("id", "username", "first_name", "last_name")


def _unread(relation: str, shown: tuple[str, ...]) -> list[str]:
    model = AuditEvent._meta.get_field(relation).related_model
    return [
        f"{relation}__{f.name}"
        for f in model._meta.concrete_fields  # type: ignore[union-attr]
        if f.name not in shown and f.attname not in shown
    ]


def _with_related(qs: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
    """The event with its actor, its values and its patient (LEFT joins: an erasure purge may
    have removed the patient's row or the values; the event stays in the trail)."""
    qs = qs.select_related("actor", "change_values", "patient")
    return qs.defer(*_unread("actor", _ACTOR_SHOWN), *_unread("patient", _PATIENT_SHOWN))


def _clinic_events(clinic: Clinic, patient_id: int | None) -> QuerySet[AuditEvent]:
    if patient_id:
        # A patient's events all carry the clinic: the (patient, at, id) index answers. The
        # column is compared as an expression: `filter(patient_id=…)` would make Django join
        # the patient INNER (`_with_related`), dropping the events of an erased patient.
        return AuditEvent.objects.filter(Exact(F("patient_id"), patient_id), clinic=clinic)
    return AuditEvent.objects.filter(clinic=clinic)


def _staff_logins(clinic: Clinic, staff_ids: Collection[int] | None = None) -> QuerySet[AuditEvent]:
    """Sign-ins and other events without a clinic, by this clinic's staff (`staff_ids`: the
    user ids of all its memberships, when the caller has them: a plain list, not a join)."""
    staff: Any = clinic.memberships.values("user_id") if staff_ids is None else list(staff_ids)
    return AuditEvent.objects.filter(clinic__isnull=True, actor_id__in=staff)


def audit_events_for(
    *,
    clinic: Clinic,
    user_id: int | None = None,
    patient_id: int | None = None,
    action: str = "",
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> QuerySet[AuditEvent]:
    if patient_id:
        qs = _clinic_events(clinic, patient_id)
    else:
        # Logins carry no clinic; show those of this clinic's staff.
        staff_ids = clinic.memberships.values("user_id")
        qs = AuditEvent.objects.filter(
            Q(clinic=clinic) | Q(clinic__isnull=True, actor_id__in=staff_ids)
        )
    return _filtered(
        _with_related(qs),
        clinic,
        user_id=user_id,
        action=action,
        date_from=date_from,
        date_to=date_to,
    )


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICRO = dt.timedelta(microseconds=1)


@dataclass(frozen=True)
class Cursor:
    """Where a page ends: the last row's instant and id (pages are newest first)."""

    at: dt.datetime
    id: int

    def token(self) -> str:
        return f"{(self.at - _EPOCH) // _MICRO}.{self.id}"

    @classmethod
    def parse(cls, text: str | None) -> Cursor | None:
        try:
            micros, _, ident = (text or "").partition(".")
            at = _EPOCH + int(micros) * _MICRO
            pk = int(ident)
        except (ValueError, OverflowError, OSError):
            return None
        return cls(at=at, id=pk) if 0 < pk < 2**63 else None


def _older_than(qs: QuerySet[AuditEvent], cursor: Cursor | None) -> QuerySet[AuditEvent]:
    if cursor is not None:
        qs = qs.filter(Q(at__lt=cursor.at) | Q(at=cursor.at, id__lt=cursor.id))
    return qs.order_by("-at", "-id")


def audit_page(
    *,
    clinic: Clinic,
    user_id: int | None = None,
    patient_id: int | None = None,
    action: str = "",
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    before: Cursor | None = None,
    size: int = 50,
    staff_ids: Collection[int] | None = None,
) -> tuple[list[AuditEvent], Cursor | None]:
    """One page of the audit trail, newest first, older than `before`; and the cursor of the
    next (older) page, or None. Each source is read in index order with a LIMIT: the clinic's
    events (or the patient's), and, unfiltered by patient, the staff's sign-ins (their keys
    first: only those among the newest are loaded). `staff_ids`: the user ids of the clinic's
    memberships, when the caller already has them."""

    def keyset(source: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        filtered = _filtered(
            source, clinic, user_id=user_id, action=action, date_from=date_from, date_to=date_to
        )
        return _older_than(filtered, before)

    events = keyset(_clinic_events(clinic, patient_id))
    if patient_id:
        rows = list(_with_related(events)[: size + 1])
        page, more = rows[:size], len(rows) > size
        return page, (Cursor(at=page[-1].at, id=page[-1].id) if more and page else None)
    logins = list(keyset(_staff_logins(clinic, staff_ids)).values_list("at", "id")[: size + 1])
    rows = list(_with_related(events)[: size + 1])
    newest = sorted([(e.at, e.pk) for e in rows] + logins, reverse=True)[:size]
    more = len(rows) + len(logins) > size
    logins_shown = {pk for _, pk in newest} - {e.pk for e in rows}
    if logins_shown:
        rows += _with_related(AuditEvent.objects.filter(pk__in=logins_shown).order_by())
    rows.sort(key=lambda e: (e.at, e.id), reverse=True)
    page = rows[:size]
    return page, (Cursor(at=page[-1].at, id=page[-1].id) if more and page else None)


def audit_actions_in(*, clinic: Clinic) -> list[str]:
    """The actions the filter offers: the closed list of audited actions (no table scan)."""
    return [str(a.value) for a in AuditAction]
