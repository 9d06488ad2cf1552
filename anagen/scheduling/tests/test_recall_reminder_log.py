"""Maintenance-recall reminders appear in the reminders sent log like appointment reminders:
to whom, when, by which channel, and why one failed or was skipped."""

from __future__ import annotations

import datetime as dt

import pytest

from anagen.scheduling import services, sms
from anagen.scheduling.models import ReminderSent
from anagen.scheduling.tests.factories import make_recall
from conftest import make_patient

pytestmark = pytest.mark.django_db

OPENED = dt.datetime(2026, 6, 5, 12, tzinfo=dt.UTC)


class _RefusingSms:
    def send(self, *, to: str, body: str) -> str:
        raise sms.SmsError("SMS provider refused the message (400): The number is not valid.")


def test_recall_reminders_write_log_rows_and_show_in_the_log(clinic_a, clinic_b, settings):
    sms.outbox.clear()
    reached = make_patient(clinic_a, given_name="Rita", family_name="Recalled")
    silent = make_patient(clinic_a, given_name="Sam", family_name="Silent", sms_reminders=False)
    make_recall(clinic_a, reached)
    make_recall(clinic_a, silent)
    counts = services.reminders_send_due(now=OPENED)
    assert counts["recall_sent"] == 1 and counts["recall_skipped_no_consent"] == 1

    sent = ReminderSent.objects.get(recall__patient=reached)
    assert sent.status == "sent" and sent.channel == "sms"
    assert sent.recipient == reached.phone and "5 Sep 2026" in sent.body
    assert sent.provider_message_id.startswith("log-")
    assert sent.appointment is None and sent.rule is None and sent.patient == reached
    skipped = ReminderSent.objects.get(recall__patient=silent)
    assert skipped.status == "skipped_no_consent" and skipped.channel == "" and not skipped.body

    page = clinic_a.client(clinic_a.admin).get("/scheduling/reminders/log/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Recalled, Rita" in html or "Rita Recalled" in html
    assert "Silent" in html
    assert "Maintenance recall: book between 5 Jun 2026 and 5 Sep 2026" in html
    assert "Skipped: no consent or no address" in html
    # Filters apply to recall rows too.
    only_sms = clinic_a.client(clinic_a.admin).get("/scheduling/reminders/log/", {"channel": "sms"})
    assert "Silent" not in only_sms.content.decode()
    # Another clinic's log does not show them.
    other = clinic_b.client(clinic_b.admin).get("/scheduling/reminders/log/").content.decode()
    assert "Rita" not in other and "Maintenance recall" not in other


def test_a_failed_recall_reminder_is_logged_with_its_reason(clinic_a, patient_a, settings):
    settings.ANAGEN_SMS_BACKEND = f"{__name__}._RefusingSms"
    make_recall(clinic_a, patient_a)
    counts = services.reminders_send_due(now=OPENED)
    assert counts["recall_failed"] == 1
    row = ReminderSent.objects.get(recall__patient=patient_a)
    assert row.status == "failed" and "not valid" in row.detail
    html = (
        clinic_a.client(clinic_a.admin)
        .get("/scheduling/reminders/log/", {"status": "failed"})
        .content.decode()
    )
    assert "The number is not valid." in html and "Maintenance recall" in html
    # Never twice: the recall is claimed and has its one row.
    services.reminders_send_due(now=OPENED)
    assert ReminderSent.objects.filter(recall__patient=patient_a).count() == 1
