"""Chart timeline entries from this app (registered with anagen.patients.timeline)."""

from __future__ import annotations

from django.urls import reverse

from anagen.accounts.access import Actor
from anagen.patients.models import Patient
from anagen.patients.timeline import TIMELINE_LIMIT, TimelineEntry, timeline_source
from anagen.scheduling.models import Appointment, TreatmentPlan


@timeline_source
def _plans(actor: Actor, patient: Patient) -> list[TimelineEntry]:
    rows = TreatmentPlan.objects.filter(patient=patient, clinic=actor.clinic).select_related(
        "created_by"
    )[:TIMELINE_LIMIT]
    return [
        TimelineEntry(
            at=p.created_at,
            kind="plan",
            title=f"Plan: {p.protocol_name}",
            detail=f"{p.get_status_display()}, chosen by {p.created_by}",
            url=reverse("plan-detail", args=[p.pk]),
        )
        for p in rows
    ]


@timeline_source
def _appointments(actor: Actor, patient: Patient) -> list[TimelineEntry]:
    rows = (
        Appointment.objects.filter(patient=patient, clinic=actor.clinic)
        .select_related("practitioner")
        .order_by("-starts_at")[:TIMELINE_LIMIT]
    )
    return [
        TimelineEntry(
            at=a.starts_at,
            kind="appointment",
            title=f"{a.get_kind_display()}{f' {a.sequence}' if a.plan_id else ''}"
            f" — {a.get_status_display().lower()}",
            detail=f"with {a.practitioner.name}",
            url=reverse("appointment-detail", args=[a.pk]),
        )
        for a in rows
    ]
