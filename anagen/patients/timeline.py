"""The chart timeline: dated entries from every part of the record, newest first.

Later features register a source function; each returns a bounded list of entries, so the
chart's query count does not grow with the patient's history.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from anagen.accounts.access import Actor
from anagen.patients.models import Intake, Patient

TIMELINE_LIMIT = 50
TIMELINE_TEMPLATE = "patients/_timeline.html"
TuplePriority = tuple[int, int, Callable[..., list["TimelineEntry"]]]


@dataclass(frozen=True)
class TimelineEntry:
    at: dt.datetime
    kind: str
    title: str
    detail: str = ""
    url: str = ""


# A source gets the actor, the patient and `since`: None, or the time of the oldest entry that
# can still make the timeline (the TIMELINE_LIMIT-th newest found so far); a source may leave
# out its entries older than that (it must keep those at or after it).
TimelineSource = Callable[[Actor, Patient, dt.datetime | None], list[TimelineEntry]]
_SOURCES: list[TuplePriority] = []


def timeline_source(fn: TimelineSource | None = None, *, first: int = 50) -> Any:
    """Register a source; sources with a lower `first` are read first (the densest ones: the
    entries they find bound how far back the others read)."""

    def register(f: TimelineSource) -> TimelineSource:
        _SOURCES.append((first, len(_SOURCES), f))
        return f

    return register(fn) if fn is not None else register


def timeline_for(*, actor: Actor, patient: Patient) -> list[TimelineEntry]:
    """The newest TIMELINE_LIMIT entries of every source. Each source reads at most the limit,
    and only entries no older than the limit-th newest found so far: the rows read stay few
    (not sources x limit) however long the history, and the query count is one per source."""
    found: dict[int, list[TimelineEntry]] = {}
    newest: list[dt.datetime] = []  # the `at` of every entry found so far, newest first
    for _, order, source in sorted(_SOURCES, key=lambda s: (s[0], s[1])):
        since = newest[TIMELINE_LIMIT - 1] if len(newest) >= TIMELINE_LIMIT else None
        entries = source(actor, patient, since)
        found[order] = entries
        newest = sorted([*newest, *(e.at for e in entries)], reverse=True)[:TIMELINE_LIMIT]
    # Concatenated in registration order before the (stable) sort: ties read as before.
    entries = [e for order in sorted(found) for e in found[order]]
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:TIMELINE_LIMIT]


def timeline_html(entries: list[TimelineEntry]) -> str:
    """The timeline's list, rendered once per content: the cache key is a hash of everything
    the list shows (each entry's time, kind, title, detail and link) and of the clinic's time
    zone and language it is shown in, so any change to an entry is a new key (content-addressed:
    nothing to invalidate) and an unchanged history is not rendered again on every chart view."""
    from django.template.loader import render_to_string
    from django.utils.safestring import mark_safe

    from anagen.patients.chart import CHART_CACHE_SECONDS, chart_cache, chart_key

    key = chart_key(
        "timeline",
        TIMELINE_TEMPLATE,
        [(e.at.timestamp(), e.kind, e.title, e.detail, e.url) for e in entries],
    )
    html = chart_cache.get(key)
    if html is None:
        html = render_to_string(TIMELINE_TEMPLATE, {"timeline": entries})
        chart_cache.set(key, html, CHART_CACHE_SECONDS)
    return mark_safe(html)  # noqa: S308 - our own template's output, escaped there


def url_for(name: str, *args: Any) -> Callable[[Any], str]:
    """`reverse(name, args=[*args, pk])` for many rows with one reverse (a timeline has up to
    TIMELINE_LIMIT links per source)."""
    from django.urls import reverse

    marker = 987654321
    template = reverse(name, args=[*args, marker])
    head, _, tail = template.rpartition(str(marker))
    return lambda pk: f"{head}{pk}{tail}"


@timeline_source(first=80)
def _intakes(actor: Actor, patient: Patient, since: dt.datetime | None) -> list[TimelineEntry]:
    rows = Intake.objects.filter(patient=patient).select_related("recorded_by")
    if since is not None:
        rows = rows.filter(recorded_at__gte=since)
    url = url_for("intake-detail", patient.pk)
    return [
        TimelineEntry(
            at=i.recorded_at,
            kind="intake",
            title=f"Intake version {i.version}",
            detail=f"Recorded by {i.recorded_by}",
            url=url(i.version),
        )
        for i in rows.only("id", "patient_id", "version", "recorded_at", "recorded_by")[
            :TIMELINE_LIMIT
        ]
    ]


@timeline_source(first=90)
def _registration(actor: Actor, patient: Patient, since: dt.datetime | None) -> list[TimelineEntry]:
    return [
        TimelineEntry(
            at=patient.created_at,
            kind="registration",
            title="Registered",
            detail=f"Record number {patient.record_number}",
        )
    ]
