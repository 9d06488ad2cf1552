"""Reads: clinic outcome analytics (aggregates only).

Per patient: baseline and latest follow-up of one measure, with cohort codes (diagnosis,
protocol, PRP preparation bands, sex, age band) and responder status; per cohort: means,
medians and a responder rate with 95 % CIs (kernel ``cohort_stats``). Groups are keyed by
codes (filters, CSV) and carry labels for people (kernel ``cohorts``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import statistics
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.conf import settings
from django.db.models import (
    BooleanField,
    ExpressionWrapper,
    F,
    FloatField,
    Min,
    Q,
    Window,
)
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import Cast, RowNumber

from anagen.accounts.access import Actor
from anagen.accounts.models import Clinic
from anagen.accounts.permissions import Perm
from anagen.clinical import (
    RESPONDER_RULES,
    Change,
    change,
    follow_up_window,
    is_responder,
    needs_mdc,
)
from anagen.clinical import ValidationError as KernelValidationError
from anagen.clinical.cohort_stats import (
    MeanCI,
    MedianCI,
    Proportion,
    mean_ci,
    median_ci,
    wilson_ci,
)
from anagen.clinical.cohorts import (
    DIMENSIONS,
    age_band,
    group_label,
    missing_code,
    preparation_bands,
)
from anagen.clinical.dates import add_months
from anagen.clinical.measurement_error import error_estimate
from anagen.outcomes.models import Measurement, MeasurementSet, OutcomeSummary, VisitLabel
from anagen.outcomes.selectors.measurements import MEASURES
from anagen.outcomes.selectors.progress import _change
from anagen.patients.models import Patient

ANALYTIC_MEASURES = ("density_per_cm2", "hair_count", "mean_diameter_um", "salt")
ALL_PATIENTS = "all"
DEFAULT_RULE = "density_increase_15pct"


def require_analytics(actor: Actor) -> None:
    """Clinic aggregates: whoever the permission table lets see clinic analytics."""
    actor.require(Perm.ANALYTICS_VIEW)


@dataclass
class PatientOutcome:
    patient_id: int
    baseline_on: dt.date
    follow_up_on: dt.date
    method: str
    baseline: float
    follow_up: float
    change: Change
    groups: dict[str, str]  # dimension → code
    responder: bool | None = None
    # Every rule's judgement (computed outcomes only; the summary keeps it).
    responders: dict[str, bool | None] = dataclasses.field(default_factory=dict)
    # For the responder rule: the baseline repeats and every follow-up (date, value).
    baseline_repeats: tuple[float, ...] = ()
    follow_ups: tuple[tuple[dt.date, float], ...] = ()

    @cached_property
    def patient(self) -> Patient:
        """The patient row, loaded on first use (analytics themselves need only the id)."""
        return Patient.all_objects.get(pk=self.patient_id)

    def group_labels(self) -> dict[str, str]:
        return {k: group_label(k, v) for k, v in self.groups.items()}


def _diagnoses(clinic: Clinic) -> dict[int, str]:
    """Each patient's diagnosis code from the latest assessment version that states one."""
    try:
        from anagen.care.models import Assessment
    except ImportError:  # pragma: no cover - care is part of the project
        return {}
    out: dict[int, str] = {}
    rows = (
        Assessment.objects.filter(patient__clinic=clinic)
        .exclude(diagnosis_code="")
        .order_by("patient_id", "version")
        .values_list("patient_id", "diagnosis_code")
    )
    for pid, code in rows.iterator(chunk_size=5000):
        if code:
            out[pid] = code  # latest version wins
    return out


def _protocols(clinic: Clinic) -> dict[int, str]:
    from anagen.scheduling.models import TreatmentPlan

    out: dict[int, str] = {}
    rows = (
        TreatmentPlan.objects.filter(patient__clinic=clinic)
        .exclude(status="cancelled")
        .order_by("patient_id", "start_on", "id")
        .values_list("patient_id", "protocol_id")
    )
    for pid, protocol in rows.iterator(chunk_size=5000):
        out[pid] = protocol
    return out


def _preparations(clinic: Clinic) -> dict[int, dict[str, str]]:
    """Band codes from each patient's latest PRP preparation (procedures app; the bands are
    the kernel's ``preparation_bands``). The database picks the latest preparation per patient
    (a window function) and reads the two JSON keys the bands need."""
    from anagen.procedures.models import Preparation

    latest = Window(
        RowNumber(),
        partition_by=[F("session__patient_id")],
        order_by=[F("session__started_at").desc(), F("id").desc()],
    )
    rows = (
        Preparation.objects.filter(session__patient__clinic=clinic)
        .annotate(
            latest=latest,
            one=ExpressionWrapper(Q(spins__0__isnull=False), output_field=BooleanField()),
            two=ExpressionWrapper(Q(spins__1__isnull=False), output_field=BooleanField()),
            dose=KeyTextTransform("dose", KeyTransform("depa", "computed")),
            fold=KeyTextTransform("concentration", KeyTransform("mishra", "computed")),
        )
        .filter(latest=1)
        .values_list("session__patient_id", "one", "two", "activation_agent", "dose", "fold")
    )
    out: dict[int, dict[str, str]] = {}
    for pid, one, two, agent, dose, concentration in rows.iterator(chunk_size=5000):
        out[pid] = preparation_bands(
            spins=2 if two else 1 if one else 0,
            activation_agent=agent or "",
            depa_dose=dose or None,
            mishra_concentration=concentration or None,
        )
    return out


def _points(
    clinic: Clinic, measure: str, patients: Q
) -> Iterator[tuple[int, str, list[tuple[dt.date, str, float]]]]:
    """Per patient and method, the (date, visit label, value) points of ``measure``, ordered by
    patient and method; site measures only at the patient's first measured site (the lowest site
    id with a value), picked by the database. Values come as floats (no Decimal per row)."""
    m = MEASURES[measure]
    value = Cast(measure, FloatField())
    rows: Any
    if m.level == "site":
        measured = Measurement.objects.filter(
            measurement_set__patient__clinic=clinic,
            **{f"{measure}__isnull": False},
        ).filter(_prefixed(patients, "measurement_set__patient_id"))
        # The first measured site per patient in one grouped query: a correlated subquery per
        # row took minutes on PostgreSQL when the planner had no statistics yet.
        first_site = dict(
            measured.order_by()
            .values("measurement_set__patient_id")
            .annotate(first=Min("site_id"))
            .values_list("measurement_set__patient_id", "first")
        )
        site_rows = (
            measured.annotate(v=value)
            .order_by("measurement_set__patient_id", "measurement_set__method")
            .values_list(
                "measurement_set__patient_id",
                "measurement_set__method",
                "measurement_set__measured_on",
                "measurement_set__visit_label",
                "v",
                "site_id",
            )
        )
        rows = (
            r[:5] for r in site_rows.iterator(chunk_size=10_000) if r[5] == first_site.get(r[0])
        )
    else:
        rows = (
            MeasurementSet.objects.filter(
                patient__clinic=clinic,
                **{f"{measure}__isnull": False},
            )
            .filter(_prefixed(patients, "patient_id"))
            .annotate(v=value)
            .order_by("patient_id", "method")
            .values_list("patient_id", "method", "measured_on", "visit_label", "v")
        )
    if not isinstance(rows, Iterator):
        rows = rows.iterator(chunk_size=10_000)
    for (pid, method), group in itertools.groupby(rows, key=lambda r: (r[0], r[1])):
        yield pid, method, [(on, label, float(v)) for _pid, _method, on, label, v in group]


def _prefixed(patients: Q, field: str) -> Q:
    """A filter on patient ids (``Q(pk__in=…)``, ``Q(pk__gte=…)``) moved onto ``field``."""
    out = Q()
    for child in patients.children:
        key, value = child  # type: ignore[misc]
        out &= Q(**{key.replace("pk", field, 1): value})
    return out


def compute_outcomes(
    *, clinic: Clinic, measure: str, patients: Q | None = None
) -> list[PatientOutcome]:
    """Compute per-patient outcomes from the measurements (what the summary table keeps).

    Per patient: baseline (mean of baseline repeats) and latest follow-up of ``measure`` at the
    patient's first measured site, same method; the responder status under every rule
    (``responders``). ``patients`` narrows the patients (``Q(pk__in=[…])``, an id range).
    Soft-deleted patients are computed too (a restored record is current at once); the reads
    leave them out.
    Cohort attributes are not computed here (they change in other apps): ``groups`` is empty.
    """
    if measure not in ANALYTIC_MEASURES:
        raise KernelValidationError("measure", f"unknown measure {measure!r}")
    m = MEASURES[measure]
    patients = patients or Q()
    per_patient: dict[int, tuple[str, list[tuple[dt.date, str, float]]]] = {}
    for pid, method, pts in _points(clinic, measure, patients):
        # One method per patient: the one with most points (then name) keeps like with like.
        current = per_patient.get(pid)
        if current is None or (len(pts), method) > (len(current[1]), current[0]):
            per_patient[pid] = (method, pts)
    ratings = _latest_global_ratings(clinic, patients)
    salts = _salt_pairs(clinic, patients)
    out: list[PatientOutcome] = []
    for pid in sorted(per_patient):
        method, pts = per_patient[pid]
        pts.sort()
        base = [p for p in pts if p[1] == VisitLabel.BASELINE] or [pts[0]]
        follow = [p for p in pts if p[1] != VisitLabel.BASELINE and p[0] > base[0][0]]
        if not follow:
            continue
        baseline = statistics.fmean(p[2] for p in base)
        if baseline == 0:
            continue
        latest = follow[-1]
        result = PatientOutcome(
            patient_id=pid,
            baseline_on=base[0][0],
            follow_up_on=latest[0],
            method=method,
            baseline=baseline,
            follow_up=latest[2],
            change=_change(m, baseline, latest[2]) or change(baseline, latest[2]),
            groups={},
            baseline_repeats=tuple(p[2] for p in base),
            follow_ups=tuple((p[0], p[2]) for p in follow),
        )
        result.responders = {
            rule: _responder(rule, measure, result, ratings, salts) for rule in RESPONDER_RULES
        }
        out.append(result)
    return out


def patient_outcomes(
    *, clinic: Clinic, measure: str = "density_per_cm2", rule: str | None = None
) -> list[PatientOutcome]:
    """Per patient: baseline (mean of baseline repeats) and latest follow-up of ``measure`` at the
    patient's first measured site, same method; plus the cohort labels and responder status.

    Read from the per-patient summary table (``OutcomeSummary``, kept by the measurement
    services): one row per patient, no measurement is loaded. Cohort attributes come from one
    query each over the clinic (they change in other apps, so they are read, not kept).
    """
    if measure not in ANALYTIC_MEASURES:
        raise KernelValidationError("measure", f"unknown measure {measure!r}")
    rows = (
        OutcomeSummary.objects.filter(
            clinic=clinic, measure=measure, patient__deleted_at__isnull=True
        )
        .annotate(judged=KeyTextTransform(rule or "", "responders"))
        .order_by("patient_id")
        .values_list(
            "patient_id",
            "method",
            "baseline_on",
            "follow_up_on",
            "baseline",
            "follow_up",
            "change_absolute",
            "change_percent",
            "judged",
            "patient__sex",
            "patient__birth_date",
        )
    )
    diagnoses, protocols, preps = _diagnoses(clinic), _protocols(clinic), _preparations(clinic)
    missing = {k: missing_code(k) for k in DIMENSIONS}
    out: list[PatientOutcome] = []
    for pid, method, b_on, f_on, base, follow, absolute, pct, judged, sex, born in rows.iterator(
        chunk_size=10_000
    ):
        groups = {**missing, "age_band": age_band(born, b_on), **preps.get(pid, {})}
        if pid in diagnoses:
            groups["diagnosis"] = diagnoses[pid]
        if pid in protocols:
            groups["protocol"] = protocols[pid]
        if sex:
            groups["sex"] = sex
        out.append(
            PatientOutcome(
                patient_id=pid,
                baseline_on=b_on,
                follow_up_on=f_on,
                method=method,
                baseline=base,
                follow_up=follow,
                change=Change(baseline=base, follow_up=follow, absolute=absolute, percent=pct),
                groups=groups,
                responder=_judged(judged) if rule else None,
            )
        )
    return out


def _judged(text: object) -> bool | None:
    """A rule's judgement read as JSON text ("true"/"false" on PostgreSQL, 1/0 on SQLite)."""
    if text is None or text in ("null", ""):
        return None
    return text in ("true", "1", 1, True)


def _latest_global_ratings(clinic: Clinic, patients: Q) -> dict[int, list[tuple[dt.date, float]]]:
    out: dict[int, list[tuple[dt.date, float]]] = defaultdict(list)
    for pid, on, score in (
        MeasurementSet.objects.filter(patient__clinic=clinic, global_photo_rating__isnull=False)
        .filter(_prefixed(patients, "patient_id"))
        .order_by("patient_id", "measured_on", "id")
        .values_list("patient_id", "measured_on", "global_photo_rating")
        .iterator(chunk_size=10_000)
    ):
        if score is not None:
            out[pid].append((on, float(score)))
    return out


def _salt_pairs(clinic: Clinic, patients: Q) -> dict[int, list[tuple[dt.date, float]]]:
    pts: dict[int, list[tuple[dt.date, float]]] = defaultdict(list)
    for pid, on, salt in (
        MeasurementSet.objects.filter(patient__clinic=clinic, salt__isnull=False)
        .filter(_prefixed(patients, "patient_id"))
        .order_by("patient_id", "measured_on", "id")
        .values_list("patient_id", "measured_on", "salt")
        .iterator(chunk_size=10_000)
    ):
        if salt is not None:
            pts[pid].append((on, float(salt)))
    return {pid: v for pid, v in pts.items() if len(v) >= 2}


def _in_window(
    rule: str, baseline_on: dt.date, points: Sequence[tuple[dt.date, float]]
) -> tuple[dt.date, float] | None:
    """The follow-up the rule is judged on: inside the rule's follow-up window, the one nearest
    its stated interval (the later one on a tie); None when no follow-up falls inside."""
    window = follow_up_window(rule)
    target = add_months(baseline_on, window.months)
    inside = [p for p in points if window.contains(baseline_on, p[0])]
    if not inside:
        return None
    return min(inside, key=lambda p: (abs((p[0] - target).days), -p[0].toordinal()))


def _responder(
    rule: str,
    measure: str,
    outcome: PatientOutcome,
    ratings: dict[int, list[tuple[dt.date, float]]],
    salts: dict[int, list[tuple[dt.date, float]]],
) -> bool | None:
    """Apply the rule (kernel) to the measure it is defined on, at the follow-up interval the
    rule states; None (not judged) when that measure or a follow-up in the window is missing."""
    rule_measure = RESPONDER_RULES[rule]["measure"]
    pid = outcome.patient_id
    if rule_measure == "global_photo_7":
        rated = _in_window(rule, outcome.baseline_on, ratings.get(pid, []))
        return None if rated is None else is_responder(rule, 0, rated[1])
    if rule_measure == "salt" and measure != "salt":
        series = salts.get(pid)
        if not series:
            return None
        judged = _in_window(rule, series[0][0], series[1:])
        return None if judged is None else is_responder(rule, series[0][1], judged[1])
    if rule_measure != measure:
        return None
    judged = _in_window(rule, outcome.baseline_on, outcome.follow_ups)
    if judged is None:
        return None
    mdc = None
    if needs_mdc(rule):
        estimate = error_estimate(
            method=outcome.method,
            baseline=outcome.baseline,
            repeats=outcome.baseline_repeats,
            relative=MEASURES[measure].relative_error,
        )
        if estimate is None:
            return None
        mdc = estimate.mdc
    return is_responder(rule, outcome.baseline, judged[1], mdc=mdc)


@dataclass
class Cohort:
    code: str  # the group's code ("all" for every patient)
    label: str  # what people read
    n: int
    mean_baseline: float
    mean_follow_up: float
    change_of_means: Change
    absolute: MeanCI
    absolute_median: MedianCI
    percent: MeanCI
    percent_median: MedianCI
    responders: Proportion | None
    # Set when the responder count is withheld from this reader ("fewer than 5", …).
    responders_note: str = ""


def cohorts(
    outcomes: list[PatientOutcome], dimension: str | None, filters: dict[str, str] | None = None
) -> list[Cohort]:
    """Group per-patient outcomes by codes and summarise each group (kernel ``cohort_stats``).

    Groups come in the order of their labels; each cohort carries its code and its label.
    """
    if dimension is not None and dimension not in DIMENSIONS:
        raise KernelValidationError("dimension", f"unknown cohort dimension {dimension!r}")
    chosen = [
        o for o in outcomes if all(o.groups.get(k) == v for k, v in (filters or {}).items() if v)
    ]
    groups: dict[str, list[PatientOutcome]] = defaultdict(list)
    for o in chosen:
        groups[o.groups[dimension] if dimension else ALL_PATIENTS].append(o)
    result = []

    def label_of(code: str) -> str:
        return group_label(dimension, code) if dimension else "All patients"

    for code in sorted(groups, key=lambda c: (label_of(c), c)):
        members = groups[code]
        mean_before = statistics.fmean(o.baseline for o in members)
        mean_after = statistics.fmean(o.follow_up for o in members)
        absolute = [o.follow_up - o.baseline for o in members]
        percent = [o.change.percent for o in members]
        judged = [o.responder for o in members if o.responder is not None]
        result.append(
            Cohort(
                code=code,
                label=label_of(code),
                n=len(members),
                mean_baseline=mean_before,
                mean_follow_up=mean_after,
                change_of_means=change(mean_before, mean_after),
                absolute=mean_ci(absolute),
                absolute_median=median_ci(absolute),
                percent=mean_ci(percent),
                percent_median=median_ci(percent),
                responders=wilson_ci(sum(judged), len(judged)) if judged else None,
            )
        )
    return result


def group_options(outcomes: list[PatientOutcome]) -> dict[str, list[tuple[str, str]]]:
    """Per dimension, the (code, label) pairs present among the outcomes, by label."""
    options: dict[str, set[str]] = defaultdict(set)
    for o in outcomes:
        for k, v in o.groups.items():
            options[k].add(v)
    return {
        k: sorted(((c, group_label(k, c)) for c in options.get(k, set())), key=lambda p: p[1])
        for k in DIMENSIONS
    }


# --- what a reader may see (issue 13) ------------------------------------------------------------


def min_cell() -> int:
    """Smallest count shown to readers without per-patient rows (settings, default 5)."""
    return int(getattr(settings, "ANAGEN_ANALYTICS_MIN_CELL", 5))


def may_see_patient_rows(actor: Actor) -> bool:
    """The de-identified per-patient export and unsuppressed small cells."""
    return actor.can(Perm.ANALYTICS_PATIENT_ROWS)


@dataclass(frozen=True)
class Disclosed:
    """Cohorts as one reader may see them.

    For a reader without ``ANALYTICS_PATIENT_ROWS`` (a clinic admin) every count under
    ``min_cell()`` is withheld and shown as "fewer than 5": a cohort that small is listed by label
    only (no n, no means, no CI: a mean of two patients is nearly their values), and when exactly
    one cohort of a grouping is withheld the next smallest is withheld too, so the total minus the
    others does not give it away; a responder count (or its complement) under the threshold is
    withheld likewise.
    """

    cohorts: list[Cohort]  # shown in full
    suppressed: list[str]  # labels of the withheld cohorts
    n: int | None  # patients in the selection, None when withheld
    fewer: str  # "fewer than 5"
    patient_rows: bool


def cohorts_disclosed(*, actor: Actor, cohorts: list[Cohort], n: int) -> Disclosed:
    require_analytics(actor)
    threshold = min_cell()
    fewer = f"fewer than {threshold}"
    if may_see_patient_rows(actor):
        return Disclosed(list(cohorts), [], n, fewer, True)
    small = {c.code for c in cohorts if c.n < threshold}
    if len(small) == 1 and len(cohorts) > 1:
        others = sorted((c for c in cohorts if c.code not in small), key=lambda c: (c.n, c.label))
        small.add(others[0].code)
    shown = []
    for c in cohorts:
        if c.code in small:
            continue
        r = c.responders
        if r is not None and (r.n < threshold or r.k < threshold or r.n - r.k < threshold):
            if r.n < threshold:
                note = f"{fewer} patients judged"
            elif r.k < threshold:
                note = fewer
            else:
                note = f"all but {fewer}"
            c = dataclasses.replace(c, responders=None, responders_note=note)
        shown.append(c)
    return Disclosed(
        cohorts=shown,
        suppressed=[c.label for c in cohorts if c.code in small],
        n=n if n >= threshold else None,
        fewer=fewer,
        patient_rows=False,
    )
