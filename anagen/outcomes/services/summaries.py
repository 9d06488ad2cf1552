"""Writes: the per-patient outcome summary (``OutcomeSummary``) that clinic analytics read.

Derived data, not clinical records: no audit event of its own (the measurement write that
triggers it is audited). Refreshed for one patient inside the measurement services'
transaction, and for a whole clinic in patient-id ranges by the backfill migration and the
``anagen outcome_summaries`` command (after bulk loads or a change of the responder rules).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.db import transaction
from django.db.models import Max, Min, Q

from anagen.accounts.models import Clinic
from anagen.outcomes.models import OutcomeSummary
from anagen.outcomes.selectors.analytics import ANALYTIC_MEASURES, compute_outcomes

BATCH = 2_000


def _write(clinic: Clinic, patients: Q, patient_filter: Q) -> int:
    rows = []
    for measure in ANALYTIC_MEASURES:
        for o in compute_outcomes(clinic=clinic, measure=measure, patients=patients):
            rows.append(
                OutcomeSummary(
                    patient_id=o.patient_id,
                    clinic=clinic,
                    measure=measure,
                    method=o.method,
                    baseline_on=o.baseline_on,
                    follow_up_on=o.follow_up_on,
                    baseline=o.baseline,
                    follow_up=o.follow_up,
                    change_absolute=o.change.absolute,
                    change_percent=o.change.percent,
                    responders=o.responders,
                )
            )
    with transaction.atomic():
        OutcomeSummary.objects.filter(clinic=clinic).filter(patient_filter).delete()
        OutcomeSummary.objects.bulk_create(rows, batch_size=1_000)
    return len(rows)


def outcome_summaries_refresh(*, clinic: Clinic, patient_ids: Iterable[int]) -> int:
    """Recompute the summaries of these patients (all analytic measures); rows written."""
    ids = sorted(set(patient_ids))
    if not ids:
        return 0
    return _write(clinic, Q(pk__in=ids), Q(patient_id__in=ids))


def outcome_summaries_rebuild(
    *, clinic: Clinic, progress: Callable[[str], None] | None = None
) -> int:
    """Recompute every summary of the clinic, ``BATCH`` patient ids at a time (bounded memory)."""
    from anagen.patients.models import Patient

    bounds = Patient.all_objects.filter(clinic=clinic).aggregate(lo=Min("pk"), hi=Max("pk"))
    if bounds["lo"] is None:
        OutcomeSummary.objects.filter(clinic=clinic).delete()
        return 0
    written = 0
    for lo in range(bounds["lo"], bounds["hi"] + 1, BATCH):
        hi = lo + BATCH
        written += _write(
            clinic, Q(pk__gte=lo, pk__lt=hi), Q(patient_id__gte=lo, patient_id__lt=hi)
        )
        if progress:
            progress(f"{clinic.name}: patients up to id {hi - 1}, {written} summaries")
    return written
