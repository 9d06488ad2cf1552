"""Reads: each measure over time with change from the patient's baseline and its measurement
error (MDC95), and the treatment sessions drawn on the charts."""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Min, Q
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.clinical import Change, Density, change, density_change, is_detectable
from anagen.clinical import ValidationError as KernelValidationError
from anagen.clinical.measurement_error import ErrorEstimate, error_estimate
from anagen.outcomes.models import MeasurementSite, Method, VisitLabel
from anagen.outcomes.selectors.measurements import (
    MEASURES,
    NO_BASELINE,
    Measure,
    measurement_sets,
)
from anagen.patients.models import Patient

# --- series and change -------------------------------------------------------------------------


@dataclass
class Point:
    on: dt.date
    value: float
    visit_label: str
    set_id: int
    change: Change | None = None
    detectable: bool | None = None

    @property
    def visit_label_display(self) -> str:
        return str(VisitLabel(self.visit_label).label)


@dataclass
class Series:
    measure: Measure
    site: MeasurementSite | None
    method: str
    points: list[Point] = field(default_factory=list)
    baseline: float | None = None
    baseline_repeats: int = 0
    sem: float | None = None
    mdc: float | None = None
    mdc_source: str = ""

    @property
    def key(self) -> str:
        return f"{self.measure.id}:{self.site.pk if self.site else 0}:{self.method}"

    @property
    def title(self) -> str:
        where = f" — {self.site.name}" if self.site else ""
        return f"{self.measure.label}{where} ({Method(self.method).label.lower()})"

    @property
    def method_label(self) -> str:
        return str(Method(self.method).label)

    @property
    def follow_ups(self) -> list[Point]:
        return [p for p in self.points if p.change is not None]

    @property
    def latest(self) -> Point | None:
        follow = self.follow_ups
        return follow[-1] if follow else None


def _change(measure: Measure, baseline: float, value: float) -> Change | None:
    try:
        if measure.id == "density_per_cm2":
            return density_change(Density(baseline), Density(value))
        return change(baseline, value)
    except KernelValidationError:
        return None


def _mdc_source(series: Series, estimate: ErrorEstimate) -> str:
    """Where the MDC comes from, in words."""
    method = Method(series.method).label.lower()
    default = (
        f"the default test–retest CV {estimate.error.cv_pct:g} % for {method} "
        f"({estimate.error.reference})"
        if estimate.error is not None
        else ""
    )
    if estimate.own is None:
        return default
    own = f"test–retest of {estimate.repeats} baseline measurements"
    if estimate.floored:
        return f"{default}; the {own} varied less, and the MDC never falls below the method's error"
    if estimate.default is not None:
        return f"{own} (above {default})"
    return own


def _finish(series: Series) -> Series:
    """Baseline (mean of baseline repeats), the MDC, and each follow-up's change."""
    pts = series.points
    if not pts or series.measure.id in NO_BASELINE:
        return series
    repeats = [p for p in pts if p.visit_label == VisitLabel.BASELINE] or [pts[0]]
    series.baseline_repeats = len(repeats)
    series.baseline = statistics.fmean(p.value for p in repeats)
    estimate = error_estimate(
        method=series.method,
        baseline=series.baseline,
        repeats=[p.value for p in repeats],
        relative=series.measure.relative_error,
    )
    if estimate is not None:
        series.sem = estimate.sem
        series.mdc = estimate.mdc
        series.mdc_source = _mdc_source(series, estimate)
    repeat_ids = {p.set_id for p in repeats}
    for p in pts:
        if p.set_id in repeat_ids or p.on < repeats[0].on:
            continue
        if series.baseline == 0:
            continue
        p.change = _change(series.measure, series.baseline, p.value)
        if p.change is not None and series.mdc is not None:
            # Judged on the raw difference; rounding is for display only.
            p.detectable = is_detectable(p.value - series.baseline, series.mdc)
    return series


# How much history the progress page, its chart and the API read: the baseline visits, each
# series's first point, and the latest LATEST_VISITS measurement sets (issue 15: a patient with
# 500 visits costs the same rows and queries as one with two). The whole history is the
# measurements list, paginated.
LATEST_VISITS = 24
BASELINE_SETS_MAX = 12


def _first_dates(patient: Patient) -> set[tuple[dt.date, str]]:
    """(date, method) of the set holding each series's first point, from two grouped queries:
    a series without a visit labelled baseline is measured against its first point."""
    from anagen.outcomes.models import Measurement, MeasurementSet

    visit = [m.id for m in MEASURES.values() if m.level == "visit"]
    site = [m.id for m in MEASURES.values() if m.level == "site"]
    found: set[tuple[dt.date, str]] = set()
    rows: Any = (
        MeasurementSet.objects.filter(patient=patient)
        .order_by()
        .values("method")
        .annotate(**{f: Min("measured_on", filter=Q(**{f"{f}__isnull": False})) for f in visit})
    )
    for row in rows:
        found |= {(row[f], row["method"]) for f in visit if row[f] is not None}
    site_rows: Any = (
        Measurement.objects.filter(measurement_set__patient=patient)
        .order_by()
        .values("site_id", "area_cm2", "measurement_set__method")
        .annotate(
            **{
                f: Min("measurement_set__measured_on", filter=Q(**{f"{f}__isnull": False}))
                for f in site
            }
        )
    )
    for row in site_rows:
        method = row["measurement_set__method"]
        found |= {(row[f], method) for f in site if row[f] is not None}
    return found


def _sets_read(*, actor: Actor, patient: Patient, latest: int | None) -> list[Any]:
    """The measurement sets the series are built from (see LATEST_VISITS); all when `latest` is
    None. Six queries whatever the history."""
    sets = measurement_sets(actor=actor, patient=patient)
    if latest is None:
        return list(sets)
    base = sets.model.objects.filter(patient=patient)
    ids = set(base.order_by("-measured_on", "-id").values_list("id", flat=True)[:latest])
    ids |= set(
        base.filter(visit_label=VisitLabel.BASELINE)
        .order_by("measured_on", "id")
        .values_list("id", flat=True)[:BASELINE_SETS_MAX]
    )
    wanted = Q(pk__in=ids)
    for on, method in _first_dates(patient):
        wanted |= Q(measured_on=on, method=method)
    return list(sets.filter(wanted))


def measured_visit_count(patient: Patient) -> int:
    """How many measurement sets the patient has (one indexed count)."""
    from anagen.outcomes.models import MeasurementSet

    return MeasurementSet.objects.filter(patient=patient).count()


def series_for(
    *, actor: Actor, patient: Patient, latest: int | None = LATEST_VISITS
) -> list[Series]:
    """Every measure over time per site and method, with change from the patient's baseline.

    A method change starts a new series: values from different methods are never compared.
    Reads the baseline visits, each series's first point and the latest `latest` visits (all
    visits with `latest=None`): the same queries and at most that many sets whatever the
    history. Baselines and changes are those of the full history.
    """
    sets = _sets_read(actor=actor, patient=patient, latest=latest)
    found: dict[tuple[str, int, str], Series] = {}
    for mset in sets:
        for m in MEASURES.values():
            if m.level != "visit":
                continue
            raw = getattr(mset, m.id)
            if raw is None:
                continue
            key = (m.id, 0, mset.method)
            s = found.setdefault(key, Series(measure=m, site=None, method=mset.method))
            s.points.append(Point(mset.measured_on, float(raw), mset.visit_label, mset.pk))
        for row in mset.measurements.all():
            for m in MEASURES.values():
                if m.level != "site":
                    continue
                raw = getattr(row, m.id)
                if raw is None:
                    continue
                if m.id == "hair_count":
                    # Counts compare only within the same target area (kernel count_change).
                    key = (f"hair_count@{row.area_cm2}", row.site_id, mset.method)
                else:
                    key = (m.id, row.site_id, mset.method)
                s = found.setdefault(key, Series(measure=m, site=row.site, method=mset.method))
                s.points.append(Point(mset.measured_on, float(raw), mset.visit_label, mset.pk))
    order = list(MEASURES)
    result = [_finish(s) for s in found.values()]
    result.sort(key=lambda s: (s.site.pk if s.site else 10**12, order.index(s.measure.id)))
    return result


# --- sessions on the chart ---------------------------------------------------------------------


def session_dates(patient: Patient, limit: int = 100) -> list[dt.date]:
    """Treatment session dates: the procedures app's sessions if it exists, else completed
    appointments. One query."""
    from anagen.procedures.models import TreatmentSession

    starts = TreatmentSession.objects.filter(patient=patient).values_list("started_at", flat=True)[
        :limit
    ]
    # Dates as the clinic saw them (the active zone: the clinic's, per request or task).
    dates = sorted({timezone.localtime(s).date() for s in starts if s is not None})
    if dates:
        return dates
    from anagen.scheduling.models import Appointment, AppointmentStatus

    appointment_starts = (
        Appointment.objects.filter(patient=patient, status=AppointmentStatus.COMPLETED)
        .exclude(kind="consultation")
        .order_by("starts_at")
        .values_list("starts_at", flat=True)[:limit]
    )
    return sorted({timezone.localtime(s).date() for s in appointment_starts})
