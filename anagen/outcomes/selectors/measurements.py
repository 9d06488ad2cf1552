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
