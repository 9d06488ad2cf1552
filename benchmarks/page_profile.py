"""Page profile (issue 15): time a few pages in-process, with their queries and a profile.

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:54370/anagen ANAGEN_VAR_DIR=var/bench100k \\
      uv run --frozen python benchmarks/page_profile.py "chart:long" "home:clinic" [--n 30] \\
      [--profile] [--sql] [--list]

Where benchmarks/pages.py serves the app with gunicorn and measures it from outside, this one
asks Django's test client in this process, so a page's own cost shows without the server, the
network and the other workers: for each PAGE it prints the median and p90 time (ms; warm, after
three unmeasured requests) and its SQL query count. The pages, patients and sessions are the
page benchmark's own (benchmarks/pages.py): PAGE is a label with its patient,
"LABEL:new|typical|long|clinic" ("home:clinic", "chart:long", "session record:typical",
"API plans:clinic"; without ":who" the clinic-wide page), or a path with an optional role,
"/calendar/feeds/@physician". --list prints them all.

  --n N       timed requests per page (default 30)
  --profile   a cProfile of the first PAGE (10 requests, top 45 by cumulative time)
  --sql       every query of one request of each PAGE, with its time in seconds

The database is the page benchmark's (BENCH_DATABASE_URL, else DATABASE_URL, else its SQLite
file var/bench/pages.sqlite3) and must hold a generated clinic (`anagen bench_data`); this script
only reads it (and, like the benchmark, signs its users in: sessions and an API token). An
unknown PAGE, a database that cannot be reached or holds no generated clinic: one line on
stderr, exit code 2.
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import os
import pstats
import statistics
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
if "BENCH_DATABASE_URL" not in os.environ and os.environ.get("DATABASE_URL"):
    os.environ["BENCH_DATABASE_URL"] = os.environ["DATABASE_URL"]

import pages as bench  # noqa: E402  (sets the database up and calls django.setup())
from django.db import DatabaseError, connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

WHO = ("new", "typical", "long", "clinic")


def fail(message: str) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def _check_database() -> None:
    """Refuse, in one line, a database that is missing, unreachable or without the clinic."""
    name = str(connection.settings_dict.get("NAME") or "")
    if connection.vendor == "sqlite" and name != ":memory:" and not Path(name).exists():
        fail(f"no database at {name} (set BENCH_DATABASE_URL; make one with anagen bench_data)")
    try:
        from anagen.patients.models import Patient
        from anagen.scale.generate import LONG_RECORD

        generated = Patient.all_objects.filter(record_number=LONG_RECORD).exists()
    except DatabaseError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        fail(f"cannot read the database ({connection.vendor}): {first}")
    if not generated:
        fail(
            "the database holds no generated clinic: run `anagen bench_data --patients N` "
            "(or benchmarks/pages.py) on it first"
        )


def _resolve(wanted: list[str], pages: list[bench.Page]) -> list[tuple[str, bench.Page]]:
    """Each PAGE argument's page, or exit 2 naming the first unknown one."""
    out = []
    for want in wanted:
        if want.startswith("/"):
            path, _, role = want.partition("@")
            out.append((want, bench.Page(want, "clinic", path, role or "physician")))
            continue
        label, sep, who = want.rpartition(":")
        if not sep or who not in WHO:
            label, who = want, "clinic"
        page = next((p for p in pages if p.label == label and p.who == who), None)
        if page is None:
            fail(
                f"unknown page {want!r}: give LABEL:{'|'.join(WHO)} as benchmarks/pages.py "
                "labels them (--list shows every one) or a path such as /calendar/feeds/"
            )
        out.append((want, page))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", nargs="*", help='"LABEL:new|typical|long|clinic" or a /path')
    parser.add_argument("--n", type=int, default=30, help="timed requests per page")
    parser.add_argument("--profile", action="store_true", help="cProfile the first page")
    parser.add_argument("--sql", action="store_true", help="print each page's queries")
    parser.add_argument("--list", action="store_true", help="list the pages and exit")
    args = parser.parse_args()
    if args.n < 1:
        fail("--n must be at least 1")
    if not args.page and not args.list:
        fail('name at least one page, e.g. "chart:long" (--list shows them)')
    _check_database()
    logging.disable(logging.WARNING)  # a refused page shows as its status, not a logged error
    clinic, pages = bench.benchmark_pages()
    if args.list:
        for p in pages:
            print(f"{p.label}:{p.who}".ljust(40), p.url)
        return
    chosen = _resolve(args.page, pages)
    clients: dict[str, tuple[bench.Client, str, str]] = {}
    for index, (want, page) in enumerate(chosen):
        if page.role not in clients:
            clients[page.role] = bench._signed_in_client(f"{clinic.slug}.{page.role}")
        client, _, token = clients[page.role]
        headers: dict[str, Any] = (
            {"HTTP_AUTHORIZATION": f"Bearer {token}"} if page.url.startswith("/api/") else {}
        )
        url = (
            bench._linked_address(client, page.linked_from, page.url)
            if page.linked_from
            else (page.url)
        )
        for _ in range(3):  # warm: templates compiled, caches filled, a chart drawn
            client.get(url, **headers)
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url, **headers)
        # Copied now: `captured_queries` reads the connection's log, which the next request's
        # request_started signal empties (so reading it later gives nothing).
        queries = list(ctx.captured_queries)
        times = []
        for _ in range(args.n):
            started = time.perf_counter()
            client.get(url, **headers)
            times.append((time.perf_counter() - started) * 1000)
        print(
            f"{want:<32} HTTP {response.status_code}  median {statistics.median(times):6.1f} ms  "
            f"p90 {bench._pct(times, 90):6.1f} ms  queries {len(queries)}  ({url})",
            flush=True,
        )
        if args.sql:
            total = sum(float(q["time"]) for q in queries)
            print(f"  {len(queries)} queries, {total * 1000:.1f} ms in the database:")
            for q in queries:
                print(f"  {float(q['time']) * 1000:7.2f} ms  {' '.join(q['sql'].split())[:300]}")
        if args.profile and index == 0:
            profile = cProfile.Profile()
            profile.enable()
            for _ in range(10):
                client.get(url, **headers)
            profile.disable()
            pstats.Stats(profile).sort_stats("cumulative").print_stats(45)


if __name__ == "__main__":
    main()
