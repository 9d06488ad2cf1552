"""Book many treatment series from a CSV file in one pass (a waiting list, a move from another
system, a clinic's campaign).

anagen book_series FILE.csv --clinic SLUG --user USERNAME
    FILE.csv has a header row and the columns ``record_number`` (or ``patient_id``),
    ``protocol_id`` and ``start_on`` (YYYY-MM-DD): one series per row, booked in the file's
    order, each session in the first free slot of its window, as "Book series" does on the
    patient's page (``services.plan_book_series_batch``). ``--user`` is the member booking (they
    need the right to choose a protocol); the audit records them, via the command line.
    Prints how many were booked and, for each row not booked, its line and why.
    Exit 0 when every row was booked, 1 when some were not (the others are booked), 2 on bad
    input (one line saying why; nothing booked).
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from anagen.accounts.access import Actor
from anagen.accounts.clinic_time import clinic_time
from anagen.accounts.models import Clinic, Membership
from anagen.accounts.permissions import Perm
from anagen.patients.models import Patient
from anagen.scheduling import services
from anagen.scheduling.services import SeriesRequest

MAX_FILE_BYTES = 20 * 1024 * 1024


def _bad(message: str) -> CommandError:
    return CommandError(" ".join(message.split()), returncode=2)


class Command(BaseCommand):
    help = "Book many treatment series from a CSV file (record_number, protocol_id, start_on)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "csv", help="CSV file: record_number (or patient_id), protocol_id, start_on"
        )
        parser.add_argument("--clinic", required=True, help="the slug of the clinic")
        parser.add_argument("--user", required=True, help="user name of the member booking")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["csv"])
        if not path.is_file():
            raise _bad(f"{path}: no such file.")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise _bad(f"{path}: the file is larger than 20 MB; split it.")
        slug = options["clinic"]
        clinic = Clinic.objects.filter(slug=slug).first()
        if clinic is None:
            raise _bad(f"There is no clinic {slug!r} here.")
        membership = (
            Membership.objects.filter(clinic=clinic, user__username=options["user"], is_active=True)
            .select_related("user", "clinic")
            .first()
        )
        if membership is None:
            raise _bad(f"{options['user']!r} is not an active member of {slug!r}.")
        actor = Actor(user=membership.user, membership=membership, via="cli")
        try:
            actor.require(Perm.PLAN)
        except PermissionDenied as exc:
            raise _bad(str(exc)) from None
        rows = self._read(path)
        with clinic_time(clinic):
            self._book(actor, clinic, rows)

    def _read(self, path: Path) -> list[tuple[int, str, str, dt.date]]:
        """(line, patient key, protocol, start) per row; a malformed file is bad input."""
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError):
            raise _bad(f"{path}: not a readable UTF-8 text file.") from None
        reader = csv.DictReader(text.splitlines())
        columns = set(reader.fieldnames or [])
        key = "record_number" if "record_number" in columns else "patient_id"
        if not {key, "protocol_id", "start_on"} <= columns:
            raise _bad(
                f"{path}: the header must name the columns record_number (or patient_id), "
                "protocol_id and start_on."
            )
        out = []
        for row in reader:
            line = reader.line_num
            patient = (row.get(key) or "").strip()
            protocol = (row.get("protocol_id") or "").strip()
            try:
                start = dt.date.fromisoformat((row.get("start_on") or "").strip())
            except ValueError:
                raise _bad(
                    f"{path}, line {line}: start_on must be a date like 2026-11-30."
                ) from None
            if not patient or not protocol:
                raise _bad(f"{path}, line {line}: a patient and a protocol are needed.")
            if key == "patient_id" and not patient.isdigit():
                raise _bad(f"{path}, line {line}: patient_id must be a number.")
            out.append((line, patient, protocol, start))
        return out

    def _book(
        self, actor: Actor, clinic: Clinic, rows: list[tuple[int, str, str, dt.date]]
    ) -> None:
        by_number: dict[str, int] = {}
        numbers = [p for _l, p, _pr, _s in rows if not p.isdigit()]
        if numbers:
            by_number = dict(
                Patient.objects.filter(clinic=clinic, record_number__in=numbers).values_list(
                    "record_number", "pk"
                )
            )
        requests: list[SeriesRequest] = []
        lines: list[int] = []
        unknown: list[int] = []
        for line, patient, protocol, start in rows:
            pid = by_number.get(patient) or (int(patient) if patient.isdigit() else None)
            if pid is None:
                unknown.append(line)
                continue
            requests.append(SeriesRequest(pid, protocol, start))
            lines.append(line)
        try:
            result = services.plan_book_series_batch(actor=actor, requests=requests)
        except ValidationError as exc:
            raise _bad(" ".join(exc.messages)) from None
        problems = [(line, "No such patient.") for line in unknown]
        problems += [(lines[o.index], o.message) for o in result.not_booked]
        problems.sort()
        self.stdout.write(f"Booked {len(result.booked)} of {len(rows)} series for {clinic.name}.")
        for line, message in problems:
            self.stdout.write(f"line {line}: {message}")
        if problems:
            raise CommandError(f"{len(problems)} series not booked (listed above).", returncode=1)
