"""Issue 13: one patient cannot be in two overlapping appointments (other rooms and
practitioners notwithstanding). PostgreSQL enforces it with an exclusion constraint (migration
0005); the booking services check it on every database (decisive on SQLite, where they run
serialised). Cancelled appointments and no-shows do not block."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from anagen.scheduling import services
from anagen.scheduling.models import Appointment
from anagen.scheduling.services import BookingConflict
from anagen.scheduling.tests.conftest import at, next_monday

pytestmark = pytest.mark.django_db

API = "/api/v1/scheduling"


def _consult(clinic, kit, patient, start, practitioner=None, room=None):
    return services.appointment_book(
        actor=clinic.actor(clinic.front_desk),
        patient=patient,
        kind="consultation",
        procedure="",
        starts_at=start,
        practitioner_id=(practitioner or kit.physician).pk,
        room_id=(room or kit.room1).pk,
    )


def test_same_patient_other_room_and_practitioner_is_refused(clinic_a, kit_a, patient_a):
    start = at(next_monday(), 10)
    first = _consult(clinic_a, kit_a, patient_a, start)
    with pytest.raises(BookingConflict) as err:
        _consult(
            clinic_a,
            kit_a,
            patient_a,
            start + dt.timedelta(minutes=10),
            practitioner=kit_a.nurse,
            room=kit_a.room2,
        )
    assert "This patient already has an appointment at" in " ".join(err.value.messages)
    assert Appointment.objects.filter(patient=patient_a).count() == 1
    # back to back is fine
    _consult(clinic_a, kit_a, patient_a, first.ends_at, practitioner=kit_a.nurse, room=kit_a.room2)


def test_other_patient_at_the_same_time_is_fine(clinic_a, kit_a, patient_a):
    from conftest import make_patient

    other = make_patient(clinic_a, given_name="Other", family_name="Person")
    start = at(next_monday(), 10)
    _consult(clinic_a, kit_a, patient_a, start)
    _consult(clinic_a, kit_a, other, start, practitioner=kit_a.nurse, room=kit_a.room2)


@pytest.mark.parametrize("status", ["cancel", "no_show"])
def test_cancelled_and_no_show_do_not_block(clinic_a, kit_a, patient_a, status):
    start = at(next_monday(), 10)
    first = _consult(clinic_a, kit_a, patient_a, start)
    Appointment.objects.filter(pk=first.pk).update(
        status="cancelled" if status == "cancel" else "no_show"
    )
    first.bookings.update(active=False)
    again = _consult(clinic_a, kit_a, patient_a, start, practitioner=kit_a.nurse, room=kit_a.room2)
    assert again.status == "booked"


def test_series_session_on_top_of_a_consultation_is_refused(clinic_a, kit_a, patient_a):
    from anagen.scheduling.services.plans import SlotChoice

    day = next_monday()
    _consult(clinic_a, kit_a, patient_a, at(day, 13), room=kit_a.room2)
    k = kit_a
    choices = [
        SlotChoice(1, at(day, 13), k.nurse.pk, k.room1.pk, k.centrifuge.pk),
        SlotChoice(2, at(day + dt.timedelta(days=28), 9), k.nurse.pk, k.room1.pk, k.centrifuge.pk),
        SlotChoice(3, at(day + dt.timedelta(days=56), 9), k.nurse.pk, k.room1.pk, k.centrifuge.pk),
    ]
    with pytest.raises(BookingConflict) as err:
        services.plan_book_series(
            actor=clinic_a.actor(clinic_a.physician),
            patient=patient_a,
            protocol_id="prp-aga-monthly-3",
            start_on=day,
            choices=choices,
        )
    assert "This patient already has an appointment at" in " ".join(err.value.messages)
    assert Appointment.objects.filter(patient=patient_a).count() == 1


def test_move_onto_the_patients_other_appointment_is_refused(clinic_a, kit_a, patient_a):
    start = at(next_monday(), 10)
    _consult(clinic_a, kit_a, patient_a, start)
    later = _consult(
        clinic_a,
        kit_a,
        patient_a,
        at(next_monday(), 14),
        practitioner=kit_a.nurse,
        room=kit_a.room2,
    )
    with pytest.raises(BookingConflict) as err:
        services.appointment_move(
            actor=clinic_a.actor(clinic_a.front_desk), appointment=later, new_start=start
        )
    assert "This patient already has an appointment at" in " ".join(err.value.messages)


def test_booking_page_says_so_and_api_answers_409(clinic_a, kit_a, patient_a):
    day = next_monday()
    _consult(clinic_a, kit_a, patient_a, at(day, 10))
    c = clinic_a.client(clinic_a.front_desk)
    r = c.post(
        reverse("appointment-new", args=[patient_a.pk]),
        {
            "kind": "consultation",
            "date": day.isoformat(),
            "time": "10:00",
            "practitioner": kit_a.nurse.pk,
            "room": kit_a.room2.pk,
        },
    )
    assert r.status_code == 400
    assert "This patient already has an appointment at" in r.content.decode()
    r = c.post(
        f"{API}/appointments",
        {
            "patient_id": patient_a.pk,
            "kind": "consultation",
            "procedure": "",
            "starts_at": at(day, 10, 15).isoformat(),
            "practitioner_id": kit_a.nurse.pk,
            "room_id": kit_a.room2.pk,
        },
        content_type="application/json",
    )
    assert r.status_code == 409, r.content
    body = r.json()
    assert "This patient already has an appointment at" in body["errors"][0]["message"]
    assert Appointment.objects.filter(patient=patient_a).count() == 1


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (exclusion constraint); run with DATABASE_URL=postgres://…",
)
def test_postgres_refuses_a_patient_overlap_without_the_service(clinic_a, kit_a, patient_a):
    start = at(next_monday(), 10)

    def row(s, status="booked", practitioner=None, room=None):
        return Appointment.objects.create(
            clinic=clinic_a.clinic,
            patient=patient_a,
            kind="consultation",
            starts_at=s,
            ends_at=s + dt.timedelta(minutes=30),
            practitioner=practitioner or kit_a.physician,
            room=room or kit_a.room1,
            status=status,
        )

    row(start)
    row(start + dt.timedelta(minutes=30), practitioner=kit_a.nurse)  # back to back
    row(start, status="cancelled", room=kit_a.room2)  # cancelled rows do not count
    row(start, status="no_show", room=kit_a.room2)
    with pytest.raises(IntegrityError), transaction.atomic():
        row(start + dt.timedelta(minutes=10), practitioner=kit_a.nurse, room=kit_a.room2)


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (exclusion constraint); run with DATABASE_URL=postgres://…",
)
@pytest.mark.django_db(transaction=True)
def test_postgres_race_for_one_patient_gives_one_booking_and_409s(clinic_a, patient_a):
    """Six desks book the same patient at the same instant, each with its own practitioner and
    room: exactly one 201, the rest 409 (the constraint decides), never a 500."""
    import threading

    from django.db import connections
    from django.test import Client

    from anagen.accounts.models import Membership, User
    from anagen.scheduling.models import Resource

    n = 6
    practitioners = [
        Resource.objects.create(
            clinic=clinic_a.clinic,
            kind="practitioner",
            name=f"Dr {i}",
            membership=Membership.objects.create(
                user=User.objects.create_user(username=f"race.dr{i}", password="x" * 16),
                clinic=clinic_a.clinic,
                role="physician",
            ),
            licensed_procedures=["prp_scalp"],
        )
        for i in range(n)
    ]
    rooms = [
        Resource.objects.create(clinic=clinic_a.clinic, kind="room", name=f"R{i}") for i in range(n)
    ]
    when = at(next_monday(), 10).isoformat()
    barrier = threading.Barrier(n)
    results: list[object] = [None] * n

    def contender(i: int) -> None:
        try:
            client = Client()
            client.force_login(clinic_a.front_desk)
            barrier.wait()
            r = client.post(
                f"{API}/appointments",
                {
                    "patient_id": patient_a.pk,
                    "kind": "consultation",
                    "procedure": "",
                    "starts_at": when,
                    "practitioner_id": practitioners[i].pk,
                    "room_id": rooms[i].pk,
                },
                content_type="application/json",
            )
            results[i] = r.status_code
        except Exception as exc:  # reported by the assertion below
            results[i] = repr(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=contender, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results.count(201) == 1 and results.count(409) == n - 1, results
    assert Appointment.objects.filter(patient=patient_a).count() == 1
