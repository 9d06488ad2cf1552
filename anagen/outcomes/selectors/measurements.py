"""Reads: the outcome measures, a patient's measurement sets and sites, the chart card summary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch, QuerySet

from anagen.accounts.access import Actor
from anagen.accounts.permissions import Perm
from anagen.clinical.datafiles import load
from anagen.outcomes.models import (
    Measurement,
    MeasurementSet,
    MeasurementSite,
    VisitLabel,
)
from anagen.patients.models import Patient


def method_cv() -> dict[str, Any]:
    """The kernel's default test–retest CV per method (its measurement error data)."""
    return dict(load("measurement_error"))


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
        # Each measurement with its site in one query (not one for measurements, one for sites).
        .prefetch_related(
            Prefetch("measurements", queryset=Measurement.objects.select_related("site"))
        )
        .order_by("measured_on", "id")
    )


def sites_for(patient: Patient) -> QuerySet[MeasurementSite]:
    return MeasurementSite.objects.filter(patient=patient).order_by("id")


def has_baseline(patient: Patient) -> bool:
    """Whether the patient has a baseline visit yet (the form's default visit label)."""
    return MeasurementSet.objects.filter(patient=patient, visit_label=VisitLabel.BASELINE).exists()


# The outcomes card's one query (tables of MeasurementSet and PhotoSet).
_SUMMARY_SQL = (
    "SELECT (SELECT COUNT(*) FROM outcomes_measurementset WHERE patient_id = %s),"
    " (SELECT COUNT(*) FROM outcomes_photoset WHERE patient_id = %s),"
    " l.id, l.measured_on, l.visit_label, l.method"
    " FROM (SELECT 1 AS one) o LEFT JOIN"
    " (SELECT id, measured_on, visit_label, method FROM outcomes_measurementset"
    "  WHERE patient_id = %s ORDER BY measured_on DESC, id DESC LIMIT 1) l ON 1 = 1"
)


def outcomes_summary(patient: Patient) -> dict[str, Any]:
    """The chart card: visit and photo set counts and the latest visit. One query whatever the
    history (both counts and the latest set on one row; written out because the ORM's subquery
    compilation costs more than the two round trips it saves)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(_SUMMARY_SQL, [patient.pk] * 3)
        set_count, photo_set_count, pk, measured_on, visit_label, method = cursor.fetchone()
    latest = None
    if pk is not None:
        on = MeasurementSet._meta.get_field("measured_on").to_python(measured_on)
        latest = MeasurementSet(
            id=pk, patient_id=patient.pk, measured_on=on, visit_label=visit_label, method=method
        )
    return {"set_count": set_count, "latest": latest, "photo_set_count": photo_set_count}


def measurement_set_get(*, actor: Actor, patient: Patient, set_id: int) -> MeasurementSet:
    """One measurement set of the patient with its measurements (404 if it is not theirs)."""
    from django.http import Http404

    mset = measurement_sets(actor=actor, patient=patient).filter(pk=set_id).first()
    if mset is None:
        raise Http404("No such measurement set.")
    return mset


def measurement_sets_for(actor: Actor) -> QuerySet[MeasurementSet]:
    """Every measurement set of the clinic's live patients (FHIR)."""
    actor.require(Perm.CLINICAL_VIEW)
    return MeasurementSet.objects.filter(
        patient__clinic=actor.clinic, patient__deleted_at__isnull=True
    ).select_related("patient", "recorded_by")


def measurements_for(actor: Actor) -> QuerySet[Any]:
    """Every per-site measurement of the clinic's live patients (FHIR)."""
    from anagen.outcomes.models import Measurement

    actor.require(Perm.CLINICAL_VIEW)
    return Measurement.objects.filter(
        measurement_set__patient__clinic=actor.clinic,
        measurement_set__patient__deleted_at__isnull=True,
    ).select_related("measurement_set__patient", "measurement_set__recorded_by", "site")


def history_page(qs: QuerySet[Any], page: int | None, per_page: int) -> tuple[list[Any], int, int]:
    """One page of an ascending history queryset and its length in one query (the count is a
    window over the same rows): ``(rows, count, page number)`` as ``Paginator.get_page`` picks
    them (none, or a page out of range, is the latest; the caller maps a page that is not a
    number to 1). The latest page is the newest ``per_page`` rows read newest first and cut to
    the page's length; a page past the end (a stale link) costs one more query."""
    from django.db.models import Count, Window

    counted = qs.annotate(_history_n=Window(Count("pk")))
    if page is not None and 0 < page < 2**31:
        rows = list(counted[(page - 1) * per_page : page * per_page])
        if rows:
            return rows, rows[0]._history_n, page
        if page == 1:
            return [], 0, 1
    newest = list(counted.reverse()[:per_page])
    count = newest[0]._history_n if newest else 0
    pages = max(1, -(-count // per_page))
    newest = newest[: count - (pages - 1) * per_page]
    newest.reverse()
    return newest, count, pages


# The numeric columns of a measurement, in the API's order (also anagen/outcomes/api.py).
MEASUREMENT_NUMBERS = (
    "area_cm2",
    "density_per_cm2",
    "mean_diameter_um",
    "cumulative_thickness_mm_per_cm2",
    "terminal_pct",
    "vellus_pct",
    "anagen_pct",
    "telogen_pct",
)

_SETS_SLICE_SQL = """
SELECT s.id, s.measured_on, s.visit_label, s.method, s.device, s.salt, s.wash_test_count,
       s.pull_test_pulled, s.pull_test_shed, s.global_photo_rating, s.satisfaction,
       m.id, site.name, m.hair_count, {numbers}
FROM (
    SELECT * FROM {sets} WHERE patient_id = %s ORDER BY measured_on, id LIMIT %s OFFSET %s
) s
LEFT JOIN {measurements} m ON m.measurement_set_id = s.id
LEFT JOIN {sites} site ON site.id = m.site_id
ORDER BY s.measured_on, s.id, m.id
"""


def measurement_sets_api(
    *, actor: Actor, patient: Patient, start: int, limit: int
) -> list[dict[str, Any]]:
    """``limit`` measurement sets from ``start`` (oldest first) with their measurements, in the
    API's ``SetOut`` shape and types (numbers as floats), in one query (issue 15)."""
    import datetime as dt

    from django.db import connection

    actor.require(Perm.CLINICAL_VIEW)
    sql = _SETS_SLICE_SQL.format(
        numbers=", ".join(f"m.{f}" for f in MEASUREMENT_NUMBERS),
        sets=MeasurementSet._meta.db_table,
        measurements=Measurement._meta.db_table,
        sites=MeasurementSite._meta.db_table,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [patient.pk, limit, start])
        rows = cursor.fetchall()
    out: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for r in rows:
        if current is None or current["id"] != r[0]:
            on = r[1] if isinstance(r[1], dt.date) else dt.date.fromisoformat(str(r[1]))
            current = {
                "id": r[0],
                "measured_on": on,
                "visit_label": r[2],
                "method": r[3],
                "device": r[4],
                "salt": None if r[5] is None else float(r[5]),
                "wash_test_count": r[6],
                "pull_test_pulled": r[7],
                "pull_test_shed": r[8],
                "global_photo_rating": r[9],
                "satisfaction": r[10],
                "measurements": [],
            }
            out.append(current)
        if r[11] is not None:
            current["measurements"].append(
                {
                    "site": r[12],
                    "hair_count": r[13],
                    **{
                        f: None if v is None else float(v)
                        for f, v in zip(MEASUREMENT_NUMBERS, r[14:], strict=True)
                    },
                }
            )
    return out
