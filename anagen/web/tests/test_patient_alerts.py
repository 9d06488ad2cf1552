"""Allergy and adverse-event banner on every clinical page of a patient (issue 10, point 9)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from anagen.care.models import Assessment, Consent, ScreeningRecord
from anagen.care.tests.helpers import ready_patient, record_intake
from anagen.patients.selectors import patient_alerts
from anagen.procedures.models import AdverseEvent
from anagen.procedures.tests.helpers import start
from anagen.scheduling import services as scheduling_services
from anagen.scheduling.models import TreatmentPlan
from anagen.scheduling.tests.conftest import make_kit, next_monday
from conftest import make_patient

pytestmark = pytest.mark.django_db


def _adverse_event(staff, session, term: str = "bruising", grade: int = 2) -> AdverseEvent:
    return AdverseEvent.objects.create(
        session=session,
        patient=session.patient,
        term=term,
        ctcae_grade=grade,
        onset_at=timezone.now() - dt.timedelta(minutes=30),
        relatedness="probable",
        action="none",
        outcome="recovering",
        recorded_by=staff.nurse,
    )


@pytest.fixture
def treated(clinic_a, patient_a):
    """A patient with a session, an earlier adverse event, and a latest intake with an allergy."""
    ready_patient(clinic_a, patient_a)
    session = start(clinic_a, patient_a)
    _adverse_event(clinic_a, session)
    record_intake(
        clinic_a,
        patient_a,
        allergies=[{"substance": "Penicillin", "reaction": "hives"}],
    )
    return patient_a, session


def _pages(staff, patient, session) -> dict[str, str]:
    pk = patient.pk
    assessment = Assessment.objects.filter(patient=patient).order_by("-version").first()
    screening = ScreeningRecord.objects.filter(patient=patient).order_by("-pk").first()
    consent = Consent.objects.filter(patient=patient).first()
    assert assessment and screening and consent
    pages = {
        "chart": reverse("patient-detail", args=[pk]),
        "intake": reverse("intake-detail", args=[pk, 2]),
        "intake form": reverse("intake-create", args=[pk]),
        "assessment": reverse("care-assessment-detail", args=[pk, assessment.version]),
        "assessment form": reverse("care-assessment-create", args=[pk]),
        "screening": reverse("care-screening-detail", args=[pk, screening.pk]),
        "screening form": reverse("care-screening-create", args=[pk]),
        "consents": reverse("care-consent-list", args=[pk]),
        "consent": reverse("care-consent-detail", args=[pk, consent.pk]),
        "plan form": reverse("plan-new", args=[pk]),
        "session start": reverse("procedures-session-start", args=[pk]),
        "session record": reverse("procedures-session-detail", args=[pk, session.pk]),
        "measurements": reverse("outcomes-measurements", args=[pk]),
        "measurement form": reverse("outcomes-measurement-create", args=[pk]),
        "progress": reverse("outcomes-progress", args=[pk]),
        "photos": reverse("outcomes-photos", args=[pk]),
    }
    plan = _plan(staff, patient)
    pages["plan"] = reverse("plan-detail", args=[plan.pk])
    appointment = plan.appointments.order_by("sequence").first()
    assert appointment is not None
    pages["appointment"] = reverse("appointment-detail", args=[appointment.pk])
    return pages


def _plan(staff, patient) -> TreatmentPlan:
    """A booked series (plan page and its appointments' pages)."""
    make_kit(staff)
    return scheduling_services.plan_book_series(
        actor=staff.actor(staff.physician),
        patient=patient,
        protocol_id="prp-aga-monthly-3",
        start_on=next_monday(),
    )


def test_banner_on_every_clinical_page(clinic_a, treated):
    patient, session = treated
    pages = _pages(clinic_a, patient, session)
    for user in (clinic_a.physician, clinic_a.nurse):
        client = clinic_a.client(user)
        for name, url in pages.items():
            response = client.get(url)
            if response.status_code == 403 and user == clinic_a.nurse:
                continue  # a page the nurse's role may not open (e.g. a new plan)
            assert response.status_code == 200, (name, user, response.status_code)
            body = response.content.decode()
            assert 'id="patient-alerts"' in body, name
            assert body.count('id="patient-alerts"') == 1, name
            assert "Penicillin (hives)" in body, name
            assert "Bruising, grade 2" in body, name


def test_no_banner_for_front_desk(clinic_a, treated):
    patient, _session = treated
    client = clinic_a.client(clinic_a.front_desk)
    for url in (
        reverse("patient-detail", args=[patient.pk]),
        reverse("patient-edit", args=[patient.pk]),
    ):
        body = client.get(url).content.decode()
        assert 'id="patient-alerts"' not in body and "Penicillin" not in body
    assert patient_alerts(actor=clinic_a.actor(clinic_a.front_desk), patient=patient) is None


def test_no_banner_when_nothing_is_recorded(clinic_a, patient_a):
    client = clinic_a.client(clinic_a.physician)
    body = client.get(reverse("patient-detail", args=[patient_a.pk])).content.decode()
    assert 'id="patient-alerts"' not in body
    record_intake(clinic_a, patient_a)  # an intake without allergies
    body = client.get(reverse("patient-detail", args=[patient_a.pk])).content.decode()
    assert 'id="patient-alerts"' not in body


def test_allergies_come_from_the_latest_intake(clinic_a, patient_a):
    record_intake(clinic_a, patient_a, allergies=[{"substance": "Lidocaine", "reaction": ""}])
    actor = clinic_a.actor(clinic_a.physician)
    alerts = patient_alerts(actor=actor, patient=patient_a)
    assert alerts and [a.substance for a in alerts.allergies] == ["Lidocaine"]
    record_intake(clinic_a, patient_a, allergies=[{"substance": "Latex", "reaction": "rash"}])
    alerts = patient_alerts(actor=actor, patient=patient_a)
    assert alerts and [a.substance for a in alerts.allergies] == ["Latex"]


def test_banner_queries_do_not_grow_with_history(clinic_a, treated):
    patient, session = treated
    actor = clinic_a.actor(clinic_a.physician)
    with CaptureQueriesContext(connection) as few:
        alerts = patient_alerts(actor=actor, patient=patient)
    assert alerts and len(few.captured_queries) <= 2
    for i in range(14):
        _adverse_event(clinic_a, session, grade=1 + i % 3)
        record_intake(
            clinic_a, patient, allergies=[{"substance": f"S{i}", "reaction": ""} for _ in range(2)]
        )
    with CaptureQueriesContext(connection) as many:
        alerts = patient_alerts(actor=actor, patient=patient)
    assert len(many.captured_queries) == len(few.captured_queries)
    assert alerts is not None and len(alerts.adverse_events) == 10 and alerts.more_events


def test_another_clinic_sees_nothing(clinic_a, clinic_b, treated):
    patient, _session = treated
    assert patient_alerts(actor=clinic_b.actor(clinic_b.physician), patient=patient) is None
    other = make_patient(clinic_b)
    assert not patient_alerts(actor=clinic_b.actor(clinic_b.physician), patient=other)
