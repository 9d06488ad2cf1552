"""Many simultaneous bookings of one practitioner slot: exactly one wins, no 500, no overlap.

Each thread has its own database connection (Django connections are per thread). On PostgreSQL
the exclusion constraint decides; on SQLite the IMMEDIATE transactions serialise the writers and
the in-transaction re-check decides (``services.serialised``). On PostgreSQL the race also runs
through the HTTP API (one 201, the rest 409, never a 500). The SQLite HTTP race is not run: the
test database is a shared-cache in-memory SQLite whose table locks fail at once instead of
waiting, in session and audit writes outside the booking path, which a real (file, WAL) database
does not do.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from decimal import Decimal

import pytest
from django.db import connection, connections
from django.test import Client

from anagen.scheduling.models import Appointment, Resource, ResourceBooking
from anagen.scheduling.tests.conftest import at, make_kit, next_monday
from conftest import make_patient

N = 12


def _race(clinic_a, via_api: bool) -> tuple[list[object], dt.datetime, Resource]:
    kit = make_kit(clinic_a)
    # Every contender gets its own room and centrifuge: only the practitioner is contested.
    rooms = [
        Resource.objects.create(clinic=clinic_a.clinic, kind="room", name=f"R{i}") for i in range(N)
    ]
    spins = [
        Resource.objects.create(
            clinic=clinic_a.clinic, kind="centrifuge", name=f"C{i}", rotor_radius_cm=Decimal(10)
        )
        for i in range(N)
    ]
    patients = [make_patient(clinic_a, given_name=f"P{i}", family_name="Race") for i in range(N)]
    when = at(next_monday(), 10)
    barrier = threading.Barrier(N)
    results: list[object] = [None] * N

    def contender(i: int) -> None:
        try:
            if via_api:
                client = Client()
                client.force_login(clinic_a.front_desk)
                barrier.wait()
                r = client.post(
                    "/api/v1/scheduling/appointments",
                    {
                        "patient_id": patients[i].pk,
                        "kind": "maintenance",
                        "procedure": "prp_scalp",
                        "starts_at": when.isoformat(),
                        "practitioner_id": kit.physician.pk,
                        "room_id": rooms[i].pk,
                        "centrifuge_id": spins[i].pk,
                    },
                    content_type="application/json",
                )
                results[i] = r.status_code
            else:
                from anagen.scheduling import services

                actor = clinic_a.actor(clinic_a.front_desk)
                barrier.wait()
                try:
                    services.appointment_book(
                        actor=actor,
                        patient=patients[i],
                        kind="maintenance",
                        procedure="prp_scalp",
                        starts_at=when,
                        practitioner_id=kit.physician.pk,
                        room_id=rooms[i].pk,
                        centrifuge_id=spins[i].pk,
                    )
                    results[i] = "booked"
                except services.BookingConflict as exc:
                    assert "is already booked at" in " ".join(exc.messages)
                    results[i] = "conflict"
        except Exception as exc:  # anything else is a failure the test reports
            results[i] = repr(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=contender, args=(i,)) for i in range(N)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results, when, kit.physician


def _no_overlaps(resource: Resource) -> None:
    rows = list(
        ResourceBooking.objects.filter(resource=resource, active=True).order_by("starts_at")
    )
    for a, b in itertools.pairwise(rows):
        assert a.ends_at <= b.starts_at, f"overlap: {a} / {b}"


def _check(results: list[object], physician: Resource, ok: object, conflict: object) -> None:
    assert results.count(ok) == 1, results
    assert results.count(conflict) == N - 1, results
    assert Appointment.objects.filter(practitioner=physician).count() == 1
    _no_overlaps(physician)


postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (exclusion constraint); run with DATABASE_URL=postgres://…",
)
sqlite_only = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="the serialised SQLite booking path; runs on SQLite"
)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_postgres_exclusion_constraint_lets_exactly_one_booking_win(clinic_a):
    results, _when, physician = _race(clinic_a, via_api=False)
    _check(results, physician, "booked", "conflict")


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_postgres_api_race_gives_one_201_and_409s_never_500(clinic_a):
    results, _when, physician = _race(clinic_a, via_api=True)
    _check(results, physician, 201, 409)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_postgres_constraint_rejects_an_overlap_even_without_the_service(clinic_a, patient_a):
    """The database itself refuses: the guarantee does not depend on the service's re-check."""
    from django.db import IntegrityError

    kit = make_kit(clinic_a)
    start = at(next_monday(), 10)
    appt = Appointment.objects.create(
        clinic=clinic_a.clinic,
        patient=patient_a,
        kind="consultation",
        starts_at=start,
        ends_at=start + dt.timedelta(minutes=30),
        practitioner=kit.physician,
        room=kit.room1,
    )
    ResourceBooking.objects.create(
        appointment=appt,
        resource=kit.physician,
        phase="consultation",
        starts_at=start,
        ends_at=start + dt.timedelta(minutes=30),
    )
    # back to back is fine ('[)' ranges), overlapping is not, inactive rows do not count
    ResourceBooking.objects.create(
        appointment=appt,
        resource=kit.physician,
        phase="consultation",
        starts_at=start + dt.timedelta(minutes=30),
        ends_at=start + dt.timedelta(minutes=60),
    )
    ResourceBooking.objects.create(
        appointment=appt,
        resource=kit.physician,
        phase="consultation",
        active=False,
        starts_at=start,
        ends_at=start + dt.timedelta(minutes=30),
    )
    with pytest.raises(IntegrityError):
        ResourceBooking.objects.create(
            appointment=appt,
            resource=kit.physician,
            phase="consultation",
            starts_at=start + dt.timedelta(minutes=10),
            ends_at=start + dt.timedelta(minutes=20),
        )


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_sqlite_serialised_path_lets_exactly_one_booking_win(clinic_a):
    results, _when, physician = _race(clinic_a, via_api=False)
    _check(results, physician, "booked", "conflict")
