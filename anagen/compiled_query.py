"""A queryset compiled by Django once and run again many times (issue 15: on the busiest pages,
building and compiling querysets cost more CPU than running them).

``CompiledQuery`` keeps a queryset's SQL, its parameters and how its rows become model
instances (what Django's ``ModelIterable`` does: select_related objects, deferred columns,
annotations, converters). Only the compilation is kept, never a row: every run reads afresh.

The home worklist (``anagen/web/worklist.py``) and the session record
(``anagen/procedures/compiled.py``) build on it. It uses two private Django functions
(``_get_from_db``, ``get_related_populators``): a Django upgrade may move them, and this is the
one place to mend; the tests that compare those pages with the plain ORM say when.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from weakref import ref as weak_ref

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import QuerySet
from django.db.models.query import (  # type: ignore[attr-defined]  # Django 6.1 internals
    _get_from_db,
    get_related_populators,
)


class CompiledQuery:
    """One queryset's SQL and parameters, and how its rows become model instances."""

    def __init__(self, qs: QuerySet[Any]):
        self.compiler: Any = None
        self.annotations: dict[str, int] = {}
        self.related: list[Any] = []
        self.init: list[str] = []
        self.from_db: Any = None
        self.slice = (0, 0)
        self.track_peers = False
        self.alias = qs.db
        compiler = qs.query.get_compiler(using=qs.db)
        try:
            sql, sql_params = compiler.as_sql()
        except EmptyResultSet:
            sql, sql_params = "", ()
        self.sql, self.params = sql, tuple(sql_params)
        if not sql:
            return
        self.compiler = compiler
        info = compiler.klass_info
        fields = info["select_fields"]
        start, end = fields[0], fields[-1] + 1
        self.init = [f[0].target.attname for f in compiler.select[start:end]]
        fetch_mode = qs._fetch_mode  # type: ignore[attr-defined]
        self.track_peers = bool(fetch_mode.track_peers)
        self.from_db = _get_from_db(info["model"], fetch_mode)
        self.related = get_related_populators(info, compiler.select, qs.db, fetch_mode)
        self.annotations = dict(compiler.annotation_col_map or {})
        self.slice = (start, end)

    def fetch(self, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """The raw rows of the SQL run with ``params`` (a fresh read)."""
        with connections[self.alias].cursor() as cursor:
            cursor.execute(self.sql, params)
            return cursor.fetchall()

    def instances(self, fetched: list[tuple[Any, ...]]) -> list[Any]:
        """Raw rows as model instances: select_related objects and annotations set."""
        if not fetched:
            return []
        compiler = self.compiler
        if compiler.has_extra_select:  # as Django's cursor_iter: only the selected columns
            fetched = [r[: compiler.col_count] for r in fetched]
        start, end = self.slice
        out = []
        peers: list[Any] | None = [] if self.track_peers else None
        for row in compiler.results_iter(results=[fetched]):
            obj = self.from_db(self.alias, self.init, row[start:end])
            if peers is not None:
                peers.append(weak_ref(obj))
                obj._state.peers = peers
            for populator in self.related:
                populator.populate(row, obj)
            for attr, pos in self.annotations.items():
                setattr(obj, attr, row[pos])
            out.append(obj)
        return out


__all__ = ["CompiledQuery"]
