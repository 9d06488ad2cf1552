"""Chart timeline entries from this app (registered with anagen.patients.timeline)."""

from __future__ import annotations

import datetime as dt

from anagen.accounts.access import Actor
from anagen.patients.models import Patient
from anagen.patients.timeline import TIMELINE_LIMIT, TimelineEntry, timeline_source, url_for
from anagen.scheduling.models import Appointment, TreatmentPlan


@timeline_source(first=70)
def _plans(actor: Actor, patient: Patient, since: dt.datetime | None) -> list[TimelineEntry]:
    rows = TreatmentPlan.objects.filter(patient=patient, clinic=actor.clinic).select_related(
        "created_by"
    )
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    url = url_for("plan-detail")
    return [
        TimelineEntry(
            at=p.created_at,
            kind="plan",
            title=f"Plan: {p.protocol_name}",
            detail=f"{p.get_status_display()}, chosen by {p.created_by}",
            url=url(p.pk),
        )
        for p in rows[:TIMELINE_LIMIT]
    ]


@timeline_source(first=10)
def _appointments(actor: Actor, patient: Patient, since: dt.datetime | None) -> list[TimelineEntry]:
    """Read first: the densest source of a long history, it bounds how far back the others
    read."""
    rows = Appointment.objects.filter(patient=patient, clinic=actor.clinic).select_related(
        "practitioner"
    )
    if since is not None:
        rows = rows.filter(starts_at__gte=since)
    url = url_for("appointment-detail")
    return [
        TimelineEntry(
            at=a.starts_at,
            kind="appointment",
            title=f"{a.get_kind_display()}{f' {a.sequence}' if a.plan_id else ''}"
            f" — {a.get_status_display().lower()}",
            detail=f"with {a.practitioner.name}",
            url=url(a.pk),
        )
        for a in rows.order_by("-starts_at")[:TIMELINE_LIMIT]
    ]
