"""Reads of the audit trail (issue 15: fast at millions of rows).

Filtering by patient reads the (patient, at, id) index; the date filter is a range on `at`
between the clinic-local day bounds (no cast of the column); the action list is the closed
AuditAction list (no `SELECT DISTINCT` over the table); the page is keyset-paged (older than the
last row shown), so no page counts or skips rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from anagen.accounts.clinic_time import zone_of
from anagen.accounts.models import Clinic
from anagen.audit.models import AuditAction, AuditEvent


def _day_start(clinic: Clinic, day: dt.date) -> dt.datetime:
    """The instant the clinic's local day begins."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=zone_of(clinic))


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
        qs = qs.filter(action__startswith=action)
    if date_from:
        qs = qs.filter(at__gte=_day_start(clinic, date_from))
    if date_to:
        qs = qs.filter(at__lt=_day_start(clinic, date_to + dt.timedelta(days=1)))
    return qs


def _with_related(qs: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
    # The patient is fetched apart: a join would turn INNER under a patient filter and drop the
    # events of a patient whose row an erasure purged (their events stay in the trail).
    return qs.select_related("actor", "change_values").prefetch_related("patient")


def _clinic_events(clinic: Clinic, patient_id: int | None) -> QuerySet[AuditEvent]:
    if patient_id:
        # A patient's events all carry the clinic: the (patient, at, id) index answers.
        return AuditEvent.objects.filter(patient_id=patient_id, clinic=clinic)
    return AuditEvent.objects.filter(clinic=clinic)


def _staff_logins(clinic: Clinic) -> QuerySet[AuditEvent]:
    """Sign-ins and other events without a clinic, by this clinic's staff."""
    return AuditEvent.objects.filter(
        clinic__isnull=True, actor_id__in=clinic.memberships.values("user_id")
    )


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
) -> tuple[list[AuditEvent], Cursor | None]:
    """One page of the audit trail, newest first, older than `before`; and the cursor of the
    next (older) page, or None. Each source is read in index order with a LIMIT: the clinic's
    events (or the patient's), and, unfiltered by patient, the staff's sign-ins."""
    sources = [_clinic_events(clinic, patient_id)]
    if not patient_id:
        sources.append(_staff_logins(clinic))
    rows: list[AuditEvent] = []
    for source in sources:
        filtered = _filtered(
            source, clinic, user_id=user_id, action=action, date_from=date_from, date_to=date_to
        )
        qs = _older_than(filtered, before)
        rows += _with_related(qs)[: size + 1]
    rows.sort(key=lambda e: (e.at, e.id), reverse=True)
    page = rows[:size]
    more = len(rows) > size
    return page, (Cursor(at=page[-1].at, id=page[-1].id) if more and page else None)


def audit_actions_in(*, clinic: Clinic) -> list[str]:
    """The actions the filter offers: the closed list of audited actions (no table scan)."""
    return [str(a.value) for a in AuditAction]
