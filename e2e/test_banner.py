"""The allergy and adverse-event banner at the chair: visible on the chart, at session start and
on the session record for clinical staff; never for the front desk."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from anagen.care.tests.helpers import ready_patient, record_intake
from anagen.procedures.models import AdverseEvent
from anagen.procedures.tests.helpers import start
from conftest import make_patient
from e2e.conftest import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_allergy_banner_on_chart_session_start_and_session_record(page, clinic_a):
    patient = make_patient(clinic_a)
    ready_patient(clinic_a, patient)
    session = start(clinic_a, patient)
    AdverseEvent.objects.create(
        session=session,
        patient=patient,
        term="bruising",
        ctcae_grade=1,
        onset_at=timezone.now() - dt.timedelta(minutes=20),
        relatedness="probable",
        action="none",
        outcome="recovered",
        recorded_by=clinic_a.nurse,
    )
    record_intake(clinic_a, patient, allergies=[{"substance": "Penicillin", "reaction": "hives"}])
    server_errors: list[str] = []
    page.on("response", lambda r: server_errors.append(r.url) if r.status >= 500 else None)

    login(page, "a.nurse")
    for url in (
        f"/patients/{patient.pk}/",
        f"/patients/{patient.pk}/sessions/new/",
        f"/patients/{patient.pk}/sessions/{session.pk}/",
    ):
        page.goto(url)
        banner = page.locator("#patient-alerts")
        expect(banner).to_be_visible()
        expect(banner).to_contain_text("Allergies: Penicillin (hives)")
        expect(banner).to_contain_text("Bruising, grade 1")
        assert banner.bounding_box() is not None
    # The banner sits above the page's own content.
    page.goto(f"/patients/{patient.pk}/")
    banner_top = page.locator("#patient-alerts").bounding_box()
    heading_top = page.locator("main h1").first.bounding_box()
    assert banner_top and heading_top and banner_top["y"] < heading_top["y"]

    page.context.clear_cookies()
    login(page, "a.front_desk")
    page.goto(f"/patients/{patient.pk}/")
    expect(page.locator("main h1").first).to_be_visible()
    expect(page.locator("#patient-alerts")).to_have_count(0)
    expect(page.locator("main")).not_to_contain_text("Penicillin")
    assert not server_errors
