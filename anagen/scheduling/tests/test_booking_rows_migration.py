"""Migration 0013 joins one-row-per-phase bookings into one row per resource and visit."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from django.apps import apps
from django.db import connection

from anagen.scheduling import availability as av
from anagen.scheduling.models import Appointment, ResourceBooking
from anagen.scheduling.tests.conftest import at, next_monday

pytestmark = pytest.mark.django_db

MIGRATION = importlib.import_module(
    "anagen.scheduling.migrations.0013_one_booking_per_resource_hold"
)
PROTOCOL = "prp-aga-monthly-3"


class _Editor:
    """What the migration uses of a schema editor (its connection and ``execute``)."""

    connection = connection

    def execute(self, sql: str) -> None:
        with connection.cursor() as cur:
            cur.execute(sql)


def _migrate() -> None:
    MIGRATION.join_touching_holds(apps, _Editor())


def _visit(clinic, kit, patient, start, *, procedure="prp_scalp", status="booked"):
    holds = av.phase_layout(procedure, PROTOCOL if procedure else None)
    appt = Appointment.objects.create(
        clinic=clinic.clinic,
        patient=patient,
        kind="induction" if procedure else "consultation",
        procedure=procedure,
        status=status,
        starts_at=start,
        ends_at=start + dt.timedelta(minutes=av.duration_minutes(holds)),
        practitioner=kit.physician,
        room=kit.room1,
        centrifuge=kit.centrifuge if procedure == "prp_scalp" else None,
    )
    combo = av.Combo(kit.physician, kit.room1, appt.centrifuge)
    active = status == "booked"
    # The rows as the code before this migration wrote them: one per held phase.
    ResourceBooking.objects.bulk_create(
        ResourceBooking(
            appointment=appt, resource=r, phase=p, starts_at=s, ends_at=e, active=active
        )
        for r, p, s, e in av.holds_for(holds, combo, start)
    )
    return appt, combo


def _rows(appt):
    return sorted(
        (b.resource_id, b.phase, b.starts_at, b.ends_at, b.active)
        for b in ResourceBooking.objects.filter(appointment=appt)
    )


def _expected(appt, combo, procedure, active=True):
    holds = av.layout(procedure, PROTOCOL if procedure else None)
    return sorted(
        (r.pk, p, s, e, active) for r, p, s, e in av.holds_for(holds, combo, appt.starts_at)
    )


def test_layout_joins_each_resources_touching_phases():
    prp = av.layout("prp_scalp", PROTOCOL)
    assert [(h.role, h.phase, h.start_min, h.end_min) for h in prp] == [
        ("room", "anaesthetic_cream", 0, 75),
        ("practitioner", "draw_and_spin", 45, 75),
        ("centrifuge", "draw_and_spin", 45, 60),
    ]
    assert [(h.role, h.phase, h.start_min, h.end_min) for h in av.layout("")] == [
        ("room", "consultation", 0, 30),
        ("practitioner", "consultation", 0, 30),
    ]
    # A resource let go in between keeps two holds (bookable in the gap).
    gap = av.merge_holds(
        [
            av.PhaseHold("practitioner", "draw_and_spin", 45, 50),
            av.PhaseHold("room", "anaesthetic_cream", 0, 45),
            av.PhaseHold("practitioner", "injection", 60, 75),
            av.PhaseHold("room", "injection", 45, 75),
        ]
    )
    assert [(h.role, h.phase, h.start_min, h.end_min) for h in gap] == [
        ("practitioner", "draw_and_spin", 45, 50),
        ("practitioner", "injection", 60, 75),
        ("room", "anaesthetic_cream", 0, 75),
    ]


def test_migration_joins_phase_rows_like_the_booking_service_writes_them(
    clinic_a, kit_a, patient_a
):
    day = next_monday()
    prp, prp_combo = _visit(clinic_a, kit_a, patient_a, at(day, 9))
    assert ResourceBooking.objects.filter(appointment=prp).count() == 6
    # Back to back in the same room and with the same practitioner: rows of different visits
    # touch but stay apart.
    meso, meso_combo = _visit(
        clinic_a, kit_a, patient_a, at(day, 10, 15), procedure="mesotherapy_scalp"
    )
    consult, consult_combo = _visit(clinic_a, kit_a, patient_a, at(day, 11, 30), procedure="")
    cancelled, cancelled_combo = _visit(clinic_a, kit_a, patient_a, at(day, 14), status="cancelled")
    # A practitioner let go during the spin of some visit: two rows with a gap stay two.
    gap, _ = _visit(clinic_a, kit_a, patient_a, at(day, 16), procedure="")
    ResourceBooking.objects.filter(appointment=gap).delete()
    ResourceBooking.objects.bulk_create(
        ResourceBooking(appointment=gap, resource=kit_a.nurse, phase=p, starts_at=s, ends_at=e)
        for p, s, e in [
            ("draw_and_spin", at(day, 16), at(day, 16, 5)),
            ("injection", at(day, 16, 15), at(day, 16, 30)),
        ]
    )
    gap_before = _rows(gap)

    _migrate()

    assert _rows(prp) == _expected(prp, prp_combo, "prp_scalp")
    assert len(_rows(prp)) == 3
    assert _rows(meso) == _expected(meso, meso_combo, "mesotherapy_scalp")
    assert len(_rows(meso)) == 2
    assert _rows(consult) == _expected(consult, consult_combo, "")
    assert _rows(cancelled) == _expected(cancelled, cancelled_combo, "prp_scalp", active=False)
    assert _rows(gap) == gap_before
    # The kept row is the visit's first (its id survives), and running again changes nothing.
    first_room = min(
        ResourceBooking.objects.filter(appointment=prp, resource=kit_a.room1).values_list(
            "pk", flat=True
        )
    )
    before = sorted(ResourceBooking.objects.values_list("pk", "starts_at", "ends_at"))
    _migrate()
    assert sorted(ResourceBooking.objects.values_list("pk", "starts_at", "ends_at")) == before
    assert ResourceBooking.objects.get(pk=first_room).phase == "anaesthetic_cream"
