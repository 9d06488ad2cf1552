"""Reminders: lead times, consent, never twice; the task and the command."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import override_settings

from anagen.scheduling import services, sms
from anagen.scheduling.models import ReminderRule, ReminderSent
from anagen.scheduling.tests.conftest import at, next_monday
from anagen.scheduling.tests.factories import book_consultation, make_recall
from conftest import make_patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def rules(clinic_a):
    services.reminder_rules_ensure_defaults(clinic=clinic_a.clinic)
    return ReminderRule.objects.filter(clinic=clinic_a.clinic)


def test_reminders_go_out_at_lead_time_once_and_honour_consent(clinic_a, kit_a, rules):
    sms.outbox.clear()
    both = make_patient(
        clinic_a,
        given_name="Both",
        family_name="Yes",
        email="b@example.com",
        sms_reminders=True,
        email_reminders=True,
    )
    none = make_patient(
        clinic_a, given_name="None", family_name="No", sms_reminders=False, email_reminders=False
    )
    when = at(next_monday(), 10)
    book_consultation(clinic_a, kit_a, both, when)
    b = book_consultation(clinic_a, kit_a, none, when + dt.timedelta(hours=1))
    # 3 days before: nothing is due yet
    assert sum(services.reminders_send_due(now=when - dt.timedelta(days=3)).values()) == 0
    # 47 h before: the 48-hour email and SMS rules are due for both appointments
    counts = services.reminders_send_due(now=when - dt.timedelta(hours=47))
    assert counts["sent"] == 2 and counts["skipped_no_consent"] == 2
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["b@example.com"]
    assert len(sms.outbox) == 1 and sms.outbox[0].to == both.phone
    assert "Álvarez" not in sms.outbox[0].body and "PRP" not in sms.outbox[0].body
    # again: nothing is sent twice
    assert sum(services.reminders_send_due(now=when - dt.timedelta(hours=46)).values()) == 0
    # 1 h before: the 2-hour SMS rule
    counts = services.reminders_send_due(now=when - dt.timedelta(hours=1))
    assert counts["sent"] == 1 and len(sms.outbox) == 2
    assert ReminderSent.objects.filter(appointment=b, status="skipped_no_consent").count() == 3


def test_cancelled_appointments_get_no_reminder(clinic_a, kit_a, rules, patient_a):
    sms.outbox.clear()
    when = at(next_monday(), 10)
    a = book_consultation(clinic_a, kit_a, patient_a, when)
    services.appointment_cancel(
        actor=clinic_a.actor(clinic_a.front_desk), appointment=a, reason="x"
    )
    assert sum(services.reminders_send_due(now=when - dt.timedelta(hours=1)).values()) == 0


def test_sms_failure_is_recorded_not_raised(clinic_a, kit_a, rules, patient_a, settings):
    settings.ANAGEN_SMS_BACKEND = "anagen.scheduling.tests.test_reminders.BrokenSms"
    when = at(next_monday(), 10)
    a = book_consultation(clinic_a, kit_a, patient_a, when)
    services.reminders_send_due(now=when - dt.timedelta(hours=1))
    rows = ReminderSent.objects.filter(appointment=a, channel="sms")
    assert rows.count() == 2  # the 48 h and the 2 h rule
    assert all(r.status == "failed" and "provider down" in r.detail for r in rows)


class BrokenSms:
    def send(self, *, to: str, body: str) -> str:
        raise RuntimeError("provider down")


@override_settings(
    TASKS={"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
)
def test_command_enqueues_the_task(clinic_a, kit_a, rules, patient_a, capsys):
    call_command("send_reminders")
    assert "sent" in capsys.readouterr().out


def test_recall_reminder_once_when_the_maintenance_window_opens(clinic_a, patient_a):
    from anagen.audit.models import AuditEvent

    sms.outbox.clear()
    recall = make_recall(clinic_a, patient_a)
    before = dt.datetime(2026, 6, 4, 12, tzinfo=dt.UTC)
    assert services.reminders_send_due(now=before)["recall_sent"] == 0
    opened = dt.datetime(2026, 6, 5, 12, tzinfo=dt.UTC)
    counts = services.reminders_send_due(now=opened)
    # patient_a agreed to SMS only (conftest): one SMS naming the window, no email.
    assert counts["recall_sent"] == 1 and len(sms.outbox) == 1 and len(mail.outbox) == 0
    assert "5 Jun 2026" in sms.outbox[0].body and "5 Sep 2026" in sms.outbox[0].body
    assert services.reminders_send_due(now=opened)["recall_sent"] == 0  # never twice
    recall.refresh_from_db()
    assert recall.reminder_status == "sent"
    assert AuditEvent.objects.filter(action="recall_reminder.sent", patient=patient_a).exists()


def test_recall_reminder_without_consent_is_skipped(clinic_a):
    sms.outbox.clear()
    patient = make_patient(clinic_a, given_name="No", family_name="Consent", sms_reminders=False)
    make_recall(clinic_a, patient)
    counts = services.reminders_send_due(now=dt.datetime(2026, 6, 6, tzinfo=dt.UTC))
    assert counts["recall_skipped_no_consent"] == 1 and not sms.outbox and not mail.outbox


def test_reminder_text_and_recall_day_are_the_clinics(clinic_a, kit_a, rules, patient_a):
    """Pacific/Auckland: the SMS gives the local time; a recall opens on the local date."""
    from zoneinfo import ZoneInfo

    from anagen.accounts.clinic_time import human_datetime

    clinic_a.clinic.timezone = "Pacific/Auckland"
    clinic_a.clinic.save()
    sms.outbox.clear()
    when = at(next_monday(), 10, tz="Pacific/Auckland")
    book_consultation(clinic_a, kit_a, patient_a, when)
    services.reminders_send_due(now=when - dt.timedelta(hours=1))
    body = sms.outbox[-1].body
    assert human_datetime(when, ZoneInfo("Pacific/Auckland")) in body  # "Mon …, 10:00"
    assert "10:00" in body and "T" not in body.split("on ", 1)[1][:12]

    sms.outbox.clear()
    make_recall(clinic_a, patient_a)
    # 4 June 20:00 UTC is already 5 June 08:00 in Auckland: the window has opened there.
    counts = services.reminders_send_due(now=dt.datetime(2026, 6, 4, 20, tzinfo=dt.UTC))
    assert counts["recall_sent"] == 1
