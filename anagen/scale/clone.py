"""Copy demo patients' rows (written by the services) into many new patients.

Dates move by a whole number of days per copy; each appointment is then placed on free
resources near its moved time (slots.SlotBook), and the rows hanging off it (bookings, the
session record) move with it. Inserts are batched per model in foreign-key order.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, models
from django.db.models import Q

from anagen.patients.models import Patient
from anagen.scale.graph import OwnedModel, history_model_of, owned_models
from anagen.scale.slots import Interval, SlotBook
from anagen.scheduling.models import Appointment, AppointmentStatus, Resource, ResourceBooking

# Per-patient version counters and per-patient unique names, for copies merged into one patient.
VERSIONED = {"patients.Intake", "care.Assessment"}
UNIQUE_PER_PATIENT = {"outcomes.MeasurementSite": "name"}
KEEP_DATES = {("patients.Patient", "birth_date")}
# Derived per-patient rows (one per patient and measure): a merged copy would duplicate them, so
# merges leave them out and the caller rebuilds them (outcome_summaries_rebuild/_refresh,
# last_measurements_rebuild/_refresh).
DERIVED_PER_PATIENT = {"outcomes.OutcomeSummary", "outcomes.LastMeasurement"}


@dataclass
class Template:
    patient_id: int
    rows: dict[type[models.Model], list[models.Model]]
    history: dict[type[models.Model], list[models.Model]]
    # appointment pk -> [(Interval, resource kind)] and whether its bookings are live
    bookings: dict[int, list[tuple[Interval, str]]]

    @property
    def appointment_count(self) -> int:
        return len(self.rows.get(Appointment, []))


@dataclass
class CloneSpec:
    template: Template
    days: int  # whole days added to every date
    patient_fields: dict[str, Any] = field(default_factory=dict)
    into_patient: int | None = None  # merge into this existing patient instead of a new one


def load_template(patient_id: int, graph: list[OwnedModel], kinds: dict[int, str]) -> Template:
    ids: dict[type[models.Model], set[int]] = {Patient: {patient_id}}
    rows: dict[type[models.Model], list[models.Model]] = {}
    for om in graph:
        if om.model is Patient:
            rows[Patient] = list(Patient.all_objects.filter(pk=patient_id))
            continue
        condition = Q()
        for attname, target in om.owned_fks:
            if ids.get(target):
                condition |= Q(**{f"{attname}__in": ids[target]})
        found = list(om.model._base_manager.filter(condition)) if condition else []
        rows[om.model] = found
        ids[om.model] = {r.pk for r in found}
    history: dict[type[models.Model], list[models.Model]] = {}
    for om in graph:
        hm = history_model_of(om.model)
        if hm is not None and ids.get(om.model):
            history[hm] = list(hm._base_manager.filter(id__in=ids[om.model]))
    bookings: dict[int, list[tuple[Interval, str]]] = defaultdict(list)
    appointment_start = {a.pk: a.starts_at for a in rows.get(Appointment, [])}  # type: ignore[attr-defined]
    for b in rows.get(ResourceBooking, []):
        start = appointment_start[b.appointment_id]  # type: ignore[attr-defined]
        if b.active:  # type: ignore[attr-defined]
            bookings[b.appointment_id].append(  # type: ignore[attr-defined]
                (
                    Interval(
                        b.resource_id,  # type: ignore[attr-defined]
                        int((b.starts_at - start).total_seconds() // 60),  # type: ignore[attr-defined]
                        int((b.ends_at - start).total_seconds() // 60),  # type: ignore[attr-defined]
                    ),
                    kinds[b.resource_id],  # type: ignore[attr-defined]
                )
            )
    return Template(patient_id, rows, history, dict(bookings))


class Table:
    """One model's columns, with where the ids, owned keys and dates sit in a row."""

    def __init__(self, model: type[models.Model], owned_fks: list[tuple[str, type[models.Model]]]):
        self.model = model
        self.fields = list(model._meta.concrete_fields)
        self.columns = [str(f.column) for f in self.fields]
        names = [f.attname for f in self.fields]
        self.pos = {name: i for i, name in enumerate(names)}
        self.pk = self.pos[model._meta.pk.attname]
        self.fks = [(self.pos[a], t) for a, t in owned_fks if a in self.pos]
        self.stamps, self.days = [], []
        for i, f in enumerate(self.fields):
            if (model._meta.label, f.name) in KEEP_DATES:
                continue
            if isinstance(f, models.DateTimeField):
                self.stamps.append(i)
            elif isinstance(f, models.DateField):
                self.days.append(i)
        quoted = ", ".join(connection.ops.quote_name(c) for c in self.columns)
        marks = ", ".join(["%s"] * len(self.columns))
        name = connection.ops.quote_name(model._meta.db_table)
        # Names come from the models; values are always parameters.
        self.sql = f"INSERT INTO {name} ({quoted}) VALUES ({marks})"  # noqa: S608

    def row(self, instance: models.Model) -> list[Any]:
        """Database values, dates kept as Python values so they can be moved."""
        out = []
        for i, f in enumerate(self.fields):
            value = getattr(instance, f.attname)
            if i in self.stamps or i in self.days:
                out.append(value)
            else:
                out.append(f.get_db_prep_save(value, connection))
        return out


def insert_rows(db_table: str, columns: list[str], sql: str, rows: list[tuple[Any, ...]]) -> None:
    """Many rows at once: COPY on PostgreSQL (a round trip per row is the slow part), else a
    parameterised INSERT repeated by executemany."""
    if not rows:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            quote = connection.ops.quote_name
            names = ", ".join(quote(c) for c in columns)
            with cursor.cursor.copy(f"COPY {quote(db_table)} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        for start in range(0, len(rows), 2000):
            cursor.executemany(sql, rows[start : start + 2000])


class Ids:
    """Ids handed out here, so rows are inserted without asking the database for them."""

    def __init__(self) -> None:
        self._next: dict[type[models.Model], int] = {}

    def take(self, model: type[models.Model]) -> int:
        if model not in self._next:
            latest = model._base_manager.aggregate(m=models.Max("pk"))["m"] or 0
            self._next[model] = latest + 1
        value = self._next[model]
        self._next[model] += 1
        return value

    def models(self) -> list[type[models.Model]]:
        return list(self._next)


def _move(row: list[Any], table: Table, delta: dt.timedelta) -> None:
    for i in table.stamps:
        if row[i] is not None:
            row[i] = row[i] + delta
    whole_days = dt.timedelta(days=round(delta.total_seconds() / 86400))
    for i in table.days:
        if row[i] is not None:
            row[i] = row[i] + whole_days


def _adapt(row: list[Any], table: Table) -> tuple[Any, ...]:
    ops = connection.ops
    for i in table.stamps:
        row[i] = ops.adapt_datetimefield_value(row[i])
    for i in table.days:
        row[i] = ops.adapt_datefield_value(row[i])
    return tuple(row)


class Cloner:
    def __init__(self, book: SlotBook, fallback: dict[str, int]):
        self.graph = owned_models()
        self.book = book
        self.fallback = fallback  # kind -> a resource for bookings nobody can collide with
        self.kinds = dict(Resource.objects.values_list("pk", "kind"))
        self.tables = {om.model: Table(om.model, om.owned_fks) for om in self.graph}
        self.history_tables: dict[type[models.Model], Table] = {}
        for om in self.graph:
            hm = history_model_of(om.model)
            if hm is not None:
                self.history_tables[om.model] = Table(hm, om.owned_fks)
        self.ids = Ids()
        self._rows: dict[tuple[type[models.Model], int], list[Any]] = {}
        self._next_version: dict[tuple[str, int], int] = {}
        self._unique_names: dict[tuple[str, int, str], int] = {}
        self.placed = 0

    def template(self, patient_id: int) -> Template:
        return load_template(patient_id, self.graph, self.kinds)

    def _template_row(self, table: Table, instance: models.Model) -> list[Any]:
        key = (table.model, id(instance))
        if key not in self._rows:
            self._rows[key] = table.row(instance)
        return list(self._rows[key])

    def clone(self, specs: list[CloneSpec], progress: Callable[[int], None] | None = None) -> None:
        maps: list[dict[type[models.Model], dict[int, int]]] = [defaultdict(dict) for _ in specs]
        moved: list[dict[int, dt.timedelta]] = [{} for _ in specs]  # appointment -> delta
        chosen: list[dict[int, dict[int, int]]] = [{} for _ in specs]
        for om in self.graph:
            self._clone_model(om, specs, maps, moved, chosen)
        self._clone_history(specs, maps)
        if progress:
            progress(len(specs))

    def reset_sequences(self) -> None:
        """PostgreSQL: move each id sequence past the ids handed out here."""
        from django.core.management.color import no_style

        sql = connection.ops.sequence_reset_sql(no_style(), self.ids.models())
        with connection.cursor() as cursor:
            for statement in sql:
                cursor.execute(statement)

    def _clone_model(self, om: OwnedModel, specs, maps, moved, chosen) -> None:
        model = om.model
        table = self.tables[model]
        label = model._meta.label
        out: list[tuple[Any, ...]] = []
        for ci, spec in enumerate(specs):
            shift = dt.timedelta(days=spec.days)
            for instance in spec.template.rows.get(model, []):
                old = instance.pk
                if model is Patient and spec.into_patient is not None:
                    maps[ci][Patient][old] = spec.into_patient
                    continue
                if spec.into_patient is not None and label in DERIVED_PER_PATIENT:
                    continue
                row = self._template_row(table, instance)
                for i, target in table.fks:
                    if row[i] is not None:
                        row[i] = maps[ci][target][row[i]]
                if model is Patient:
                    for name, value in spec.patient_fields.items():
                        row[table.pos[name]] = value
                if model is Appointment:
                    self._place(row, table, instance, spec, ci, moved, chosen)
                elif model is ResourceBooking:
                    appointment = instance.appointment_id  # type: ignore[attr-defined]
                    _move(row, table, moved[ci][appointment])
                    mapping = chosen[ci].get(appointment, {})
                    resource = instance.resource_id  # type: ignore[attr-defined]
                    row[table.pos["resource_id"]] = mapping.get(
                        resource, self.fallback[self.kinds[resource]]
                    )
                else:
                    appointment = getattr(instance, "appointment_id", None)
                    _move(row, table, moved[ci].get(appointment, shift) if appointment else shift)
                if spec.into_patient is not None and "patient_id" in table.pos:
                    patient_id = row[table.pos["patient_id"]]
                    if label in VERSIONED:
                        row[table.pos["version"]] = self._version(model, label, patient_id)
                    if label in UNIQUE_PER_PATIENT:
                        name = row[table.pos[UNIQUE_PER_PATIENT[label]]]
                        existing = self._existing_name(model, label, patient_id, name)
                        if existing is not None:
                            maps[ci][model][old] = existing
                            continue
                new_id = self.ids.take(model)
                row[table.pk] = new_id
                maps[ci][model][old] = new_id
                if label in UNIQUE_PER_PATIENT and spec.into_patient is not None:
                    name = row[table.pos[UNIQUE_PER_PATIENT[label]]]
                    self._unique_names[(label, spec.into_patient, name)] = new_id
                out.append(_adapt(row, table))
        self._insert(table, out)

    def _version(self, model: type[models.Model], label: str, patient_id: int) -> int:
        key = (label, patient_id)
        if key not in self._next_version:
            latest = model._base_manager.filter(patient_id=patient_id).aggregate(
                v=models.Max("version")
            )["v"]
            self._next_version[key] = (latest or 0) + 1
        value = self._next_version[key]
        self._next_version[key] += 1
        return value

    def _existing_name(self, model, label: str, patient_id: int, name: str) -> int | None:
        found = self._unique_names.get((label, patient_id, name))
        if found is None:
            found = (
                model._base_manager.filter(patient_id=patient_id, name=name)
                .values_list("pk", flat=True)
                .first()
            )
        return found

    @staticmethod
    def _insert(table: Table, rows: list[tuple[Any, ...]]) -> None:
        insert_rows(table.model._meta.db_table, table.columns, table.sql, rows)

    def _place(self, row, table: Table, instance, spec: CloneSpec, ci: int, moved, chosen) -> None:
        wanted = instance.starts_at + dt.timedelta(days=spec.days)
        length = int((instance.ends_at - instance.starts_at).total_seconds() // 60)
        intervals = spec.template.bookings.get(instance.pk, [])
        patient_key: object = (
            "patient",
            spec.patient_fields.get("record_number", spec.into_patient),
        )
        if instance.status == AppointmentStatus.CANCELLED:
            # A cancelled visit holds nothing: it only needs a believable time.
            patient_key, intervals = object(), []
        found = self.book.place(wanted, length, intervals, patient_key)
        if found is None:
            raise RuntimeError(
                "the generated calendar is full: add practitioners, rooms or centrifuges"
            )
        at, mapping = found
        self.placed += 1
        delta = at - instance.starts_at
        moved[ci][instance.pk] = delta
        chosen[ci][instance.pk] = mapping
        _move(row, table, dt.timedelta(days=spec.days))
        row[table.pos["starts_at"]] = instance.starts_at + delta
        row[table.pos["ends_at"]] = instance.ends_at + delta
        for attname in ("practitioner_id", "room_id", "centrifuge_id"):
            old = getattr(instance, attname)
            if old is not None:
                row[table.pos[attname]] = mapping.get(old, self.fallback[self.kinds[old]])

    def _clone_history(self, specs, maps) -> None:
        for om in self.graph:
            base = om.model
            table = self.history_tables.get(base)
            if table is None:
                continue
            out = []
            for ci, spec in enumerate(specs):
                if base is Patient and spec.into_patient is not None:
                    continue
                shift = dt.timedelta(days=spec.days)
                for instance in spec.template.history.get(table.model, []):
                    new_id = maps[ci][base].get(instance.id)  # type: ignore[attr-defined]
                    if new_id is None:
                        continue
                    row = self._template_row(table, instance)
                    row[table.pos["id"]] = new_id
                    for i, target in table.fks:
                        if row[i] is not None and row[i] in maps[ci][target]:
                            row[i] = maps[ci][target][row[i]]
                    _move(row, table, shift)
                    row[table.pk] = self.ids.take(table.model)
                    out.append(_adapt(row, table))
            self._insert(table, out)
