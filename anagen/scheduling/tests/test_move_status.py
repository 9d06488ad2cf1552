"""Rescheduling inside/outside the window, status actions, check-in (arrival, no gate),
completion by signing the session record, plan completion → recall."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from anagen.audit.models import AuditEvent
from anagen.scheduling import services
from anagen.scheduling.models import Appointment, Recall, ResourceBooking
from anagen.scheduling.services import status as status_services
from anagen.scheduling.tests.conftest import at, next_monday
from conftest import make_patient

pytestmark = pytest.mark.django_db

PROTOCOL = "prp-aga-monthly-3"


@pytest.fixture
def plan(clinic_a, kit_a, patient_a):
    return services.plan_book_series(
        actor=clinic_a.actor(clinic_a.physician),
        patient=patient_a,
        protocol_id=PROTOCOL,
        start_on=next_monday(),
    )


def _local_day(a: Appointment) -> dt.date:
    return a.local_date


def test_move_inside_window_moves_bookings_too(clinic_a, plan):
    desk = clinic_a.actor(clinic_a.front_desk)
    a1 = plan.appointments.get(sequence=1)
    new = a1.starts_at + dt.timedelta(days=1, hours=2)
    services.appointment_move(actor=desk, appointment=a1, new_start=new)
    a1.refresh_from_db()
    assert a1.starts_at == new
    spans = sorted(a1.bookings.values_list("starts_at", flat=True))
    assert spans[0] == new
    assert a1.history[-1]["event"] == "moved"
    assert AuditEvent.objects.filter(action="appointment.move").count() == 1


def test_move_outside_window_warns_then_proceeds_when_confirmed(clinic_a, plan):
    desk = clinic_a.actor(clinic_a.front_desk)
    a2 = plan.appointments.get(sequence=2)
    new = a2.starts_at + dt.timedelta(days=14)
    with pytest.raises(services.OutsideWindow) as exc:
        services.appointment_move(actor=desk, appointment=a2, new_start=new)
    assert "outside its protocol window" in exc.value.messages[0]
    a2.refresh_from_db()
    assert a2.starts_at != new  # nothing moved
    services.appointment_move(
        actor=desk, appointment=a2, new_start=new, confirm_outside_window=True
    )
    a2.refresh_from_db()
    assert a2.starts_at == new and a2.history[-1]["outside_window"] is True
    event = AuditEvent.objects.get(action="appointment.move")
    assert event.changes["outside_window_confirmed"] is True


def test_move_this_and_following_shifts_the_rest_and_warns_for_each(clinic_a, plan):
    desk = clinic_a.actor(clinic_a.front_desk)
    a1, a2, a3 = plan.appointments.order_by("sequence")
    # an hour later keeps every session inside its window and its working hours
    services.appointment_move(
        actor=desk,
        appointment=a2,
        new_start=a2.starts_at + dt.timedelta(hours=1),
        and_following=True,
    )
    for a, before in ((a1, a1.starts_at), (a2, a2.starts_at), (a3, a3.starts_at)):
        a.refresh_from_db()
        expected = before if a.sequence == 1 else before + dt.timedelta(hours=1)
        assert a.starts_at == expected
    with pytest.raises(services.OutsideWindow) as exc:
        services.appointment_move(
            actor=desk,
            appointment=a2,
            new_start=a2.starts_at + dt.timedelta(days=10),
            and_following=True,
        )
    assert {m.split()[1] for m in exc.value.messages} == {"2", "3"}


def test_move_onto_a_taken_slot_is_refused(clinic_a, kit_a, plan):
    other = make_patient(clinic_a, given_name="Ana", family_name="Lima")
    desk = clinic_a.actor(clinic_a.front_desk)
    a1 = plan.appointments.get(sequence=1)
    day = a1.local_date + dt.timedelta(days=1)
    appt = services.appointment_book(
        actor=desk,
        patient=other,
        kind="maintenance",
        procedure="prp_scalp",
        starts_at=at(day, 11),
        practitioner_id=a1.practitioner_id,
        room_id=kit_a.room2.pk,
        centrifuge_id=kit_a.centrifuge.pk,
    )
    with pytest.raises(services.BookingConflict, match="is already booked at"):
        services.appointment_move(actor=desk, appointment=a1, new_start=appt.starts_at)
    with pytest.raises(ValidationError, match="into the past"):
        services.appointment_move(
            actor=desk, appointment=a1, new_start=at(dt.date.today() - dt.timedelta(days=1), 10)
        )


def test_cancel_frees_the_slot_and_needs_a_reason(clinic_a, kit_a, plan):
    desk = clinic_a.actor(clinic_a.front_desk)
    a1 = plan.appointments.get(sequence=1)
    with pytest.raises(ValidationError, match="Say why"):
        services.appointment_cancel(actor=desk, appointment=a1, reason=" ")
    services.appointment_cancel(actor=desk, appointment=a1, reason="Patient unwell")
    a1.refresh_from_db()
    assert a1.status == "cancelled"
    assert not ResourceBooking.objects.filter(appointment=a1, active=True).exists()
    other = make_patient(clinic_a, given_name="Ana", family_name="Lima")
    # the same practitioner, room and centrifuge at the same time can now be booked again
    again = services.appointment_book(
        actor=desk,
        patient=other,
        kind="maintenance",
        procedure="prp_scalp",
        starts_at=a1.starts_at,
        practitioner_id=a1.practitioner_id,
        room_id=a1.room_id,
        centrifuge_id=a1.centrifuge_id,
    )
    assert again.pk
    with pytest.raises(ValidationError, match="cannot become"):
        services.appointment_cancel(actor=desk, appointment=a1, reason="again")


def _on_the_day(monkeypatch, day):
    """Make ``day`` the clinic's today for check-in (the plan's sessions lie weeks ahead)."""
    monkeypatch.setattr(status_services, "_today", lambda clinic: day)


def _gate(clinic, patient, procedure="prp_scalp"):
    from anagen.care.services import session_gate

    return session_gate(
        actor=clinic.actor(clinic.physician),
        patient=patient,
        procedure=procedure,
        on=timezone.localdate(),
    )


def _signed_session(clinic, appt, signed=True):
    """What procedures' session_sign leaves behind before it completes the appointment."""
    from anagen.procedures.models import TreatmentSession

    now = timezone.now()
    sign = {"status": "signed", "signed_by": clinic.physician, "signed_at": now}
    return TreatmentSession.objects.create(
        clinic=clinic.clinic,
        patient=appt.patient,
        appointment=appt,
        procedure=appt.procedure,
        started_at=now,
        started_by=clinic.nurse,
        completed_at=now,
        **(sign if signed else {}),
    )


def test_check_in_only_on_the_day(clinic_a, plan):
    desk = clinic_a.actor(clinic_a.front_desk)
    a1 = plan.appointments.get(sequence=1)
    with pytest.raises(ValidationError, match="only possible on the day"):
        services.appointment_check_in(actor=desk, appointment=a1)
    a1.refresh_from_db()
    assert a1.status == "booked"


def test_front_desk_checks_in_a_patient_whose_gate_would_fail(clinic_a, plan, monkeypatch):
    """Arrival is not the clinical gate: no consent, no screening, and still checked in."""
    a1 = plan.appointments.get(sequence=1)
    assert not _gate(clinic_a, a1.patient).ok  # the session record would refuse to start
    _on_the_day(monkeypatch, a1.local_date)
    services.appointment_check_in(actor=clinic_a.actor(clinic_a.front_desk), appointment=a1)
    a1.refresh_from_db()
    assert a1.status == "checked_in"
    plan.refresh_from_db()
    assert plan.status == "active"
    assert AuditEvent.objects.filter(action="appointment.checked_in").count() == 1


def test_check_in_needs_the_permission(clinic_a, plan, monkeypatch):
    a1 = plan.appointments.get(sequence=1)
    _on_the_day(monkeypatch, a1.local_date)
    with pytest.raises(PermissionDenied):
        services.appointment_check_in(actor=clinic_a.actor(clinic_a.admin), appointment=a1)


def test_manual_complete_is_refused_for_a_prp_appointment(clinic_a, plan, monkeypatch):
    a1 = plan.appointments.get(sequence=1)
    assert a1.procedure == "prp_scalp" and a1.needs_session_record
    _on_the_day(monkeypatch, a1.local_date)
    services.appointment_check_in(actor=clinic_a.actor(clinic_a.front_desk), appointment=a1)
    for user in (clinic_a.nurse, clinic_a.physician):
        with pytest.raises(ValidationError, match="completes when its session record is signed"):
            services.appointment_complete(actor=clinic_a.actor(user), appointment=a1)
    a1.refresh_from_db()
    assert a1.status == "checked_in"
    # an unsigned session record does not complete it either
    _signed_session(clinic_a, a1, signed=False)
    with pytest.raises(ValidationError, match="completes when its session record is signed"):
        services.appointment_complete(actor=clinic_a.actor(clinic_a.nurse), appointment=a1)


def test_a_consultation_is_completed_by_hand(clinic_a, kit_a, patient_a, monkeypatch):
    day = next_monday()
    appt = services.appointment_book(
        actor=clinic_a.actor(clinic_a.front_desk),
        patient=patient_a,
        kind="consultation",
        procedure="",
        starts_at=at(day, 10),
        practitioner_id=kit_a.physician.pk,
        room_id=kit_a.room1.pk,
    )
    assert not appt.needs_session_record
    _on_the_day(monkeypatch, day)
    services.appointment_check_in(actor=clinic_a.actor(clinic_a.front_desk), appointment=appt)
    with pytest.raises(PermissionDenied):
        services.appointment_complete(actor=clinic_a.actor(clinic_a.front_desk), appointment=appt)
    services.appointment_complete(actor=clinic_a.actor(clinic_a.physician), appointment=appt)
    appt.refresh_from_db()
    assert appt.status == "completed"


def test_completing_the_last_session_completes_plan_and_creates_recall(clinic_a, plan, monkeypatch):
    desk = clinic_a.actor(clinic_a.front_desk)
    physician = clinic_a.actor(clinic_a.physician)
    appts = list(plan.appointments.order_by("sequence"))
    for a in appts:
        _on_the_day(monkeypatch, a.local_date)
        services.appointment_check_in(actor=desk, appointment=a)
        # signing the session record completes the appointment (procedures.session_sign)
        _signed_session(clinic_a, a)
        services.appointment_complete(actor=physician, appointment=a)
        plan.refresh_from_db()
        if a.sequence == 1:
            assert plan.status == "active"
    assert plan.status == "completed"
    recall = Recall.objects.get(plan=plan)
    last = appts[-1].local_date
    # kernel: maintenance 3–6 months after the last session (shifted to when it really ran)
    expected = services.recall_window(plan, last)
    assert (recall.due_from, recall.due_until) == expected
    assert 80 <= (recall.due_from - last).days <= 95
    assert recall.status == "open"
    assert AuditEvent.objects.filter(action="recall.create").count() == 1


def test_no_show_only_after_start(clinic_a, plan):
    a1 = plan.appointments.get(sequence=1)
    with pytest.raises(ValidationError, match="once the time has come"):
        services.appointment_no_show(actor=clinic_a.actor(clinic_a.front_desk), appointment=a1)


def test_roles_for_booking_and_moving(clinic_a, plan):
    a1 = plan.appointments.get(sequence=1)
    with pytest.raises(PermissionDenied):
        services.appointment_move(
            actor=clinic_a.actor(clinic_a.admin),
            appointment=a1,
            new_start=a1.starts_at + dt.timedelta(hours=1),
        )


def test_plan_cancel_cancels_open_appointments(clinic_a, plan):
    services.plan_cancel(actor=clinic_a.actor(clinic_a.front_desk), plan=plan, reason="moved away")
    plan.refresh_from_db()
    assert plan.status == "cancelled"
    assert set(plan.appointments.values_list("status", flat=True)) == {"cancelled"}
    assert not ResourceBooking.objects.filter(active=True).exists()
