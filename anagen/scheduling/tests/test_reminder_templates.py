"""Reminders staff can shape: message templates with placeholders, the live preview, the log of
what was sent, and the Twilio-compatible SMS provider against a local fake server."""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from anagen.audit.models import AuditEvent
from anagen.scheduling import reminder_text, services, sms
from anagen.scheduling.models import ReminderRule, ReminderSent
from anagen.scheduling.tests.conftest import at, next_monday
from anagen.scheduling.tests.factories import book_consultation as _book

pytestmark = pytest.mark.django_db

FACTS = reminder_text.MessageFacts(
    patient_first_name="Ana",
    clinic_name="North Clinic",
    starts_at=dt.datetime(2026, 12, 1, 14, 5, tzinfo=dt.UTC),
    tz=ZoneInfo("Europe/Lisbon"),
    practitioner="Dr Rui Costa",
    procedure="PRP scalp session",
)


# --- Templates ------------------------------------------------------------------------------


def test_placeholders_render_in_clinic_time_and_words():
    text = reminder_text.render(
        "Hi {patient_first_name}: {procedure} with {practitioner} at {clinic_name}, "
        "{appointment_time} ({appointment_date} at {appointment_clock}). {{brace}}",
        FACTS,
    )
    assert text == (
        "Hi Ana: PRP scalp session with Dr Rui Costa at North Clinic, "
        "Tue 1 Dec 2026, 14:05 (1 Dec 2026 at 14:05). {brace}"
    )
    # Empty: the standard wording, with no procedure in it.
    standard = reminder_text.render("", FACTS)
    assert "North Clinic" in standard and "Tue 1 Dec 2026, 14:05" in standard
    assert "PRP" not in standard


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        ("Hi {first_name}", "Unknown placeholder {first_name}"),
        ("Hi {patient.given_name}", "Unknown placeholder {patient.given_name}"),
        ("Hi {patient_first_name!r}", "without ':' or '!'"),
        ("At {appointment_time:>30}", "without ':' or '!'"),
        ("Hi {patient_first_name", "A brace is not closed"),
        ("Hi {}", "Empty braces"),
        ("x" * 641, "under 640 characters"),
    ],
)
def test_bad_templates_are_refused_in_words(template, fragment):
    errors = reminder_text.template_errors(template)
    assert any(fragment in e for e in errors), errors
    with pytest.raises(ValidationError) as exc:
        reminder_text.validate_template(template)
    assert "template" in exc.value.message_dict


def test_a_rule_with_a_template_shapes_the_message(clinic_a, kit_a, patient_a):
    sms.outbox.clear()
    actor = clinic_a.actor(clinic_a.admin)
    services.reminder_rule_add(
        actor=actor,
        channel="sms",
        lead_hours=24,
        template="Hi {patient_first_name}, {practitioner} sees you {appointment_time}.",
    )
    when = at(next_monday(), 10)
    appt = _book(clinic_a, kit_a, patient_a, when)
    counts = services.reminders_send_due(now=when - dt.timedelta(hours=2))
    assert counts["sent"] == 1
    expected = (
        f"Hi José, {kit_a.physician.name} sees you "
        f"{reminder_text.human_datetime(when, ZoneInfo('Europe/London'))}."
    )
    assert sms.outbox[-1].body == expected
    row = ReminderSent.objects.get(appointment=appt)
    assert (row.recipient, row.body, row.status) == (patient_a.phone, expected, "sent")
    assert row.provider_message_id.startswith("log-")
    assert AuditEvent.objects.filter(action="reminder.sent", patient=patient_a).exists()


# --- Pages ----------------------------------------------------------------------------------


def test_rules_page_saves_a_message_and_shows_errors_beside_the_field(clinic_a):
    rule = ReminderRule.objects.create(clinic=clinic_a.clinic, channel="sms", lead_hours=48)
    client = clinic_a.client(clinic_a.admin)
    page = client.get("/scheduling/reminders/")
    assert page.status_code == 200 and b"{patient_first_name}" in page.content
    assert b"Preview" in page.content  # the standard wording, previewed
    field = f"rule{rule.pk}-template"
    bad = client.post(
        "/scheduling/reminders/",
        {"action": "message", "rule": rule.pk, field: "Hello {name}"},
    )
    assert bad.status_code == 400
    html = bad.content.decode()
    # The error sits inside the template field's own block, after its textarea.
    block = html[html.index(f'id="id_{field}"') :]
    assert block.index("Unknown placeholder {name}") < block.index("Save message")
    rule.refresh_from_db()
    assert rule.template == ""
    ok = client.post(
        "/scheduling/reminders/",
        {"action": "message", "rule": rule.pk, field: "See you {appointment_time}"},
    )
    assert ok.status_code == 302
    rule.refresh_from_db()
    assert rule.template == "See you {appointment_time}"
    assert AuditEvent.objects.filter(action="reminder_rule.update").exists()
    # Adding a rule with a bad message: the error is on the add form's field.
    added = client.post(
        "/scheduling/reminders/",
        {"action": "add", "channel": "email", "lead_hours": "24", "template": "{oops}"},
    )
    assert added.status_code == 400 and b"Unknown placeholder {oops}" in added.content


def test_preview_partial_renders_a_sample_appointment(clinic_a, kit_a):
    client = clinic_a.client(clinic_a.admin)
    r = client.get(
        "/scheduling/reminders/preview/",
        {"rule3-template": "Hi {patient_first_name} at {clinic_name} with {practitioner}"},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 200
    html = r.content.decode()
    assert "<html" not in html  # a partial, not the page
    first = min(kit_a.physician.name, kit_a.nurse.name)  # the first practitioner by name
    assert f"Hi Alex at Clinic A with {first}" in html
    bad = client.get("/scheduling/reminders/preview/", {"template": "Hi {whoever}"})
    assert b"Unknown placeholder {whoever}" in bad.content
    assert (
        clinic_a.client(clinic_a.front_desk).get("/scheduling/reminders/preview/").status_code
        == 403
    )


def test_log_lists_sends_and_failures_filters_and_pages(clinic_a, kit_a, patient_a, settings):
    from anagen.audit.models import AuditEvent

    services.reminder_rules_ensure_defaults(clinic=clinic_a.clinic)
    settings.ANAGEN_SMS_BACKEND = "anagen.scheduling.tests.test_reminders.BrokenSms"
    when = at(next_monday(), 10)
    _book(clinic_a, kit_a, patient_a, when)
    services.reminders_send_due(now=when - dt.timedelta(hours=1))
    # patient_a: SMS yes (both SMS rules fail: provider down), email no (skipped).
    assert ReminderSent.objects.filter(status="failed").count() == 2
    client = clinic_a.client(clinic_a.admin)
    before = AuditEvent.objects.count()
    page = client.get("/scheduling/reminders/log/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "José Álvarez" in html and "provider down" in html and "Failed" in html
    assert "Skipped: no consent or no address" in html
    assert AuditEvent.objects.count() > before  # a list of patients' data: audited

    def table(query: dict[str, str]) -> str:
        html = client.get("/scheduling/reminders/log/", query).content.decode()
        return html[html.index('id="reminder-log"') :]

    only_email = table({"channel": "email"})
    assert "provider down" not in only_email and "Skipped" in only_email
    only_failed = table({"status": "failed"})
    assert "provider down" in only_failed and "Skipped: no consent" not in only_failed
    assert client.get("/scheduling/reminders/log/", {"status": "nope"}).status_code == 400
    # Paging keeps the filter.
    rows = ReminderSent.objects.filter(status="failed")
    template = rows.first()
    assert template is not None
    for i in range(30):
        other = _book(clinic_a, kit_a, patient_a, when + dt.timedelta(days=7 * (i + 1)))
        ReminderSent.objects.create(
            appointment=other, rule=template.rule, channel="sms", status="failed", detail="x"
        )
    first = client.get("/scheduling/reminders/log/", {"status": "failed"}).content.decode()
    assert "status=failed&amp;page=2" in first and "Page 1 of 2" in first
    assert clinic_a.client(clinic_a.physician).get("/scheduling/reminders/log/").status_code == 403


# --- The Twilio-compatible provider against a local fake server -------------------------------


class FakeTwilio(BaseHTTPRequestHandler):
    """Checks the account, the basic auth and the form fields like the real service does."""

    sid, token = "AC123", "secret-token"
    received: list[dict[str, str]] = []
    answer: tuple[int, dict[str, object]] | None = None  # force an answer (errors)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
        expected_auth = "Basic " + base64.b64encode(f"{self.sid}:{self.token}".encode()).decode()
        if self.path != f"/2010-04-01/Accounts/{self.sid}/Messages.json":
            self._reply(404, {"code": 20404, "message": "The requested resource was not found"})
        elif self.headers.get("Authorization") != expected_auth:
            self._reply(401, {"code": 20003, "message": "Authenticate"})
        elif not {"To", "From", "Body"} <= set(form):
            self._reply(400, {"code": 21604, "message": "A 'To' phone number is required."})
        elif FakeTwilio.answer is not None:
            self._reply(*FakeTwilio.answer)
        else:
            FakeTwilio.received.append(form)
            self._reply(201, {"sid": f"SM{len(FakeTwilio.received):032d}", "status": "queued"})

    def _reply(self, code: int, payload: dict[str, object]) -> None:
        raw = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def fake_twilio(settings):
    server = HTTPServer(("127.0.0.1", 0), FakeTwilio)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeTwilio.received, FakeTwilio.answer = [], None
    settings.ANAGEN_SMS_BACKEND = "twilio"
    settings.ANAGEN_SMS_ACCOUNT_SID = FakeTwilio.sid
    settings.ANAGEN_SMS_AUTH_TOKEN = FakeTwilio.token
    settings.ANAGEN_SMS_FROM = "+441234567890"
    settings.ANAGEN_SMS_BASE_URL = f"http://127.0.0.1:{server.server_port}"
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def test_twilio_backend_sends_form_fields_with_basic_auth(fake_twilio):
    backend = sms.get_sms_backend()
    assert isinstance(backend, sms.TwilioSmsBackend)
    message_id = backend.send(to="+447700900123", body="Hello & welcome")
    assert message_id == "SM" + "1".zfill(32)
    assert FakeTwilio.received == [
        {"To": "+447700900123", "From": "+441234567890", "Body": "Hello & welcome"}
    ]


def test_twilio_backend_errors_are_sms_errors_in_words(fake_twilio, settings):
    FakeTwilio.answer = (400, {"code": 21211, "message": "The 'To' number is not valid."})
    with pytest.raises(sms.SmsError, match=r"refused the message \(400\): The 'To' number"):
        sms.get_sms_backend().send(to="+4400", body="x")
    FakeTwilio.answer = None
    settings.ANAGEN_SMS_AUTH_TOKEN = "wrong"
    with pytest.raises(sms.SmsError, match=r"\(401\): Authenticate"):
        sms.get_sms_backend().send(to="+447700900123", body="x")
    settings.ANAGEN_SMS_AUTH_TOKEN = ""
    with pytest.raises(sms.SmsError, match="not configured: set ANAGEN_SMS_AUTH_TOKEN"):
        sms.get_sms_backend().send(to="+447700900123", body="x")


def test_twilio_backend_timeout_and_unreachable_are_failures():
    import socket

    # A listening socket that never answers: the client gives up after its timeout.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    try:
        backend = sms.TwilioSmsBackend(
            account_sid="AC1",
            auth_token="t",
            sender="+441",
            base_url=f"http://127.0.0.1:{silent.getsockname()[1]}",
            timeout=0.2,
        )
        with pytest.raises(sms.SmsError, match="did not answer in time"):
            backend.send(to="+447700900123", body="x")
    finally:
        silent.close()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    backend = sms.TwilioSmsBackend(
        account_sid="AC1", auth_token="t", sender="+441", base_url=f"http://127.0.0.1:{port}"
    )
    with pytest.raises(sms.SmsError, match="could not be reached"):
        backend.send(to="+447700900123", body="x")


def test_reminder_task_records_the_provider_id_and_failures(
    clinic_a, kit_a, patient_a, fake_twilio
):
    ReminderRule.objects.create(clinic=clinic_a.clinic, channel="sms", lead_hours=24)
    when = at(next_monday(), 10)
    first = _book(clinic_a, kit_a, patient_a, when)
    assert services.reminders_send_due(now=when - dt.timedelta(hours=3))["sent"] == 1
    row = ReminderSent.objects.get(appointment=first)
    assert row.status == "sent" and row.provider_message_id == "SM" + "1".zfill(32)
    assert FakeTwilio.received[0]["To"] == patient_a.phone
    # The provider refuses the next one: recorded as failed with its reason, audited, no crash.
    FakeTwilio.answer = (429, {"code": 20429, "message": "Too Many Requests"})
    second = _book(clinic_a, kit_a, patient_a, when + dt.timedelta(days=1))
    counts = services.reminders_send_due(now=when + dt.timedelta(days=1) - dt.timedelta(hours=3))
    assert counts["failed"] == 1
    failed = ReminderSent.objects.get(appointment=second)
    assert failed.status == "failed" and "Too Many Requests" in failed.detail
    assert failed.provider_message_id == ""
    event = AuditEvent.objects.get(action="reminder.failed", patient=patient_a)
    assert "Too Many Requests" in json.dumps(event.changes)
