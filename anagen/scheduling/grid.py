"""The calendar's time grid: one column per practitioner (or room) per day, one row per 15 minutes.

A selector (reads only), in a fixed number of queries whatever the number of appointments:
resources, appointments, and the free-slot calendar (bookings, working hours, clinic, closures,
leave). Rows run from the earliest opening to the latest closing of the shown resources on the
shown days, in the clinic's zone. Each cell is an appointment (spanning its rows), a free slot
(bookable), busy (the resource is held by a phase of another visit), outside working hours,
past, or blocked for the day (public holiday, clinic closure, staff leave).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from anagen.accounts.access import Actor
from anagen.accounts.permissions import Perm
from anagen.scheduling import availability as av
from anagen.scheduling.models import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    Resource,
    ResourceKind,
)

STEP = dt.timedelta(minutes=av.SLOT_STEP_MINUTES)
DEFAULT_OPEN, DEFAULT_CLOSE = dt.time(9, 0), dt.time(17, 30)


@dataclass(frozen=True, slots=True)
class GridAppointment:
    """What the grid shows of an appointment: read as plain values (no model instances), so a
    week of ~2,000 appointments costs one narrow query and no object building (issue 15)."""

    pk: int
    status: str
    kind: str
    starts_at: dt.datetime  # clinic-local
    ends_at: dt.datetime  # clinic-local
    practitioner_id: int | None
    room_id: int | None
    plan_id: int | None
    sequence: int | None
    family_name: str
    given_name: str
    practitioner_name: str
    room_name: str

    @property
    def kind_label(self) -> str:
        return _KIND_LABELS.get(self.kind, self.kind)

    @property
    def status_label(self) -> str:
        return _STATUS_LABELS.get(self.status, self.status)


_KIND_LABELS: dict[str, str] = {k: str(v) for k, v in AppointmentKind.choices}
_STATUS_LABELS: dict[str, str] = {k: str(v) for k, v in AppointmentStatus.choices}
_APPOINTMENT_VALUES = (
    "pk",
    "status",
    "kind",
    "starts_at",
    "ends_at",
    "practitioner_id",
    "room_id",
    "plan_id",
    "sequence",
    "patient__family_name",
    "patient__given_name",
    "practitioner__name",
    "room__name",
)


@dataclass
class Cell:
    kind: str  # appt | free | busy | off | past | blocked | skip
    start: dt.datetime  # clinic-local
    rowspan: int = 1
    appointments: list[GridAppointment] = field(default_factory=list)
    reason: str = ""
    resource_id: int = 0


class ResourceRow(NamedTuple):
    """A resource as the calendar's filters and compact default read it (cheap to cache)."""

    pk: int
    kind: str
    name: str
    membership_id: int | None
    clinic_id: int
    is_active: bool = True


@dataclass(frozen=True)
class Column:
    day: dt.date
    resource: Resource
    blocked: str  # why the whole day is blocked for this resource, or ""


@dataclass
class Row:
    at: dt.time
    cells: list[Cell]


@dataclass
class Grid:
    by: str  # practitioner | room
    days: list[dt.date]
    resources: list[Resource]
    columns: list[Column]
    rows: list[Row]
    day_notes: dict[dt.date, str]  # public holidays and closures, per day
    # The grid reads the clock only to tell past slots from free ones: it stays true while the
    # clock is at or before this instant (the earliest free slot's start), or forever if None.
    true_until: dt.datetime | None = None

    @property
    def span(self) -> int:
        return len(self.resources)


def _opening(cal: av.Calendar, resources: list[Resource], days: list[dt.date]) -> tuple:
    starts, ends = [], []
    for r in resources:
        week = cal.hours.get(r.pk)
        if not week:
            continue
        for d in days:
            for a, b in week.get(d.weekday(), ()):
                starts.append(a)
                ends.append(b)
    if not starts:
        return DEFAULT_OPEN, DEFAULT_CLOSE
    return min(starts), max(ends)


# A week of more practitioners (or rooms) than this opens on one of them: 7 × 20 columns of
# 15-minute cells is thousands of cells, slow to draw and to read (issue 15: the week with
# ~2,000 appointments within 3 × a bare page). The filter's "All" still shows every column.
COMPACT_WEEK_OVER = 6


def compact_week_default(
    actor: Actor,
    by: str = "practitioner",
    resources: list[Resource] | list[ResourceRow] | None = None,
) -> int | None:
    """The resource a week view shows by default in a big clinic (the person's own column when
    they are a practitioner), or None (show every column): one query, or none when given the
    clinic's active resources (the page has them for its filters already)."""
    actor.require(Perm.PATIENT_VIEW)
    kind = ResourceKind.ROOM if by == "room" else ResourceKind.PRACTITIONER
    rows = [(r.pk, r.membership_id) for r in _active(actor, kind, resources)]
    if len(rows) <= COMPACT_WEEK_OVER:
        return None
    own = next((pk for pk, member in rows if member == actor.membership.pk), None)
    return own or rows[0][0]


def _active(actor: Actor, kind: str, resources: Sequence[Any] | None) -> list[Any]:
    """The clinic's active resources of a kind by name: from ``resources`` (kept in their order,
    the database's: `Resource` orders by kind, name, id) or one query."""
    if resources is None:
        return list(
            Resource.objects.filter(clinic=actor.clinic, is_active=True, kind=kind).order_by(
                "name", "id"
            )
        )
    clinic_id = actor.clinic.pk
    return [r for r in resources if r.kind == kind and r.is_active and r.clinic_id == clinic_id]


def calendar_grid(
    *,
    actor: Actor,
    start: dt.date,
    days: int,
    by: str = "practitioner",
    resource_id: int | None = None,
    resources: list[Resource] | None = None,
) -> Grid:
    """``resources``: the clinic's active resources if the caller has them (saves a query)."""
    actor.require(Perm.PATIENT_VIEW)
    tz = actor.tz
    kind = ResourceKind.ROOM if by == "room" else ResourceKind.PRACTITIONER
    resources = _active(actor, kind, resources)
    if resource_id:
        resources = [r for r in resources if r.pk == resource_id] or resources
    day_list = [start + dt.timedelta(days=i) for i in range(days)]
    lo = dt.datetime.combine(start, dt.time(0), tzinfo=tz)
    hi = dt.datetime.combine(start + dt.timedelta(days=days), dt.time(0), tzinfo=tz)
    cal = av.Calendar.load(resources, lo, hi, tz)
    field_name = "room_id" if kind == ResourceKind.ROOM else "practitioner_id"
    appts = [
        GridAppointment(
            pk,
            status,
            kind_,
            starts_at.astimezone(tz),
            ends_at.astimezone(tz),
            practitioner_id,
            room_id,
            plan_id,
            sequence,
            family,
            given,
            practitioner_name or "",
            room_name or "",
        )
        for (
            pk,
            status,
            kind_,
            starts_at,
            ends_at,
            practitioner_id,
            room_id,
            plan_id,
            sequence,
            family,
            given,
            practitioner_name,
            room_name,
        ) in Appointment.objects.filter(
            clinic=actor.clinic,
            patient__deleted_at__isnull=True,
            starts_at__gte=lo,
            starts_at__lt=hi,
            **{f"{field_name}__in": [r.pk for r in resources]},
        )
        .exclude(status__in=(AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW))
        .order_by("starts_at", "id")
        .values_list(*_APPOINTMENT_VALUES)
    ]
    opens, closes = _opening(cal, resources, day_list)
    times: list[dt.time] = []
    t = dt.datetime.combine(start, opens)
    while t.time() < closes and t.date() == start:
        times.append(t.time())
        t += STEP
    columns = []
    for d in day_list:
        for r in resources:
            columns.append(Column(d, r, cal.closed.get(d) or cal.leave.get(r.pk, {}).get(d, "")))
    grid_cells: list[list[Cell | None]] = [[None] * len(columns) for _ in times]
    index = {(c.day, c.resource.pk): i for i, c in enumerate(columns)}
    # Appointments first: each spans the rows it covers; one starting under another joins it.
    for a in appts:
        local = a.starts_at
        col = index.get((local.date(), getattr(a, field_name)))
        if col is None or not times:
            continue
        row = _row_of(times, local.time())
        n = max(1, math.ceil((a.ends_at - a.starts_at) / STEP))
        owner = _owner(grid_cells, row, col)
        if owner is not None:
            owner_row, cell = owner
            cell.appointments.append(a)
            cell.rowspan = max(cell.rowspan, min(row + n, len(times)) - owner_row)
            continue
        n = min(n, len(times) - row)
        grid_cells[row][col] = Cell("appt", _at(local.date(), times[row], tz), n, [a])
    now = dt.datetime.now(tz)
    true_until: dt.datetime | None = None
    for ci, c in enumerate(columns):
        covered_until = -1
        day_lo = _at(c.day, dt.time(0), tz)
        day_hi = day_lo + dt.timedelta(days=1)
        busy = [
            (bs, be) for bs, be in cal.busy.get(c.resource.pk, ()) if bs < day_hi and day_lo < be
        ]
        for ri, at in enumerate(times):
            placed = grid_cells[ri][ci]
            if placed is not None and placed.kind == "appt":
                covered_until = max(covered_until, ri + placed.rowspan - 1)
                continue
            if ri <= covered_until:
                grid_cells[ri][ci] = Cell("skip", _at(c.day, at, tz))
                continue
            s = _at(c.day, at, tz)
            e = s + STEP
            if c.blocked:
                kind_, reason = "blocked", c.blocked
            elif not cal.within_hours(c.resource.pk, s, e):
                kind_, reason = "off", "Not working"
            elif any(bs < e and s < be for bs, be in busy):
                kind_, reason = "busy", "Busy"
            elif s < now:
                kind_, reason = "past", ""
            else:
                kind_, reason = "free", ""
                if true_until is None or s < true_until:
                    true_until = s
            grid_cells[ri][ci] = Cell(kind_, s, reason=reason, resource_id=c.resource.pk)
    rows = [Row(at, [c for c in grid_cells[ri] if c is not None]) for ri, at in enumerate(times)]
    return Grid(
        by="room" if kind == ResourceKind.ROOM else "practitioner",
        days=day_list,
        resources=resources,
        columns=columns,
        rows=rows,
        day_notes={d: cal.closed[d] for d in day_list if d in cal.closed},
        true_until=true_until,
    )


def _at(day: dt.date, at: dt.time, tz: dt.tzinfo) -> dt.datetime:
    return dt.datetime.combine(day, at, tzinfo=tz)


def _row_of(times: list[dt.time], at: dt.time) -> int:
    """The row an instant falls in (before opening: the first; after closing: the last)."""
    found = 0
    for i, t in enumerate(times):
        if t <= at:
            found = i
    return found


def _owner(cells: list[list[Cell | None]], row: int, col: int) -> tuple[int, Cell] | None:
    """The appointment cell whose span covers (row, col), if any."""
    for r in range(row, -1, -1):
        cell = cells[r][col]
        if cell is not None and cell.kind == "appt":
            return (r, cell) if r + cell.rowspan > row else None
    return None
