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

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import QuerySet

from anagen.compiled_query import CompiledQuery

# Ids no row has: each stands for one value given to ``rows``.
STAND_INS = {"a": -7_300_001, "b": -7_300_002, "c": -7_300_003}


class Shape(CompiledQuery):
    """One queryset's compilation, with the positions of its stand-in parameters."""

    def __init__(self, qs: QuerySet[Any]):
        super().__init__(qs)
        by_value = {v: k for k, v in STAND_INS.items()}
        self.holes = [(i, by_value[p]) for i, p in enumerate(self.params) if p in by_value]

    def rows(self, **ids: Any) -> list[Any]:
        """The rows for these ids, as model instances (a fresh read every call)."""
        if not self.sql:  # pragma: no cover
            return []
        params = list(self.params)
        for i, name in self.holes:
            params[i] = ids[name]
        return self.instances(self.fetch(params))


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
