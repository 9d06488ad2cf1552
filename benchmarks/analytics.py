"""Outcome analytics at scale: `DATABASE_URL=sqlite:////path/bench.sqlite3 uv run python
benchmarks/analytics.py` on a database filled by `anagen bench_data --patients N`.

Times what every analytics page, chart, CSV and API request computes: the per-patient outcomes
of the default measure and rule (`patient_outcomes`) and the cohort figures (everyone, and by
sex) with their mean and median CIs. Prints the figures, the wall time of each step (best of
``--runs``) and the peak memory of the process (``resource.getrusage``, max RSS).
Reads only; the database named by DATABASE_URL is not changed.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "anagen.settings")

import django  # noqa: E402

django.setup()


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="Timed runs (best is kept).")
    parser.add_argument("--measure", default="density_per_cm2")
    parser.add_argument("--rule", default="density_increase_15pct")
    args = parser.parse_args()

    from django.db.models import Count

    from anagen.accounts.models import Clinic
    from anagen.clinical.cohort_stats import median_ci
    from anagen.outcomes import selectors

    clinic = Clinic.objects.annotate(n=Count("patients")).order_by("-n").first()
    if clinic is None:
        raise SystemExit("No clinic: fill the database with `anagen bench_data --patients N`.")
    print(f"clinic {clinic.name}: {clinic.n} patients; peak before {_peak_mb():.0f} MB")
    best: dict[str, float] = {}
    for _ in range(max(1, args.runs)):
        c0 = time.process_time()
        t0 = time.perf_counter()
        outcomes = selectors.patient_outcomes(clinic=clinic, measure=args.measure, rule=args.rule)
        t1 = time.perf_counter()
        everyone = selectors.cohorts(outcomes, None)
        by_sex = selectors.cohorts(outcomes, "sex")
        t2 = time.perf_counter()
        best["cpu"] = min(best.get("cpu", 1e9), time.process_time() - c0)
        for name, secs in (("patient_outcomes", t1 - t0), ("cohorts", t2 - t1), ("total", t2 - t0)):
            best[name] = min(best.get(name, secs), secs)
    t3 = time.perf_counter()
    median_ci([o.follow_up - o.baseline for o in outcomes])
    median_secs = time.perf_counter() - t3
    print(f"patients with an outcome: {len(outcomes)}")
    for c in everyone + by_sex:
        med = c.absolute_median
        ci = "no CI" if med.low is None else f"95 % CI {med.low:.2f} to {med.high:.2f}"
        print(
            f"  {c.label}: n={c.n}, mean change {c.absolute.mean:+.2f} "
            f"(95 % CI {c.absolute.low or 0:+.2f} to {c.absolute.high or 0:+.2f}), "
            f"median {med.median:+.2f} ({ci}), responders "
            f"{'-' if c.responders is None else f'{c.responders.k}/{c.responders.n}'}"
        )
    print(
        f"time (best of {args.runs}): per-patient outcomes {best['patient_outcomes']:.3f} s, "
        f"cohort figures {best['cohorts']:.3f} s, total {best['total']:.3f} s "
        f"(CPU {best['cpu']:.3f} s); "
        f"median CI alone {median_secs * 1000:.1f} ms"
    )
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        f"peak memory (max RSS): {_peak_mb():.0f} MB; CPU time of the whole run "
        f"{usage.ru_utime + usage.ru_stime:.1f} s ({args.runs} runs, Django start included)"
    )


if __name__ == "__main__":
    main()
