"""Outcomes API: measurement sets (read, record), progress with change and MDC, analytics."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from pydantic import JsonValue

from anagen.accounts.access import patient_for
from anagen.accounts.permissions import Perm
from anagen.audit.services import audit_record
from anagen.clinical import RESPONDER_RULES
from anagen.interop.auth import api_actor
from anagen.interop.schemas import BodyIn, QueryIn
from anagen.outcomes import selectors, services
from anagen.outcomes.models import MeasurementSet

router = Router()

MethodCode = Literal["phototrichogram", "trichoscopy", "manual_count", "imported_device"]
Unit = Literal["cm2", "in2"]


class SiteIn(BodyIn):
    site_name: str = Field(min_length=1, max_length=80)
    location: Literal[
        "vertex",
        "crown",
        "midline",
        "frontal",
        "temporal_left",
        "temporal_right",
        "occipital",
        "other",
    ] = "vertex"
    hair_count: int | None = Field(None, ge=0)
    area: float | None = Field(None, gt=0)
    area_unit: Unit = "cm2"
    density: float | None = Field(None, ge=0)
    density_unit: Unit = "cm2"
    mean_diameter_um: float | None = None
    cumulative_thickness_mm_per_cm2: float | None = None
    terminal_pct: float | None = None
    anagen_pct: float | None = None


class SetIn(BodyIn):
    measured_on: dt.date
    visit_label: Literal["baseline", "follow_up"]
    method: MethodCode
    device: str = Field("", max_length=80)
    pull_test_pulled: int | None = Field(None, ge=0)
    pull_test_shed: int | None = Field(None, ge=0)
    wash_test_count: int | None = Field(None, ge=0)
    salt: float | None = None
    stage_scale: str = Field("", max_length=30)
    stage_value: str = Field("", max_length=20)
    global_photo_rating: int | None = None
    satisfaction: int | None = None
    notes: str = Field("", max_length=2000)
    sites: list[SiteIn] = Field(default_factory=list, max_length=20)


class MeasurementOut(Schema):
    site: str
    hair_count: int | None
    area_cm2: float | None
    density_per_cm2: float | None
    mean_diameter_um: float | None
    cumulative_thickness_mm_per_cm2: float | None
    terminal_pct: float | None
    vellus_pct: float | None
    anagen_pct: float | None
    telogen_pct: float | None


class SetOut(Schema):
    id: int
    measured_on: dt.date
    visit_label: str
    method: str
    device: str
    salt: float | None
    wash_test_count: int | None
    pull_test_pulled: int | None
    pull_test_shed: int | None
    global_photo_rating: int | None
    satisfaction: int | None
    measurements: list[MeasurementOut]


def _set_out(s: object) -> dict[str, object]:
    assert isinstance(s, MeasurementSet)

    def num(v: object) -> float | None:
        return None if v is None else float(v)  # type: ignore[arg-type]

    return {
        "id": s.pk,
        "measured_on": s.measured_on,
        "visit_label": s.visit_label,
        "method": s.method,
        "device": s.device,
        "salt": num(s.salt),
        "wash_test_count": s.wash_test_count,
        "pull_test_pulled": s.pull_test_pulled,
        "pull_test_shed": s.pull_test_shed,
        "global_photo_rating": s.global_photo_rating,
        "satisfaction": s.satisfaction,
        "measurements": [
            {
                "site": m.site.name,
                "hair_count": m.hair_count,
                **{
                    f: num(getattr(m, f))
                    for f in (
                        "area_cm2",
                        "density_per_cm2",
                        "mean_diameter_um",
                        "cumulative_thickness_mm_per_cm2",
                        "terminal_pct",
                        "vellus_pct",
                        "anagen_pct",
                        "telogen_pct",
                    )
                },
            }
            for m in s.measurements.all()
        ],
    }


@router.get(
    "/patients/{patient_id}/measurements",
    response=list[SetOut],
    summary="A patient's measurement sets",
)
def list_sets(request: HttpRequest, patient_id: int) -> list[dict[str, object]]:
    actor = api_actor(request, Perm.CLINICAL_VIEW)
    patient = patient_for(actor, patient_id)
    sets = selectors.measurement_sets(actor=actor, patient=patient)
    audit_record(action="measurement.read", actor=actor, patient=patient)
    return [_set_out(s) for s in sets]


@router.post(
    "/patients/{patient_id}/measurements",
    response={201: SetOut},
    summary="Record one visit's measurements (inch² converted to cm²)",
)
def create_set(request: HttpRequest, patient_id: int, payload: SetIn) -> Status[object]:
    actor = api_actor(request, Perm.OUTCOMES_RECORD)
    patient = patient_for(actor, patient_id)
    data = payload.dict()
    sites = [services.SiteValues(**s) for s in data.pop("sites")]
    mset = services.measurement_set_record(
        actor=actor,
        patient=patient,
        values=services.VisitValues(**data, sites=sites),
    )
    return Status(
        201, _set_out(selectors.measurement_set_get(actor=actor, patient=patient, set_id=mset.pk))
    )


class PointOut(Schema):
    on: dt.date
    value: float
    visit_label: str
    change_absolute: float | None
    change_percent: float | None
    detectable: bool | None


class SeriesOut(Schema):
    key: str
    measure: str
    unit: str
    site: str | None
    method: str
    baseline: float | None
    baseline_repeats: int
    mdc95: float | None
    mdc_source: str
    points: list[PointOut]


@router.get(
    "/patients/{patient_id}/progress",
    response=list[SeriesOut],
    summary="Each measure over time with change from baseline and its MDC95",
)
def progress(request: HttpRequest, patient_id: int) -> list[dict[str, object]]:
    actor = api_actor(request, Perm.CLINICAL_VIEW)
    patient = patient_for(actor, patient_id)
    return [
        {
            "key": s.key,
            "measure": s.measure.id,
            "unit": s.measure.unit,
            "site": s.site.name if s.site else None,
            "method": s.method,
            "baseline": s.baseline,
            "baseline_repeats": s.baseline_repeats,
            "mdc95": s.mdc,
            "mdc_source": s.mdc_source,
            "points": [
                {
                    "on": p.on,
                    "value": p.value,
                    "visit_label": p.visit_label,
                    "change_absolute": p.change.absolute if p.change else None,
                    "change_percent": p.change.percent if p.change else None,
                    "detectable": p.detectable,
                }
                for p in s.points
            ],
        }
        for s in selectors.series_for(actor=actor, patient=patient)
    ]


class AnalyticsQuery(QueryIn):
    measure: Literal["density_per_cm2", "hair_count", "mean_diameter_um", "salt"] = (
        "density_per_cm2"
    )
    group_by: (
        Literal[
            "diagnosis",
            "protocol",
            "spin",
            "activated",
            "dose_band",
            "fold_band",
            "sex",
            "age_band",
        ]
        | None
    ) = None
    rule: str = Field(
        "density_increase_15pct",
        json_schema_extra={"enum": list[JsonValue](sorted(RESPONDER_RULES))},
    )


class CohortOut(Schema):
    label: str
    # Issue 13: for a reader without per-patient rows (a clinic admin) a cohort under 5 patients
    # comes with ``suppressed`` true, ``n_text`` "fewer than 5" and every figure null; a
    # responder count under 5 (or its complement) is null with ``responders_note`` saying why.
    suppressed: bool = False
    n: int | None
    n_text: str
    mean_baseline: float | None
    mean_follow_up: float | None
    change_of_means_percent: float | None
    mean_change: float | None
    mean_change_ci: tuple[float | None, float | None]
    median_change: float | None
    mean_percent_change: float | None
    mean_percent_change_ci: tuple[float | None, float | None]
    responders: int | None
    responders_n: int | None
    responders_note: str = ""


@router.get("/analytics", response=list[CohortOut], summary="Cohort outcomes (aggregates only)")
def analytics(request: HttpRequest, q: Query[AnalyticsQuery]) -> list[dict[str, object]]:
    actor = api_actor(request, Perm.ANALYTICS_VIEW)
    if q.rule not in RESPONDER_RULES:
        raise ValidationError({"query.rule": "Unknown responder rule."})
    outcomes = selectors.patient_outcomes(clinic=actor.clinic, measure=q.measure, rule=q.rule)
    shown = selectors.cohorts_disclosed(
        actor=actor, cohorts=selectors.cohorts(outcomes, q.group_by), n=len(outcomes)
    )
    out: list[dict[str, object]] = [
        {
            "label": c.label,
            "n": c.n,
            "n_text": str(c.n),
            "mean_baseline": c.mean_baseline,
            "mean_follow_up": c.mean_follow_up,
            "change_of_means_percent": c.change_of_means.percent,
            "mean_change": c.absolute.mean,
            "mean_change_ci": (c.absolute.low, c.absolute.high),
            "median_change": c.absolute_median.median,
            "mean_percent_change": c.percent.mean,
            "mean_percent_change_ci": (c.percent.low, c.percent.high),
            "responders": c.responders.k if c.responders else None,
            "responders_n": c.responders.n if c.responders else None,
            "responders_note": c.responders_note,
        }
        for c in shown.cohorts
    ]
    withheld = dict.fromkeys(
        (
            "n",
            "mean_baseline",
            "mean_follow_up",
            "change_of_means_percent",
            "mean_change",
            "median_change",
            "mean_percent_change",
            "responders",
            "responders_n",
        )
    )
    out.extend(
        {
            "label": label,
            "suppressed": True,
            "n_text": shown.fewer,
            **withheld,
            "mean_change_ci": (None, None),
            "mean_percent_change_ci": (None, None),
            "responders_note": shown.fewer,
        }
        for label in shown.suppressed
    )
    return out
