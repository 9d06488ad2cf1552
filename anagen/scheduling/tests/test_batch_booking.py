"""Issue 15 item 5: many series booked in one pass (``plan_book_series_batch``) give exactly what
booking them one by one with ``plan_book_series`` gives: the same slots, the same rows, the same
audit events; a series that fits nowhere is reported and the others are still booked.
"""

from __future__ import annotations

import datetime as dt
import random
from io import StringIO
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from anagen.audit import chain
from anagen.audit.models import AuditEvent
from anagen.scheduling import services
from anagen.scheduling.models import Appointment, ClinicClosure, ResourceBooking, TreatmentPlan
from anagen.scheduling.services import SeriesRequest
from anagen.scheduling.services import plans as plan_services
from anagen.scheduling.tests.conftest import next_monday
from anagen.scheduling.tests.test_booking_at_scale import PROTOCOL, _random_clinic
from conftest import make_patient


class _Rollback(Exception):
    pass


def _snapshot(plans: list[TreatmentPlan | None]) -> list[Any]:
    """Everything a series wrote, without ids and wall-clock stamps."""
    out: list[Any] = []
    for plan in plans:
        if plan is None:
            out.append(None)
            continue
        appts = []
        for a in Appointment.objects.filter(plan=plan).order_by("sequence"):
            bookings = [
                (b.resource_id, b.phase, b.starts_at, b.ends_at, b.active)
                for b in ResourceBooking.objects.filter(appointment=a).order_by("starts_at", "id")
            ]
            history = [{k: v for k, v in h.items() if k != "at"} for h in a.history]
            appts.append(
                (
                    a.sequence,
                    a.kind,
                    a.procedure,
                    a.starts_at,
                    a.ends_at,
                    a.target_on,
                    a.window_earliest,
                    a.window_latest,
                    a.practitioner_id,
                    a.room_id,
                    a.centrifuge_id,
                    a.status,
                    a.notes,
                    a.patient_id,
                    a.clinic_id,
                    history,
                    sorted(bookings),
                )
            )
        events = [
            (e.action, e.patient_id, e.object_type, e.username, e.via, e.clinic_id, e.changes)
            for e in AuditEvent.objects.filter(
                object_type="scheduling.treatmentplan", object_id=str(plan.pk)
            )
        ]
        out.append(
            (
                plan.patient_id,
                plan.protocol_id,
                plan.protocol_name,
                plan.procedure,
                plan.start_on,
                plan.status,
                plan.created_by_id,
                plan.clinic_id,
                appts,
                events,
            )
        )
    return out


def _requests(clinic_a, start: dt.date, seed: int, n: int = 14) -> list[SeriesRequest]:
    rng = random.Random(seed)
    patients = [make_patient(clinic_a, given_name=f"P{i}", family_name="Batch") for i in range(6)]
    # One patient already has a series (their own time counts for the batch's series too).
    services.plan_book_series(
        actor=clinic_a.actor(clinic_a.physician),
        patient=patients[0],
        protocol_id=PROTOCOL,
        start_on=start + dt.timedelta(days=2),
    )
    return [
        SeriesRequest(
            patient_id=rng.choice(patients).pk,  # the same patient may come twice
            protocol_id=PROTOCOL,
            start_on=start + dt.timedelta(days=rng.randrange(10)),
        )
        for _ in range(n)
    ]


def _one_by_one(actor, requests: list[SeriesRequest]) -> tuple[list[Any], list[str]]:
    from anagen.patients.models import Patient

    plans: list[TreatmentPlan | None] = []
    messages: list[str] = []
    for r in requests:
        try:
            plans.append(
                services.plan_book_series(
                    actor=actor,
                    patient=Patient.objects.get(pk=r.patient_id),
                    protocol_id=r.protocol_id,
                    start_on=r.start_on,
                )
            )
            messages.append("")
        except ValidationError as exc:
            plans.append(None)
            messages.append(" ".join(exc.messages))
    return _snapshot(plans), messages


@pytest.mark.django_db(transaction=False)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_batch_books_what_one_by_one_books(clinic_a, seed):
    _resources, start = _random_clinic(clinic_a, seed)
    actor = clinic_a.actor(clinic_a.physician)
    requests = _requests(clinic_a, start, seed, n=16)
    before = TreatmentPlan.objects.count()
    try:
        with transaction.atomic():
            result = services.plan_book_series_batch(actor=actor, requests=requests)
            batch = _snapshot([o.plan for o in result.outcomes])
            batch_messages = [o.message for o in result.outcomes]
            raise _Rollback
    except _Rollback:
        pass
    assert TreatmentPlan.objects.count() == before
    single, single_messages = _one_by_one(actor, requests)
    assert batch_messages == single_messages
    assert batch == single
    assert sum(p is not None for p in batch) >= 4


@pytest.mark.django_db
def test_series_that_fit_nowhere_are_reported_and_the_others_booked(clinic_a, kit_a):
    actor = clinic_a.actor(clinic_a.physician)
    start = next_monday()
    patients = [make_patient(clinic_a, given_name=f"Q{i}", family_name="Full") for i in range(8)]
    # The clinic is shut for the whole of session 2's window of a later start: those series
    # find session 1 but not session 2, so they are not booked at all (and leave nothing).
    later = start + dt.timedelta(days=70)
    second = plan_services._series_sessions(PROTOCOL, later)[1]
    ClinicClosure.objects.create(
        clinic=clinic_a.clinic,
        starts_on=second.earliest_on,
        ends_on=second.latest_on,
        reason="Refurbishment",
    )
    requests = [SeriesRequest(p.pk, PROTOCOL, start) for p in patients[:5]]
    requests += [SeriesRequest(p.pk, PROTOCOL, later) for p in patients[5:]]
    requests.append(SeriesRequest(10**9, PROTOCOL, start))  # no such patient
    requests.append(SeriesRequest(patients[0].pk, "no-such-protocol", start))
    requests.append(SeriesRequest(patients[1].pk, PROTOCOL, start - dt.timedelta(days=30)))
    result = services.plan_book_series_batch(actor=actor, requests=requests)
    booked = result.booked
    full = [o for o in result.not_booked if o.field == "choices"]
    assert len(booked) == 5 and len(full) == 3
    assert all(o.message.startswith("Session 2: no free slot between") for o in full)
    assert all("no free slot between" in o.message for o in full)
    by_field = {o.field for o in result.not_booked}
    assert {"patient_id", "protocol_id", "start_on", "choices"} <= by_field
    assert TreatmentPlan.objects.count() == len(booked)
    # nothing left behind by a series that could not be booked whole
    assert Appointment.objects.filter(plan__isnull=True).count() == 0
    assert Appointment.objects.count() == 3 * len(booked)
    # no resource or patient is in two places at once
    rows = list(
        ResourceBooking.objects.filter(active=True).values_list("resource", "starts_at", "ends_at")
    )
    for i, (r, s, e) in enumerate(rows):
        for r2, s2, e2 in rows[i + 1 :]:
            assert not (r == r2 and s < e2 and s2 < e)
    # one audit event per plan, in the clinic's chain, which still verifies
    events = AuditEvent.objects.filter(action="plan.create")
    assert events.count() == len(booked)
    assert {int(e.object_id) for e in events} == {o.plan.pk for o in booked if o.plan}
    assert chain.verify_chain(clinic_a.clinic.pk).brk is None


@pytest.mark.django_db
def test_batch_needs_the_right_to_plan(clinic_a, kit_a, patient_a):
    request = SeriesRequest(patient_a.pk, PROTOCOL, next_monday())
    with pytest.raises(PermissionDenied):
        services.plan_book_series_batch(
            actor=clinic_a.actor(clinic_a.front_desk), requests=[request]
        )
    assert not TreatmentPlan.objects.exists()


@pytest.mark.django_db
def test_patients_of_another_clinic_are_not_booked(clinic_a, clinic_b, kit_a, patient_b):
    result = services.plan_book_series_batch(
        actor=clinic_a.actor(clinic_a.physician),
        requests=[SeriesRequest(patient_b.pk, PROTOCOL, next_monday())],
    )
    assert [o.message for o in result.outcomes] == ["No such patient."]
    assert not TreatmentPlan.objects.exists()


@pytest.mark.django_db
def test_batch_changes_the_calendar_version(clinic_a, kit_a, patient_a, monkeypatch):
    """Bulk inserts send no signal: the batch bumps the clinic's calendar version itself."""
    from anagen.scheduling import calendar_version

    bumped: list[int] = []
    real = calendar_version.bump

    def spy(cid: int) -> None:
        bumped.append(cid)
        real(cid)

    monkeypatch.setattr(calendar_version, "bump", spy)
    result = services.plan_book_series_batch(
        actor=clinic_a.actor(clinic_a.physician),
        requests=[SeriesRequest(patient_a.pk, PROTOCOL, next_monday())],
    )
    assert len(result.booked) == 1
    assert bumped == [clinic_a.clinic.pk]


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL (the exclusion constraint)"
)
@pytest.mark.django_db
def test_a_slot_taken_behind_the_search_fails_the_batch_as_a_conflict(
    clinic_a, kit_a, patient_a, monkeypatch
):
    """The exclusion constraint stays the guarantee: should the database refuse a booking row
    (here the search is made blind to a booking already there), the whole batch is a conflict
    and nothing is written."""
    from anagen.scheduling import availability as av

    physician = clinic_a.actor(clinic_a.physician)
    first = services.plan_book_series(
        actor=physician, patient=patient_a, protocol_id=PROTOCOL, start_on=next_monday()
    )
    other = make_patient(clinic_a, given_name="Ana", family_name="Lima")
    before = (TreatmentPlan.objects.count(), Appointment.objects.count())
    bookings = ResourceBooking.objects.count()
    events = AuditEvent.objects.count()
    monkeypatch.setattr(av, "busy_rows", lambda *a, **k: [])
    with pytest.raises(services.BookingConflict, match="nothing was booked"):
        services.plan_book_series_batch(
            actor=physician, requests=[SeriesRequest(other.pk, PROTOCOL, first.start_on)]
        )
    assert (TreatmentPlan.objects.count(), Appointment.objects.count()) == before
    assert ResourceBooking.objects.count() == bookings
    assert AuditEvent.objects.count() == events


# --- the command ------------------------------------------------------------------------------


def _csv(tmp_path, text: str):
    path = tmp_path / "series.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.django_db
def test_command_books_a_csv(clinic_a, kit_a, tmp_path):
    p1 = make_patient(clinic_a, given_name="Ana", family_name="One")
    p2 = make_patient(clinic_a, given_name="Bea", family_name="Two")
    start = next_monday()
    path = _csv(
        tmp_path,
        "record_number,protocol_id,start_on\n"
        f"{p1.record_number},{PROTOCOL},{start.isoformat()}\n"
        f"{p2.record_number},{PROTOCOL},{start.isoformat()}\n",
    )
    out = StringIO()
    call_command(
        "book_series", path, "--clinic", "a", "--user", clinic_a.physician.username, stdout=out
    )
    assert "Booked 2 of 2 series" in out.getvalue()
    assert TreatmentPlan.objects.count() == 2
    event = AuditEvent.objects.get(action="plan.create", patient=p1)
    assert event.via == "cli"


@pytest.mark.django_db
def test_command_reports_rows_not_booked_and_exits_1(clinic_a, kit_a, tmp_path):
    p1 = make_patient(clinic_a, given_name="Ana", family_name="One")
    start = next_monday()
    path = _csv(
        tmp_path,
        "record_number,protocol_id,start_on\n"
        f"{p1.record_number},{PROTOCOL},{start.isoformat()}\n"
        f"NOPE-1,{PROTOCOL},{start.isoformat()}\n",
    )
    out = StringIO()
    with pytest.raises(CommandError) as exc:
        call_command(
            "book_series", path, "--clinic", "a", "--user", clinic_a.physician.username, stdout=out
        )
    assert exc.value.returncode == 1
    assert "Booked 1 of 2 series" in out.getvalue()
    assert "line 3: No such patient" in out.getvalue()
    assert TreatmentPlan.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("text", "clinic", "user", "says"),
    [
        (None, "a", "physician", "no such file"),
        ("patient,when\n1,2\n", "a", "physician", "columns"),
        (
            "record_number,protocol_id,start_on\nA1,prp-aga-monthly-3,tomorrow\n",
            "a",
            "physician",
            "line 2",
        ),
        ("record_number,protocol_id,start_on\n", "zz", "physician", "no clinic"),
        ("record_number,protocol_id,start_on\n", "a", "nobody", "not an active member"),
        ("record_number,protocol_id,start_on\n", "a", "front_desk", "cannot"),
    ],
)
def test_command_bad_input_is_one_line_and_exit_2(clinic_a, tmp_path, text, clinic, user, says):
    path = str(tmp_path / "missing.csv") if text is None else _csv(tmp_path, text)
    username = getattr(clinic_a, user).username if hasattr(clinic_a, user) else user
    with pytest.raises(CommandError) as exc:
        call_command("book_series", path, "--clinic", clinic, "--user", username)
    assert exc.value.returncode == 2
    assert says in str(exc.value).lower() and "\n" not in str(exc.value)
    assert not TreatmentPlan.objects.exists()
