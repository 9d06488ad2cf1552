"""Check the audit trail's hash chains.

anagen audit verify [--clinic SLUG]
    Walks each clinic's chain (and the chain of events without a clinic, such as failed
    logins) and reports the first broken link: exit status 0 when every chain is intact, 1 on
    a break, 2 on bad input (e.g. an unknown clinic). An event's values (kept apart, in
    AuditChangeValues) are checked against the salted digest its hash covers; values an
    erasure purge removed verify by that digest alone (anagen/audit/chain.py).
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from anagen.accounts.models import Clinic
from anagen.audit.chain import ChainResult, verify_all


class Command(BaseCommand):
    help = "Verify the audit trail's hash chains (exit 0 intact, 1 broken, 2 bad input)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        verify = sub.add_parser("verify", help="walk every chain and report the first break")
        verify.add_argument("--clinic", help="clinic slug (default: every chain)")

    def handle(self, *args: Any, **options: Any) -> None:
        clinic_ids: list[int | None] | None = None
        names: dict[int | None, str] = {None: "events without a clinic"}
        names.update({c.pk: f"clinic {c.slug}" for c in Clinic.objects.all()})
        if options.get("clinic"):
            clinic = Clinic.objects.filter(slug=options["clinic"]).first()
            if clinic is None:
                raise CommandError(f"no clinic with the slug {options['clinic']!r}", returncode=2)
            clinic_ids = [clinic.pk]
        results = verify_all(clinic_ids)
        broken = [r for r in results if r.brk is not None]
        for result in results:
            self.stdout.write(self._line(result, names))
        if broken:
            self.stderr.write(f"audit chain broken: {len(broken)} of {len(results)} chain(s)")
            sys.exit(1)
        self.stdout.write(f"audit chain intact: {len(results)} chain(s)")

    @staticmethod
    def _line(result: ChainResult, names: dict[int | None, str]) -> str:
        name = names.get(result.clinic_id, f"clinic #{result.clinic_id}")
        if result.brk is None:
            return f"OK      {name}: {result.length} events, head {result.last_hash}"
        b = result.brk
        where = f"event {b.event_id}" if b.event_id is not None else "chain head"
        position = f" (position {b.seq})" if b.seq is not None else ""
        return (
            f"BROKEN  {name}: first broken link at {where}{position}: {b.problem}; "
            f"{result.length} events verified before it"
        )
