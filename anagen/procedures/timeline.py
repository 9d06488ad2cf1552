"""Chart timeline entries from this app (registered with anagen.patients.timeline)."""

from __future__ import annotations

import datetime as dt

from anagen.accounts.access import Actor
from anagen.accounts.permissions import Perm
from anagen.patients.models import Patient
from anagen.patients.timeline import TIMELINE_LIMIT, TimelineEntry, timeline_source, url_for
from anagen.procedures import selectors
from anagen.procedures.models import TreatmentSession


def _figures(s: TreatmentSession) -> str:
    prep = getattr(s, "preparation", None)
    parts = [s.get_status_display().lower()]
    if prep is not None:
        c = prep.computed
        if "fold" in c:
            paw = (c.get("paw") or {}).get("code") or "PAW not graded"
            de = c.get("dohan_ehrenfest") or "not graded"
            parts.append(f"fold {c['fold']}× · {paw} · DE {de}")
        if prep.injected_volume_ml is not None:
            parts.append(f"{prep.injected_volume_ml} mL injected")
    return " · ".join(parts)


@timeline_source(first=20)
def _sessions(actor: Actor, patient: Patient, since: dt.datetime | None) -> list[TimelineEntry]:
    if not actor.can(Perm.CLINICAL_VIEW):
        return []
    rows = selectors.panel_sessions(actor, patient, TIMELINE_LIMIT, since=since)
    url = url_for("procedures-session-detail", patient.pk)
    return [
        TimelineEntry(
            at=s.started_at,
            kind="session",
            title=f"Session: {s.procedure_label}",
            detail=_figures(s),
            url=url(s.pk),
        )
        for s in rows
    ]
