"""Reads: each measure over time with change from the patient's baseline and its measurement
error (MDC95), and the treatment sessions drawn on the charts."""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.accounts.permissions import Perm
from anagen.clinical import Change, Density, change, density_change, is_detectable
from anagen.clinical import ValidationError as KernelValidationError
from anagen.clinical.measurement_error import ErrorEstimate, error_estimate
from anagen.outcomes.models import Measurement, MeasurementSet, MeasurementSite, Method, VisitLabel
from anagen.outcomes.selectors.measurements import MEASURES, NO_BASELINE, Measure
from anagen.patients.models import Patient
from anagen.raw_values import instant as _aware

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


_VISIT_MEASURES = [m for m in MEASURES.values() if m.level == "visit"]
_SITE_MEASURES = [m for m in MEASURES.values() if m.level == "site"]


def _progress_sql(windowed: bool) -> str:
    """One statement for the progress read (issue 15): the patient's sets (`s`), the window of
    them the series are drawn from (the latest LATEST_VISITS sets, the first BASELINE_SETS_MAX
    baseline sets, and every set on the (date, method) of a series's first point), each with
    its measurements and their site, in the order the series are built, plus the count of all
    the patient's sets. Plain SQL for PostgreSQL and SQLite (the ORM took six queries). Only
    the module's own column names are spliced in; every value is a parameter."""
    visit = [m.id for m in _VISIT_MEASURES]
    site = [m.id for m in _SITE_MEASURES]
    set_cols = ", ".join(["s.id", "s.measured_on", "s.visit_label", "s.method"])
    set_cols += ", " + ", ".join(f"s.{c}" for c in visit)
    row_cols = ", ".join(["m.id", "m.site_id", "m.area_cm2"] + [f"m.{c}" for c in site])
    sets = (
        f"s AS (SELECT id, measured_on, visit_label, method, {', '.join(visit)}"  # noqa: S608
        " FROM outcomes_measurementset WHERE patient_id = %s)"
    )
    select = (
        f"SELECT {set_cols}, {row_cols}, site.name, site.location,"  # noqa: S608
        " (SELECT COUNT(*) FROM s) AS n"
    )
    joins = (
        " LEFT JOIN outcomes_measurement m ON m.measurement_set_id = s.id"
        " LEFT JOIN outcomes_measurementsite site ON site.id = m.site_id"
        " ORDER BY s.measured_on, s.id, m.id"
    )
    if not windowed:
        return f"WITH {sets} {select} FROM s{joins}"
    visit_firsts = [
        f"SELECT method, MIN(measured_on) AS d FROM s WHERE {c} IS NOT NULL"  # noqa: S608
        " GROUP BY method"
        for c in visit
    ]
    site_firsts = [
        "SELECT s.method, MIN(s.measured_on) AS d FROM outcomes_measurement m"  # noqa: S608
        f" JOIN s ON s.id = m.measurement_set_id WHERE m.{c} IS NOT NULL"
        " GROUP BY m.site_id, m.area_cm2, s.method"
        for c in site
    ]
    firsts = " UNION ".join(visit_firsts + site_firsts)
    wanted = (
        "wanted AS ("  # noqa: S608
        " SELECT id FROM (SELECT id FROM s ORDER BY measured_on DESC, id DESC LIMIT %s) latest"
        " UNION SELECT id FROM (SELECT id FROM s WHERE visit_label = %s"
        " ORDER BY measured_on, id LIMIT %s) baseline"
        f" UNION SELECT s.id FROM s JOIN ({firsts}) f"
        " ON s.measured_on = f.d AND s.method = f.method)"
    )
    return f"WITH {sets}, {wanted} {select} FROM s JOIN wanted w ON w.id = s.id{joins}"


_SQL = {windowed: _progress_sql(windowed) for windowed in (True, False)}


def _rows_read(*, actor: Actor, patient: Patient, latest: int | None) -> tuple[list[Any], int]:
    """The rows the series are built from (see LATEST_VISITS; every set when `latest` is None)
    and how many sets the patient has. One query whatever the history."""
    from django.db import connection

    actor.require(Perm.CLINICAL_VIEW)
    params: list[int | str]
    if latest is None:
        sql, params = _SQL[False], [patient.pk]
    else:
        sql = _SQL[True]
        params = [patient.pk, latest, str(VisitLabel.BASELINE), BASELINE_SETS_MAX]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return rows, (rows[0][-1] if rows else 0)


def _series_from_rows(patient: Patient, rows: list[Any]) -> list[Series]:
    """The series of the rows read: sets in date order, each set's measurements by id."""
    found: dict[tuple[str, int, str], Series] = {}
    sites: dict[int, MeasurementSite] = {}
    to_date = MeasurementSet._meta.get_field("measured_on").to_python
    to_area = Measurement._meta.get_field("area_cm2").to_python
    nv = len(_VISIT_MEASURES)
    current = None
    on: Any = None
    for row in rows:
        set_id, label, method = row[0], row[2], row[3]
        if set_id != current:
            current = set_id
            on = to_date(row[1])
            for m, raw in zip(_VISIT_MEASURES, row[4 : 4 + nv], strict=True):
                if raw is None:
                    continue
                key = (m.id, 0, method)
                s = found.get(key)
                if s is None:
                    s = found[key] = Series(measure=m, site=None, method=method)
                s.points.append(Point(on, float(raw), label, set_id))
        if row[4 + nv] is None:  # a set without measurements
            continue
        site_id, area = row[5 + nv], row[6 + nv]
        values = row[7 + nv : 7 + nv + len(_SITE_MEASURES)]
        for m, raw in zip(_SITE_MEASURES, values, strict=True):
            if raw is None:
                continue
            if m.id == "hair_count":
                # Counts compare only within the same target area (kernel count_change).
                key = (f"hair_count@{to_area(area) if area is not None else None}", site_id, method)
            else:
                key = (m.id, site_id, method)
            s = found.get(key)
            if s is None:
                site = sites.get(site_id)
                if site is None:
                    name, location = row[-3], row[-2]
                    site = sites[site_id] = MeasurementSite.from_db(
                        None,
                        ["id", "patient_id", "name", "location"],
                        [site_id, patient.pk, name, location],
                    )
                s = found[key] = Series(measure=m, site=site, method=method)
            s.points.append(Point(on, float(raw), label, set_id))
    order = list(MEASURES)
    result = [_finish(s) for s in found.values()]
    result.sort(key=lambda s: (s.site.pk if s.site else 10**12, order.index(s.measure.id)))
    return result


def measured_visit_count(patient: Patient) -> int:
    """How many measurement sets the patient has (one indexed count)."""
    return MeasurementSet.objects.filter(patient=patient).count()


def progress_for(
    *, actor: Actor, patient: Patient, latest: int | None = LATEST_VISITS
) -> tuple[list[Series], int]:
    """`series_for` and how many measured visits the patient has, from one query."""
    rows, count = _rows_read(actor=actor, patient=patient, latest=latest)
    return _series_from_rows(patient, rows), count


def series_for(
    *, actor: Actor, patient: Patient, latest: int | None = LATEST_VISITS
) -> list[Series]:
    """Every measure over time per site and method, with change from the patient's baseline.

    A method change starts a new series: values from different methods are never compared.
    Reads the baseline visits, each series's first point and the latest `latest` visits (all
    visits with `latest=None`): one query and at most that many sets whatever the history.
    Baselines and changes are those of the full history.
    """
    return progress_for(actor=actor, patient=patient, latest=latest)[0]


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


_EXTRAS_SQL = """
SELECT 0, t.started_at, 0, 0 FROM (
    SELECT started_at, id FROM {sessions} WHERE patient_id = %s
    ORDER BY started_at DESC, id DESC LIMIT %s
) t
UNION ALL
SELECT 1, NULL, r.change, r.rater_id FROM {ratings} r JOIN {pairs} p ON p.id = r.pair_id
WHERE p.patient_id = %s
"""


def progress_extras(patient: Patient, limit: int = 100) -> tuple[list[dt.date], Any]:
    """``(session_dates(patient), ratings.blinded_results(patient))`` in one query (the progress
    page's two small reads; issue 15). A patient without treatment sessions falls back to
    ``session_dates`` (completed appointments), as that does."""
    from django.db import connection

    from anagen.outcomes.models import Rating, RatingPair
    from anagen.outcomes.selectors.ratings import BlindedResult
    from anagen.procedures.models import TreatmentSession

    sql = _EXTRAS_SQL.format(
        sessions=TreatmentSession._meta.db_table,
        ratings=Rating._meta.db_table,
        pairs=RatingPair._meta.db_table,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [patient.pk, limit, patient.pk])
        rows = cursor.fetchall()
    starts = [_aware(r[1]) for r in rows if r[0] == 0 and r[1] is not None]
    changes = [(int(r[2]), r[3]) for r in rows if r[0] == 1]
    # Dates as the clinic saw them (the active zone: the clinic's, per request or task).
    dates = sorted({timezone.localtime(s).date() for s in starts})
    if not dates:
        dates = session_dates(patient, limit)
    blinded = (
        BlindedResult(
            ratings=len(changes),
            mean_change=statistics.fmean(c for c, _ in changes),
            raters=len({r for _, r in changes}),
        )
        if changes
        else None
    )
    return dates, blinded
