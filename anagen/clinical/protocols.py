"""Protocol library (``data/protocols.json``) and series planning.

Every session date is computed from the series' start date, so clamping Jan 31 → Feb 28 for one
session does not shift the later ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from anagen.clinical.datafiles import load
from anagen.clinical.dates import add_offset, parse_iso_date
from anagen.clinical.errors import ValidationError

_DATA = load("protocols")


@dataclass(frozen=True)
class Offset:
    months: int = 0
    weeks: int = 0
    days: int = 0

    def after(self, start: date, *, extra_months: int = 0) -> date:
        return add_offset(
            start, months=self.months + extra_months, weeks=self.weeks, days=self.days
        )


@dataclass(frozen=True)
class SessionTemplate:
    offset: Offset
    kind: str
    tolerance_days: int


@dataclass(frozen=True)
class Protocol:
    id: str
    name: str
    sessions: tuple[SessionTemplate, ...]
    maintenance_months: tuple[int, int] | None
    data: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        defaults = _DATA["defaults"]
        doc = dict(self.data)
        doc["session_count"] = len(self.sessions)
        doc.setdefault("session_minutes", defaults["session_minutes"])
        doc.setdefault("anaesthetic_cream_minutes", defaults["anaesthetic_cream_minutes"])
        return doc


@dataclass(frozen=True)
class PlannedSession:
    n: int
    kind: str
    target_on: date | None
    earliest_on: date
    latest_on: date

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "kind": self.kind,
            "target_on": self.target_on.isoformat() if self.target_on else None,
            "earliest_on": self.earliest_on.isoformat(),
            "latest_on": self.latest_on.isoformat(),
        }


@dataclass(frozen=True)
class SeriesPlan:
    protocol: str
    start: date
    sessions: tuple[PlannedSession, ...]

    def to_json(self) -> dict[str, Any]:
        return {"protocol": self.protocol, "sessions": [s.to_json() for s in self.sessions]}


def _protocol(entry: dict[str, Any]) -> Protocol:
    default_tolerance = int(entry["tolerance_days"])
    sessions = tuple(
        SessionTemplate(
            offset=Offset(
                months=s.get("months", 0), weeks=s.get("weeks", 0), days=s.get("days", 0)
            ),
            kind=s.get("kind", "induction"),
            tolerance_days=int(s.get("tolerance_days", default_tolerance)),
        )
        for s in entry["sessions"]
    )
    maintenance = entry.get("maintenance")
    return Protocol(
        id=entry["id"],
        name=entry["name"],
        sessions=sessions,
        maintenance_months=(
            (int(maintenance["min_months"]), int(maintenance["max_months"]))
            if maintenance
            else None
        ),
        data=entry,
    )


PROTOCOLS: dict[str, Protocol] = {e["id"]: _protocol(e) for e in _DATA["protocols"]}


def list_protocols() -> list[dict[str, Any]]:
    return [p.to_json() for p in PROTOCOLS.values()]


def get_protocol(protocol_id: str) -> dict[str, Any]:
    return _get(protocol_id).to_json()


def _get(protocol_id: str) -> Protocol:
    protocol = PROTOCOLS.get(protocol_id)
    if protocol is None:
        raise ValidationError(
            "protocol",
            f"unknown protocol {protocol_id!r} (expected one of: {', '.join(PROTOCOLS)})",
        )
    return protocol


def build_plan(protocol_id: str, start: date | str) -> SeriesPlan:
    """Typed plan: sessions with dates, and a maintenance entry when the protocol has one."""
    protocol = _get(protocol_id)
    if isinstance(start, str):
        start = parse_iso_date(start, "start")
    if not isinstance(start, date) or type(start) is not date:  # a datetime is not a date here
        raise ValidationError("start", "must be a date")
    planned = []
    for n, template in enumerate(protocol.sessions, start=1):
        target = template.offset.after(start)
        window = timedelta(days=template.tolerance_days)
        planned.append(
            PlannedSession(
                n=n,
                kind=template.kind,
                target_on=target,
                earliest_on=max(start, target - window),
                latest_on=target + window,
            )
        )
    if protocol.maintenance_months:
        last = protocol.sessions[-1].offset
        low, high = protocol.maintenance_months
        planned.append(
            PlannedSession(
                n=len(planned) + 1,
                kind="maintenance",
                target_on=None,
                earliest_on=last.after(start, extra_months=low),
                latest_on=last.after(start, extra_months=high),
            )
        )
    return SeriesPlan(protocol=protocol.id, start=start, sessions=tuple(planned))


def plan_series(protocol_id: str, start: date | str) -> dict[str, Any]:
    """The ``plan`` verb's JSON: ``{"protocol": id, "sessions": [...]}``."""
    return build_plan(protocol_id, start).to_json()
