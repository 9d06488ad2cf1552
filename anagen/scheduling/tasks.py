"""Background tasks (Django Tasks API, run by `anagen db_worker`)."""

from __future__ import annotations

from django.tasks import task

from anagen.scheduling.services import reminders_send_due


@task()
def send_due_reminders() -> dict[str, int]:
    """Send every appointment reminder that is due now (each at most once)."""
    return reminders_send_due()
