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
for the draw and spin. Each held interval is one ``ResourceBooking`` row, so the database
constraint sees exactly what is busy.

Closed days: no interval may fall on a public holiday of the clinic's country and region, a
clinic closure, or (for a practitioner) a day of the staff member's leave
(``anagen.scheduling.closures``); the series planner and the calendar grid skip them.

Working hours: every booking interval must lie inside one of its resource's working-hours
intervals for that clinic-local weekday. A resource with no working hours at all is treated as
always open (e.g. a centrifuge nobody bothered to give hours).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from anagen.clinical import PROCEDURES, get_protocol
from anagen.scheduling.models import Phase, Resource, ResourceBooking, ResourceKind, WorkingHours

SPIN_MINUTES = 15
CONSULTATION_MINUTES = 30
SLOT_STEP_MINUTES = 15
# Candidate start times searched each day (clinic-local); working hours narrow them further.
SEARCH_FROM = dt.time(7, 0)
SEARCH_UNTIL = dt.time(20, 0)
SLOTS_PER_SESSION = 5

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
    ) -> Calendar:
        ids = [r.pk for r in resources]
        cal = cls(tz=tz)
        rows = (
            ResourceBooking.objects.filter(
                resource_id__in=ids, active=True, starts_at__lt=end, ends_at__gt=start
            )
            .exclude(appointment_id__in=list(exclude_appointments))
            .values_list("resource_id", "starts_at", "ends_at")
        )
        for rid, s, e in rows:
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
