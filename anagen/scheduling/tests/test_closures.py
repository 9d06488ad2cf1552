"""Public holidays, clinic closures and staff leave block slots; the series planner skips them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from anagen.accounts.models import Membership
from anagen.scheduling import services
from anagen.scheduling.tests.conftest import at, next_monday

pytestmark = pytest.mark.django_db

PROTOCOL = "prp-aga-monthly-3"


def _england(staff) -> None:
    staff.clinic.holiday_country, staff.clinic.holiday_region = "GB", "ENG"
    staff.clinic.save(update_fields=["holiday_country", "holiday_region"])


def _proposed_days(staff, patient, start: dt.date) -> set[dt.date]:
    preview = services.plan_preview(
        actor=staff.actor(staff.physician), patient=patient, protocol_id=PROTOCOL, start_on=start
    )
    tz = at(start, 9).tzinfo
    return {slot.starts_at.astimezone(tz).date() for s in preview for slot in s.slots}


def _christmas_start() -> dt.date:
    # Next year's 28 December: the first session's window runs to 4 January.
    return dt.date(timezone.now().year + 1, 12, 28)


def test_series_planner_never_proposes_28_dec_or_1_jan_in_england(clinic_a, kit_a, patient_a):
    _england(clinic_a)
    start = _christmas_start()
    days = _proposed_days(clinic_a, patient_a, start)
    assert days, "some free slots are proposed"
    assert dt.date(start.year, 12, 28) not in days
    assert dt.date(start.year + 1, 1, 1) not in days
    plan = services.plan_book_series(
        actor=clinic_a.actor(clinic_a.physician),
        patient=patient_a,
        protocol_id=PROTOCOL,
        start_on=start,
    )
    booked = {a.local_date for a in plan.appointments.all()}
    assert dt.date(start.year, 12, 28) not in booked
    assert dt.date(start.year + 1, 1, 1) not in booked


def test_without_a_country_the_holidays_are_ordinary_days(clinic_a, kit_a, patient_a):
    start = _christmas_start()
    if start.weekday() >= 5:
        pytest.skip("28 December is a weekend that year")
    assert start in _proposed_days(clinic_a, patient_a, start)


def test_clinic_closure_blocks_the_planner_and_single_bookings(clinic_a, kit_a, patient_a):
    start = next_monday()
    admin = clinic_a.actor(clinic_a.admin)
    services.closure_add(
        actor=admin, starts_on=start, ends_on=start + dt.timedelta(days=1), reason="Training"
    )
    days = _proposed_days(clinic_a, patient_a, start)
    assert start not in days and start + dt.timedelta(days=1) not in days
    with pytest.raises(ValidationError) as err:
        services.appointment_book(
            actor=clinic_a.actor(clinic_a.front_desk),
            patient=patient_a,
            kind="consultation",
            procedure="",
            starts_at=at(start, 10),
            practitioner_id=kit_a.physician.pk,
            room_id=kit_a.room1.pk,
        )
    assert "closed" in " ".join(err.value.messages)


def test_staff_leave_blocks_only_that_practitioner(clinic_a, kit_a, patient_a):
    start = next_monday()
    member = Membership.objects.get(user=clinic_a.physician, clinic=clinic_a.clinic)
    services.leave_add(
        actor=clinic_a.actor(clinic_a.admin),
        membership_id=member.pk,
        starts_on=start,
        ends_on=start,
        reason="Conference",
    )
    desk = clinic_a.actor(clinic_a.front_desk)
    with pytest.raises(ValidationError):
        services.appointment_book(
            actor=desk,
            patient=patient_a,
            kind="consultation",
            procedure="",
            starts_at=at(start, 10),
            practitioner_id=kit_a.physician.pk,
            room_id=kit_a.room1.pk,
        )
    appt = services.appointment_book(
        actor=desk,
        patient=patient_a,
        kind="consultation",
        procedure="",
        starts_at=at(start, 10),
        practitioner_id=kit_a.nurse.pk,
        room_id=kit_a.room1.pk,
    )
    assert appt.practitioner == kit_a.nurse


def test_closures_need_resources_manage_and_a_sane_range(clinic_a):
    from django.core.exceptions import PermissionDenied

    day = next_monday()
    with pytest.raises(PermissionDenied):
        services.closure_add(
            actor=clinic_a.actor(clinic_a.front_desk), starts_on=day, ends_on=day, reason="x"
        )
    with pytest.raises(ValidationError):
        services.closure_add(
            actor=clinic_a.actor(clinic_a.admin),
            starts_on=day,
            ends_on=day - dt.timedelta(days=1),
            reason="x",
        )
