"""The home page is the day's worklist: sections by permission, one click to act, flat queries."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from anagen.procedures.models import Lot, Product, TreatmentSession
from anagen.scheduling.models import Appointment
from anagen.scheduling.tests.conftest import make_kit
from conftest import make_patient

pytestmark = pytest.mark.django_db


def _today_at(staff, hh: int) -> dt.datetime:
    actor = staff.actor(staff.front_desk)
    return dt.datetime.combine(actor.today(), dt.time(hh, 0), tzinfo=actor.tz)


def _arrival(staff, kit, patient, hh: int = 10, status: str = "booked") -> Appointment:
    start = _today_at(staff, hh)
    return Appointment.objects.create(
        clinic=staff.clinic,
        patient=patient,
        kind="consultation",
        starts_at=start,
        ends_at=start + dt.timedelta(minutes=30),
        practitioner=kit.physician,
        room=kit.room1,
        status=status,
    )


def _session(staff, patient, status: str) -> TreatmentSession:
    return TreatmentSession.objects.create(
        clinic=staff.clinic,
        patient=patient,
        procedure="prp_scalp",
        started_at=timezone.now(),
        started_by=staff.nurse,
        status=status,
    )


def test_front_desk_home_lists_arrivals_with_a_check_in_button(clinic_a):
    kit = make_kit(clinic_a)
    patient = make_patient(clinic_a)
    appt = _arrival(clinic_a, kit, patient)
    client = clinic_a.client(clinic_a.front_desk)
    page = client.get("/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Arrivals to check in" in html and "Álvarez, José" in html
    assert reverse("home-check-in", args=[appt.pk]) in html
    assert "csrfmiddlewaretoken" in html
    # The desk has no clinical sections.
    assert "physician's signature" not in html and "Sessions in progress" not in html
    # Live: the page polls its partial.
    assert f'hx-get="{reverse("home-worklist")}"' in html and "every 20s" in html

    done = client.post(reverse("home-check-in", args=[appt.pk]))
    assert done.status_code == 302 and done["Location"] == "/"
    appt.refresh_from_db()
    assert appt.status == "checked_in"
    partial = client.get(reverse("home-worklist"), headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in partial
    # Opened as a page (not by htmx), the address shows the whole home page with its title.
    page = client.get(reverse("home-worklist")).content.decode()
    assert '<html lang="en">' in page and "<title>Today" in page and "Patients waiting" in page
    assert "Patients waiting" in partial and "Álvarez, José" in partial
    assert "Nobody else is expected today." in partial


def test_physician_sees_records_to_sign_with_a_sign_button(clinic_a):
    patient = make_patient(clinic_a)
    ready = _session(clinic_a, patient, "ready_to_sign")
    _session(clinic_a, patient, "in_progress")
    html = clinic_a.client(clinic_a.physician).get("/").content.decode()
    assert "Waiting for a physician&#x27;s signature" in html or "physician's signature" in html
    assert reverse("procedures-session-sign", args=[patient.pk, ready.pk]) in html
    assert "Sessions in progress" in html
    # A nurse works the sessions but does not sign them.
    nurse = clinic_a.client(clinic_a.nurse).get("/").content.decode()
    assert "Sessions in progress" in nurse
    assert reverse("procedures-session-sign", args=[patient.pk, ready.pk]) not in nurse


def test_empty_day_says_so_in_words(clinic_a):
    html = clinic_a.client(clinic_a.physician).get("/").content.decode()
    assert "Nobody is waiting." in html
    assert "Nothing waits for a signature." in html
    assert "No maintenance recall is due." in html


def test_lots_expiring_within_30_days_for_inventory_managers(clinic_a):
    product = Product.objects.create(clinic=clinic_a.clinic, name="PRP kit X", category="kit")
    today = clinic_a.actor(clinic_a.admin).today()
    Lot.objects.create(
        product=product,
        lot_number="L-SOON",
        expires_on=today + dt.timedelta(days=10),
        received_on=today,
        quantity=5,
    )
    Lot.objects.create(
        product=product,
        lot_number="L-LATER",
        expires_on=today + dt.timedelta(days=90),
        received_on=today,
        quantity=5,
    )
    html = clinic_a.client(clinic_a.admin).get("/").content.decode()
    assert "L-SOON" in html and "L-LATER" not in html
    assert "L-SOON" not in clinic_a.client(clinic_a.front_desk).get("/").content.decode()


def _queries(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        # The polled partial (htmx); opened as a page it is the home page.
        response = client.get(reverse("home-worklist"), headers={"HX-Request": "true"})
        assert response.status_code == 200
    return len(ctx.captured_queries)


def test_query_count_does_not_grow_with_rows(clinic_a):
    kit = make_kit(clinic_a)
    patients = [make_patient(clinic_a, given_name=f"P{i}") for i in range(10)]
    _arrival(clinic_a, kit, patients[0])
    _session(clinic_a, patients[0], "ready_to_sign")
    client = clinic_a.client(clinic_a.physician)
    _queries(client)  # the first request after sign-in also renews the session
    one = _queries(client)
    for i, p in enumerate(patients[1:], start=1):
        _arrival(clinic_a, kit, p, hh=8 + i % 10)
        _session(clinic_a, p, "ready_to_sign")
    ten = _queries(client)
    assert ten == one


def test_screenings_recalls_and_follow_ups_each_one_click_from_their_action(clinic_a):
    from anagen.outcomes.models import MeasurementSet
    from anagen.outcomes.services import last_measurements_refresh
    from anagen.scheduling.models import Recall, TreatmentPlan

    kit = make_kit(clinic_a)
    patient = make_patient(clinic_a)
    today = clinic_a.actor(clinic_a.physician).today()
    tomorrow = _today_at(clinic_a, 10) + dt.timedelta(days=1)
    Appointment.objects.create(
        clinic=clinic_a.clinic,
        patient=patient,
        kind="induction",
        procedure="prp_scalp",
        starts_at=tomorrow,
        ends_at=tomorrow + dt.timedelta(minutes=75),
        practitioner=kit.physician,
        room=kit.room1,
        centrifuge=kit.centrifuge,
    )
    plan = TreatmentPlan.objects.create(
        clinic=clinic_a.clinic,
        patient=patient,
        protocol_id="prp-aga-monthly-3",
        protocol_name="PRP monthly",
        procedure="prp_scalp",
        start_on=today - dt.timedelta(days=120),
        status="completed",
        created_by=clinic_a.physician,
    )
    Recall.objects.create(
        clinic=clinic_a.clinic,
        patient=patient,
        plan=plan,
        due_from=today - dt.timedelta(days=3),
        due_until=today + dt.timedelta(days=30),
    )
    MeasurementSet.objects.create(
        patient=patient,
        measured_on=today - dt.timedelta(days=150),
        visit_label="baseline",
        method="phototrichogram",
        recorded_by=clinic_a.nurse,
    )
    # Written directly (not by the service): keep the derived latest date the section reads.
    last_measurements_refresh(patient_ids=[patient.pk])
    TreatmentSession.objects.create(
        clinic=clinic_a.clinic,
        patient=patient,
        procedure="prp_scalp",
        started_at=timezone.now() - dt.timedelta(days=140),
        started_by=clinic_a.nurse,
        status="signed",
        signed_by=clinic_a.physician,
        signed_at=timezone.now() - dt.timedelta(days=140),
    )
    html = clinic_a.client(clinic_a.physician).get("/").content.decode()
    screen = reverse("care-screening-create", args=[patient.pk]) + "?procedure=prp_scalp"
    assert screen in html and "No screening in the last 30 days" in html
    assert reverse("outcomes-measurement-create", args=[patient.pk]) in html
    book = reverse("appointment-new", args=[patient.pk]) + "?kind=maintenance&amp;procedure="
    assert book in html
    desk = clinic_a.client(clinic_a.front_desk).get("/").content.decode()
    assert book in desk and screen not in desk  # the desk books; it does not screen
