"""Chart timeline entries from this app (registered with anagen.patients.timeline)."""

from __future__ import annotations

from django.urls import reverse

from anagen.accounts.access import Actor
from anagen.accounts.clinic_time import human_date
from anagen.care.models import Assessment, Consent, ScreeningRecord
from anagen.patients.models import Patient
from anagen.patients.timeline import TIMELINE_LIMIT, TimelineEntry, timeline_source


@timeline_source
def _assessments(actor: Actor, patient: Patient) -> list[TimelineEntry]:
    rows = Assessment.objects.filter(patient=patient).select_related("signed_by")[:TIMELINE_LIMIT]
    return [
        TimelineEntry(
            at=a.signed_at or a.created_at,
            kind="assessment",
            title=f"Assessment v{a.version}: {a.diagnosis_label}",
            detail=(f"{a.severity} · " if a.severity else "")
            + (f"signed by {a.signed_by}" if a.signed_by else "draft"),
            url=reverse("care-assessment-detail", args=[patient.pk, a.version]),
        )
        for a in rows
    ]


@timeline_source
def _screenings(actor: Actor, patient: Patient) -> list[TimelineEntry]:
    rows = ScreeningRecord.objects.filter(patient=patient)[:TIMELINE_LIMIT]
    return [
        TimelineEntry(
            at=s.run_at,
            kind="screening",
            title=f"Screening {s.procedure_label}: {s.effective_decision_label}"
            + (" (override)" if s.is_overridden else ""),
            detail=(f"earliest {human_date(s.earliest_on)} · " if s.earliest_on else "")
            + s.get_trigger_display().lower(),
            url=reverse("care-screening-detail", args=[patient.pk, s.pk]),
        )
        for s in rows
    ]


@timeline_source
def _consents(actor: Actor, patient: Patient) -> list[TimelineEntry]:
    rows = Consent.objects.filter(patient=patient).select_related("template", "witness")[
        :TIMELINE_LIMIT
    ]
    return [
        TimelineEntry(
            at=c.signed_at,
            kind="consent",
            title=f"Consent signed: {c.get_kind_display()} (v{c.template.version})"
            + (" — withdrawn" if c.is_withdrawn else ""),
            detail=f"witness {c.witness}",
            url=reverse("care-consent-detail", args=[patient.pk, c.pk]),
        )
        for c in rows
    ]
