"""The chart timeline: dated entries from every part of the record, newest first.

Later features register a source; each gives a bounded list of entries, so the chart's query
count does not grow with the patient's history. A source is either a function (one query of its
own) or a `SqlSource`: a branch of the timeline's single `UNION ALL` query, so the whole
timeline costs one round trip and no ORM compilation or model rows (issue 15).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Context, Decimal
from typing import Any

from django.db import connection
from django.utils.translation import get_language

from anagen.accounts.access import Actor
from anagen.patients.models import Patient
from anagen.raw_values import day, instant

TIMELINE_LIMIT = 50
# The timeline list's markup (the reference anagen/patients/chart_html.py writes in Python).
TIMELINE_TEMPLATE = "patients/_timeline.html"
TuplePriority = tuple[int, int, Any]


@dataclass(frozen=True)
class TimelineEntry:
    at: dt.datetime
    kind: str
    title: str
    detail: str = ""
    url: str = ""


# A source gets the actor, the patient and `since`: None, or the time of the oldest entry that
# can still make the timeline (the TIMELINE_LIMIT-th newest found so far); a source may leave
# out its entries older than that (it must keep those at or after it).
TimelineSource = Callable[[Actor, Patient, dt.datetime | None], list[TimelineEntry]]
_SOURCES: list[TuplePriority] = []

# The columns of every branch of the one timeline query, in order, with their SQL types (a
# branch leaves out what it does not need: a typed NULL takes its place).
SLOTS: dict[str, str] = {
    "at": "timestamp with time zone",
    "day": "date",
    "k": "bigint",
    "n1": "bigint",
    "n2": "bigint",
    **{f"t{i}": "text" for i in range(1, 9)},
    "dec": "numeric",
    "j": "text",
}


class Row:
    """One branch row: slots as attributes (`at` and `day` already dates, `j` parsed JSON;
    `dec` as the database gave it: use `decimal_of`)."""

    __slots__ = tuple(SLOTS)
    at: Any
    day: Any
    k: Any
    n1: Any
    n2: Any
    t1: Any
    t2: Any
    t3: Any
    t4: Any
    t5: Any
    t6: Any
    t7: Any
    t8: Any
    dec: Any
    j: Any

    def __init__(self, values: Sequence[Any]) -> None:
        for name, value in zip(SLOTS, values, strict=True):
            setattr(self, name, value)
        self.at = instant(self.at)  # SQLite: text (or a naive datetime) in the database's UTC
        self.day = day(self.day)
        if isinstance(self.j, str):
            self.j = json.loads(self.j)


_FLOATS = Context(prec=15)


def decimal_of(value: Any, places: int) -> Decimal | None:
    """A decimal column as the ORM gives it (SQLite returns a float: quantized as Django does)."""
    if value is None or isinstance(value, Decimal):
        return value
    number = (
        _FLOATS.create_decimal_from_float(value) if isinstance(value, float) else Decimal(value)
    )
    return number.quantize(Decimal(1).scaleb(-places))


def person(first: str | None, last: str | None, username: str | None) -> str:
    """`str(user)` from the user's name columns ("None" when there is no user, as before)."""
    if username is None:
        return "None"
    return f"{first} {last}".strip() or username


def labels(model: Any, name: str) -> Callable[[str], str]:
    """`get_<name>_display` for a bare value, without a model instance."""
    choices = _choices(model, name, get_language())
    return lambda value: choices.get(value, value)


@functools.lru_cache(maxsize=256)
def _choices(model: Any, name: str, language: str | None) -> dict[str, str]:
    """A field's labels in a language (read-only: shared by every call)."""
    return {k: str(v) for k, v in model._meta.get_field(name).flatchoices}


@dataclass(frozen=True)
class SqlSource:
    """A source read as one branch of the timeline's single query.

    ``select`` maps slots (SLOTS) to SQL expressions; ``tables`` is the branch's FROM and WHERE
    (``%s`` parameters from ``params``); ``order`` its ORDER BY (it reads at most the limit).
    ``since`` is the expression of the entry's time: the branch then leaves out entries older
    than the bound (the TIMELINE_LIMIT-th newest of the source registered with ``bound``);
    ``since_day`` the same for an entry dated by a day. ``bound``: this source's times, newest
    first, as ``SELECT <time> AS at FROM ... ORDER BY <time> DESC`` (the densest source).
    ``entries(actor, patient)`` gives the function that turns a Row into an entry; ``when``
    says whether the actor reads the source at all."""

    select: dict[str, str]
    tables: str
    order: str
    params: Callable[[Actor, Patient], list[Any]]
    entries: Callable[[Actor, Patient], Callable[[Row], TimelineEntry]]
    since: str = ""
    since_day: str = ""
    bound: str = ""
    when: Callable[[Actor], bool] = field(default=lambda actor: True)
    limit: int = 0  # rows read at most (0: TIMELINE_LIMIT)


def timeline_source(fn: Any = None, *, first: int = 50) -> Any:
    """Register a source (a function or a SqlSource); sources with a lower `first` are read
    first (the densest ones: the entries they find bound how far back the others read)."""

    def register(f: Any) -> Any:
        _SOURCES.append((first, len(_SOURCES), f))
        return f

    return register(fn) if fn is not None else register


_BOUND = "(SELECT at FROM tl_bound)"


def _since_day_sql() -> str | None:
    """The bound's day minus one (the clinic's day of the bound is no earlier), or None where
    the dialect is not known (the branch then reads its newest TIMELINE_LIMIT rows)."""
    if connection.vendor == "postgresql":
        return f"CAST({_BOUND} AS date) - 1"
    if connection.vendor == "sqlite":
        return f"date({_BOUND}, '-1 day')"
    return None


def _sql_rows(
    actor: Actor, patient: Patient, sources: list[tuple[int, SqlSource]]
) -> dict[int, list[Row]]:
    """Every SqlSource's rows in one `UNION ALL` query (branch `n` tagged with its order)."""
    params: list[Any] = []
    bounding = next((s for _, s in sources if s.bound), None)
    head = "WITH tl_bound AS (SELECT CAST(NULL AS timestamp with time zone) AS at WHERE 1 = 0) "
    if bounding is not None:
        head = f"WITH tl_bound AS ({bounding.bound} LIMIT 1 OFFSET %s) "
        params += [*bounding.params(actor, patient), TIMELINE_LIMIT - 1]
    since_day = _since_day_sql()
    branches = []
    for order, source in sources:
        cols = ", ".join(
            f"{source.select[name]} AS {name}"
            if name in source.select
            else f"CAST(NULL AS {kind}) AS {name}"
            for name, kind in SLOTS.items()
        )
        where = source.tables
        if source.since and source is not bounding:
            where += f" AND ({_BOUND} IS NULL OR {source.since} >= {_BOUND})"
        elif source.since_day and since_day is not None:
            where += f" AND ({_BOUND} IS NULL OR {source.since_day} >= {since_day})"
        branches.append(
            # The fragments are the registered sources' constant SQL; values are parameters.
            f"SELECT * FROM (SELECT {order} AS tl_source, {cols} FROM {where}"  # noqa: S608
            f" ORDER BY {source.order} LIMIT %s) tl_{order}"
        )
        params += [*source.params(actor, patient), source.limit or TIMELINE_LIMIT]
    found: dict[int, list[Row]] = {order: [] for order, _ in sources}
    with connection.cursor() as cursor:
        cursor.execute(head + " UNION ALL ".join(branches), params)
        for values in cursor.fetchall():
            found[values[0]].append(Row(values[1:]))
    return found


def timeline_for(*, actor: Actor, patient: Patient) -> list[TimelineEntry]:
    """The newest TIMELINE_LIMIT entries of every source. Each source reads at most the limit,
    and only entries no older than the limit-th newest found so far: the rows read stay few
    (not sources x limit) however long the history. Every SqlSource is read by one query;
    each function source costs one query of its own."""
    return timeline_read(actor=actor, patient=patient)[0]


_EXTRA = 1_000_000  # branch tags of the extra reads (after every registered source)


def timeline_read(
    *, actor: Actor, patient: Patient, extra: dict[str, SqlSource] | None = None
) -> tuple[list[TimelineEntry], dict[str, list[Row]]]:
    """``timeline_for``, and the rows of ``extra`` sources (other parts of the chart, e.g. a
    card's latest rows) read as more branches of the same query: one round trip for all of
    them. An extra source is read in full up to its ``limit`` (never bounded by the timeline),
    and only when its ``when`` lets the actor read it (an empty list otherwise)."""
    ordered = sorted(_SOURCES, key=lambda s: (s[0], s[1]))
    sql_sources = [
        (order, s) for _, order, s in ordered if isinstance(s, SqlSource) and s.when(actor)
    ]
    extras = [
        (_EXTRA + i, name, replace(source, since="", since_day="", bound=""))
        for i, (name, source) in enumerate((extra or {}).items())
        if source.when(actor)
    ]
    branches = sql_sources + [(tag, source) for tag, _, source in extras]
    rows = _sql_rows(actor, patient, branches) if branches else {}
    extra_rows: dict[str, list[Row]] = {name: [] for name in extra or {}}
    for tag, name, _ in extras:
        extra_rows[name] = rows.pop(tag)
    found: dict[int, list[TimelineEntry]] = {}
    newest: list[dt.datetime] = []  # the `at` of every entry found so far, newest first
    for _, order, source in ordered:
        if isinstance(source, SqlSource):
            if order not in rows:
                continue
            make = source.entries(actor, patient)
            entries = [make(row) for row in rows[order]]
        else:
            since = newest[TIMELINE_LIMIT - 1] if len(newest) >= TIMELINE_LIMIT else None
            entries = source(actor, patient, since)
        found[order] = entries
        newest = sorted([*newest, *(e.at for e in entries)], reverse=True)[:TIMELINE_LIMIT]
    # Concatenated in registration order before the (stable) sort: ties read as before.
    entries = [e for order in sorted(found) for e in found[order]]
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:TIMELINE_LIMIT], extra_rows


def url_for(name: str, *args: Any) -> Callable[[Any], str]:
    """`reverse(name, args=[*args, pk])` for many rows with one reverse (a timeline has up to
    TIMELINE_LIMIT links per source)."""
    from django.urls import reverse

    marker = 987654321
    template = reverse(name, args=[*args, marker])
    head, _, tail = template.rpartition(str(marker))
    return lambda pk: f"{head}{pk}{tail}"


def _intake_entries(actor: Actor, patient: Patient) -> Callable[[Row], TimelineEntry]:
    url = url_for("intake-detail", patient.pk)
    return lambda r: TimelineEntry(
        at=r.at,
        kind="intake",
        title=f"Intake version {r.k}",
        detail=f"Recorded by {person(r.t1, r.t2, r.t3)}",
        url=url(r.k),
    )


timeline_source(
    SqlSource(
        select={
            "at": "i.recorded_at",
            "k": "i.version",
            "t1": "u.first_name",
            "t2": "u.last_name",
            "t3": "u.username",
        },
        tables="patients_intake i LEFT JOIN accounts_user u ON u.id = i.recorded_by_id"
        " WHERE i.patient_id = %s",
        order="i.version DESC",
        since="i.recorded_at",
        params=lambda actor, patient: [patient.pk],
        entries=_intake_entries,
    ),
    first=80,
)


@timeline_source(first=90)
def _registration(actor: Actor, patient: Patient, since: dt.datetime | None) -> list[TimelineEntry]:
    return [
        TimelineEntry(
            at=patient.created_at,
            kind="registration",
            title="Registered",
            detail=f"Record number {patient.record_number}",
        )
    ]
