"""Writes: each patient's latest measurement date (``LastMeasurement``), read by the home page's
follow-ups (an index on clinic and date instead of a pass over every patient).

Derived data, not clinical records: no audit event of its own. Refreshed for a few patients
inside the measurement services' transaction (``last_measurements_refresh``), and for every
patient in one ``INSERT … SELECT … GROUP BY`` statement by the backfill migration and after bulk
loads (``last_measurements_rebuild``).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection, transaction
from django.db.models import Max

from anagen.accounts.models import Clinic
from anagen.outcomes.models import LastMeasurement, MeasurementSet
from anagen.patients.models import Patient

# Table names are fixed (the backfill migration runs this same statement).
REBUILD_SQL = (
    "INSERT INTO outcomes_lastmeasurement (patient_id, clinic_id, measured_on) "
    "SELECT s.patient_id, p.clinic_id, MAX(s.measured_on) "
    "FROM outcomes_measurementset s JOIN patients_patient p ON p.id = s.patient_id "
    "{where}GROUP BY s.patient_id, p.clinic_id"
)


def last_measurements_refresh(*, patient_ids: Iterable[int]) -> int:
    """Recompute the latest measurement date of these patients; rows written."""
    ids = sorted(set(patient_ids))
    if not ids:
        return 0
    with transaction.atomic():
        # Two visits recorded for one patient at once: the second refresh waits for the first
        # to commit, then reads both (no lost update, no duplicate row). NO KEY: the sets'
        # foreign-key checks hold KEY SHARE on the patient row, which this does not wait for.
        list(
            Patient.all_objects.select_for_update(no_key=True)
            .filter(pk__in=ids)
            .order_by("pk")
            .values_list("pk")
        )
        return _write(ids)


def _write(ids: list[int]) -> int:
    latest = (
        MeasurementSet.objects.filter(patient_id__in=ids)
        .values("patient_id", "patient__clinic_id")
        .annotate(last=Max("measured_on"))
        .order_by()
    )
    rows = [
        LastMeasurement(
            patient_id=r["patient_id"], clinic_id=r["patient__clinic_id"], measured_on=r["last"]
        )
        for r in latest
    ]
    LastMeasurement.objects.filter(patient_id__in=ids).delete()
    LastMeasurement.objects.bulk_create(rows)
    return len(rows)


def last_measurements_rebuild(*, clinic: Clinic | None = None) -> int:
    """Recompute every patient's latest measurement date (of one clinic, or all) in one
    statement; rows written."""
    with transaction.atomic(), connection.cursor() as cursor:
        if clinic is None:
            LastMeasurement.objects.all().delete()
            cursor.execute(REBUILD_SQL.format(where=""))
        else:
            LastMeasurement.objects.filter(clinic=clinic).delete()
            cursor.execute(REBUILD_SQL.format(where="WHERE p.clinic_id = %s "), [clinic.pk])
        return cursor.rowcount
