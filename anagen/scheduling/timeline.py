"""Chart timeline entries from this app (registered with anagen.patients.timeline)."""

from __future__ import annotations

from collections.abc import Callable

from anagen.accounts.access import Actor
from anagen.patients.models import Patient
from anagen.patients.timeline import (
    Row,
    SqlSource,
    TimelineEntry,
    labels,
    person,
    timeline_source,
    url_for,
)
from anagen.scheduling.models import Appointment, TreatmentPlan


def _plan_entries(actor: Actor, patient: Patient) -> Callable[[Row], TimelineEntry]:
    url = url_for("plan-detail")
    status = labels(TreatmentPlan, "status")
    return lambda r: TimelineEntry(
        at=r.at,
        kind="plan",
        title=f"Plan: {r.t1}",
        detail=f"{status(r.t2)}, chosen by {person(r.t3, r.t4, r.t5)}",
        url=url(r.k),
    )


timeline_source(
    SqlSource(
        select={
            "at": "p.created_at",
            "k": "p.id",
            "t1": "p.protocol_name",
            "t2": "p.status",
            "t3": "u.first_name",
            "t4": "u.last_name",
            "t5": "u.username",
        },
        tables="scheduling_treatmentplan p LEFT JOIN accounts_user u ON u.id = p.created_by_id"
        " WHERE p.patient_id = %s AND p.clinic_id = %s",
        order="p.start_on DESC, p.id DESC",
        since="p.created_at",
        params=lambda actor, patient: [patient.pk, actor.membership.clinic_id],
        entries=_plan_entries,
    ),
    first=70,
)


def _appointment_entries(actor: Actor, patient: Patient) -> Callable[[Row], TimelineEntry]:
    url = url_for("appointment-detail")
    kind, status = labels(Appointment, "kind"), labels(Appointment, "status")
    return lambda r: TimelineEntry(
        at=r.at,
        kind="appointment",
        title=f"{kind(r.t1)}{f' {r.n1}' if r.n2 else ''} — {status(r.t2).lower()}",
        detail=f"with {r.t3}",
        url=url(r.k),
    )


# Read first: the densest source of a long history, its entries bound how far back the others
# read (`bound`).
timeline_source(
    SqlSource(
        select={
            "at": "a.starts_at",
            "k": "a.id",
            "n1": "a.sequence",
            "n2": "CASE WHEN a.plan_id IS NULL THEN 0 ELSE 1 END",
            "t1": "a.kind",
            "t2": "a.status",
            "t3": "r.name",
        },
        tables="scheduling_appointment a LEFT JOIN scheduling_resource r"
        " ON r.id = a.practitioner_id WHERE a.patient_id = %s AND a.clinic_id = %s",
        order="a.starts_at DESC",
        bound="SELECT starts_at AS at FROM scheduling_appointment"
        " WHERE patient_id = %s AND clinic_id = %s ORDER BY starts_at DESC",
        params=lambda actor, patient: [patient.pk, actor.membership.clinic_id],
        entries=_appointment_entries,
    ),
    first=10,
)
