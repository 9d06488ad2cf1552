"""Booking many treatment series in one pass (a waiting list, a migration, a clinic's campaign).

``plan_book_series_batch`` takes what ``plan_book_series`` takes for each series (patient,
protocol, start date; slots searched, no choices) and books them in the order given, each into
the calendar as the series before it left it: the same slots, the same rows (plan, one
appointment per session with its history entry, one resource booking per resource hold) and the
same ``plan.create`` audit event as booking them one by one. What differs is the cost: one
transaction, the clinic's eligible resources and the batch's patients locked once (PostgreSQL,
``FOR UPDATE`` in id order), each day's bookings read once, the free-slot search kept in memory
(``availability.SlotBoard``: the single search's rules by bit sets of free minutes), bulk
inserts, one audit chain append for the batch.

A series that cannot be booked (no free slot in a session's window, an unknown patient or
protocol, a start in the past) is reported in its outcome and leaves nothing behind; the others
are booked. The database's exclusion constraints stay the final guarantee: should one fire
anyway, the whole batch is a ``BookingConflict`` and nothing is written.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, connection, models, transaction
from django.db.models import Choices, Model
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.accounts.clinic_time import human_date
from anagen.accounts.permissions import Perm
from anagen.audit.services import audit_record_many
from anagen.patients.models import Patient
from anagen.scheduling import availability as av
from anagen.scheduling import calendar_version
from anagen.scheduling.models import (
    Appointment,
    AppointmentKind,
    ResourceBooking,
    TreatmentPlan,
)
from anagen.scheduling.services._common import (
    PATIENT_FREE_STATUSES,
    BookingConflict,
    _clinic_resources,
    _lock_resources,
    _protocol,
    _today,
    _tz,
)
from anagen.scheduling.services.plans import _series_sessions
from anagen.serialised_writes import serialised

# More series than this in one call is refused (split the list): one transaction holds the
# clinic's resources locked while it runs.
MAX_BATCH = 50_000


@dataclass(frozen=True)
class SeriesRequest:
    """One series to book: what ``plan_book_series`` takes (without choices)."""

    patient_id: int
    protocol_id: str
    start_on: dt.date


@dataclass
class SeriesOutcome:
    """What became of one request: its plan, or why not (``field`` names the input at fault)."""

    index: int
    request: SeriesRequest
    plan: TreatmentPlan | None = None
    field: str = ""
    message: str = ""

    @property
    def booked(self) -> bool:
        return self.plan is not None


@dataclass
class BatchResult:
    outcomes: list[SeriesOutcome]
    # Where the time went (seconds): "read" (locks, calendar), "search", "write".
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def booked(self) -> list[SeriesOutcome]:
        return [o for o in self.outcomes if o.booked]

    @property
    def not_booked(self) -> list[SeriesOutcome]:
        return [o for o in self.outcomes if not o.booked]


@dataclass
class _Pick:
    outcome: SeriesOutcome
    patient: Patient
    doc: dict[str, Any]
    sessions: list[Any]
    slots: list[tuple[Any, dt.datetime, av.Combo]]
    # PostgreSQL: ids drawn ahead (``_BookingStream``); the bookings are already sent.
    plan_id: int | None = None
    appt_ids: list[int] = field(default_factory=list)


@serialised
def plan_book_series_batch(*, actor: Actor, requests: Sequence[SeriesRequest]) -> BatchResult:
    """Book every series of ``requests`` (in order) as ``plan_book_series`` would one by one.

    Needs ``Perm.PLAN`` (choosing a protocol is a prescription), like the single booking.
    """
    actor.require(Perm.PLAN)
    requests = list(requests)
    if len(requests) > MAX_BATCH:
        raise ValidationError(
            {"requests": f"At most {MAX_BATCH:,} series in one batch; split the list."}
        )
    clinic = actor.clinic
    tz = _tz(clinic)
    today = _today(clinic)
    outcomes = [SeriesOutcome(i, r) for i, r in enumerate(requests)]
    if not requests:
        return BatchResult(outcomes)

    # What can be told without the calendar: protocols, start dates, the series' windows.
    plans: dict[tuple[str, dt.date], list[Any]] = {}
    docs: dict[str, dict[str, Any]] = {}
    todo: list[SeriesOutcome] = []
    for o in outcomes:
        r = o.request
        try:
            doc = docs.get(r.protocol_id) or _protocol(r.protocol_id)
        except ValidationError as exc:
            o.field, o.message = "protocol_id", " ".join(exc.messages)
            continue
        docs[r.protocol_id] = doc
        if r.start_on < today:
            o.field, o.message = "start_on", "A series cannot start in the past."
            continue
        key = (r.protocol_id, r.start_on)
        if key not in plans:
            plans[key] = _series_sessions(r.protocol_id, r.start_on)
        todo.append(o)

    result = BatchResult(outcomes)
    clock = time.perf_counter()
    with transaction.atomic():
        ids = sorted({o.request.patient_id for o in todo})
        # The batch's patients, locked (PostgreSQL) as the single path locks its one patient.
        patients = {
            p.pk: p
            for p in Patient.all_objects.select_for_update()
            .filter(pk__in=ids, clinic=clinic, deleted_at__isnull=True)
            .order_by("pk")
        }
        for o in todo:
            if o.request.patient_id not in patients:
                o.field, o.message = "patient_id", "No such patient."
        todo = [o for o in todo if o.request.patient_id in patients]
        if not todo:
            return result
        first = min(s.earliest_on for o in todo for s in plans[_key(o)])
        last = max(s.latest_on for o in todo for s in plans[_key(o)])
        resources = _clinic_resources(clinic)
        _lock_resources(r.pk for r in resources)
        board = av.SlotBoard(resources, tz, first, last)
        lo = av.local(first, dt.time(0), tz)
        hi = av.local(last + dt.timedelta(days=1), dt.time(0), tz)
        patient_busy: dict[int, list[av.Interval]] = defaultdict(list)
        for pid, s, e in (
            Appointment.objects.filter(
                patient_id__in=list(patients),
                starts_at__gte=lo - av.MAX_HOLD,
                starts_at__lt=hi,
                ends_at__gt=lo,
            )
            .exclude(status__in=PATIENT_FREE_STATUSES)
            .values_list("patient_id", "starts_at", "ends_at")
            .order_by()
        ):
            patient_busy[pid].append((s, e))

        now = timezone.now()
        # PostgreSQL: ids for every plan and appointment the batch may write, drawn now, so
        # each booked series' resource bookings go to the database (one COPY, open during the
        # search) as soon as it is chosen: the database checks the exclusion constraint for
        # them while Python searches the next series. Ids left unused are gaps, as after any
        # rolled-back insert.
        stream = _BookingStream.start(todo, plans) if connection.vendor == "postgresql" else None
        result.seconds["read"] = time.perf_counter() - clock
        clock = time.perf_counter()
        picks: list[_Pick] = []
        try:
            with transaction.atomic(), connection.wrap_database_errors:
                # (a savepoint: the constraints' errors become a conflict, not a 500)
                with stream.copy() if stream is not None else contextlib.nullcontext():
                    for o in todo:
                        r = o.request
                        doc = docs[r.protocol_id]
                        procedure = doc["procedure"]
                        holds = _layout(procedure, r.protocol_id)
                        sessions = plans[_key(o)]
                        board.use_patient(r.patient_id, patient_busy.get(r.patient_id, ()))
                        chosen = _search(board, sessions, holds, procedure, now, o)
                        if chosen is not None:
                            pick = _Pick(o, patients[r.patient_id], doc, sessions, chosen)
                            picks.append(pick)
                            if stream is not None:
                                stream.send(pick)
                    result.seconds["search"] = time.perf_counter() - clock
                    clock = time.perf_counter()
                # (the COPY's end: the database finishes the rows sent during the search)
                result.seconds["write resource bookings"] = time.perf_counter() - clock
        except (IntegrityError, OperationalError) as exc:
            _conflict(exc)
        clock = time.perf_counter()
        if picks:
            _write(actor, picks, result.seconds, stream)
            calendar_version.bump(clinic.pk)  # (after the commit) bulk inserts send no signal
    result.seconds["write"] = time.perf_counter() - clock
    return result


def _conflict(exc: Exception) -> NoReturn:
    if isinstance(exc, OperationalError) and "deadlock" not in str(exc):
        raise exc
    raise BookingConflict(
        {"requests": "The calendar changed while the batch was booked; nothing was booked."},
        code="conflict",
    ) from None


class _BookingStream:
    """PostgreSQL: plan and appointment ids drawn ahead, and the resource bookings of each
    booked series sent by one COPY while the search goes on (``av.holds_for``: one row per
    resource hold, as the single path writes them)."""

    def __init__(self, plan_ids: list[int], appt_ids: list[int]) -> None:
        self.plan_ids, self.appt_ids = iter(plan_ids), iter(appt_ids)
        self._copy: Any = None

    @classmethod
    def start(
        cls, todo: list[SeriesOutcome], plans: dict[tuple[str, dt.date], list[Any]]
    ) -> _BookingStream:
        n_appts = sum(len(plans[_key(o)]) for o in todo)
        return cls(_draw_ids(TreatmentPlan, len(todo)), _draw_ids(Appointment, n_appts))

    @contextlib.contextmanager
    def copy(self) -> Iterator[None]:
        quote = connection.ops.quote_name
        column = {f.attname: str(f.column) for f in ResourceBooking._meta.concrete_fields}
        columns = ", ".join(
            quote(column[n])
            for n in ("appointment_id", "resource_id", "phase", "starts_at", "ends_at", "active")
        )
        with connection.cursor() as cursor:
            table = quote(ResourceBooking._meta.db_table)
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                self._copy = copy
                try:
                    yield
                finally:
                    self._copy = None

    def send(self, pick: _Pick) -> None:
        pick.plan_id = next(self.plan_ids)
        procedure = pick.doc["procedure"]
        offsets = _offsets(procedure, pick.outcome.request.protocol_id)
        write = self._copy.write_row
        for _s, start, combo in pick.slots:
            appt_id = next(self.appt_ids)
            pick.appt_ids.append(appt_id)
            ids = {"practitioner": combo.practitioner.pk, "room": combo.room.pk}
            if combo.centrifuge is not None:
                ids["centrifuge"] = combo.centrifuge.pk
            for role, phase, a, b in offsets:
                write((appt_id, ids[role], phase, start + a, start + b, True))


def _draw_ids(model: type[Model], n: int) -> list[int]:
    """``n`` new ids from the table's sequence (PostgreSQL), ascending."""
    if not n:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [model._meta.db_table, n],
        )
        return sorted(int(r[0]) for r in cursor.fetchall())


def _key(o: SeriesOutcome) -> tuple[str, dt.date]:
    return (o.request.protocol_id, o.request.start_on)


@functools.lru_cache(maxsize=256)
def _layout(procedure: str, protocol_id: str) -> list[av.PhaseHold]:
    """``av.layout``, one list per procedure and protocol (the board caches by the list)."""
    return av.layout(procedure, protocol_id)


@functools.lru_cache(maxsize=256)
def _offsets(
    procedure: str, protocol_id: str
) -> tuple[tuple[str, str, dt.timedelta, dt.timedelta], ...]:
    """(role, phase, start offset, end offset) of each hold: ``av.holds_for`` without the combo."""
    return tuple(
        (h.role, str(h.phase), dt.timedelta(minutes=h.start_min), dt.timedelta(minutes=h.end_min))
        for h in _layout(procedure, protocol_id)
    )


_KINDS = frozenset(AppointmentKind.values)


@functools.lru_cache(maxsize=4096)
def _days(earliest: dt.date, latest: dt.date, target: dt.date | None) -> tuple[dt.date, ...]:
    return tuple(av.days_by_closeness(earliest, latest, target))


def _search(
    board: av.SlotBoard,
    sessions: list[Any],
    holds: list[av.PhaseHold],
    procedure: str,
    now: dt.datetime,
    outcome: SeriesOutcome,
) -> list[tuple[Any, dt.datetime, av.Combo]] | None:
    """Each session's first free slot (``plans._session_slots`` with one slot), all or none."""
    today = now.astimezone(board.tz).date()
    chosen: list[tuple[Any, dt.datetime, av.Combo]] = []
    tokens: list[list[tuple[int, av.Interval]]] = []
    for s in sessions:
        found = None
        for day in _days(max(s.earliest_on, today), s.latest_on, s.target_on):
            found = board.first_free(holds, procedure, day, now)
            if found is not None:
                break
        if found is None:
            for token in reversed(tokens):
                board.unbook(token)
            outcome.field = "choices"
            outcome.message = (
                f"Session {s.n}: no free slot between {human_date(s.earliest_on)} and "
                f"{human_date(s.latest_on)}; add working hours or choose another start date."
            )
            return None
        start, combo = found
        tokens.append(board.book_undoable(holds, combo, start))
        chosen.append((s, start, combo))
    return chosen


def _insert(
    model: type[Model],
    names: list[str],
    rows: list[tuple[Any, ...]],
    now: dt.datetime,
    ids: list[int] | None = None,
) -> list[int]:
    """Insert rows (values of the fields ``names``; every other column at its default, as
    ``Model.objects.create`` leaves it) and return their new ids, in order.

    PostgreSQL: the ids are ``ids`` (drawn ahead) or drawn from the table's sequence, and the
    rows sent by COPY (a round trip per row, or the ORM's per-value conversion, is the slow part
    of a batch). Elsewhere: ``bulk_create`` of the same values."""
    if not rows:
        return []
    given = set(names)
    extra_names: list[str] = []
    extra: list[Any] = []
    for f in model._meta.concrete_fields:
        if f.primary_key or f.attname in given:
            continue
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            value: Any = now
        elif f.has_default():
            value = f.get_default()
        elif f.null:
            value = None
        else:
            raise ValueError(f"{model.__name__}.{f.name} needs a value")
        extra_names.append(f.attname)
        extra.append(value)
    if connection.vendor != "postgresql":
        objs = [
            model(**dict(zip(names + extra_names, (*row, *extra), strict=True))) for row in rows
        ]
        model._base_manager.bulk_create(objs, batch_size=2000)
        return [int(o.pk) for o in objs]
    by_name = {f.attname: f for f in model._meta.concrete_fields}
    json_at = [
        i
        for i, name in enumerate(names + extra_names)
        if isinstance(by_name[name], models.JSONField)
    ]
    extra = [v.value if isinstance(v, Choices) else v for v in extra]
    table = model._meta.db_table
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(by_name[n].column)) for n in ["id", *names, *extra_names])
    if ids is None:
        ids = _draw_ids(model, len(rows))
    with (
        connection.cursor() as cursor,
        connection.wrap_database_errors,
        cursor.cursor.copy(f"COPY {quote(table)} ({columns}) FROM STDIN") as copy,
    ):
        for pk, row in zip(ids, rows, strict=True):
            values = [pk, *row, *extra]
            for i in json_at:
                values[i + 1] = json.dumps(values[i + 1])
            copy.write_row(values)
    return ids


def _write(
    actor: Actor, picks: list[_Pick], seconds: dict[str, float], stream: _BookingStream | None
) -> None:
    """The rows ``plan_book_series`` writes, for every series, in bulk (with ``stream``, the
    resource bookings are already sent and the ids drawn)."""
    clock = time.perf_counter()
    clinic_id, user_id = actor.clinic.pk, actor.user.pk
    plan_rows = [
        (
            clinic_id,
            p.patient.pk,
            p.outcome.request.protocol_id,
            p.doc["name"],
            p.doc["procedure"],
            p.outcome.request.start_on,
            user_id,
        )
        for p in picks
    ]
    plan_names = [
        "clinic_id",
        "patient_id",
        "protocol_id",
        "protocol_name",
        "procedure",
        "start_on",
        "created_by_id",
    ]
    now = timezone.now()
    drawn = stream is not None
    plan_ids = _insert(
        TreatmentPlan,
        plan_names,
        plan_rows,
        now,
        [int(p.plan_id) for p in picks if p.plan_id is not None] if drawn else None,
    )
    appt_rows: list[tuple[Any, ...]] = []
    holds_of: list[list[tuple[int, str, dt.datetime, dt.datetime]]] = []
    username = actor.user.get_username()
    stamp = timezone.now().isoformat(timespec="seconds")
    for p, plan_id, plan_row in zip(picks, plan_ids, plan_rows, strict=True):
        plan = TreatmentPlan(
            pk=plan_id, created_at=now, **dict(zip(plan_names, plan_row, strict=True))
        )
        plan._state.adding, plan._state.db = False, connection.alias
        p.outcome.plan = plan
        procedure = p.doc["procedure"]
        protocol_id = p.outcome.request.protocol_id
        holds = _layout(procedure, protocol_id)
        offsets = _offsets(procedure, protocol_id)
        minutes = dt.timedelta(minutes=av.duration_minutes(holds))
        for s, start, combo in p.slots:
            appt_rows.append(
                (
                    clinic_id,
                    p.patient.pk,
                    plan_id,
                    s.n,
                    s.kind if s.kind in _KINDS else AppointmentKind.INDUCTION.value,
                    procedure,
                    start,
                    start + minutes,
                    s.target_on,
                    s.earliest_on,
                    s.latest_on,
                    combo.practitioner.pk,
                    combo.room.pk,
                    combo.centrifuge.pk if combo.centrifuge is not None else None,
                    "",
                    # ``_event(actor, "booked", starts_at=start)``, written the same way
                    [
                        {
                            "at": stamp,
                            "by": username,
                            "event": "booked",
                            "starts_at": start.isoformat(),
                        }
                    ],
                )
            )
            if drawn:
                continue  # (the bookings were sent during the search)
            # ``av.holds_for(holds, combo, start)``: one row per resource hold, as the single path
            ids = {"practitioner": combo.practitioner.pk, "room": combo.room.pk}
            if combo.centrifuge is not None:
                ids["centrifuge"] = combo.centrifuge.pk
            holds_of.append(
                [(ids[role], phase, start + a, start + b) for role, phase, a, b in offsets]
            )
    try:
        with transaction.atomic():  # the constraints' errors as a conflict, not a 500
            seconds["write plans"] = time.perf_counter() - clock
            clock = time.perf_counter()
            appt_ids = _insert(
                Appointment,
                [
                    "clinic_id",
                    "patient_id",
                    "plan_id",
                    "sequence",
                    "kind",
                    "procedure",
                    "starts_at",
                    "ends_at",
                    "target_on",
                    "window_earliest",
                    "window_latest",
                    "practitioner_id",
                    "room_id",
                    "centrifuge_id",
                    "notes",
                    "history",
                ],
                appt_rows,
                now,
                [i for p in picks for i in p.appt_ids] if drawn else None,
            )
            seconds["write appointments"] = time.perf_counter() - clock
            clock = time.perf_counter()
            if not drawn:
                _insert(
                    ResourceBooking,
                    ["appointment_id", "resource_id", "phase", "starts_at", "ends_at"],
                    [
                        (appt_id, rid, phase, s, e)
                        for appt_id, items in zip(appt_ids, holds_of, strict=True)
                        for rid, phase, s, e in items
                    ],
                    now,
                )
                seconds["write resource bookings"] = time.perf_counter() - clock
    except (IntegrityError, OperationalError) as exc:
        _conflict(exc)
    clock = time.perf_counter()
    audit_record_many(
        action="plan.create",
        actor=actor,
        items=(
            (
                p.patient,
                p.outcome.plan,
                {
                    "protocol_id": p.outcome.request.protocol_id,
                    "start_on": p.outcome.request.start_on,
                    "sessions": len(p.sessions),
                },
            )
            for p in picks
        ),
    )
    seconds["write audit"] = time.perf_counter() - clock
