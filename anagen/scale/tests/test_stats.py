"""`anagen bench_data` ends by refreshing the planner's statistics (ANALYZE), on both databases."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from anagen.demo import seed_demo
from anagen.scale import stats
from anagen.scale.generate import generate

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 30)


def _patients_row_estimate() -> float:
    """What the planner believes the patients table holds, from ANALYZE's statistics."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("select reltuples from pg_class where relname = 'patients_patient'")
            return float(cursor.fetchone()[0])
        cursor.execute("select name from sqlite_master where name = 'sqlite_stat1'")
        if cursor.fetchone() is None:  # never analysed
            return -1
        cursor.execute("select stat from sqlite_stat1 where tbl = 'patients_patient' limit 1")
        row = cursor.fetchone()
        return float(row[0].split()[0]) if row else -1


def test_analyze_runs_on_this_database_and_counts_the_rows():
    seed_demo(TODAY)
    assert stats.analyze() >= 0
    assert _patients_row_estimate() == 180


def test_bench_data_analyzes_at_the_end_of_generation(monkeypatch):
    seed_demo(TODAY)
    calls: list[int] = []
    real = stats.analyze

    def spy() -> float:
        from anagen.patients.models import Patient

        calls.append(Patient.all_objects.count())  # after every copy and both planted patients
        return real()

    monkeypatch.setattr(stats, "analyze", spy)
    bench = generate(2, audit_per_patient=1)
    total = 180 + bench.patients + 2
    assert calls == [total]
    assert _patients_row_estimate() == total
