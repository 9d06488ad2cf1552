"""Session layout, working hours and free-slot search.

Phase layout of one session (durations from the protocol; defaults 75 min with 45 min of
anaesthetic cream, from the kernel's protocol data):

    PRP (needs a centrifuge)       0 ──── cream ──── C ── draw+spin ── C+15 ── injection ── D
      room          ████████████████████████████████████████████████████████████████████
      practitioner                                   ███████████████████████████████████
      centrifuge                                     ██████████████

    Mesotherapy                    0 ──── cream ──── C ─────────── injection ─────────── D
      room          ████████████████████████████████████████████████████████████████████
      practitioner                                   ███████████████████████████████████

    Consultation (no procedure)    0 ──────────── consultation (30 min) ───────────────
      room + practitioner

The room is held for the whole visit; the practitioner only while they draw and inject (the
cream works without them, so one practitioner can run two rooms staggered); the centrifuge only
for the draw and spin. Each resource's held interval is one ``ResourceBooking`` row: a
resource's touching phases of one visit are one hold (the room's cream, draw and spin and
injection are one row from 0 to D, the practitioner's draw and spin and injection one row from C
to D; its ``phase`` is the first phase it covers), so the database constraint sees exactly what
is busy with the fewest rows (a PRP visit is three rows, mesotherapy and consultation two). Holds
of one resource that do not touch stay separate rows, so the resource is bookable between them.
``phase_layout`` is the visit phase by phase; ``layout`` the holds booked.

Closed days: no interval may fall on a public holiday of the clinic's country and region, a
clinic closure, or (for a practitioner) a day of the staff member's leave
(``anagen.scheduling.closures``); the series planner and the calendar grid skip them.

Working hours: every booking interval must lie inside one of its resource's working-hours
intervals for that clinic-local weekday. A resource with no working hours at all is treated as
always open (e.g. a centrifuge nobody bothered to give hours).
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Q

from anagen.clinical import PROCEDURES, get_protocol
from anagen.scheduling.models import (
    Appointment,
    AppointmentStatus,
    Phase,
    Resource,
    ResourceBooking,
    ResourceKind,
    WorkingHours,
)

SPIN_MINUTES = 15
CONSULTATION_MINUTES = 30
SLOT_STEP_MINUTES = 15
# Candidate start times searched each day (clinic-local); working hours narrow them further.
SEARCH_FROM = dt.time(7, 0)
SEARCH_UNTIL = dt.time(20, 0)
SLOTS_PER_SESSION = 5
# No hold lasts longer than this (one resource's hold in one visit; ``_insert_bookings``
# refuses longer ones), so "which bookings overlap [lo, hi)" is a bounded index range on
# ``starts_at`` (resource, active, starts_at) instead of a scan of the resource's history.
MAX_HOLD = dt.timedelta(hours=12)

Interval = tuple[dt.datetime, dt.datetime]


@dataclass(frozen=True)
class PhaseHold:
    role: str  # "room" | "practitioner" | "centrifuge"
    phase: str
    start_min: int
    end_min: int


def needs_centrifuge(procedure: str) -> bool:
    return PROCEDURES.get(procedure, {}).get("kind") == "prp"


def session_minutes(protocol_id: str | None) -> tuple[int, int]:
    """(session minutes, anaesthetic cream minutes) from the kernel's protocol data."""
    # Without a protocol, the library's defaults (the same for every protocol) apply.
    doc = get_protocol(protocol_id or "prp-aga-monthly-3")
    return int(doc["session_minutes"]), int(doc["anaesthetic_cream_minutes"])


def layout(procedure: str, protocol_id: str | None = None) -> list[PhaseHold]:
    """The holds booked for one visit: ``phase_layout`` with each role's touching phases joined
    into one hold (one ``ResourceBooking`` row per resource and visit unless it is let go in
    between); a joined hold keeps the phase it starts with."""
    return merge_holds(phase_layout(procedure, protocol_id))


def merge_holds(phases: Sequence[PhaseHold]) -> list[PhaseHold]:
    """Join each role's phases that touch (one ends where the next starts) into one hold, in
    the order the roles first appear; phases of a role with a gap between stay apart."""
    by_role: dict[str, list[PhaseHold]] = {}
    for h in phases:
        by_role.setdefault(h.role, []).append(h)
    out: list[PhaseHold] = []
    for role_holds in by_role.values():
        joined: list[PhaseHold] = []
        for h in sorted(role_holds, key=lambda h: (h.start_min, h.end_min)):
            last = joined[-1] if joined else None
            if last is not None and h.start_min <= last.end_min:
                joined[-1] = PhaseHold(
                    last.role, last.phase, last.start_min, max(last.end_min, h.end_min)
                )
            else:
                joined.append(h)
        out.extend(joined)
    return out


def phase_layout(procedure: str, protocol_id: str | None = None) -> list[PhaseHold]:
    """Each role's hold phase by phase (what the visit is; ``layout`` is what is booked)."""
    if not procedure:
        return [
            PhaseHold("room", Phase.CONSULTATION, 0, CONSULTATION_MINUTES),
            PhaseHold("practitioner", Phase.CONSULTATION, 0, CONSULTATION_MINUTES),
        ]
    total, cream = session_minutes(protocol_id)
    cream = min(cream, total - SPIN_MINUTES - 5)
    if needs_centrifuge(procedure):
        spun = cream + SPIN_MINUTES
        return [
            PhaseHold("room", Phase.ANAESTHETIC_CREAM, 0, cream),
            PhaseHold("room", Phase.DRAW_AND_SPIN, cream, spun),
            PhaseHold("room", Phase.INJECTION, spun, total),
            PhaseHold("practitioner", Phase.DRAW_AND_SPIN, cream, spun),
            PhaseHold("practitioner", Phase.INJECTION, spun, total),
            PhaseHold("centrifuge", Phase.DRAW_AND_SPIN, cream, spun),
        ]
    return [
        PhaseHold("room", Phase.ANAESTHETIC_CREAM, 0, cream),
        PhaseHold("room", Phase.INJECTION, cream, total),
        PhaseHold("practitioner", Phase.INJECTION, cream, total),
    ]


def duration_minutes(holds: list[PhaseHold]) -> int:
    return max(h.end_min for h in holds)


@dataclass(frozen=True)
class Combo:
    practitioner: Resource
    room: Resource
    centrifuge: Resource | None

    def resource_for(self, role: str) -> Resource:
        res = {"practitioner": self.practitioner, "room": self.room, "centrifuge": self.centrifuge}
        found = res[role]
        assert found is not None
        return found


def holds_for(
    holds: list[PhaseHold], combo: Combo, start: dt.datetime
) -> list[tuple[Resource, str, dt.datetime, dt.datetime]]:
    return [
        (
            combo.resource_for(h.role),
            h.phase,
            start + dt.timedelta(minutes=h.start_min),
            start + dt.timedelta(minutes=h.end_min),
        )
        for h in holds
    ]


@dataclass
class Calendar:
    """Busy intervals and working hours of a set of resources, loaded in two queries."""

    tz: ZoneInfo
    busy: dict[int, list[Interval]] = field(default_factory=lambda: defaultdict(list))
    hours: dict[int, dict[int, list[tuple[dt.time, dt.time]]]] = field(default_factory=dict)
    # Clinic-local days nobody can be booked (holidays, closures) and each resource's leave.
    closed: dict[dt.date, str] = field(default_factory=dict)
    leave: dict[int, dict[dt.date, str]] = field(default_factory=dict)

    @classmethod
    def load(
        cls,
        resources: Iterable[Resource],
        start: dt.datetime,
        end: dt.datetime,
        tz: ZoneInfo,
        exclude_appointments: Iterable[int] = (),
        spans: Sequence[Interval] | None = None,
    ) -> Calendar:
        """``spans``: read bookings only around these intervals (within start–end)."""
        resources = list(resources)
        ids = [r.pk for r in resources]
        cal = cls(tz=tz)
        for rid, s, e in busy_rows(ids, spans or [(start, end)], exclude_appointments):
            cal.busy[rid].append((s, e))
        for wh in WorkingHours.objects.filter(resource_id__in=ids):
            cal.hours.setdefault(wh.resource_id, defaultdict(list))[wh.weekday].append(
                (wh.start, wh.end)
            )
        cal.load_closures(list(resources), start, end)
        return cal

    def load_closures(
        self, resources: list[Resource], start: dt.datetime, end: dt.datetime
    ) -> None:
        """Holidays and closures of the resources' clinic, and the practitioners' leave."""
        from anagen.accounts.models import Clinic
        from anagen.scheduling import closures

        if not resources:
            return
        lo, hi = start.astimezone(self.tz).date(), end.astimezone(self.tz).date()
        clinic = Clinic.objects.filter(pk=resources[0].clinic_id).first()
        if clinic is not None:
            self.closed = closures.clinic_closed_days(clinic, lo, hi)
        by_member = {r.membership_id: r.pk for r in resources if r.membership_id}
        for member_id, days in closures.leave_days(by_member, lo, hi).items():
            self.leave[by_member[member_id]] = days

    def blocked(self, resource_id: int, start: dt.datetime, end: dt.datetime) -> str:
        """Why the resource cannot be booked on the interval's clinic-local day(s), or ""."""
        first = start.astimezone(self.tz).date()
        last = (end - dt.timedelta(microseconds=1)).astimezone(self.tz).date()
        day = first
        while day <= last:
            if day in self.closed:
                return self.closed[day]
            if day in self.leave.get(resource_id, {}):
                return self.leave[resource_id][day]
            day += dt.timedelta(days=1)
        return ""

    def add(self, resource_id: int, start: dt.datetime, end: dt.datetime) -> None:
        self.busy[resource_id].append((start, end))

    def conflict(self, resource_id: int, start: dt.datetime, end: dt.datetime) -> Interval | None:
        for s, e in self.busy.get(resource_id, ()):
            if s < end and start < e:
                return (s, e)
        return None

    def within_hours(self, resource_id: int, start: dt.datetime, end: dt.datetime) -> bool:
        week = self.hours.get(resource_id)
        if week is None:
            return True  # no working hours recorded: always open
        ls, le = start.astimezone(self.tz), end.astimezone(self.tz)
        if ls.date() != le.date() and le.time() != dt.time(0):
            return False
        end_t = le.time() if le.date() == ls.date() else dt.time(23, 59, 59)
        return any(a <= ls.time() and end_t <= b for a, b in week.get(ls.weekday(), ()))

    def problems(
        self, items: list[tuple[Resource, str, dt.datetime, dt.datetime]]
    ) -> list[tuple[str, Resource, dt.datetime, dt.datetime]]:
        """("busy"|"hours"|"closed", resource, start, end) for each hold that cannot be had."""
        out = []
        for resource, _phase, s, e in items:
            if self.blocked(resource.pk, s, e):
                out.append(("closed", resource, s, e))
            elif not self.within_hours(resource.pk, s, e):
                out.append(("hours", resource, s, e))
            elif self.conflict(resource.pk, s, e):
                out.append(("busy", resource, s, e))
        return out


def local(day: dt.date, at: dt.time, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, at, tzinfo=tz).astimezone(dt.UTC)


def candidate_starts(day: dt.date, tz: ZoneInfo, not_before: dt.datetime) -> list[dt.datetime]:
    out = []
    t = dt.datetime.combine(day, SEARCH_FROM)
    stop = dt.datetime.combine(day, SEARCH_UNTIL)
    while t <= stop:
        at = t.replace(tzinfo=tz).astimezone(dt.UTC)
        if at >= not_before:
            out.append(at)
        t += dt.timedelta(minutes=SLOT_STEP_MINUTES)
    return out


def first_free(
    cal: Calendar,
    holds: list[PhaseHold],
    combos: list[Combo],
    day: dt.date,
    not_before: dt.datetime,
) -> tuple[dt.datetime, Combo] | None:
    for start in candidate_starts(day, cal.tz, not_before):
        for combo in combos:
            if not cal.problems(holds_for(holds, combo, start)):
                return start, combo
    return None


def days_by_closeness(earliest: dt.date, latest: dt.date, target: dt.date | None) -> list[dt.date]:
    days = [earliest + dt.timedelta(days=i) for i in range((latest - earliest).days + 1)]
    if target is None:
        return days
    return sorted(days, key=lambda d: (abs((d - target).days), d))


def combos_for(resources: list[Resource], procedure: str) -> list[Combo]:
    practitioners = [
        r
        for r in resources
        if r.kind == ResourceKind.PRACTITIONER
        and (not procedure or procedure in (r.licensed_procedures or []))
    ]
    rooms = [r for r in resources if r.kind == ResourceKind.ROOM]
    centrifuges: list[Resource | None] = (
        [r for r in resources if r.kind == ResourceKind.CENTRIFUGE]
        if needs_centrifuge(procedure)
        else [None]
    )
    return [Combo(p, r, c) for p in practitioners for r in rooms for c in centrifuges]


# --- Free-slot search in the database ----------------------------------------------------------
#
# For one candidate day: the busy intervals of the eligible resources in that day only (one
# indexed range query), each resource's free intervals by a sweep over its sorted busy intervals
# (working hours minus bookings; none on a closed day or a day of leave), then for every hold of
# the layout the set of start instants at which the hold fits, united over the resources of its
# role and intersected across roles (and with the patient's own free time). The first candidate
# start in that set wins; at it, the first practitioner, room and centrifuge (in the clinic's
# resource order) that fit are taken. That is the same answer as trying every practitioner ×
# room × centrifuge combination at every start, in O(n log n) over the day's bookings.


def busy_rows(
    resource_ids: Sequence[int],
    spans: Sequence[Interval],
    exclude_appointments: Iterable[int] = (),
) -> list[tuple[int, dt.datetime, dt.datetime]]:
    """(resource id, start, end) of the active bookings overlapping any span, in one query,
    sorted by resource and start. Each span is a bounded range of the (resource, active,
    starts_at) index (a hold is at most ``MAX_HOLD`` long)."""
    if not resource_ids or not spans:
        return []
    overlap = Q()
    for lo, hi in spans:
        overlap |= Q(starts_at__gte=lo - MAX_HOLD, starts_at__lt=hi, ends_at__gt=lo)
    qs = ResourceBooking.objects.filter(overlap, resource_id__in=list(resource_ids), active=True)
    excluded = list(exclude_appointments)
    if excluded:
        qs = qs.exclude(appointment_id__in=excluded)
    rows = qs.order_by("resource_id", "starts_at").values_list(
        "resource_id", "starts_at", "ends_at"
    )
    if connection.vendor != "sqlite":
        return list(rows)
    # The ORM's per-value converters (make_aware, ...) cost more than the query itself on a busy
    # day (~1,000 rows): the rows are read raw; SQLite stores UTC wall-clock stamps.
    sql, params = rows.query.get_compiler(using=rows.db).as_sql()
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return [(rid, _utc(s), _utc(e)) for rid, s, e in cur.fetchall()]


def _utc(value: dt.datetime | str) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC)


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, overlapping or touching intervals joined."""
    out: list[Interval] = []
    for s, e in sorted(intervals):
        if out and s <= out[-1][1]:
            if e > out[-1][1]:
                out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def subtract(base: list[Interval], busy: list[Interval]) -> list[Interval]:
    """The parts of ``base`` (sorted, disjoint) not covered by ``busy`` (sorted, merged)."""
    out: list[Interval] = []
    j = 0
    for bs, be in base:
        cur = bs
        while j < len(busy) and busy[j][1] <= cur:
            j += 1
        k = j
        while k < len(busy) and busy[k][0] < be:
            s, e = busy[k]
            if s > cur:
                out.append((cur, s))
            cur = max(cur, e)
            k += 1
        if cur < be:
            out.append((cur, be))
    return out


def starts_fitting(free: list[Interval], a: dt.timedelta, b: dt.timedelta) -> list[Interval]:
    """Closed intervals of start instants t with [t + a, t + b] inside one free interval."""
    length = b - a
    return [(fs - a, fe - b) for fs, fe in free if fe - fs >= length]


def intersect(x: list[Interval], y: list[Interval]) -> list[Interval]:
    """Intersection of two sorted lists of disjoint closed intervals."""
    out: list[Interval] = []
    i = j = 0
    while i < len(x) and j < len(y):
        s = max(x[i][0], y[j][0])
        e = min(x[i][1], y[j][1])
        if s <= e:
            out.append((s, e))
        if x[i][1] < y[j][1]:
            i += 1
        else:
            j += 1
    return out


def contains(intervals: list[Interval], t: dt.datetime) -> bool:
    """Is ``t`` inside one of the sorted, disjoint closed intervals?"""
    i = bisect.bisect_right(intervals, (t, dt.datetime.max.replace(tzinfo=dt.UTC))) - 1
    return i >= 0 and intervals[i][0] <= t <= intervals[i][1]


PATIENT_FREE_STATUSES = (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW)


class SlotFinder:
    """Free slots of a clinic's resources, one candidate day (one query) at a time.

    Working hours, closures and leave for the whole range are read once (four queries); each
    day's bookings are read when that day is first searched and kept; ``add`` records holds
    booked meanwhile in this process (a series' earlier sessions), ``add_patient`` the patient's.
    """

    def __init__(
        self,
        resources: Iterable[Resource],
        tz: ZoneInfo,
        first_day: dt.date,
        last_day: dt.date,
        *,
        patient_id: int | None = None,
    ) -> None:
        self.resources = list(resources)
        self.tz = tz
        self.by_id = {r.pk: r for r in self.resources}
        lo = local(first_day, dt.time(0), tz)
        hi = local(last_day + dt.timedelta(days=1), dt.time(0), tz)
        self.cal = Calendar(tz=tz)
        ids = list(self.by_id)
        for rid, weekday, a, b in WorkingHours.objects.filter(resource_id__in=ids).values_list(
            "resource_id", "weekday", "start", "end"
        ):
            self.cal.hours.setdefault(rid, defaultdict(list))[weekday].append((a, b))
        self.cal.load_closures(self.resources, lo, hi)
        self._day_busy: dict[dt.date, dict[int, list[Interval]]] = {}
        self._extra: dict[int, list[Interval]] = defaultdict(list)
        self.patient_id = patient_id
        self._patient: list[Interval] = []
        if patient_id is not None:
            self._patient = list(
                Appointment.objects.filter(
                    patient_id=patient_id,
                    starts_at__gte=lo - MAX_HOLD,
                    starts_at__lt=hi,
                    ends_at__gt=lo,
                )
                .exclude(status__in=PATIENT_FREE_STATUSES)
                .values_list("starts_at", "ends_at")
            )
        self.queries_for_days = 0

    # -- state --------------------------------------------------------------------------------

    def add(self, resource_id: int, start: dt.datetime, end: dt.datetime) -> None:
        self._extra[resource_id].append((start, end))

    def add_patient(self, start: dt.datetime, end: dt.datetime) -> None:
        self._patient.append((start, end))

    def _bounds(self, day: dt.date) -> Interval:
        return local(day, dt.time(0), self.tz), local(
            day + dt.timedelta(days=1), dt.time(0), self.tz
        )

    def _busy(self, day: dt.date) -> dict[int, list[Interval]]:
        if day not in self._day_busy:
            found: dict[int, list[Interval]] = defaultdict(list)
            for rid, s, e in busy_rows(list(self.by_id), [self._bounds(day)]):
                found[rid].append((s, e))
            self._day_busy[day] = found
            self.queries_for_days += 1
        return self._day_busy[day]

    def free(self, resource_id: int, day: dt.date) -> list[Interval]:
        """The resource's free intervals on a clinic-local day (closed: working hours)."""
        if day in self.cal.closed or day in self.cal.leave.get(resource_id, {}):
            return []
        lo, hi = self._bounds(day)
        week = self.cal.hours.get(resource_id)
        if week is None:
            working = [(lo, hi)]  # no working hours recorded: always open
        else:
            working = sorted(
                (local(day, a, self.tz), local(day, b, self.tz))
                for a, b in week.get(day.weekday(), ())
            )
        if not working:
            return []
        busy = list(self._busy(day).get(resource_id, ()))
        busy += [(s, e) for s, e in self._extra.get(resource_id, ()) if s < hi and e > lo]
        return subtract(working, merge(busy))

    def _patient_starts(self, day: dt.date, minutes: int) -> list[Interval]:
        lo, hi = self._bounds(day)
        busy = merge((s, e) for s, e in self._patient if s < hi and e > lo)
        free = subtract([(lo, hi)], busy)
        return starts_fitting(free, dt.timedelta(0), dt.timedelta(minutes=minutes))

    # -- search -------------------------------------------------------------------------------

    def _eligible(self, role: str, procedure: str) -> list[Resource]:
        kind = {
            "practitioner": ResourceKind.PRACTITIONER,
            "room": ResourceKind.ROOM,
            "centrifuge": ResourceKind.CENTRIFUGE,
        }[role]
        return [
            r
            for r in self.resources
            if r.kind == kind
            and (
                kind != ResourceKind.PRACTITIONER
                or not procedure
                or procedure in (r.licensed_procedures or [])
            )
        ]

    def _role_starts(
        self, holds: list[PhaseHold], procedure: str, day: dt.date, only: dict[str, int]
    ) -> dict[str, list[tuple[Resource, list[Interval]]]]:
        """Per role, each eligible resource with the start instants at which all its holds fit."""
        by_role: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for h in holds:
            by_role[h.role].append((h.start_min, h.end_min))
        out: dict[str, list[tuple[Resource, list[Interval]]]] = {}
        for role, spans in by_role.items():
            rows = []
            for r in self._eligible(role, procedure):
                if role in only and r.pk != only[role]:
                    continue
                free = self.free(r.pk, day)
                starts: list[Interval] | None = None
                for a, b in spans:
                    fit = starts_fitting(free, dt.timedelta(minutes=a), dt.timedelta(minutes=b))
                    starts = fit if starts is None else intersect(starts, fit)
                    if not starts:
                        break
                if starts:
                    rows.append((r, starts))
            out[role] = rows
        return out

    def _pick(
        self, roles: dict[str, list[tuple[Resource, list[Interval]]]], start: dt.datetime
    ) -> Combo | None:
        chosen: dict[str, Resource | None] = {"centrifuge": None}
        for role, rows in roles.items():
            found = next((r for r, starts in rows if contains(starts, start)), None)
            if found is None:
                return None
            chosen[role] = found
        practitioner, room = chosen.get("practitioner"), chosen.get("room")
        if practitioner is None or room is None:
            return None
        return Combo(practitioner, room, chosen["centrifuge"])

    def first_free(
        self,
        holds: list[PhaseHold],
        procedure: str,
        day: dt.date,
        not_before: dt.datetime,
    ) -> tuple[dt.datetime, Combo] | None:
        """The earliest candidate start of the day at which every role has a free resource."""
        if day in self.cal.closed:
            return None
        roles = self._role_starts(holds, procedure, day, {})
        total: list[Interval] | None = None
        for rows in roles.values():
            united = merge(iv for _r, starts in rows for iv in starts)
            total = united if total is None else intersect(total, united)
            if not total:
                return None
        if total is None:
            return None
        if self.patient_id is not None:
            total = intersect(total, self._patient_starts(day, duration_minutes(holds)))
        for start in candidate_starts(day, self.tz, not_before):
            if contains(total, start):
                combo = self._pick(roles, start)
                if combo is not None:
                    return start, combo
        return None

    def free_at(
        self,
        holds: list[PhaseHold],
        procedure: str,
        start: dt.datetime,
        practitioner_id: int | None = None,
    ) -> Combo | None:
        """The first resources free for a session starting at ``start``, or None."""
        day = start.astimezone(self.tz).date()
        if day in self.cal.closed:
            return None
        if self.patient_id is not None and not contains(
            self._patient_starts(day, duration_minutes(holds)), start
        ):
            return None
        only = {"practitioner": practitioner_id} if practitioner_id else {}
        return self._pick(self._role_starts(holds, procedure, day, only), start)

    def book(self, holds: list[PhaseHold], combo: Combo, start: dt.datetime) -> None:
        """Record a session chosen in this process (its resources and the patient's time)."""
        for r, _phase, s, e in holds_for(holds, combo, start):
            self.add(r.pk, s, e)
        self.add_patient(start, start + dt.timedelta(minutes=duration_minutes(holds)))

    def recheck_calendar(
        self, resources: Iterable[Resource], spans: Sequence[Interval]
    ) -> Calendar:
        """A ``Calendar`` of just these resources around just these spans, read now (after the
        rows are locked), sharing the hours and closures already read: one query."""
        resources = list(resources)
        cal = Calendar(
            tz=self.tz, hours=self.cal.hours, closed=self.cal.closed, leave=self.cal.leave
        )
        for rid, s, e in busy_rows([r.pk for r in resources], spans):
            cal.busy[rid].append((s, e))
        return cal


# --- Many series in one pass (batch booking) ---------------------------------------------------
#
# ``SlotBoard`` answers the same question as ``SlotFinder.first_free`` for series after series
# of one batch, with the holds chosen so far kept in memory. Each resource's free time of a day
# is a bit set of whole minutes from the day's clinic-local midnight (working hours minus
# bookings; a minute is busy if any booking touches it): a hold that starts on a whole minute
# fits exactly when every minute it covers is free, so the answer is the same as the interval
# sweep's. Per resource and day the start minutes at which the role's holds fit are cached and
# recomputed only when a hold of the batch lands on that resource and day.


def _runs(bits: int, length: int) -> int:
    """Bit t set iff bits t … t + length - 1 of ``bits`` are all set (doubling shifts)."""
    if length <= 0:
        return bits
    have = 1
    out = bits
    while have * 2 <= length:
        out &= out >> have
        have *= 2
    if have < length:
        out &= out >> (length - have)
    return out


def _minutes(delta: dt.timedelta) -> float:
    return delta.total_seconds() / 60


_MINUTE = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class _Shape:
    """A layout as the board uses it: spans per role, and each role's holds merged."""

    holds: list[PhaseHold]
    by_role: list[tuple[str, tuple[tuple[int, int], ...]]]
    held: list[tuple[str, list[tuple[dt.timedelta, dt.timedelta]]]]
    minutes: int
    duration: dt.timedelta


class SlotBoard(SlotFinder):
    """A ``SlotFinder`` over a whole batch's window, for many patients one after another.

    ``use_patient`` switches the patient whose own time is respected (their appointments are
    given by the caller, read once for the whole batch); ``book_undoable`` records a chosen
    session and returns a token that ``unbook`` takes back (a series that cannot be booked whole
    leaves nothing behind). Day bookings are read one day at a time (one query), as
    ``SlotFinder``. Per day and role the fitting start minutes of every eligible resource are
    kept, and only the resources a booking touched are recomputed.
    """

    def __init__(
        self,
        resources: Iterable[Resource],
        tz: ZoneInfo,
        first_day: dt.date,
        last_day: dt.date,
    ) -> None:
        super().__init__(resources, tz, first_day, last_day)
        # Every day's bookings of the window in one query (not one query per day).
        lo, hi = self._bounds(first_day)[0], self._bounds(last_day)[1]
        for i in range((last_day - first_day).days + 1):
            self._day_busy[first_day + dt.timedelta(days=i)] = defaultdict(list)
        for rid, s, e in busy_rows(list(self.by_id), [(lo, hi)]):
            day = max(s, lo).astimezone(tz).date()
            last = (min(e, hi) - dt.timedelta(microseconds=1)).astimezone(tz).date()
            while day <= last:
                self._day_busy[day][rid].append((s, e))
                day += dt.timedelta(days=1)
        self.queries_for_days += 1
        self._free_bits: dict[tuple[int, dt.date], int] = {}
        self._cuts: dict[tuple[int, dt.date], list[int]] = {}
        self._days: dict[dt.date, tuple[dt.datetime, int, list[tuple[int, dt.datetime]]]] = {}
        self._eligible_cache: dict[tuple[str, str], list[Resource]] = {}
        self._cand: dict[dt.date, int] = {}  # every candidate start of the day, as bits
        self._patients: dict[int, list[Interval]] = {}
        # Holds chosen in this batch, per resource and clinic-local day they touch.
        self._held: dict[tuple[int, dt.date], list[Interval]] = defaultdict(list)
        # (day, role, procedure, spans) -> fitting start bits of each eligible resource (in the
        # clinic's resource order); which entries a (resource, day) appears in; stale entries.
        self._roles: dict[tuple[dt.date, str, str, tuple[tuple[int, int], ...]], list[int]] = {}
        self._role_index: dict[tuple[int, dt.date], list[tuple[tuple, int]]] = defaultdict(list)
        self._stale: dict[tuple, set[int]] = defaultdict(set)
        self._union: dict[tuple, int] = {}  # the union of each ``_roles`` entry's bits
        self._shapes: dict[int, _Shape] = {}
        self._at: dict[dt.date, dict[int, dt.datetime]] = {}  # candidate minute -> instant

    # -- patients -----------------------------------------------------------------------------

    def use_patient(self, patient_id: int, busy: Iterable[Interval] = ()) -> None:
        """Search for this patient next; ``busy``: their live appointments (first use only)."""
        self.patient_id = patient_id
        if patient_id not in self._patients:
            self._patients[patient_id] = list(busy)
        self._patient = self._patients[patient_id]

    # -- bits ---------------------------------------------------------------------------------

    def _day(self, day: dt.date) -> tuple[dt.datetime, int, list[tuple[int, dt.datetime]]]:
        """(local midnight in UTC, minutes in the day, candidate starts as (minute, instant))."""
        found = self._days.get(day)
        if found is None:
            lo, hi = self._bounds(day)
            starts = candidate_starts(day, self.tz, lo)
            found = (
                lo,
                round(_minutes(hi - lo)),
                [(round(_minutes(at - lo)), at) for at in starts if at < hi],
            )
            self._days[day] = found
            self._at[day] = dict(found[2])
        return found

    @staticmethod
    def _span_bits(lo: dt.datetime, n: int, s: dt.datetime, e: dt.datetime) -> int:
        """Bits of the minutes an interval touches, clipped to the day."""
        a = max(0, (s - lo) // _MINUTE)
        b = min(n, -((lo - e) // _MINUTE))
        return ((1 << (b - a)) - 1) << a if b > a else 0

    def _free_of(self, rid: int, day: dt.date) -> int:
        key = (rid, day)
        bits = self._free_bits.get(key)
        if bits is not None:
            return bits
        bits = 0
        cuts: list[int] = []
        if day not in self.cal.closed and day not in self.cal.leave.get(rid, {}):
            lo, n, _c = self._day(day)
            week = self.cal.hours.get(rid)
            if week is None:
                bits = (1 << n) - 1
            else:
                ends: set[int] = set()
                for a, b in sorted(week.get(day.weekday(), ())):
                    m0 = -int(-_minutes(local(day, a, self.tz) - lo) // 1)
                    m1 = int(_minutes(local(day, b, self.tz) - lo) // 1)
                    if m0 in ends:
                        cuts.append(m0)  # two working intervals touch: a hold cannot span them
                    ends.add(m1)
                    if m1 > m0:
                        bits |= ((1 << (m1 - m0)) - 1) << m0
            if bits:
                for s, e in self._busy(day).get(rid, ()):
                    bits &= ~self._span_bits(lo, n, s, e)
                for s, e in self._held.get(key, ()):
                    bits &= ~self._span_bits(lo, n, s, e)
        self._free_bits[key] = bits
        self._cuts[key] = cuts
        return bits

    def _starts_of(self, rid: int, day: dt.date, spans: tuple[tuple[int, int], ...]) -> int:
        """Start minutes at which every span (minutes from the start) fits the resource."""
        free = self._free_of(rid, day)
        if not free:
            return 0
        bits = -1
        for a, b in spans:
            bits &= _runs(free, b - a) >> a
            for c in self._cuts.get((rid, day), ()):
                lo_t, hi_t = max(0, c - b + 1), c - a - 1
                if hi_t >= lo_t:
                    bits &= ~(((1 << (hi_t - lo_t + 1)) - 1) << lo_t)
            if not bits:
                return 0
        return max(bits, 0)

    def _days_of(self, start: dt.datetime, end: dt.datetime) -> list[dt.date]:
        day = start.astimezone(self.tz).date()
        last = (end - dt.timedelta(microseconds=1)).astimezone(self.tz).date()
        out = []
        while day <= last:
            out.append(day)
            day += dt.timedelta(days=1)
        return out

    def _touched(self, rid: int, day: dt.date) -> None:
        for key, i in self._role_index.get((rid, day), ()):
            self._stale[key].add(i)

    def _eligible(self, role: str, procedure: str) -> list[Resource]:
        key = (role, procedure)
        found = self._eligible_cache.get(key)
        if found is None:
            found = self._eligible_cache[key] = super()._eligible(role, procedure)
        return found

    def _role_bits(
        self, day: dt.date, role: str, procedure: str, spans: tuple[tuple[int, int], ...]
    ) -> tuple[list[Resource], list[int], int]:
        """Each eligible resource's fitting start bits, and their union (kept up to date)."""
        eligible = self._eligible(role, procedure)
        key = (day, role, procedure, spans)
        bits = self._roles.get(key)
        if bits is None:
            bits = self._roles[key] = [self._starts_of(r.pk, day, spans) for r in eligible]
            for i, r in enumerate(eligible):
                self._role_index[(r.pk, day)].append((key, i))
            united = 0
            for b in bits:
                united |= b
            self._union[key] = united
            return eligible, bits, united
        stale = self._stale.pop(key, None)
        if stale:
            for i in stale:
                bits[i] = self._starts_of(eligible[i].pk, day, spans)
            united = 0
            for b in bits:
                united |= b
            self._union[key] = united
            return eligible, bits, united
        return eligible, bits, self._union[key]

    def _shape(self, holds: list[PhaseHold]) -> _Shape:
        """The layout's spans per role (for the search), merged per role (for the holds)."""
        found = self._shapes.get(id(holds))
        if found is not None and found.holds is holds:
            return found
        by_role: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for h in holds:
            by_role[h.role].append((h.start_min, h.end_min))
        held = []
        for role, spans in by_role.items():
            joined: list[tuple[int, int]] = []
            for a, b in sorted(spans):
                if joined and a <= joined[-1][1]:
                    joined[-1] = (joined[-1][0], max(b, joined[-1][1]))
                else:
                    joined.append((a, b))
            held.append(
                (role, [(dt.timedelta(minutes=a), dt.timedelta(minutes=b)) for a, b in joined])
            )
        minutes = duration_minutes(holds)
        found = _Shape(
            holds,
            [(role, tuple(spans)) for role, spans in by_role.items()],
            held,
            minutes,
            dt.timedelta(minutes=minutes),
        )
        if len(self._shapes) > 256:
            self._shapes.clear()
        self._shapes[id(holds)] = found
        return found

    # -- search -------------------------------------------------------------------------------

    def first_free(
        self,
        holds: list[PhaseHold],
        procedure: str,
        day: dt.date,
        not_before: dt.datetime,
    ) -> tuple[dt.datetime, Combo] | None:
        """``SlotFinder.first_free`` for the current patient, by bit sets."""
        if day in self.cal.closed:
            return None
        lo, n, candidates = self._day(day)
        cand = self._cand.get(day) if candidates and candidates[0][1] >= not_before else None
        if cand is None:
            cand = 0
            for minute, at in candidates:
                if at >= not_before:
                    cand |= 1 << minute
            if candidates and candidates[0][1] >= not_before:
                self._cand[day] = cand
        if not cand:
            return None
        shape = self._shape(holds)
        roles: list[tuple[str, list[Resource], list[int]]] = []
        total = cand
        for role, spans in shape.by_role:
            eligible, bits, united = self._role_bits(day, role, procedure, spans)
            total &= united
            if not total:
                return None
            roles.append((role, eligible, bits))
        if self.patient_id is not None:
            hi = lo + dt.timedelta(minutes=n)
            free = -1
            for s, e in self._patient:
                if s < hi and e > lo:
                    if free == -1:
                        free = (1 << n) - 1
                    free &= ~self._span_bits(lo, n, s, e)
            if free == -1:  # the patient has nothing that day: every start that ends in it
                total &= (1 << max(0, n - shape.minutes + 1)) - 1
            else:
                total &= _runs(free, shape.minutes)
            if not total:
                return None
        minute = (total & -total).bit_length() - 1
        at = self._at[day][minute]
        chosen: dict[str, Resource | None] = {"centrifuge": None}
        for role, eligible, bits in roles:
            chosen[role] = next(r for r, b in zip(eligible, bits, strict=True) if b >> minute & 1)
        practitioner, room = chosen.get("practitioner"), chosen.get("room")
        if practitioner is None or room is None:
            return None
        return at, Combo(practitioner, room, chosen["centrifuge"])

    def book(self, holds: list[PhaseHold], combo: Combo, start: dt.datetime) -> None:
        self.book_undoable(holds, combo, start)

    def book_undoable(
        self, holds: list[PhaseHold], combo: Combo, start: dt.datetime
    ) -> list[tuple[int, Interval]]:
        """Record a chosen session; the token lets ``unbook`` take it back. A resource's
        touching holds are kept as one interval (the same busy minutes as the separate holds)."""
        shape = self._shape(holds)
        token: list[tuple[int, Interval]] = []
        first = start.astimezone(self.tz).date()
        lo, n, _c = self._day(first)
        day_end = lo + dt.timedelta(minutes=n)
        for role, spans in shape.held:
            rid = combo.resource_for(role).pk
            for a, b in spans:
                s, e = start + a, start + b
                for day in (first,) if e <= day_end else self._days_of(s, e):
                    key = (rid, day)
                    self._held[key].append((s, e))
                    bits = self._free_bits.get(key)
                    if bits is not None:
                        d_lo, d_n, _c = self._day(day)
                        self._free_bits[key] = bits & ~self._span_bits(d_lo, d_n, s, e)
                    self._touched(rid, day)
                token.append((rid, (s, e)))
        span = (start, start + shape.duration)
        self.add_patient(*span)
        token.append((-1, span))
        return token

    def unbook(self, token: list[tuple[int, Interval]]) -> None:
        for rid, span in token:
            if rid == -1:
                self._patient.remove(span)
                continue
            for day in self._days_of(*span):
                self._held[(rid, day)].remove(span)
                self._free_bits.pop((rid, day), None)
                self._touched(rid, day)
