"""Reads for outcomes: measurement series with change from baseline and measurement error,
photos by view, session markers, rating results, clinic analytics.

Callers reach the patient through ``patient_for`` first; every function here scopes to that
patient or to the actor's clinic.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from anagen.accounts.access import Actor
from anagen.accounts.models import Clinic, Role
from anagen.accounts.permissions import Perm
from anagen.clinical import (
    RESPONDER_RULES,
    Change,
    Density,
    change,
    density_change,
    is_detectable,
    is_responder,
    mdc95,
    sem_from_retest_differences,
)
from anagen.clinical import ValidationError as KernelValidationError
from anagen.outcomes import stats
from anagen.outcomes.models import (
    ImportBatch,
    Measurement,
    MeasurementSet,
    MeasurementSite,
    Method,
    Photo,
    PhotoSet,
    Rating,
    RatingPair,
    RatingPanel,
    ReportJob,
    VisitLabel,
)
from anagen.patients.models import Patient

_DATA_DIR = Path(__file__).resolve().parent / "data"


@cache
def method_cv() -> dict[str, Any]:
    return dict(json.loads((_DATA_DIR / "measurement_error.json").read_text(encoding="utf-8")))


# --- measures --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measure:
    id: str
    label: str
    unit: str
    level: str  # "site" (per marked site) or "visit"
    decimals: int
    relative_error: bool  # a method CV applies (counts, densities, diameters)


MEASURES: dict[str, Measure] = {
    m.id: m
    for m in (
        Measure("density_per_cm2", "Density", "hairs/cm²", "site", 1, True),
        Measure("hair_count", "Hair count in target area", "hairs", "site", 0, True),
        Measure("mean_diameter_um", "Mean shaft diameter", "µm", "site", 1, True),
        Measure(
            "cumulative_thickness_mm_per_cm2", "Cumulative thickness", "mm/cm²", "site", 2, True
        ),
        Measure("terminal_pct", "Terminal hairs (> 40 µm)", "%", "site", 1, False),
        Measure("anagen_pct", "Anagen", "%", "site", 1, False),
        Measure("salt", "SALT", "%", "visit", 1, False),
        Measure("wash_test_count", "Wash test", "hairs", "visit", 0, False),
        Measure("pull_test_shed", "Pull test, hairs shed", "hairs", "visit", 0, False),
        Measure("global_photo_rating", "Global photo rating", "-3..+3", "visit", 0, False),
        Measure("satisfaction", "Patient satisfaction", "1–5", "visit", 0, False),
    )
}
# Already a change score (vs baseline photos) or a one-off opinion: no change from baseline.
NO_BASELINE = {"global_photo_rating", "satisfaction"}


def measurement_sets(*, actor: Actor, patient: Patient) -> QuerySet[MeasurementSet]:
    actor.require(Perm.CLINICAL_VIEW)
    return (
        MeasurementSet.objects.filter(patient=patient)
        .select_related("recorded_by")
        .prefetch_related("measurements__site")
        .order_by("measured_on", "id")
    )


def sites_for(patient: Patient) -> QuerySet[MeasurementSite]:
    return MeasurementSite.objects.filter(patient=patient).order_by("id")


# --- series and change -------------------------------------------------------------------------


@dataclass
class Point:
    on: dt.date
    value: float
    visit_label: str
    set_id: int
    change: Change | None = None
    detectable: bool | None = None


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


def _finish(series: Series) -> Series:
    """Baseline (mean of baseline repeats), the MDC, and each follow-up's change."""
    pts = series.points
    if not pts or series.measure.id in NO_BASELINE:
        return series
    repeats = [p for p in pts if p.visit_label == VisitLabel.BASELINE] or [pts[0]]
    series.baseline_repeats = len(repeats)
    series.baseline = statistics.fmean(p.value for p in repeats)
    if len(repeats) >= 2:
        diffs = [b.value - a.value for a, b in itertools.pairwise(repeats)]
        series.sem = sem_from_retest_differences(stats.rms(diffs))
        series.mdc_source = f"test–retest of {len(repeats)} baseline measurements"
    elif series.measure.relative_error:
        cv = method_cv()["cv_pct"].get(series.method)
        if cv is not None:
            series.sem = float(cv) / 100 * abs(series.baseline)
            series.mdc_source = (
                f"default test–retest CV {cv} % for {Method(series.method).label.lower()} "
                f"({method_cv()['source'][series.method]})"
            )
    if series.sem is not None:
        series.mdc = mdc95(series.sem)
    repeat_ids = {p.set_id for p in repeats}
    for p in pts:
        if p.set_id in repeat_ids or p.on < repeats[0].on:
            continue
        if series.baseline == 0:
            continue
        p.change = _change(series.measure, series.baseline, p.value)
        if p.change is not None and series.mdc is not None:
            p.detectable = is_detectable(p.change.absolute, series.mdc)
    return series


def series_for(*, actor: Actor, patient: Patient) -> list[Series]:
    """Every measure over time per site and method, with change from the patient's baseline.

    A method change starts a new series: values from different methods are never compared.
    Two queries whatever the history (sets, then their measurement rows).
    """
    sets = list(measurement_sets(actor=actor, patient=patient))
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
    dates = sorted({s.date() for s in starts if s is not None})
    if dates:
        return dates
    from anagen.scheduling.models import Appointment, AppointmentStatus

    appointment_starts = (
        Appointment.objects.filter(patient=patient, status=AppointmentStatus.COMPLETED)
        .exclude(kind="consultation")
        .order_by("starts_at")
        .values_list("starts_at", flat=True)[:limit]
    )
    return sorted({s.date() for s in appointment_starts})


# --- photos ------------------------------------------------------------------------------------


def photo_sets(*, actor: Actor, patient: Patient) -> list[PhotoSet]:
    actor.require(Perm.CLINICAL_VIEW)
    return list(
        PhotoSet.objects.filter(patient=patient)
        .prefetch_related("photos")
        .order_by("taken_on", "id")
    )


def photo_get(*, actor: Actor, patient: Patient, photo_id: int) -> Photo | None:
    actor.require(Perm.CLINICAL_VIEW)
    return (
        Photo.objects.filter(pk=photo_id, photo_set__patient=patient)
        .select_related("photo_set__patient")
        .first()
    )


def previous_view(*, photo_set: PhotoSet, view: str) -> Photo | None:
    """The most recent earlier photo of the same view: the capture page's ghost overlay."""
    return (
        Photo.objects.filter(
            photo_set__patient_id=photo_set.patient_id,
            view=view,
            photo_set__taken_on__lte=photo_set.taken_on,
        )
        .exclude(photo_set=photo_set)
        .order_by("-photo_set__taken_on", "-id")
        .first()
    )


def photos_of_view(*, actor: Actor, patient: Patient, view: str) -> list[Photo]:
    actor.require(Perm.CLINICAL_VIEW)
    return list(
        Photo.objects.filter(photo_set__patient=patient, view=view)
        .select_related("photo_set")
        .order_by("photo_set__taken_on", "id")
    )


def before_after_photos(
    *, clinic: Clinic, view: str, patients: Iterable[Patient] | None = None
) -> list[tuple[Patient, Photo, Photo]]:
    """First and latest photo of ``view`` per patient with valid clinical photo consent."""
    from anagen.care.selectors import consent_valid_for

    qs = Photo.objects.filter(
        view=view, photo_set__patient__clinic=clinic, photo_set__patient__deleted_at__isnull=True
    )
    if patients is not None:
        qs = qs.filter(photo_set__patient__in=list(patients))
    by_patient: dict[int, list[Photo]] = defaultdict(list)
    for photo in qs.select_related("photo_set__patient").order_by("photo_set__taken_on", "id"):
        by_patient[photo.photo_set.patient_id].append(photo)
    out = []
    for photos in by_patient.values():
        if len(photos) < 2 or photos[0].photo_set_id == photos[-1].photo_set_id:
            continue
        patient = photos[0].photo_set.patient
        if consent_valid_for(patient, "photo_clinical") is None:
            continue
        out.append((patient, photos[0], photos[-1]))
    return out


# --- blinded rating ----------------------------------------------------------------------------


def panels_for(actor: Actor) -> QuerySet[RatingPanel]:
    actor.require(Perm.CLINICAL_VIEW)
    return RatingPanel.objects.filter(clinic=actor.clinic).prefetch_related("raters")


def panel_get(actor: Actor, panel_id: int) -> RatingPanel | None:
    return panels_for(actor).filter(pk=panel_id).first()


def pairs_to_rate(*, actor: Actor, panel: RatingPanel) -> list[RatingPair]:
    """The rater's unrated pairs in the panel's stored random order (no patient data shown)."""
    if not panel.raters.filter(pk=actor.user.pk).exists():
        raise PermissionDenied("You are not a rater on this panel.")
    return list(
        panel.pairs.exclude(ratings__rater=actor.user)
        .select_related("before", "after")
        .order_by("position")
    )


def pair_by_code(*, actor: Actor, code: str) -> RatingPair | None:
    actor.require(Perm.CLINICAL_VIEW)
    return (
        RatingPair.objects.filter(code=code, panel__clinic=actor.clinic)
        .select_related("panel", "before", "after", "patient")
        .first()
    )


@dataclass(frozen=True)
class BlindedResult:
    ratings: int
    mean_change: float
    raters: int


def blinded_results(patient: Patient) -> BlindedResult | None:
    """Mean blinded after-vs-before rating of a patient's pairs (-3..+3). One query."""
    changes = list(Rating.objects.filter(pair__patient=patient).values_list("change", "rater_id"))
    if not changes:
        return None
    return BlindedResult(
        ratings=len(changes),
        mean_change=statistics.fmean(c for c, _ in changes),
        raters=len({r for _, r in changes}),
    )


def panel_summary(panel: RatingPanel) -> list[dict[str, Any]]:
    rows: dict[int, dict[str, Any]] = {}
    for rating in Rating.objects.filter(pair__panel=panel).select_related("pair__patient"):
        patient = rating.pair.patient
        entry = rows.setdefault(patient.pk, {"patient": patient, "changes": []})
        entry["changes"].append(rating.change)
    for entry in rows.values():
        entry["mean"] = statistics.fmean(entry["changes"])
        entry["n"] = len(entry["changes"])
    return sorted(rows.values(), key=lambda e: e["patient"].family_name)


def import_get(*, actor: Actor, patient: Patient, batch_id: int) -> ImportBatch | None:
    actor.require(Perm.CLINICAL_VIEW)
    return ImportBatch.objects.filter(pk=batch_id, patient=patient).first()


def report_job_get(*, actor: Actor, job_id: int) -> ReportJob | None:
    actor.require(Perm.CLINICAL_VIEW)
    return ReportJob.objects.filter(pk=job_id, clinic=actor.clinic).first()


# --- clinic analytics --------------------------------------------------------------------------

DIMENSIONS: dict[str, str] = {
    "diagnosis": "Diagnosis",
    "protocol": "Protocol",
    "spin": "Spin (single/double)",
    "activated": "Activation",
    "dose_band": "Platelet dose band",
    "fold_band": "Fold band",
    "sex": "Sex",
    "age_band": "Age band",
}
ANALYTIC_MEASURES = ("density_per_cm2", "hair_count", "mean_diameter_um", "salt")


def require_analytics(actor: Actor) -> None:
    """Aggregates are for physicians and clinic admins (who run the practice)."""
    if not actor.membership.is_active or actor.role not in (Role.PHYSICIAN, Role.CLINIC_ADMIN):
        raise PermissionDenied("Clinic analytics are for physicians and clinic admins.")


def age_band(birth_date: dt.date, on: dt.date) -> str:
    years = on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))
    if years < 30:
        return "<30"
    if years >= 60:
        return "60+"
    low = years // 10 * 10
    return f"{low}–{low + 9}"


@dataclass
class PatientOutcome:
    patient: Patient
    baseline_on: dt.date
    follow_up_on: dt.date
    method: str
    baseline: float
    follow_up: float
    change: Change
    groups: dict[str, str]
    responder: bool | None = None


def _diagnoses(patient_ids: list[int]) -> dict[int, str]:
    try:
        from anagen.care.models import Assessment
    except ImportError:  # pragma: no cover - care is part of the project
        return {}
    out: dict[int, str] = {}
    rows = Assessment.objects.filter(patient_id__in=patient_ids).order_by("patient_id", "version")
    for pid, code in rows.values_list("patient_id", "diagnosis_code"):
        out[pid] = code  # latest version wins
    return out


def _protocols(patient_ids: list[int]) -> dict[int, str]:
    from anagen.scheduling.models import TreatmentPlan

    out: dict[int, str] = {}
    rows = TreatmentPlan.objects.filter(patient_id__in=patient_ids).exclude(status="cancelled")
    for pid, protocol in rows.order_by("patient_id", "start_on", "id").values_list(
        "patient_id", "protocol_id"
    ):
        out[pid] = protocol
    return out


def _preparations(patient_ids: list[int]) -> dict[int, dict[str, str]]:
    """Cohort labels from each patient's latest PRP preparation (procedures app).

    Spin: one or two+ spins recorded. Activation: an exogenous activator other than "none".
    Dose band: the DEPA dose grade the kernel computed (A > 5, B 3–5, C 1–3, D ≤ 1 billion).
    Fold band: the kernel's Mishra concentration letter (A at ≥ 5× baseline, else B).
    """
    from anagen.procedures.models import Preparation

    out: dict[int, dict[str, str]] = {}
    rows = Preparation.objects.filter(session__patient_id__in=patient_ids).select_related("session")
    for prep in rows.order_by("session__started_at", "id"):
        labels: dict[str, str] = {}
        if prep.spins:
            labels["spin"] = "double spin" if len(prep.spins) >= 2 else "single spin"
        labels["activated"] = (
            "activated" if prep.activation_agent not in ("", "none") else "not activated"
        )
        computed = prep.computed or {}
        dose = (computed.get("depa") or {}).get("dose")
        if dose:
            labels["dose_band"] = f"DEPA dose {dose}"
        concentration = (computed.get("mishra") or {}).get("concentration")
        if concentration:
            labels["fold_band"] = "≥ 5× baseline" if concentration == "A" else "< 5× baseline"
        out[prep.session.patient_id] = labels
    return out


def patient_outcomes(
    *, clinic: Clinic, measure: str = "density_per_cm2", rule: str | None = None
) -> list[PatientOutcome]:
    """Per patient: baseline (mean of baseline repeats) and latest follow-up of ``measure`` at the
    patient's first measured site, same method; plus the cohort labels and responder status."""
    if measure not in ANALYTIC_MEASURES:
        raise KernelValidationError("measure", f"unknown measure {measure!r}")
    m = MEASURES[measure]
    values: dict[tuple[int, str], list[tuple[dt.date, str, float]]] = defaultdict(list)
    if m.level == "site":
        rows = (
            Measurement.objects.filter(
                measurement_set__patient__clinic=clinic,
                measurement_set__patient__deleted_at__isnull=True,
                **{f"{measure}__isnull": False},
            )
            .order_by("site_id")
            .values_list(
                "measurement_set__patient_id",
                "site_id",
                "measurement_set__method",
                "measurement_set__measured_on",
                "measurement_set__visit_label",
                measure,
            )
        )
        first_site: dict[int, int] = {}
        for pid, site_id, method, on, label, raw in rows:
            first_site.setdefault(pid, site_id)
            if site_id == first_site[pid]:
                values[(pid, method)].append((on, label, float(raw)))
    else:
        for pid, method, on, label, raw in MeasurementSet.objects.filter(
            patient__clinic=clinic,
            patient__deleted_at__isnull=True,
            **{f"{measure}__isnull": False},
        ).values_list("patient_id", "method", "measured_on", "visit_label", measure):
            values[(pid, method)].append((on, label, float(raw)))
    per_patient: dict[int, tuple[str, list[tuple[dt.date, str, float]]]] = {}
    for (pid, method), pts in values.items():
        # One method per patient: the one with most points (then name) keeps like with like.
        current = per_patient.get(pid)
        if current is None or (len(pts), method) > (len(current[1]), current[0]):
            per_patient[pid] = (method, pts)
    patients = {p.pk: p for p in Patient.objects.filter(pk__in=list(per_patient))}
    ids = list(patients)
    diagnoses, protocols, preps = _diagnoses(ids), _protocols(ids), _preparations(ids)
    ratings = _latest_global_ratings(ids)
    salts = _salt_pairs(ids) if rule and RESPONDER_RULES[rule]["measure"] == "salt" else {}
    out: list[PatientOutcome] = []
    for pid, (method, pts) in per_patient.items():
        pts.sort()
        base = [p for p in pts if p[1] == VisitLabel.BASELINE] or [pts[0]]
        follow = [p for p in pts if p[1] != VisitLabel.BASELINE and p[0] > base[0][0]]
        if not follow:
            continue
        baseline = statistics.fmean(p[2] for p in base)
        if baseline == 0:
            continue
        latest = follow[-1]
        patient = patients[pid]
        groups = {
            "diagnosis": diagnoses.get(pid, "not assessed"),
            "protocol": protocols.get(pid, "no plan"),
            "sex": patient.sex,
            "age_band": age_band(patient.birth_date, base[0][0]),
            **{k: "not recorded" for k in ("spin", "activated", "dose_band", "fold_band")},
            **preps.get(pid, {}),
        }
        result = PatientOutcome(
            patient=patient,
            baseline_on=base[0][0],
            follow_up_on=latest[0],
            method=method,
            baseline=baseline,
            follow_up=latest[2],
            change=_change(m, baseline, latest[2]) or change(baseline, latest[2]),
            groups=groups,
        )
        if rule:
            result.responder = _responder(rule, measure, result, ratings, salts)
        out.append(result)
    out.sort(key=lambda o: o.patient.pk)
    return out


def _latest_global_ratings(patient_ids: list[int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for pid, score in (
        MeasurementSet.objects.filter(patient_id__in=patient_ids, global_photo_rating__isnull=False)
        .order_by("patient_id", "measured_on", "id")
        .values_list("patient_id", "global_photo_rating")
    ):
        if score is not None:
            out[pid] = score
    return out


def _salt_pairs(patient_ids: list[int]) -> dict[int, tuple[float, float]]:
    pts: dict[int, list[float]] = defaultdict(list)
    for pid, salt in (
        MeasurementSet.objects.filter(patient_id__in=patient_ids, salt__isnull=False)
        .order_by("patient_id", "measured_on", "id")
        .values_list("patient_id", "salt")
    ):
        if salt is not None:
            pts[pid].append(float(salt))
    return {pid: (v[0], v[-1]) for pid, v in pts.items() if len(v) >= 2}


def _responder(
    rule: str,
    measure: str,
    outcome: PatientOutcome,
    ratings: dict[int, int],
    salts: dict[int, tuple[float, float]],
) -> bool | None:
    """Apply the rule (kernel) to the measure it is defined on; None when that is missing."""
    rule_measure = RESPONDER_RULES[rule]["measure"]
    pid = outcome.patient.pk
    if rule_measure == "global_photo_7":
        score = ratings.get(pid)
        return None if score is None else is_responder(rule, 0, score)
    if rule_measure == "salt":
        pair = salts.get(pid) if measure != "salt" else (outcome.baseline, outcome.follow_up)
        return None if pair is None else is_responder(rule, pair[0], pair[1])
    if rule_measure == measure:
        return is_responder(rule, outcome.baseline, outcome.follow_up)
    return None


@dataclass
class Cohort:
    label: str
    n: int
    mean_baseline: float
    mean_follow_up: float
    change_of_means: Change
    absolute: stats.MeanCI
    absolute_median: stats.MedianCI
    percent: stats.MeanCI
    percent_median: stats.MedianCI
    responders: stats.Proportion | None


def cohorts(
    outcomes: list[PatientOutcome], dimension: str | None, filters: dict[str, str] | None = None
) -> list[Cohort]:
    """Group per-patient outcomes and summarise each group (``stats``; change via kernel)."""
    if dimension is not None and dimension not in DIMENSIONS:
        raise KernelValidationError("dimension", f"unknown cohort dimension {dimension!r}")
    chosen = [
        o for o in outcomes if all(o.groups.get(k) == v for k, v in (filters or {}).items() if v)
    ]
    groups: dict[str, list[PatientOutcome]] = defaultdict(list)
    for o in chosen:
        groups[o.groups[dimension] if dimension else "All patients"].append(o)
    result = []
    for label in sorted(groups):
        members = groups[label]
        mean_before = statistics.fmean(o.baseline for o in members)
        mean_after = statistics.fmean(o.follow_up for o in members)
        absolute = [o.follow_up - o.baseline for o in members]
        percent = [o.change.percent for o in members]
        judged = [o.responder for o in members if o.responder is not None]
        result.append(
            Cohort(
                label=label,
                n=len(members),
                mean_baseline=mean_before,
                mean_follow_up=mean_after,
                change_of_means=change(mean_before, mean_after),
                absolute=stats.mean_ci(absolute),
                absolute_median=stats.median_ci(absolute),
                percent=stats.mean_ci(percent),
                percent_median=stats.median_ci(percent),
                responders=stats.wilson_ci(sum(judged), len(judged)) if judged else None,
            )
        )
    return result


def group_options(outcomes: list[PatientOutcome]) -> dict[str, list[str]]:
    options: dict[str, set[str]] = defaultdict(set)
    for o in outcomes:
        for k, v in o.groups.items():
            options[k].add(v)
    return {k: sorted(options.get(k, set())) for k in DIMENSIONS}
