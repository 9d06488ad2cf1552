"""Records the scheduling tests share: a consultation booked at the desk, a maintenance recall
whose window opens on 5 June 2026 (after a completed PRP plan)."""

from __future__ import annotations

import datetime as dt

from anagen.patients.models import Patient
from anagen.scheduling import services
from anagen.scheduling.models import Appointment, Recall, TreatmentPlan

RECALL_OPENS = dt.date(2026, 6, 5)
RECALL_CLOSES = dt.date(2026, 9, 5)


def book_consultation(staff, kit, patient: Patient, when: dt.datetime) -> Appointment:
    """A consultation with the kit's physician in room 1, booked by the front desk."""
    return services.appointment_book(
        actor=staff.actor(staff.front_desk),
        patient=patient,
        kind="consultation",
        procedure="",
        starts_at=when,
        practitioner_id=kit.physician.pk,
        room_id=kit.room1.pk,
    )


def make_recall(staff, patient: Patient) -> Recall:
    """A completed three-session PRP plan and its maintenance recall (5 June–5 Sep 2026)."""
    plan = TreatmentPlan.objects.create(
        clinic=staff.clinic,
        patient=patient,
        protocol_id="prp-aga-monthly-3",
        protocol_name="PRP AGA",
        procedure="prp_scalp",
        start_on=dt.date(2026, 1, 5),
        status="completed",
        created_by=staff.physician,
    )
    return Recall.objects.create(
        clinic=staff.clinic,
        patient=patient,
        plan=plan,
        due_from=RECALL_OPENS,
        due_until=RECALL_CLOSES,
    )
