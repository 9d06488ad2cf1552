"""Chart timeline entries from this app (registered with anagen.patients.timeline)."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.patients.models import Patient
from anagen.patients.timeline import TIMELINE_LIMIT, TimelineEntry, timeline_source


def _at(day: dt.date, actor: Actor) -> dt.datetime:
    """Noon of the clinic's day, so the entry shows on that date in the clinic's zone."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time(12)), actor.tz)


def _since_day(since: dt.datetime | None, actor: Actor) -> dt.date | None:
    """The clinic's day of `since` (an entry at noon of that day may still be newer)."""
    return timezone.localtime(since, actor.tz).date() if since is not None else None


@timeline_source(first=30)
def _measurements(actor: Actor, patient: Patient, since: dt.datetime | None) -> list[TimelineEntry]:
    from anagen.outcomes.models import MeasurementSet

    rows = MeasurementSet.objects.filter(patient=patient).order_by("-measured_on", "-id")
    day = _since_day(since, actor)
    if day is not None:
        rows = rows.filter(measured_on__gte=day)
    url = reverse("outcomes-progress", args=[patient.pk])
    return [
        TimelineEntry(
            at=_at(s.measured_on, actor),
            kind="measurement",
            title=f"{s.get_visit_label_display()} measurements",
            detail=s.get_method_display(),
            url=url,
        )
        for s in rows[:TIMELINE_LIMIT]
    ]


@timeline_source(first=35)
def _photos(actor: Actor, patient: Patient, since: dt.datetime | None) -> list[TimelineEntry]:
    from anagen.outcomes.models import PhotoSet

    rows = PhotoSet.objects.filter(patient=patient).order_by("-taken_on", "-id")
    day = _since_day(since, actor)
    if day is not None:
        rows = rows.filter(taken_on__gte=day)
    url = reverse("outcomes-photos", args=[patient.pk])
    return [
        TimelineEntry(at=_at(s.taken_on, actor), kind="photos", title="Photo set", url=url)
        for s in rows[:TIMELINE_LIMIT]
    ]
