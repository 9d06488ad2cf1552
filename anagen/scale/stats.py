"""Fresh planner statistics after a bulk load.

Rows copied in bulk leave the tables' statistics as they were before the copy (autovacuum's
ANALYZE comes later, or never during a benchmark): PostgreSQL then plans a 100,000-patient table
as if it held the demo's 90 and picks nested loops and sequential scans it would not otherwise
(seen in the sixth session's page benchmark). ``analyze()`` refreshes them at the end of
``anagen bench_data``. SQLite has ANALYZE too (it fills ``sqlite_stat1``, which its planner
reads), so the command is the same on both.
"""

from __future__ import annotations

import time

from django.db import connection


def analyze() -> float:
    """ANALYZE the whole database (all tables, sampled); returns the seconds it took."""
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return time.monotonic() - started
