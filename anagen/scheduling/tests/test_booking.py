"""Series preview and booking: windows, free slots, licences, all-or-nothing, no double booking."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from anagen.audit.models import AuditEvent
from anagen.scheduling import services
from anagen.scheduling.models import Appointment, ResourceBooking, TreatmentPlan
from anagen.scheduling.services import SlotChoice
from anagen.scheduling.tests.conftest import at, next_monday
from conftest import make_patient

pytestmark = pytest.mark.django_db

PROTOCOL = "prp-aga-monthly-3"


def test_preview_gives_each_session_its_window_and_free_slots(clinic_a, kit_a, patient_a):
    start = next_monday()
    preview = services.plan_preview(
        actor=clinic_a.actor(clinic_a.physician),
        patient=patient_a,
        protocol_id=PROTOCOL,
        start_on=start,
    )
    assert [s.n for s in preview] == [1, 2, 3]  # maintenance is a recall, not a booking
    first = preview[0]
    assert first.target_on == start
    assert first.window_earliest == start  # never before the start
    assert first.window_latest == start + dt.timedelta(days=7)
    assert first.duration_minutes == 75
    assert first.slots, "a free slot inside the window"
    slot = first.slots[0]
    assert slot.starts_at == at(start, 9, 0)  # first opening of the target day
    assert slot.ends_at - slot.starts_at == dt.timedelta(minutes=75)
    assert slot.centrifuge == kit_a.centrifuge
    for s in preview:
        for slot in s.slots:
            local = slot.starts_at.astimezone(at(start, 9).tzinfo).date()
            assert s.window_earliest <= local <= s.window_latest
            assert local.weekday() < 5  # working days only


def test_book_series_books_every_session_with_phase_bookings(clinic_a, kit_a, patient_a):
    start = next_monday()
    plan = services.plan_book_series(
        actor=clinic_a.actor(clinic_a.physician),
        patient=patient_a,
        protocol_id=PROTOCOL,
        start_on=start,
    )
    appts = list(plan.appointments.order_by("sequence"))
    assert [a.sequence for a in appts] == [1, 2, 3]
    assert plan.procedure == "prp_scalp" and plan.status == "planned"
    first = appts[0]
    rows: dict[tuple[int | None, str], ResourceBooking] = {
        (b.resource_id, b.phase): b for b in first.bookings.all()
    }
    # One row per resource and visit (its touching phases joined; ``phase`` is the first):
    # the room for the whole visit from the cream on, the practitioner from the draw to the end
    # of the injection, the centrifuge for the draw and spin.
    assert first.bookings.count() == 3
    visit = rows[(first.room_id, "anaesthetic_cream")]
    assert (visit.starts_at, visit.ends_at) == (first.starts_at, first.ends_at)
    assert first.ends_at - first.starts_at == dt.timedelta(minutes=75)
    spin = rows[(first.centrifuge_id, "draw_and_spin")]
    assert spin.starts_at == first.starts_at + dt.timedelta(minutes=45)
    assert spin.ends_at - spin.starts_at == dt.timedelta(minutes=15)
    hands = rows[(first.practitioner_id, "draw_and_spin")]
    assert (hands.starts_at, hands.ends_at) == (spin.starts_at, first.ends_at)
    assert (first.practitioner_id, "anaesthetic_cream") not in rows
    assert AuditEvent.objects.filter(action="plan.create", patient=patient_a).count() == 1


def test_second_patient_gets_the_next_free_combination(clinic_a, kit_a, patient_a):
    start = next_monday()
    physician = clinic_a.actor(clinic_a.physician)
    other = make_patient(clinic_a, given_name="Ana", family_name="Lima")
    p1 = services.plan_book_series(
        actor=physician, patient=patient_a, protocol_id=PROTOCOL, start_on=start
    )
    p2 = services.plan_book_series(
        actor=physician, patient=other, protocol_id=PROTOCOL, start_on=start
    )
    a1, a2 = p1.appointments.get(sequence=1), p2.appointments.get(sequence=1)
    # Same start is possible with the other room and practitioner except the one centrifuge:
    # the spin overlaps, so the second session starts after the first spin ends.
    assert a2.starts_at >= a1.starts_at + dt.timedelta(minutes=15)
    overlapping = [
        (x.resource_id, y.resource_id)
        for x in a1.bookings.all()
        for y in a2.bookings.all()
        if x.resource_id == y.resource_id and x.starts_at < y.ends_at and y.starts_at < x.ends_at
    ]
    assert overlapping == []


def test_chosen_slot_that_is_taken_is_refused_and_nothing_is_booked(clinic_a, kit_a, patient_a):
    start = next_monday()
    physician = clinic_a.actor(clinic_a.physician)
    services.plan_book_series(
        actor=physician, patient=patient_a, protocol_id=PROTOCOL, start_on=start
    )
    other = make_patient(clinic_a, given_name="Ana", family_name="Lima")
    choices = [
        SlotChoice(1, at(start, 13), kit_a.physician.pk, kit_a.room1.pk, kit_a.centrifuge.pk),
        SlotChoice(
            2,
            at(start + dt.timedelta(days=28), 9),
            kit_a.nurse.pk,
            kit_a.room2.pk,
            kit_a.centrifuge.pk,
        ),
    ]
    # session 3 takes exactly the slot the first patient's session 3 holds
    s3 = TreatmentPlan.objects.get(patient=patient_a).appointments.get(sequence=3)
    choices.append(SlotChoice(3, s3.starts_at, s3.practitioner_id, s3.room_id, s3.centrifuge_id))
    before = Appointment.objects.count(), ResourceBooking.objects.count()
    with pytest.raises(ValidationError) as exc:
        services.plan_book_series(
            actor=physician, patient=other, protocol_id=PROTOCOL, start_on=start, choices=choices
        )
    text = " ".join(exc.value.messages)
    assert "Session 3:" in text and "is already booked at" in text
    assert (Appointment.objects.count(), ResourceBooking.objects.count()) == before
    assert not TreatmentPlan.objects.filter(patient=other).exists()


def test_choice_outside_window_and_unlicensed_practitioner_are_refused(clinic_a, kit_a, patient_a):
    start = next_monday()
    physician = clinic_a.actor(clinic_a.physician)
    kit_a.nurse.licensed_procedures = ["mesotherapy_scalp"]
    kit_a.nurse.save()

    def choices(day1: dt.date, practitioner: int) -> list[SlotChoice]:
        c = kit_a.centrifuge.pk
        return [
            SlotChoice(1, at(day1, 10), practitioner, kit_a.room1.pk, c),
            SlotChoice(
                2, at(start + dt.timedelta(days=31), 10), kit_a.physician.pk, kit_a.room1.pk, c
            ),
            SlotChoice(
                3, at(start + dt.timedelta(days=59), 10), kit_a.physician.pk, kit_a.room1.pk, c
            ),
        ]

    with pytest.raises(ValidationError, match="outside its window"):
        services.plan_book_series(
            actor=physician,
            patient=patient_a,
            protocol_id=PROTOCOL,
            start_on=start,
            choices=choices(start + dt.timedelta(days=9), kit_a.physician.pk),
        )
    with pytest.raises(ValidationError, match="not licensed for PRP injection, scalp"):
        services.plan_book_series(
            actor=physician,
            patient=patient_a,
            protocol_id=PROTOCOL,
            start_on=start,
            choices=choices(start, kit_a.nurse.pk),
        )
    assert not Appointment.objects.exists()


def test_outside_working_hours_is_refused(clinic_a, kit_a, patient_a):
    start = next_monday()
    with pytest.raises(ValidationError, match="is not working at"):
        services.appointment_book(
            actor=clinic_a.actor(clinic_a.front_desk),
            patient=patient_a,
            kind="consultation",
            procedure="",
            starts_at=at(start, 17, 15),
            practitioner_id=kit_a.physician.pk,
            room_id=kit_a.room1.pk,
        )


def test_unknown_protocol_and_past_start_are_clear_errors(clinic_a, kit_a, patient_a):
    physician = clinic_a.actor(clinic_a.physician)
    with pytest.raises(ValidationError) as exc:
        services.plan_preview(
            actor=physician, patient=patient_a, protocol_id="nope", start_on=next_monday()
        )
    assert "protocol_id" in exc.value.message_dict
    with pytest.raises(ValidationError, match="cannot start in the past"):
        services.plan_preview(
            actor=physician,
            patient=patient_a,
            protocol_id=PROTOCOL,
            start_on=dt.date.today() - dt.timedelta(days=3),
        )


def test_only_a_physician_chooses_a_protocol(clinic_a, kit_a, patient_a):
    for user in (clinic_a.nurse, clinic_a.front_desk, clinic_a.admin):
        with pytest.raises(PermissionDenied):
            services.plan_book_series(
                actor=clinic_a.actor(user),
                patient=patient_a,
                protocol_id=PROTOCOL,
                start_on=next_monday(),
            )


def test_no_free_slot_says_so(clinic_a, kit_a, patient_a):
    from anagen.scheduling.models import WorkingHours

    WorkingHours.objects.filter(resource=kit_a.physician).delete()
    WorkingHours.objects.create(
        resource=kit_a.physician,
        weekday=6,
        start=at(next_monday(), 9).time(),
        end=at(next_monday(), 10).time(),
    )
    WorkingHours.objects.filter(resource=kit_a.nurse).delete()
    WorkingHours.objects.create(
        resource=kit_a.nurse,
        weekday=6,
        start=at(next_monday(), 9).time(),
        end=at(next_monday(), 10).time(),
    )
    # Practitioners work Sundays only, rooms weekdays only: nothing fits.
    with pytest.raises(ValidationError, match="no free slot"):
        services.plan_book_series(
            actor=clinic_a.actor(clinic_a.physician),
            patient=patient_a,
            protocol_id=PROTOCOL,
            start_on=next_monday(),
        )


def test_mesotherapy_needs_no_centrifuge(clinic_a, kit_a, patient_a):
    plan = services.plan_book_series(
        actor=clinic_a.actor(clinic_a.physician),
        patient=patient_a,
        protocol_id="meso-face-ha-3x4w",
        start_on=next_monday(),
    )
    a = plan.appointments.get(sequence=1)
    assert a.centrifuge is None
    assert sorted(a.bookings.values_list("resource_id", "phase", "starts_at", "ends_at")) == sorted(
        [
            (a.room_id, "anaesthetic_cream", a.starts_at, a.ends_at),
            (a.practitioner_id, "injection", a.starts_at + dt.timedelta(minutes=45), a.ends_at),
        ]
    )
