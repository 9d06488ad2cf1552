"""The database itself refuses rows that break the scheduling rules (check constraints)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from anagen.scheduling.models import (
    Appointment,
    Recall,
    ReminderRule,
    Resource,
    ResourceBooking,
    TreatmentPlan,
    WorkingHours,
)

pytestmark = pytest.mark.django_db


def refused(make) -> bool:
    try:
        with transaction.atomic():
            make()
    except IntegrityError:
        return True
    return False


def _appt(clinic, kit, patient, **overrides):
    now = timezone.now()
    data = {
        "clinic": clinic.clinic,
        "patient": patient,
        "kind": "consultation",
        "starts_at": now,
        "ends_at": now + dt.timedelta(minutes=30),
        "practitioner": kit.physician,
        "room": kit.room1,
    }
    data.update(overrides)
    return Appointment.objects.create(**data)


def test_appointments_and_bookings(clinic_a, kit_a, patient_a):
    now = timezone.now()
    assert refused(lambda: _appt(clinic_a, kit_a, patient_a, ends_at=now))
    assert refused(lambda: _appt(clinic_a, kit_a, patient_a, sequence=0))
    assert refused(lambda: _appt(clinic_a, kit_a, patient_a, status="lost"))
    assert refused(lambda: _appt(clinic_a, kit_a, patient_a, kind="haircut"))
    assert refused(
        lambda: _appt(
            clinic_a,
            kit_a,
            patient_a,
            window_earliest=dt.date(2026, 3, 10),
            window_latest=dt.date(2026, 3, 1),
        )
    )
    assert refused(lambda: _appt(clinic_a, kit_a, patient_a, window_earliest=dt.date(2026, 3, 1)))
    good = _appt(clinic_a, kit_a, patient_a)
    assert refused(
        lambda: ResourceBooking.objects.create(
            appointment=good, resource=kit_a.room1, phase="consultation", starts_at=now, ends_at=now
        )
    )
    assert refused(
        lambda: ResourceBooking.objects.create(
            appointment=good,
            resource=kit_a.room1,
            phase="nap",
            starts_at=now,
            ends_at=now + dt.timedelta(minutes=5),
        )
    )


def test_resources_and_hours(clinic_a, kit_a):
    c = clinic_a.clinic
    assert refused(
        lambda: Resource.objects.create(clinic=c, kind="centrifuge", name="x", rotor_radius_cm=0)
    )
    assert refused(
        lambda: Resource.objects.create(
            clinic=c, kind="room", name="x", rotor_radius_cm=Decimal("5")
        )
    )
    assert refused(lambda: Resource.objects.create(clinic=c, kind="spaceship", name="x"))
    assert refused(
        lambda: WorkingHours.objects.create(
            resource=kit_a.room1, weekday=7, start=dt.time(9), end=dt.time(17)
        )
    )
    assert refused(
        lambda: WorkingHours.objects.create(
            resource=kit_a.room1, weekday=1, start=dt.time(17), end=dt.time(9)
        )
    )


def test_reminder_rules_recalls_and_plans(clinic_a, patient_a):
    c = clinic_a.clinic
    assert refused(lambda: ReminderRule.objects.create(clinic=c, channel="sms", lead_hours=0))
    assert refused(lambda: ReminderRule.objects.create(clinic=c, channel="sms", lead_hours=24 * 15))
    assert refused(lambda: ReminderRule.objects.create(clinic=c, channel="fax", lead_hours=2))
    plan = TreatmentPlan.objects.create(
        clinic=c,
        patient=patient_a,
        protocol_id="prp-aga-monthly-3",
        protocol_name="PRP",
        procedure="prp_scalp",
        start_on=dt.date(2026, 1, 5),
        created_by=clinic_a.physician,
    )
    assert refused(
        lambda: Recall.objects.create(
            clinic=c,
            patient=patient_a,
            plan=plan,
            due_from=dt.date(2026, 9, 1),
            due_until=dt.date(2026, 6, 1),
        )
    )
    assert refused(lambda: TreatmentPlan.objects.filter(pk=plan.pk).update(status="paused"))
