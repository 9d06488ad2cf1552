"""Chart timeline entries from this app (registered with anagen.patients.timeline)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from anagen.accounts.access import Actor
from anagen.accounts.permissions import Perm
from anagen.clinical import PROCEDURES
from anagen.patients.models import Patient
from anagen.patients.timeline import (
    Row,
    SqlSource,
    TimelineEntry,
    decimal_of,
    labels,
    timeline_source,
    url_for,
)
from anagen.procedures.models import TreatmentSession


def _figures(status: str, prepared: bool, computed: Any, volume: Decimal | None) -> str:
    parts = [status.lower()]
    if prepared:
        c = computed or {}
        if "fold" in c:
            paw = (c.get("paw") or {}).get("code") or "PAW not graded"
            de = c.get("dohan_ehrenfest") or "not graded"
            parts.append(f"fold {c['fold']}× · {paw} · DE {de}")
        if volume is not None:
            parts.append(f"{volume} mL injected")
    return " · ".join(parts)


def _session_entries(actor: Actor, patient: Patient) -> Callable[[Row], TimelineEntry]:
    url = url_for("procedures-session-detail", patient.pk)
    status = labels(TreatmentSession, "status")

    def entry(r: Row) -> TimelineEntry:
        label = str(PROCEDURES.get(r.t1, {}).get("label", r.t1))  # TreatmentSession.procedure_label
        return TimelineEntry(
            at=r.at,
            kind="session",
            title=f"Session: {label}",
            detail=_figures(status(r.t2), bool(r.n1), r.j, decimal_of(r.dec, 2)),
            url=url(r.k),
        )

    return entry


# The latest sessions with their preparation's figures (clinical staff only); the chart's
# sessions card reads the same branch (patients/chart_html.py).
SESSIONS = SqlSource(
    select={
        "at": "s.started_at",
        "k": "s.id",
        "t1": "s.procedure",
        "t2": "s.status",
        "n1": "CASE WHEN p.id IS NULL THEN 0 ELSE 1 END",
        "j": "CAST(p.computed AS text)",
        "dec": "p.injected_volume_ml",
    },
    tables="procedures_treatmentsession s LEFT JOIN procedures_preparation p"
    " ON p.session_id = s.id WHERE s.patient_id = %s AND s.clinic_id = %s",
    order="s.started_at DESC, s.id DESC",
    since="s.started_at",
    params=lambda actor, patient: [patient.pk, actor.membership.clinic_id],
    entries=_session_entries,
    when=lambda actor: actor.can(Perm.CLINICAL_VIEW),
)
timeline_source(SESSIONS, first=20)
