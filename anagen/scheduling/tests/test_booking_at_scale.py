"""Issue 15 item 5, booking at scale: free slots found by interval sweeps, locks on the chosen
resources only, bounded retries when a concurrent booking takes a searched slot.

The search (``availability.SlotFinder``) must give exactly the answer of the old exhaustive one
(every 15-minute start × every practitioner × room × centrifuge combination): a seeded random
calendar compares them day by day. On PostgreSQL, bookings of different resources run side by
side (a lock held on an unrelated resource does not stop a series), same-slot races give one
winner, and concurrent automatic series all land with no overlap.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, connections, transaction

from anagen.clinical import PROCEDURES
from anagen.scheduling import availability as av
from anagen.scheduling import services
from anagen.scheduling.models import (
    Appointment,
    Resource,
    ResourceBooking,
    StaffLeave,
    WorkingHours,
)
from anagen.scheduling.services import plans as plan_services
from anagen.scheduling.tests.conftest import at, make_kit, next_monday
from conftest import make_patient

PROTOCOL = "prp-aga-monthly-3"
UTC = dt.UTC


def _t(h: int, m: int = 0) -> dt.datetime:
    return dt.datetime(2030, 1, 7, h, m, tzinfo=UTC)


# --- interval arithmetic ------------------------------------------------------------------------


def test_merge_subtract_fit_intersect_contains():
    assert av.merge([(_t(10), _t(11)), (_t(9), _t(10)), (_t(13), _t(14))]) == [
        (_t(9), _t(11)),
        (_t(13), _t(14)),
    ]
    free = av.subtract([(_t(9), _t(17))], av.merge([(_t(10), _t(11)), (_t(12), _t(13))]))
    assert free == [(_t(9), _t(10)), (_t(11), _t(12)), (_t(13), _t(17))]
    # busy rows before, across and after the working interval
    assert av.subtract([(_t(9), _t(12))], [(_t(8), _t(9, 30)), (_t(11), _t(13))]) == [
        (_t(9, 30), _t(11))
    ]
    # a 45-minute hold starting 15 minutes into the session fits where [t+15, t+60] is free
    fits = av.starts_fitting(free, dt.timedelta(minutes=15), dt.timedelta(minutes=60))
    assert fits == [(_t(8, 45), _t(9)), (_t(10, 45), _t(11)), (_t(12, 45), _t(16))]
    both = av.intersect(fits, [(_t(8), _t(8, 50)), (_t(15), _t(18))])
    assert both == [(_t(8, 45), _t(8, 50)), (_t(15), _t(16))]
    assert av.contains(both, _t(8, 45)) and av.contains(both, _t(16))
    assert not av.contains(both, _t(8, 51)) and not av.contains(both, _t(16, 1))
    assert not av.contains([], _t(9))


# --- the search gives the exhaustive search's answer --------------------------------------------


def _random_clinic(clinic_a, seed: int) -> tuple[list[Resource], dt.date]:
    """3 practitioners (one not licensed for mesotherapy, one on leave one day), 4 rooms,
    2 centrifuges (one without working hours), random bookings over two weeks."""
    from anagen.accounts.models import Membership

    rng = random.Random(seed)
    clinic = clinic_a.clinic
    members = list(Membership.objects.filter(clinic=clinic).order_by("pk"))[:3]
    practitioners = [
        Resource.objects.create(
            clinic=clinic,
            kind="practitioner",
            name=f"Dr {i}",
            membership=m,
            licensed_procedures=list(PROCEDURES) if i else ["prp_scalp"],
        )
        for i, m in enumerate(members)
    ]
    rooms = [
        Resource.objects.create(clinic=clinic, kind="room", name=f"Room {i}") for i in range(4)
    ]
    spins = [
        Resource.objects.create(
            clinic=clinic, kind="centrifuge", name=f"Spin {i}", rotor_radius_cm=Decimal(10)
        )
        for i in range(2)
    ]
    hours = []
    for r in [*practitioners, *rooms, spins[0]]:
        for d in range(6):
            a = dt.time(rng.choice([8, 9, 10]))
            b = dt.time(rng.choice([12, 13]))
            hours.append(WorkingHours(resource=r, weekday=d, start=a, end=b))
            hours.append(WorkingHours(resource=r, weekday=d, start=b, end=dt.time(17, 30)))
    WorkingHours.objects.bulk_create(hours)
    start = next_monday()
    StaffLeave.objects.create(
        membership=members[1],
        starts_on=start + dt.timedelta(days=2),
        ends_on=start + dt.timedelta(days=2),
        reason="Course",
    )
    patient = make_patient(clinic_a, given_name="Busy", family_name="Filler")
    tz = ZoneInfo(clinic.timezone)
    everyone = [*practitioners, *rooms, *spins]
    for day_i in range(14):
        day = start + dt.timedelta(days=day_i)
        for _ in range(rng.randint(10, 30)):
            r = rng.choice(everyone)
            s = dt.datetime.combine(day, dt.time(rng.randint(7, 18), rng.choice([0, 5, 15, 40])))
            s = s.replace(tzinfo=tz).astimezone(UTC)
            e = s + dt.timedelta(minutes=rng.choice([15, 30, 45, 60, 75]))
            appt = Appointment.objects.create(
                clinic=clinic,
                patient=patient,
                kind="consultation",
                status="cancelled",  # rows only: the patient constraint ignores cancelled ones
                starts_at=s,
                ends_at=e,
                practitioner=practitioners[0],
                room=rooms[0],
            )
            if not ResourceBooking.objects.filter(
                resource=r, active=True, starts_at__lt=e, ends_at__gt=s
            ).exists():
                ResourceBooking.objects.create(
                    appointment=appt, resource=r, phase="consultation", starts_at=s, ends_at=e
                )
    return list(Resource.objects.filter(clinic=clinic, is_active=True)), start


@pytest.mark.django_db
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sweep_search_equals_the_exhaustive_search(clinic_a, seed):
    resources, start = _random_clinic(clinic_a, seed)
    tz = ZoneInfo(clinic_a.clinic.timezone)
    last = start + dt.timedelta(days=13)
    cal = av.Calendar.load(
        resources, av.local(start, dt.time(0), tz), av.local(last, dt.time(23), tz), tz
    )
    finder = av.SlotFinder(resources, tz, start, last)
    not_before = av.local(start, dt.time(0), tz)
    compared = 0
    for procedure in ("prp_scalp", "mesotherapy_scalp", ""):
        if procedure and procedure not in PROCEDURES:
            continue
        holds = av.layout(procedure, None if procedure != "prp_scalp" else PROTOCOL)
        combos = av.combos_for(resources, procedure)
        for i in range(14):
            day = start + dt.timedelta(days=i)
            old = av.first_free(cal, holds, combos, day, not_before)
            new = finder.first_free(holds, procedure, day, not_before)
            assert new == old, (procedure, day)
            compared += old is not None
            if old is not None:
                # asked about that exact start, the same resources are free
                assert finder.free_at(holds, procedure, old[0]) == old[1]
    assert compared > 10


@pytest.mark.django_db
def test_search_reads_only_candidate_days_and_respects_the_patients_time(
    clinic_a, kit_a, patient_a
):
    start = next_monday()
    actor = clinic_a.actor(clinic_a.physician)
    # The patient already has a consultation at 9:00 on the target day (with other resources).
    extra_room = Resource.objects.create(clinic=clinic_a.clinic, kind="room", name="Z room")
    services.appointment_book(
        actor=clinic_a.actor(clinic_a.front_desk),
        patient=patient_a,
        kind="consultation",
        procedure="",
        starts_at=at(start, 9),
        practitioner_id=kit_a.nurse.pk,
        room_id=extra_room.pk,
    )
    preview = services.plan_preview(
        actor=actor, patient=patient_a, protocol_id=PROTOCOL, start_on=start
    )
    first = preview[0].slots[0]
    assert first.starts_at == at(start, 9, 30)  # after the consultation, not on top of it
    plan = services.plan_book_series(
        actor=actor, patient=patient_a, protocol_id=PROTOCOL, start_on=start
    )
    first_session = plan.appointments.order_by("sequence").first()
    assert first_session is not None and first_session.starts_at == at(start, 9, 30)


@pytest.mark.django_db
def test_a_series_locks_only_the_resources_it_books(clinic_a, kit_a, patient_a, monkeypatch):
    for i in range(5):
        Resource.objects.create(clinic=clinic_a.clinic, kind="room", name=f"Extra {i}")
    locked: list[list[int]] = []
    real = plan_services._lock_resources

    def spy(ids):
        ids = sorted(ids)
        locked.append(ids)
        return real(ids)

    monkeypatch.setattr(plan_services, "_lock_resources", spy)
    plan = services.plan_book_series(
        actor=clinic_a.actor(clinic_a.physician),
        patient=patient_a,
        protocol_id=PROTOCOL,
        start_on=next_monday(),
    )
    used: set[int] = set()
    for a in plan.appointments.all():
        used |= {a.practitioner_id, a.room_id}
        if a.centrifuge_id is not None:
            used.add(a.centrifuge_id)
    assert locked == [sorted(used)]
    assert len(used) == 3  # one practitioner, room and centrifuge for the whole series


@pytest.mark.django_db
def test_a_taken_slot_is_searched_again_then_a_clear_conflict(
    clinic_a, kit_a, patient_a, monkeypatch
):
    """A concurrent booking that lands between the search and the lock: the series searches
    again (and lands elsewhere); when it keeps happening, the person is told plainly."""
    actor = clinic_a.actor(clinic_a.physician)
    start = next_monday()
    other = make_patient(clinic_a, given_name="Other", family_name="Desk")
    real = plan_services._lock_resources
    calls = {"n": 0}

    def taken_once(ids):  # the first search's slot was taken between the search and the lock
        calls["n"] += 1
        if calls["n"] == 1:
            raise services.BookingConflict({"starts_at": "taken"}, code="conflict")
        return real(ids)

    monkeypatch.setattr(plan_services, "_lock_resources", taken_once)
    plan = services.plan_book_series(
        actor=actor, patient=patient_a, protocol_id=PROTOCOL, start_on=start
    )
    assert calls["n"] == 2 and plan.appointments.count() == 3

    def always_taken(ids):
        raise services.BookingConflict({"starts_at": "taken"}, code="conflict")

    monkeypatch.setattr(plan_services, "_lock_resources", always_taken)
    with pytest.raises(services.BookingConflict) as exc:
        services.plan_book_series(
            actor=actor, patient=other, protocol_id=PROTOCOL, start_on=start + dt.timedelta(7)
        )
    assert "Try again" in " ".join(exc.value.messages)


# --- PostgreSQL: concurrency ------------------------------------------------------------------

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (row locks, exclusion constraint); run with DATABASE_URL=postgres://…",
)


def _overlaps() -> int:
    """Active bookings of one resource that overlap, counted by the database."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM scheduling_resourcebooking a JOIN scheduling_resourcebooking b "
            "ON a.resource_id = b.resource_id AND a.id < b.id AND a.active AND b.active "
            "AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at"
        )
        return int(cur.fetchone()[0])


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_postgres_a_lock_on_another_resource_does_not_hold_up_a_series(clinic_a):
    """No clinic-wide lock: while one transaction holds a room nobody needs, a series books."""
    kit = make_kit(clinic_a)
    spare = Resource.objects.create(clinic=clinic_a.clinic, kind="room", name="Z spare room")
    WorkingHours.objects.bulk_create(
        WorkingHours(resource=spare, weekday=d, start=dt.time(9), end=dt.time(17, 30))
        for d in range(5)
    )
    patient = make_patient(clinic_a)
    holding, release = threading.Event(), threading.Event()
    done: dict[str, int] = {}
    failed: list[str] = []

    def holder() -> None:
        try:
            with transaction.atomic():
                list(Resource.objects.select_for_update().filter(pk=spare.pk))
                holding.set()
                release.wait(30)
        finally:
            connections.close_all()

    def booker() -> None:
        try:
            plan = services.plan_book_series(
                actor=clinic_a.actor(clinic_a.physician),
                patient=patient,
                protocol_id=PROTOCOL,
                start_on=next_monday(),
            )
            done["plan"] = plan.pk
        except Exception as exc:  # reported by the assertion below
            failed.append(repr(exc))
        finally:
            connections.close_all()

    h = threading.Thread(target=holder)
    h.start()
    assert holding.wait(10)
    b = threading.Thread(target=booker)
    b.start()
    b.join(20)
    finished = not b.is_alive()
    waiting = []
    if not finished:
        with connection.cursor() as cur:
            cur.execute("SELECT query FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            waiting = [row[0] for row in cur.fetchall()]
    release.set()
    h.join(10)
    b.join(20)
    assert finished, f"the series waited for a lock on a room it does not use: {waiting}"
    assert "plan" in done, failed
    assert Appointment.objects.filter(plan_id=done["plan"]).exclude(room=spare).count() == 3
    assert kit.room1.pk  # the kit's rooms were used


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_postgres_concurrent_series_all_land_without_overlaps(clinic_a):
    """Eight desks book automatic series at once into two practitioners: every one lands (the
    retries absorb the races) or gets the clear conflict; never a 500, never an overlap."""
    make_kit(clinic_a)
    n = 8
    patients = [make_patient(clinic_a, given_name=f"P{i}", family_name="Race") for i in range(n)]
    barrier = threading.Barrier(n)
    results: list[object] = [None] * n
    start = next_monday()

    def desk(i: int) -> None:
        try:
            actor = clinic_a.actor(clinic_a.physician)
            barrier.wait()
            services.plan_book_series(
                actor=actor, patient=patients[i], protocol_id=PROTOCOL, start_on=start
            )
            results[i] = "booked"
        except services.BookingConflict:
            results[i] = "conflict"
        except Exception as exc:  # reported by the assertion below
            results[i] = repr(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=desk, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert set(results) <= {"booked", "conflict"}, results
    assert results.count("booked") >= n // 2, results
    assert _overlaps() == 0


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_postgres_same_chosen_slot_race_has_exactly_one_winner(clinic_a):
    kit = make_kit(clinic_a)
    n = 6
    patients = [make_patient(clinic_a, given_name=f"S{i}", family_name="Race") for i in range(n)]
    actor = clinic_a.actor(clinic_a.physician)
    start = next_monday()
    preview = services.plan_preview(
        actor=actor, patient=patients[0], protocol_id=PROTOCOL, start_on=start
    )
    keys = [s.slots[0].key for s in preview]
    barrier = threading.Barrier(n)
    results: list[object] = [None] * n

    def desk(i: int) -> None:
        try:
            me = clinic_a.actor(clinic_a.physician)
            choices = [services.SlotChoice.from_key(k + 1, key) for k, key in enumerate(keys)]
            barrier.wait()
            services.plan_book_series(
                actor=me, patient=patients[i], protocol_id=PROTOCOL, start_on=start, choices=choices
            )
            results[i] = "booked"
        except services.BookingConflict:
            results[i] = "conflict"
        except Exception as exc:  # reported by the assertion below
            results[i] = repr(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=desk, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results.count("booked") == 1, results
    assert results.count("conflict") == n - 1, results
    assert Appointment.objects.filter(plan__isnull=False).count() == 3
    assert kit.physician.pk
    assert _overlaps() == 0


@pytest.mark.django_db
def test_a_big_clinics_week_opens_on_one_practitioner(clinic_a, kit_a):
    from django.urls import reverse

    from anagen.accounts.models import Membership, Role, User

    for i in range(6):
        user = User.objects.create_user(username=f"extra{i}", password="x" * 16)
        member = Membership.objects.create(user=user, clinic=clinic_a.clinic, role=Role.NURSE)
        Resource.objects.create(
            clinic=clinic_a.clinic, kind="practitioner", name=f"Extra {i}", membership=member
        )
    c = clinic_a.client(clinic_a.physician)
    day = next_monday().isoformat()
    compact = c.get(reverse("calendar"), {"view": "week", "date": day}).content.decode()
    everyone = c.get(
        reverse("calendar"), {"view": "week", "date": day, "practitioner": ""}
    ).content.decode()
    # the physician's own column by default; "All" (an empty filter) shows all eight
    assert f'value="{kit_a.physician.pk}" selected' in compact
    assert compact.count("Extra 5") < everyone.count("Extra 5")
    assert len(everyone) > 3 * len(compact) / 2
