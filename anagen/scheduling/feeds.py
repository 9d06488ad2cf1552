"""iCalendar (RFC 5545) feeds of a practitioner's appointments.

Privacy: a calendar app syncs the feed to phones and cloud services, so events carry no patient
name and no clinical detail: the summary is the visit kind, the patient's initials and record
number (enough for the practitioner to recognise the chart), the location is the room.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from icalendar import Calendar, Event

from anagen.accounts.clinic_time import human_datetime, human_time, zone_of
from anagen.scheduling.models import (
    Appointment,
    AppointmentStatus,
    CalendarFeedToken,
    Resource,
)
from anagen.scheduling.services import feed_token_hash

PAST_DAYS = 30
FUTURE_DAYS = 180
FEED_LIMIT = 2000


def resource_for_token(token: str) -> Resource | None:
    if not token or len(token) > 100:
        return None
    row = (
        CalendarFeedToken.objects.filter(
            token_hash=feed_token_hash(token), resource__is_active=True
        )
        .select_related("resource__clinic")
        .first()
    )
    return row.resource if row else None


def _initials(given: str, family: str) -> str:
    return "".join(f"{p[0]}." for p in (given, family) if p).upper()


def build_feed(resource: Resource, now: dt.datetime | None = None) -> bytes:
    now = now or timezone.now()
    cal = Calendar()
    cal.add("prodid", "-//Anagen//Scheduling//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", f"{resource.name} — {resource.clinic.name}")
    tz = zone_of(resource.clinic)
    cal.add("x-wr-timezone", tz.key)
    appts = (
        Appointment.objects.filter(
            practitioner=resource,
            starts_at__gte=now - dt.timedelta(days=PAST_DAYS),
            starts_at__lt=now + dt.timedelta(days=FUTURE_DAYS),
        )
        .exclude(status=AppointmentStatus.CANCELLED)
        .select_related("patient", "room")
        .order_by("starts_at")[:FEED_LIMIT]
    )
    for a in appts:
        ev = Event()
        ev.add("uid", f"appointment-{a.pk}@anagen")
        ev.add("dtstamp", a.updated_at.astimezone(dt.UTC))
        # Clinic wall-clock times with their TZID; the VTIMEZONE is added below, so a
        # calendar in another zone still shows the right instant.
        ev.add("dtstart", a.starts_at.astimezone(tz))
        ev.add("dtend", a.ends_at.astimezone(tz))
        who = f"{_initials(a.patient.given_name, a.patient.family_name)} {a.patient.record_number}"
        ev.add("summary", f"{a.get_kind_display()} — {who}")
        ev.add("location", a.room.name)
        # The words a person reads are in the clinic's time too.
        ev.add(
            "description",
            f"{a.get_kind_display()}{f' {a.sequence}' if a.plan_id else ''}, "
            f"{human_datetime(a.starts_at, tz)}–{human_time(a.ends_at, tz)} ({tz.key}), "
            f"{a.room.name}. {a.get_status_display()}.",
        )
        ev.add("status", "TENTATIVE" if a.status == AppointmentStatus.BOOKED else "CONFIRMED")
        # `history` is a JSON column of the row itself (not a related table): no query here,
        # the feed stays one query however many events it holds (test_feed_queries).
        ev.add("sequence", len(a.history))
        cal.add_component(ev)
    cal.add_missing_timezones()
    return cal.to_ical()
