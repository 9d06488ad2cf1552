"""The chart's panels and the patient banner cost the same queries whatever they show (issue 15).

A patient with nothing recorded and one whose every panel has rows (allergies, more adverse events
than the banner lists, assessments, screenings, consents, a booked plan, measurement visits and
photo sets): the chart runs the same number of queries for both, for every role that opens it.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from anagen.care.tests.helpers import ready_patient, record_intake
from anagen.outcomes.tests.helpers import record
from anagen.patients.models import Patient
from anagen.patients.selectors import ALERT_EVENTS_SHOWN, patient_alerts
from anagen.procedures.models import AdverseEvent
from anagen.procedures.tests.helpers import start
from anagen.scheduling import services as scheduling_services
from anagen.scheduling.tests.conftest import make_kit, next_monday
from conftest import make_patient

pytestmark = pytest.mark.django_db


def _full(staff) -> Patient:
    patient = make_patient(staff, given_name="Full", family_name="Panels", phone="07700 900999")
    ready_patient(staff, patient)
    session = start(staff, patient)
    for i in range(ALERT_EVENTS_SHOWN + 3):
        AdverseEvent.objects.create(
            session=session,
            patient=patient,
            term="bruising",
            ctcae_grade=1 + i % 3,
            onset_at=timezone.now() - dt.timedelta(hours=i + 1),
            relatedness="probable",
            action="none",
            outcome="recovering",
            recorded_by=staff.nurse,
        )
    record_intake(
        staff,
        patient,
        allergies=[{"substance": f"Substance {i}", "reaction": "rash"} for i in range(4)],
    )
    for months in range(3):
        record(
            staff,
            patient,
            dt.date(2026, 1 + months * 3, 5),
            "baseline" if not months else "follow_up",
            density=120.0 + months,
        )
    make_kit(staff)
    scheduling_services.plan_book_series(
        actor=staff.actor(staff.physician),
        patient=patient,
        protocol_id="prp-aga-monthly-3",
        start_on=next_monday(),
    )
    return patient


def _queries(client, patient: Patient) -> tuple[int, str]:
    url = reverse("patient-detail", args=[patient.pk])
    client.get(url)  # warm: the first read of a chart draws its cached parts
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx), response.content.decode()


def test_chart_queries_do_not_grow_with_panel_rows(clinic_a, patient_a):
    full = _full(clinic_a)
    for user in (clinic_a.physician, clinic_a.nurse, clinic_a.front_desk):
        client = clinic_a.client(user)
        empty_count, _ = _queries(client, patient_a)
        full_count, body = _queries(client, full)
        assert empty_count == full_count, (user, empty_count, full_count)
        if user != clinic_a.front_desk:
            assert "Substance 3 (rash)" in body and "and earlier ones" in body
            assert "3 measurement visits" in body


def test_banner_is_one_query(clinic_a, patient_a):
    full = _full(clinic_a)
    actor = clinic_a.actor(clinic_a.physician)
    for patient in (patient_a, full):
        with CaptureQueriesContext(connection) as ctx:
            alerts = patient_alerts(actor=actor, patient=patient)
        assert len(ctx.captured_queries) == 1
    assert alerts is not None
    assert [a.substance for a in alerts.allergies] == [f"Substance {i}" for i in range(4)]
    assert len(alerts.adverse_events) == ALERT_EVENTS_SHOWN and alerts.more_events
    onsets = [e.onset_at for e in alerts.adverse_events]
    assert onsets == sorted(onsets, reverse=True)
