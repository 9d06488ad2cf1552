"""Chart timeline entries from this app (registered with anagen.patients.timeline)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.urls import reverse
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.patients.models import Patient
from anagen.patients.timeline import Row, SqlSource, TimelineEntry, labels, timeline_source


def _at(day: dt.date, actor: Actor) -> dt.datetime:
    """Noon of the clinic's day, so the entry shows on that date in the clinic's zone."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time(12)), actor.tz)


def _measurement_entries(actor: Actor, patient: Patient) -> Callable[[Row], TimelineEntry]:
    from anagen.outcomes.models import MeasurementSet

    url = reverse("outcomes-progress", args=[patient.pk])
    visit, method = labels(MeasurementSet, "visit_label"), labels(MeasurementSet, "method")
    return lambda r: TimelineEntry(
        at=_at(r.day, actor),
        kind="measurement",
        title=f"{visit(r.t1)} measurements",
        detail=method(r.t2),
        url=url,
    )


timeline_source(
    SqlSource(
        select={"day": "m.measured_on", "k": "m.id", "t1": "m.visit_label", "t2": "m.method"},
        tables="outcomes_measurementset m WHERE m.patient_id = %s",
        order="m.measured_on DESC, m.id DESC",
        since_day="m.measured_on",
        params=lambda actor, patient: [patient.pk],
        entries=_measurement_entries,
    ),
    first=30,
)


def _photo_entries(actor: Actor, patient: Patient) -> Callable[[Row], TimelineEntry]:
    url = reverse("outcomes-photos", args=[patient.pk])
    return lambda r: TimelineEntry(at=_at(r.day, actor), kind="photos", title="Photo set", url=url)


timeline_source(
    SqlSource(
        select={"day": "p.taken_on", "k": "p.id"},
        tables="outcomes_photoset p WHERE p.patient_id = %s",
        order="p.taken_on DESC, p.id DESC",
        since_day="p.taken_on",
        params=lambda actor, patient: [patient.pk],
        entries=_photo_entries,
    ),
    first=35,
)
