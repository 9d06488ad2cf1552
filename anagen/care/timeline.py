"""Chart timeline entries from this app (registered with anagen.patients.timeline)."""

from __future__ import annotations

from collections.abc import Callable

from anagen.accounts.access import Actor
from anagen.accounts.clinic_time import human_date
from anagen.care.models import Assessment, Consent, ScreeningRecord
from anagen.patients.models import Patient
from anagen.patients.timeline import (
    Row,
    SqlSource,
    TimelineEntry,
    decimal_of,
    labels,
    person,
    timeline_source,
    url_for,
)


def _assessment_entries(actor: Actor, patient: Patient) -> Callable[[Row], TimelineEntry]:
    url = url_for("care-assessment-detail", patient.pk)

    def entry(r: Row) -> TimelineEntry:
        # The labels come from the model's own properties (diagnosis list, scales).
        a = Assessment(
            diagnosis_code=r.t1,
            scale_id=r.t2,
            scale_value=r.t3,
            salt_band=r.t4,
            salt_score=decimal_of(r.dec, 1),
        )
        signed_by = person(r.t5, r.t6, r.t7) if r.t7 is not None else ""
        return TimelineEntry(
            at=r.at,
            kind="assessment",
            title=f"Assessment v{r.k}: {a.diagnosis_label}",
            detail=(f"{a.severity} · " if a.severity else "")
            + (f"signed by {signed_by}" if signed_by else "draft"),
            url=url(r.k),
        )

    return entry


# The entry's time is the signature's, else the draft's.
timeline_source(
    SqlSource(
        select={
            "at": "COALESCE(a.signed_at, a.created_at)",
            "k": "a.version",
            "t1": "a.diagnosis_code",
            "t2": "a.scale_id",
            "t3": "a.scale_value",
            "t4": "a.salt_band",
            "dec": "a.salt_score",
            "t5": "u.first_name",
            "t6": "u.last_name",
            "t7": "u.username",
        },
        tables="care_assessment a LEFT JOIN accounts_user u ON u.id = a.signed_by_id"
        " WHERE a.patient_id = %s",
        order="a.version DESC",
        since="COALESCE(a.signed_at, a.created_at)",
        params=lambda actor, patient: [patient.pk],
        entries=_assessment_entries,
    ),
    first=60,
)


def _screening_entries(actor: Actor, patient: Patient) -> Callable[[Row], TimelineEntry]:
    url = url_for("care-screening-detail", patient.pk)
    trigger = labels(ScreeningRecord, "trigger")

    def entry(r: Row) -> TimelineEntry:
        s = ScreeningRecord(procedure=r.t1, decision=r.t2, override_at=r.at if r.n1 else None)
        return TimelineEntry(
            at=r.at,
            kind="screening",
            title=f"Screening {s.procedure_label}: {s.effective_decision_label}"
            + (" (override)" if s.is_overridden else ""),
            detail=(f"earliest {human_date(r.day)} · " if r.day else "") + trigger(r.t3).lower(),
            url=url(r.k),
        )

    return entry


# The rules' inputs and result (JSON) are not shown here: not read.
timeline_source(
    SqlSource(
        select={
            "at": "s.run_at",
            "k": "s.id",
            "t1": "s.procedure",
            "t2": "s.decision",
            "t3": "s.trigger",
            "n1": "CASE WHEN s.override_at IS NULL THEN 0 ELSE 1 END",
            "day": "s.earliest_on",
        },
        tables="care_screeningrecord s WHERE s.patient_id = %s",
        order="s.run_at DESC, s.id DESC",
        since="s.run_at",
        params=lambda actor, patient: [patient.pk],
        entries=_screening_entries,
    ),
    first=50,
)


def _consent_entries(actor: Actor, patient: Patient) -> Callable[[Row], TimelineEntry]:
    url = url_for("care-consent-detail", patient.pk)
    kind = labels(Consent, "kind")
    return lambda r: TimelineEntry(
        at=r.at,
        kind="consent",
        title=f"Consent signed: {kind(r.t1)} (v{r.n1})" + (" — withdrawn" if r.n2 else ""),
        detail=f"witness {person(r.t2, r.t3, r.t4)}",
        url=url(r.k),
    )


# The signed document's snapshot is not shown here: not read.
timeline_source(
    SqlSource(
        select={
            "at": "c.signed_at",
            "k": "c.id",
            "t1": "c.kind",
            "n1": "t.version",
            "n2": "CASE WHEN c.withdrawn_at IS NULL THEN 0 ELSE 1 END",
            "t2": "w.first_name",
            "t3": "w.last_name",
            "t4": "w.username",
        },
        tables="care_consent c JOIN care_consenttemplate t ON t.id = c.template_id"
        " LEFT JOIN accounts_user w ON w.id = c.witness_id WHERE c.patient_id = %s",
        order="c.signed_at DESC, c.id DESC",
        since="c.signed_at",
        params=lambda actor, patient: [patient.pk],
        entries=_consent_entries,
    ),
    first=40,
)
