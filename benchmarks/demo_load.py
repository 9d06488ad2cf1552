"""Demo loading benchmark: `uv run python benchmarks/demo_load.py [--repeat N]`.

Figures printed (what `bash scripts/demo.sh` spends before it serves, minus installing):
- migrating an empty database;
- the first `anagen demo` load (`seed_demo`: two clinics, 180 patients with intakes), split into
  the core seed and each app's own seeder (care, scheduling, procedures, outcomes);
- loading again on the loaded database (idempotent: creates nothing), median over --repeat runs,
  split the same way.

The tests check that the demo seeders are consistent and idempotent; their speed is reported here
and asserted nowhere. Runs on a throwaway SQLite database in a temporary folder (migrated here), or
on the database named by BENCH_DATABASE_URL (an empty scratch database: this script writes to it).
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_tmp = tempfile.mkdtemp(prefix="anagen-bench-")
atexit.register(shutil.rmtree, _tmp, ignore_errors=True)
os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{_tmp}/bench.sqlite3")
os.environ.setdefault("ANAGEN_VAR_DIR", _tmp)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "anagen.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

# Each app's seeder, by the module `anagen.demo._seed_apps` imports it from when it runs.
APP_SEEDERS = {
    "care": ("anagen.care.demo", "seed_care_demo"),
    "scheduling": ("anagen.scheduling.demo", "seed_scheduling_demo"),
    "procedures": ("anagen.procedures.demo", "seed_procedures_demo"),
    "outcomes": ("anagen.outcomes.demo", "seed_outcomes_demo"),
}


def _timed_seeders(spent: dict[str, float]) -> None:
    """Wrap every app seeder so each call adds its wall time to `spent[app]`."""
    import importlib

    for app, (module_name, attr) in APP_SEEDERS.items():
        module = importlib.import_module(module_name)
        original = getattr(module, attr)

        def timed(*args: Any, _app: str = app, _f: Callable[..., Any] = original, **kw: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return _f(*args, **kw)
            finally:
                spent[_app] = spent.get(_app, 0.0) + time.perf_counter() - t0

        setattr(module, attr, timed)


def _load(spent: dict[str, float]) -> tuple[float, Any]:
    from anagen.demo import seed_demo

    spent.clear()
    t0 = time.perf_counter()
    result = seed_demo(timezone.localdate())
    total = time.perf_counter() - t0
    spent["core"] = total - sum(spent.values())
    return total, result


def _split(spent: dict[str, float]) -> str:
    order = ["core", *APP_SEEDERS]
    return ", ".join(f"{name} {spent.get(name, 0.0):.2f} s" for name in order)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3, help="idempotent re-loads to time")
    args = parser.parse_args()

    t0 = time.perf_counter()
    call_command("migrate", verbosity=0)
    migrate = time.perf_counter() - t0

    spent: dict[str, float] = {}
    _timed_seeders(spent)
    first, result = _load(spent)
    first_split = _split(spent)

    again: list[float] = []
    splits: list[dict[str, float]] = []
    for _ in range(max(args.repeat, 1)):
        total, rerun = _load(spent)
        assert rerun.created_patients == 0 and rerun.created_users == 0, "demo load not idempotent"
        again.append(total)
        splits.append(dict(spent))
    median_split = {name: statistics.median(s[name] for s in splits) for name in splits[0]}

    from anagen.patients.models import Patient

    print(f"database: {connection.vendor}")
    print(f"migrate an empty database: {migrate:.2f} s")
    print(
        f"first demo load ({result.created_users} users, {result.created_patients} patients; "
        f"{Patient.objects.count()} in the database): {first:.2f} s  ({first_split})"
    )
    print(
        f"demo load again (creates nothing), {len(again)} runs: "
        f"median {statistics.median(again):.2f} s, max {max(again):.2f} s  "
        f"({_split(median_split)})"
    )


if __name__ == "__main__":
    main()
