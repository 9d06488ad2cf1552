"""One writer at a time on SQLite for writes whose correctness needs it (booking, numbering).

SQLite has no row locks or exclusion constraints, so a re-check inside the transaction is only
decisive if no other such write runs in between. The settings open every transaction with
``BEGIN IMMEDIATE`` (writers across processes queue on the database lock); inside one process
this lock queues the threads, and a "database is locked" error (e.g. a shared-cache test
database, which does not wait) is retried instead of surfacing as a 500. On PostgreSQL it is a
plain call (constraints and row locks decide), and inside an outer transaction too (it cannot
retry there; the outer transaction already holds the write lock). One lock for every app, as
SQLite itself has one writer.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import DEFAULT_DB_ALIAS, OperationalError, connections

_SQLITE_WRITER = threading.Lock()
LOCK_RETRY_SECONDS = 20.0


def serialised[F: Callable[..., Any]](fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        conn = connections[DEFAULT_DB_ALIAS]
        if conn.vendor != "sqlite" or conn.in_atomic_block:
            return fn(*args, **kwargs)
        deadline = time.monotonic() + LOCK_RETRY_SECONDS
        with _SQLITE_WRITER:
            while True:
                try:
                    return fn(*args, **kwargs)
                except OperationalError as exc:
                    if "locked" not in str(exc) or time.monotonic() > deadline:
                        raise
                    time.sleep(0.02)

    return wrapper  # type: ignore[return-value]
