"""The chart's "Plan and appointments" card in one query (issue 15): it shows exactly what the
ORM reads of the same records give (plan with its counts, next open appointments, recall)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext

from anagen.scheduling import selectors, services
from anagen.scheduling.tests.conftest import next_monday
from anagen.scheduling.tests.factories import make_recall

pytestmark = pytest.mark.django_db


def _both(staff, patient) -> tuple[str, str]:
    actor = staff.actor(staff.physician)
    rendered = []
    for read in (selectors.patient_schedule, selectors.patient_schedule_card):
        context = {"patient": patient, "actor": actor, "s": read(actor=actor, patient=patient)}
        rendered.append(render_to_string("scheduling/_chart_card.html", context))
    return rendered[0], rendered[1]


def test_card_matches_the_full_reads(clinic_a, kit_a, patient_a):
    empty, fast = _both(clinic_a, patient_a)
    assert fast == empty and "No treatment plan yet." in fast
    make_recall(clinic_a, patient_a)
    plan = services.plan_book_series(
        actor=clinic_a.actor(clinic_a.physician),
        patient=patient_a,
        protocol_id="prp-aga-monthly-3",
        start_on=next_monday(),
    )
    first = plan.appointments.order_by("starts_at")[0]
    services.appointment_cancel(
        actor=clinic_a.actor(clinic_a.physician), appointment=first, reason="ill"
    )
    full, fast = _both(clinic_a, patient_a)
    assert fast == full
    assert 'id="current-plan"' in fast and 'id="recall"' in fast and 'id="upcoming"' in fast
    assert "0 of 2 sessions done" in fast  # the cancelled one is not counted
    actor = clinic_a.actor(clinic_a.physician)
    with CaptureQueriesContext(connection) as queries:
        selectors.patient_schedule_card(actor=actor, patient=patient_a)
    assert len(queries) == 1
