"""The session record's reads, compiled by Django once and run again with each record's ids
(issue 15: building and compiling the page's querysets cost more CPU than running them).

A shape is a queryset written with stand-in ids (``STAND_INS``); its SQL, its parameters and
how its rows become model instances (what ``ModelIterable`` does: select_related objects,
deferred columns, converters) are kept per database alias and vendor, and every request runs
the same SQL with the stand-ins replaced by its own ids. The rows are read afresh every time:
only the compilation is kept, never a row (no stale record can be shown).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any
from weakref import ref as weak_ref

from django.core.exceptions import EmptyResultSet
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import QuerySet
from django.db.models.query import (  # type: ignore[attr-defined]  # Django 6.1 internals
    _get_from_db,
    get_related_populators,
)

# Ids no row has: each stands for one value given to ``rows``.
STAND_INS = {"a": -7_300_001, "b": -7_300_002, "c": -7_300_003}


class Shape:
    """One queryset's compilation, with the positions of its stand-in parameters."""

    def __init__(self, qs: QuerySet[Any]):
        self.alias = qs.db
        compiler = qs.query.get_compiler(using=qs.db)
        try:
            sql, params = compiler.as_sql()
        except EmptyResultSet:  # pragma: no cover - the shapes always filter by ids
            sql, params = "", ()
        self.sql, self.params = sql, tuple(params)
        by_value = {v: k for k, v in STAND_INS.items()}
        self.holes = [(i, by_value[p]) for i, p in enumerate(self.params) if p in by_value]
        self.compiler: Any = compiler
        if not sql:  # pragma: no cover
            return
        info = compiler.klass_info
        fields = info["select_fields"]
        self.start, self.end = fields[0], fields[-1] + 1
        self.init = [f[0].target.attname for f in compiler.select[self.start : self.end]]
        fetch_mode = qs._fetch_mode  # type: ignore[attr-defined]
        self.track_peers = bool(fetch_mode.track_peers)
        self.from_db = _get_from_db(info["model"], fetch_mode)
        self.related = get_related_populators(info, compiler.select, qs.db, fetch_mode)
        self.annotations = dict(compiler.annotation_col_map or {})

    def rows(self, **ids: Any) -> list[Any]:
        """The rows for these ids, as model instances (a fresh read every call)."""
        if not self.sql:  # pragma: no cover
            return []
        params = list(self.params)
        for i, name in self.holes:
            params[i] = ids[name]
        with connections[self.alias].cursor() as cursor:
            cursor.execute(self.sql, params)
            fetched = cursor.fetchall()
        if not fetched:
            return []
        compiler = self.compiler
        if compiler.has_extra_select:  # pragma: no cover - as Django's cursor_iter
            fetched = [r[: compiler.col_count] for r in fetched]
        out = []
        peers: list[Any] | None = [] if self.track_peers else None
        for row in compiler.results_iter(results=[fetched]):
            obj = self.from_db(self.alias, self.init, row[self.start : self.end])
            if peers is not None:
                peers.append(weak_ref(obj))
                obj._state.peers = peers
            for populator in self.related:
                populator.populate(row, obj)
            for attr, pos in self.annotations.items():
                setattr(obj, attr, row[pos])
            out.append(obj)
        return out


MAX_SHAPES = 256
_shapes: dict[tuple[str, str, str], Shape] = {}
_lock = threading.Lock()


def rows(name: str, build: Callable[..., QuerySet[Any]], **ids: Any) -> list[Any]:
    """The rows of the shape ``name`` (``build(**STAND_INS)`` written once) for ``ids``."""
    alias = DEFAULT_DB_ALIAS
    key = (name, alias, connections[alias].vendor)
    shape = _shapes.get(key)
    if shape is None:
        made = Shape(build(**{k: STAND_INS[k] for k in ids}))
        if {n for _, n in made.holes} != set(ids):  # pragma: no cover - a shape's mistake
            raise ValueError(f"shape {name!r}: every id must be a parameter of its SQL")
        with _lock:
            if len(_shapes) >= MAX_SHAPES:  # page positions are many: keep the cache bounded
                _shapes.clear()
            shape = _shapes.setdefault(key, made)
    return shape.rows(**ids)


def reset() -> None:
    """Forget every compiled shape (tests that change the database settings)."""
    with _lock:
        _shapes.clear()


__all__ = ["STAND_INS", "Shape", "reset", "rows"]
