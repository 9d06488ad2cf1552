"""Free practitioners, rooms and centrifuges for copied appointments.

Each resource has one bit per minute per day; an appointment's bookings are placed on the
first start (near the wanted one, inside clinic hours, on a weekday) where, for every resource
it used, a resource of the same kind is free for all of that resource's phases. The database's
exclusion constraints (PostgreSQL) then hold by construction, and the tests check them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
# Try the wanted time, then 15-minute steps either side, then later days.
STEP_MINUTES = 15
MAX_SHIFT_MINUTES = 5 * 60
MAX_DAYS_LATER = 60


@dataclass(frozen=True)
class Interval:
    resource_id: int  # the resource the template booked
    start: int  # minutes after the appointment's start
    end: int


def _minute(at: dt.datetime) -> int:
    return int((at - EPOCH).total_seconds() // 60)


class SlotBook:
    def __init__(self, pools: dict[str, list[int]], tz: ZoneInfo, opens: int, closes: int):
        self.pools = pools  # kind -> resource ids
        self.tz = tz
        self.opens, self.closes = opens, closes  # clinic-local minutes of the day
        self.busy: dict[tuple[object, int], int] = {}
        self._turn: dict[str, int] = dict.fromkeys(pools, 0)

    def _free(self, key: object, start: int, end: int) -> bool:
        day = start // 1440
        mask = ((1 << (end - start)) - 1) << (start - day * 1440)
        return not self.busy.get((key, day), 0) & mask

    def _take(self, key: object, start: int, end: int) -> None:
        day = start // 1440
        mask = ((1 << (end - start)) - 1) << (start - day * 1440)
        self.busy[(key, day)] = self.busy.get((key, day), 0) | mask

    def _candidates(self, wanted: dt.datetime, length: int):
        offsets = [0]
        for k in range(1, MAX_SHIFT_MINUTES // STEP_MINUTES + 1):
            offsets += [k * STEP_MINUTES, -k * STEP_MINUTES]
        for day in range(MAX_DAYS_LATER + 1):
            for off in offsets:
                at = wanted + dt.timedelta(days=day, minutes=off)
                local = at.astimezone(self.tz)
                if local.weekday() >= 5:
                    break
                minute_of_day = local.hour * 60 + local.minute
                if minute_of_day < self.opens or minute_of_day + length > self.closes:
                    continue
                yield at

    def place(
        self,
        wanted: dt.datetime,
        length: int,
        intervals: list[tuple[Interval, str]],
        patient_key: object,
    ) -> tuple[dt.datetime, dict[int, int]] | None:
        """Where the appointment goes and which resource replaces each template resource."""
        by_resource: dict[int, tuple[str, list[Interval]]] = {}
        for interval, kind in intervals:
            by_resource.setdefault(interval.resource_id, (kind, []))[1].append(interval)
        for at in self._candidates(wanted, length):
            base = _minute(at)
            if not self._free(patient_key, base, base + length):
                continue
            chosen: dict[int, int] = {}
            used: set[int] = set()
            for template_id, (kind, parts) in by_resource.items():
                pool = self.pools[kind]
                turn = self._turn[kind]
                for i in range(len(pool)):
                    candidate = pool[(turn + i) % len(pool)]
                    if candidate in used:
                        continue
                    if all(self._free(candidate, base + p.start, base + p.end) for p in parts):
                        chosen[template_id] = candidate
                        used.add(candidate)
                        break
                else:
                    break
            if len(chosen) < len(by_resource):
                continue
            for template_id, (kind, parts) in by_resource.items():
                for p in parts:
                    self._take(chosen[template_id], base + p.start, base + p.end)
                self._turn[kind] = (self._turn[kind] + 1) % len(self.pools[kind])
            self._take(patient_key, base, base + length)
            return at, chosen
        return None
