"""Chart timeline entries from this app (registered with anagen.patients.timeline)."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q

from anagen.accounts.access import Actor
from anagen.accounts.clinic_time import human_date
from anagen.care.models import Assessment, Consent, ScreeningRecord
from anagen.patients.models import Patient
from anagen.patients.timeline import TIMELINE_LIMIT, TimelineEntry, timeline_source, url_for


@timeline_source(first=60)
def _assessments(actor: Actor, patient: Patient, since: dt.datetime | None) -> list[TimelineEntry]:
    rows = Assessment.objects.filter(patient=patient).select_related("signed_by")
    if since is not None:  # the entry's time is the signature's, else the draft's
        rows = rows.filter(
            Q(signed_at__gte=since) | Q(signed_at__isnull=True, created_at__gte=since)
        )
    url = url_for("care-assessment-detail", patient.pk)
    return [
        TimelineEntry(
            at=a.signed_at or a.created_at,
            kind="assessment",
            title=f"Assessment v{a.version}: {a.diagnosis_label}",
            detail=(f"{a.severity} · " if a.severity else "")
            + (f"signed by {a.signed_by}" if a.signed_by else "draft"),
            url=url(a.version),
        )
        for a in rows[:TIMELINE_LIMIT]
    ]


@timeline_source(first=50)
def _screenings(actor: Actor, patient: Patient, since: dt.datetime | None) -> list[TimelineEntry]:
    # The rules' inputs and result (JSON) are not shown here: not read.
    rows = ScreeningRecord.objects.filter(patient=patient).defer(
        "inputs", "result", "override_fingerprint"
    )
    if since is not None:
        rows = rows.filter(run_at__gte=since)
    url = url_for("care-screening-detail", patient.pk)
    return [
        TimelineEntry(
            at=s.run_at,
            kind="screening",
            title=f"Screening {s.procedure_label}: {s.effective_decision_label}"
            + (" (override)" if s.is_overridden else ""),
            detail=(f"earliest {human_date(s.earliest_on)} · " if s.earliest_on else "")
            + s.get_trigger_display().lower(),
            url=url(s.pk),
        )
        for s in rows[:TIMELINE_LIMIT]
    ]


@timeline_source(first=40)
def _consents(actor: Actor, patient: Patient, since: dt.datetime | None) -> list[TimelineEntry]:
    # The signed document's snapshot is not shown here: not read.
    rows = (
        Consent.objects.filter(patient=patient)
        .select_related("template", "witness")
        .defer("snapshot_html", "template__body")
    )
    if since is not None:
        rows = rows.filter(signed_at__gte=since)
    url = url_for("care-consent-detail", patient.pk)
    return [
        TimelineEntry(
            at=c.signed_at,
            kind="consent",
            title=f"Consent signed: {c.get_kind_display()} (v{c.template.version})"
            + (" — withdrawn" if c.is_withdrawn else ""),
            detail=f"witness {c.witness}",
            url=url(c.pk),
        )
        for c in rows[:TIMELINE_LIMIT]
    ]
