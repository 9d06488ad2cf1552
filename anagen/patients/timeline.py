"""The chart timeline: dated entries from every part of the record, newest first.

Later features register a source function; each returns a bounded list of entries, so the
chart's query count does not grow with the patient's history.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from anagen.accounts.access import Actor
from anagen.patients.models import Intake, Patient

TIMELINE_LIMIT = 50


@dataclass(frozen=True)
class TimelineEntry:
    at: dt.datetime
    kind: str
    title: str
    detail: str = ""
    url: str = ""


TimelineSource = Callable[[Actor, Patient], list[TimelineEntry]]
_SOURCES: list[TimelineSource] = []


def timeline_source(fn: TimelineSource) -> TimelineSource:
    _SOURCES.append(fn)
    return fn


def timeline_for(*, actor: Actor, patient: Patient) -> list[TimelineEntry]:
    entries = [e for source in _SOURCES for e in source(actor, patient)]
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:TIMELINE_LIMIT]


@timeline_source
def _intakes(actor: Actor, patient: Patient) -> list[TimelineEntry]:
    from django.urls import reverse

    rows = Intake.objects.filter(patient=patient).select_related("recorded_by")[:TIMELINE_LIMIT]
    return [
        TimelineEntry(
            at=i.recorded_at,
            kind="intake",
            title=f"Intake version {i.version}",
            detail=f"Recorded by {i.recorded_by}",
            url=reverse("intake-detail", args=[patient.pk, i.version]),
        )
        for i in rows
    ]


@timeline_source
def _registration(actor: Actor, patient: Patient) -> list[TimelineEntry]:
    return [
        TimelineEntry(
            at=patient.created_at,
            kind="registration",
            title="Registered",
            detail=f"Record number {patient.record_number}",
        )
    ]
