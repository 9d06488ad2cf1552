"""The home page's follow-ups read each patient's kept latest measurement date (issue 15): the
date follows the measurement writes, the section equals the old definition (a pass over every
patient), and it is one query whatever the number of rows."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.db import connection
from django.db.models import Exists, OuterRef, Subquery
from django.test.utils import CaptureQueriesContext

from anagen.outcomes.models import LastMeasurement, Measurement, MeasurementSet
from anagen.outcomes.services import last_measurements_rebuild, last_measurements_refresh
from anagen.outcomes.tests.helpers import record
from anagen.patients.models import Patient
from anagen.procedures.models import SessionStatus, TreatmentSession
from anagen.web import worklist
from conftest import make_patient

pytestmark = pytest.mark.django_db


def _stored(patient) -> dt.date | None:
    row = LastMeasurement.objects.filter(patient=patient).first()
    return row.measured_on if row else None


def _set(staff, patient, on: dt.date) -> MeasurementSet:
    """A measurement set written directly (as bulk writers do), without the derived date."""
    return MeasurementSet.objects.create(
        patient=patient,
        measured_on=on,
        visit_label="follow_up",
        method="phototrichogram",
        recorded_by=staff.nurse,
    )


def _signed(staff, patient, on: dt.date, status: str = SessionStatus.SIGNED) -> None:
    actor = staff.actor(staff.physician)
    at = dt.datetime.combine(on, dt.time(12), tzinfo=actor.tz)
    TreatmentSession.objects.create(
        clinic=staff.clinic,
        patient=patient,
        procedure="prp_scalp",
        started_at=at,
        started_by=staff.nurse,
        status=status,
        **({"signed_by": staff.physician, "signed_at": at} if status == "signed" else {}),
    )


def test_the_stored_date_follows_recorded_changed_and_deleted_visits(clinic_a):
    patient = make_patient(clinic_a)
    today = clinic_a.actor(clinic_a.nurse).today()
    assert _stored(patient) is None
    first = record(clinic_a, patient, today - dt.timedelta(days=200), "baseline", density=120)
    assert _stored(patient) == first.measured_on
    # An older visit entered late leaves the latest date as it was; a newer one moves it.
    record(clinic_a, patient, today - dt.timedelta(days=300), "follow_up", density=118)
    assert _stored(patient) == today - dt.timedelta(days=200)
    newest = record(clinic_a, patient, today - dt.timedelta(days=10), "follow_up", density=130)
    assert _stored(patient) == newest.measured_on
    # A visit's date changed, or a visit removed, by a writer outside the service: the refresh
    # recomputes from the sets.
    MeasurementSet.objects.filter(pk=newest.pk).update(measured_on=today - dt.timedelta(days=50))
    last_measurements_refresh(patient_ids=[patient.pk])
    assert _stored(patient) == today - dt.timedelta(days=50)
    Measurement.objects.filter(measurement_set=newest).delete()
    MeasurementSet.objects.filter(pk=newest.pk).delete()
    last_measurements_refresh(patient_ids=[patient.pk])
    assert _stored(patient) == today - dt.timedelta(days=200)
    Measurement.objects.filter(measurement_set__patient=patient).delete()
    MeasurementSet.objects.filter(patient=patient).delete()
    last_measurements_refresh(patient_ids=[patient.pk])
    assert _stored(patient) is None
    assert not LastMeasurement.objects.filter(patient=patient).exists()


def test_rebuild_matches_the_sets_of_every_patient(clinic_a, clinic_b):
    today = clinic_a.actor(clinic_a.nurse).today()
    a = make_patient(clinic_a, given_name="Ana")
    b = make_patient(clinic_b, given_name="Bea")
    none = make_patient(clinic_a, given_name="Nil")
    _set(clinic_a, a, today - dt.timedelta(days=40))
    _set(clinic_a, a, today - dt.timedelta(days=4))
    _set(clinic_b, b, today - dt.timedelta(days=9))
    assert last_measurements_rebuild() == 2
    rows = {r.patient_id: (r.clinic_id, r.measured_on) for r in LastMeasurement.objects.all()}
    assert rows == {
        a.pk: (clinic_a.clinic.pk, today - dt.timedelta(days=4)),
        b.pk: (clinic_b.clinic.pk, today - dt.timedelta(days=9)),
    }
    assert none.pk not in rows
    # One clinic only: the other clinic's rows stay.
    _set(clinic_b, b, today - dt.timedelta(days=1))
    assert last_measurements_rebuild(clinic=clinic_a.clinic) == 1
    assert _stored(b) == today - dt.timedelta(days=9)
    last_measurements_rebuild(clinic=clinic_b.clinic)
    assert _stored(b) == today - dt.timedelta(days=1)


def _old_follow_ups(actor, today: dt.date) -> list[tuple[int, dt.date, dt.date]]:
    """The definition before issue 15: every patient of the clinic with a correlated subquery for
    the latest measurement date, then signed sessions after it."""
    months = worklist._follow_up_months()
    cutoff = worklist._add_months(today, -months)
    last = (
        MeasurementSet.objects.filter(patient=OuterRef("pk"))
        .order_by("-measured_on")
        .values("measured_on")[:1]
    )
    treated_after = TreatmentSession.objects.filter(
        patient=OuterRef("pk"),
        status=SessionStatus.SIGNED,
        started_at__date__gt=OuterRef("last_measured_on"),
    )
    qs = (
        Patient.objects.filter(clinic=actor.clinic)
        .annotate(last_measured_on=Subquery(last))
        .filter(last_measured_on__isnull=False, last_measured_on__lte=cutoff)
        .filter(Exists(treated_after))
        .order_by("last_measured_on", "id")
    )
    return [
        (p.pk, p.last_measured_on, worklist._add_months(p.last_measured_on, months))
        for p in qs[: worklist.LIMIT]
    ]


def test_follow_ups_equal_the_old_definition_on_random_data(clinic_a, clinic_b):
    rng = random.Random(15)
    actor = clinic_a.actor(clinic_a.physician)
    today = actor.today()
    cutoff = worklist._add_months(today, -worklist._follow_up_months())
    patients = []
    for i in range(40):
        staff = clinic_a if i % 8 else clinic_b  # some in another clinic
        p = make_patient(staff, given_name=f"R{i}")
        patients.append(p)
        # 0–3 visits around the cutoff (some exactly on it), 0–3 sessions around them.
        days = [
            rng.choice([0, (today - cutoff).days, (today - cutoff).days + 1])
            + rng.randint(-3, 3) * rng.choice([0, 1, 30])
            for _ in range(rng.randint(0, 3))
        ]
        days = [min(max(d, 0), 900) for d in days]
        for d in days:
            _set(staff, p, today - dt.timedelta(days=d))
        for _ in range(rng.randint(0, 3)):
            base = rng.choice(days) if days else rng.randint(0, 400)
            on = today - dt.timedelta(days=base) + dt.timedelta(days=rng.choice([-1, 0, 1, 20]))
            status = rng.choice([SessionStatus.SIGNED, SessionStatus.SIGNED, "ready_to_sign"])
            _signed(staff, p, min(on, today), status)
    # Some patients deleted: neither list shows them.
    Patient.all_objects.filter(pk__in=[p.pk for p in patients[::7]]).update(
        deleted_at=actor.now(), deleted_reason="test"
    )
    last_measurements_refresh(patient_ids=[p.pk for p in patients])
    expected = _old_follow_ups(actor, today)
    got = [(f.patient.pk, f.last_measured_on, f.due_on) for f in worklist.follow_ups(actor, today)]
    assert got == expected
    assert 3 <= len(expected) < worklist.LIMIT  # the data set exercises both outcomes
    # The same on another day (a later cutoff takes in more patients).
    later = today + dt.timedelta(days=60)
    assert [
        (f.patient.pk, f.last_measured_on, f.due_on) for f in worklist.follow_ups(actor, later)
    ] == (_old_follow_ups(actor, later))


def test_follow_ups_are_one_query_whatever_the_rows(clinic_a):
    actor = clinic_a.actor(clinic_a.physician)
    today = actor.today()
    long_ago = today - dt.timedelta(days=400)

    def due_patient(i: int) -> None:
        p = make_patient(clinic_a, given_name=f"F{i}")
        record(clinic_a, p, long_ago, "baseline", density=100)
        _signed(clinic_a, p, long_ago + dt.timedelta(days=30))

    due_patient(0)
    with CaptureQueriesContext(connection) as one:
        rows = worklist.follow_ups(actor, today)
    assert len(rows) == 1
    for i in range(1, 8):
        due_patient(i)
    with CaptureQueriesContext(connection) as eight:
        rows = worklist.follow_ups(actor, today)
        names = [r.patient.full_name for r in rows]  # the patient comes with the row
    assert len(rows) == 8 and len(names) == 8
    assert len(one.captured_queries) == len(eight.captured_queries) == 1
