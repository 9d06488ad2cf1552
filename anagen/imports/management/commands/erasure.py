"""Purge the records whose erasure was requested and whose retention period has run out.

anagen erasure run [--today YYYY-MM-DD]
    Run daily (cron or the task worker's `run_erasure_purges`). Each clinic's own date decides
    what is due; `--today` replays a given day. Exit 0 when done, 1 when a record could not be
    erased (logged; the others still are), 2 on bad input.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from anagen.imports.erasure import erasure_run


class Command(BaseCommand):
    help = "Purge records whose erasure was requested, once their retention has run out."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        run = sub.add_parser("run", help="purge every record whose end date has passed")
        run.add_argument("--today", help="the date to act as (YYYY-MM-DD); default: today")

    def handle(self, *args: Any, **options: Any) -> None:
        today = None
        if options.get("today"):
            try:
                today = dt.date.fromisoformat(options["today"])
            except ValueError:
                raise CommandError("--today must be a date like 2026-11-30", returncode=2) from None
        try:
            done = erasure_run(today=today, via="cli")
        except RuntimeError as exc:
            raise CommandError(str(exc), returncode=1) from None
        self.stdout.write(f"{len(done)} record(s) erased.")
