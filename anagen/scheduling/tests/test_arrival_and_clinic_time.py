"""Arrival is not the clinical gate; procedure visits complete by signing; pages in clinic time."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from anagen.accounts.clinic_time import human_datetime, human_time
from anagen.scheduling import services
from anagen.scheduling.models import Appointment
from anagen.scheduling.tests.conftest import at, next_monday

pytestmark = pytest.mark.django_db

ISO_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _text(html: str) -> str:
    """What a person reads: the page without its tags and attributes."""
    return re.sub(r"<[^>]+>", " ", html)


def todays_prp(clinic, kit, patient, **extra) -> Appointment:
    now = timezone.now()
    return Appointment.objects.create(
        clinic=clinic.clinic,
        patient=patient,
        kind="induction",
        procedure="prp_scalp",
        starts_at=now,
        ends_at=now + dt.timedelta(minutes=75),
        practitioner=kit.physician,
        room=kit.room1,
        centrifuge=kit.centrifuge,
        **extra,
    )


def gate_reasons(clinic, patient) -> list[str]:
    from anagen.care.services import session_gate

    gate = session_gate(
        actor=clinic.actor(clinic.physician),
        patient=patient,
        procedure="prp_scalp",
        on=timezone.localdate(),
    )
    assert not gate.ok and gate.reasons  # no consent, no screening: the session may not start
    return [str(r) for r in gate.reasons]


def test_front_desk_checks_in_from_the_page_without_clinical_reasons(clinic_a, kit_a, patient_a):
    appt = todays_prp(clinic_a, kit_a, patient_a)
    reasons = gate_reasons(clinic_a, patient_a)
    c = clinic_a.client(clinic_a.front_desk)
    page = c.get(reverse("appointment-detail", args=[appt.pk])).content.decode()
    assert "Check in" in page
    r = c.post(reverse("appointment-status", args=[appt.pk]), {"action": "check_in"}, follow=True)
    assert r.status_code == 200
    html = r.content.decode()
    assert "Checked in" in html
    for reason in reasons:
        assert reason not in html
    assert "cannot go ahead" not in html and "consent" not in html.lower()
    appt.refresh_from_db()
    assert appt.status == "checked_in"


def test_prp_appointment_completes_only_by_signing(clinic_a, kit_a, patient_a):
    appt = todays_prp(clinic_a, kit_a, patient_a, status="checked_in")
    c = clinic_a.client(clinic_a.nurse)
    url = reverse("appointment-detail", args=[appt.pk])
    html = c.get(url).content.decode()
    assert "Start session record" in html
    assert 'value="complete"' not in html  # the manual action is not offered
    assert "completes when its session record is signed" in html
    r = c.post(reverse("appointment-status", args=[appt.pk]), {"action": "complete"})
    assert r.status_code == 400
    assert "completes when its session record is signed" in r.content.decode()
    appt.refresh_from_db()
    assert appt.status == "checked_in"


def test_a_checked_in_consultation_offers_complete(clinic_a, kit_a, patient_a):
    now = timezone.now()
    appt = Appointment.objects.create(
        clinic=clinic_a.clinic,
        patient=patient_a,
        kind="consultation",
        starts_at=now,
        ends_at=now + dt.timedelta(minutes=30),
        practitioner=kit_a.physician,
        room=kit_a.room1,
        status="checked_in",
    )
    c = clinic_a.client(clinic_a.physician)
    assert (
        'value="complete"' in c.get(reverse("appointment-detail", args=[appt.pk])).content.decode()
    )
    r = c.post(reverse("appointment-status", args=[appt.pk]), {"action": "complete"})
    assert r.status_code == 302
    appt.refresh_from_db()
    assert appt.status == "completed"


@pytest.fixture
def auckland(clinic_a, kit_a):
    clinic_a.clinic.timezone = "Pacific/Auckland"
    clinic_a.clinic.save()
    return ZoneInfo("Pacific/Auckland")


def test_calendar_and_history_in_auckland_time(clinic_a, kit_a, patient_a, auckland):
    day = next_monday()
    desk = clinic_a.actor(clinic_a.front_desk)
    appt = services.appointment_book(
        actor=desk,
        patient=patient_a,
        kind="consultation",
        procedure="",
        starts_at=at(day, 10, tz="Pacific/Auckland"),
        practitioner_id=kit_a.physician.pk,
        room_id=kit_a.room1.pk,
    )
    assert appt.starts_at.astimezone(dt.UTC).hour != 10  # the UTC clock differs
    services.appointment_move(
        actor=desk, appointment=appt, new_start=at(day, 11, tz="Pacific/Auckland")
    )
    appt.refresh_from_db()
    c = clinic_a.client(clinic_a.front_desk)

    cal = c.get(reverse("calendar"), {"view": "day", "date": day.isoformat()}).content.decode()
    assert "11:00–11:30" in cal and "Álvarez" in cal

    text = _text(c.get(reverse("appointment-detail", args=[appt.pk])).content.decode())
    booked_at = dt.datetime.fromisoformat(appt.history[0]["at"])
    assert human_datetime(booked_at, auckland) in text  # e.g. "Mon 30 Nov 2026, 10:00"
    old, new = at(day, 10, tz="Pacific/Auckland"), at(day, 11, tz="Pacific/Auckland")
    assert f"from {human_datetime(old, auckland)} to {human_datetime(new, auckland)}" in text
    assert f"{human_datetime(new, auckland)}–{human_time(appt.ends_at, auckland)}" in text
    assert "Booked by" in text and "Moved by" in text
    assert not ISO_STAMP.search(text), ISO_STAMP.search(text)


def test_move_warning_and_chart_in_clinic_words(clinic_a, kit_a, patient_a, auckland):
    plan = services.plan_book_series(
        actor=clinic_a.actor(clinic_a.physician),
        patient=patient_a,
        protocol_id="prp-aga-monthly-3",
        start_on=next_monday(),
    )
    a2 = plan.appointments.get(sequence=2)
    with pytest.raises(services.OutsideWindow) as exc:
        services.appointment_move(
            actor=clinic_a.actor(clinic_a.front_desk),
            appointment=a2,
            new_start=a2.starts_at + dt.timedelta(days=14),
        )
    message = exc.value.messages[0]
    assert not ISO_STAMP.search(message) and not re.search(r"\d{4}-\d{2}-\d{2}", message)
    chart = _text(
        clinic_a.client(clinic_a.physician)
        .get(reverse("patient-detail", args=[patient_a.pk]))
        .content.decode()
    )
    first = plan.appointments.get(sequence=1)
    assert human_datetime(first.starts_at, auckland) in chart


def test_resources_page_shows_weekday_names_and_procedure_labels(clinic_a, kit_a):
    html = clinic_a.client(clinic_a.admin).get(reverse("resource-list")).content.decode()
    assert "Monday 09:00–17:30" in html
    assert "PRP injection, scalp" in html and "prp_scalp" not in _text(html)
    detail = clinic_a.client(clinic_a.admin).get(reverse("resource-detail", args=[kit_a.nurse.pk]))
    assert "Friday 09:00–17:30" in detail.content.decode()
    assert "PRP injection, scalp" in detail.content.decode()


def test_ical_description_in_clinic_time(clinic_a, kit_a, patient_a, auckland):
    from anagen.scheduling.feeds import build_feed

    day = next_monday()
    services.appointment_book(
        actor=clinic_a.actor(clinic_a.front_desk),
        patient=patient_a,
        kind="consultation",
        procedure="",
        starts_at=at(day, 10, tz="Pacific/Auckland"),
        practitioner_id=kit_a.physician.pk,
        room_id=kit_a.room1.pk,
    )
    body = build_feed(kit_a.physician).decode().replace("\r\n ", "")
    # Clinic wall-clock time with its zone, and the zone's rules in a VTIMEZONE, so any
    # calendar app places the visit at the right instant.
    assert "DTSTART;TZID=Pacific/Auckland:" in body
    assert body.split("DTSTART;TZID=Pacific/Auckland:", 1)[1][9:15] == "100000"
    assert "BEGIN:VTIMEZONE" in body and "TZID:Pacific/Auckland" in body
    from icalendar import Calendar

    start = next(iter(Calendar.from_ical(body).walk("VEVENT"))).decoded("DTSTART")
    assert start == at(day, 10, tz="Pacific/Auckland")
    description = body.split("DESCRIPTION:", 1)[1].split("\r\n", 1)[0]
    assert "10:00–10:30 (Pacific/Auckland)" in description
    assert "Álvarez" not in body
