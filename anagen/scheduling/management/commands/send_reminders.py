"""`anagen send_reminders`: enqueue the reminder task (run it from cron every 5 minutes).

Django's Tasks API has no scheduler, so cron (or a systemd timer) runs this command, e.g.

    */5 * * * *  cd /srv/anagen && .venv/bin/anagen send_reminders

and the database-backed worker (`anagen db_worker`) sends the messages. `--now` sends them in
this process instead, without the worker.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from anagen.scheduling.services import reminders_send_due
from anagen.scheduling.tasks import send_due_reminders


class Command(BaseCommand):
    help = "Enqueue the appointment reminder task (or run it now with --now)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--now", action="store_true", help="send in this process")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["now"]:
            counts = reminders_send_due()
            self.stdout.write(", ".join(f"{k}: {v}" for k, v in counts.items()))
            return
        result = send_due_reminders.enqueue()
        self.stdout.write(f"enqueued {result.id} ({result.status}); sent counts follow when run")
