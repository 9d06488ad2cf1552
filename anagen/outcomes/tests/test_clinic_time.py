"""Outcome pages and PDFs in the clinic's zone, far from UTC (Pacific/Auckland, UTC+13 in Nov)."""

from __future__ import annotations

import datetime as dt

import pytest

from anagen.outcomes import report
from anagen.outcomes.tests.helpers import record

pytestmark = pytest.mark.django_db
# 20:30 UTC on 29 Nov 2026 is 09:30 on Monday 30 Nov 2026 in Auckland (NZDT, UTC+13).
INSTANT = dt.datetime(2026, 11, 29, 20, 30, tzinfo=dt.UTC)


@pytest.fixture
def auckland(clinic_a, monkeypatch):
    clinic_a.clinic.timezone = "Pacific/Auckland"
    clinic_a.clinic.save(update_fields=["timezone"])
    monkeypatch.setattr("django.utils.timezone.now", lambda: INSTANT)
    return clinic_a


def test_date_inputs_default_to_the_clinic_today_in_iso(auckland, patient_a):
    c = auckland.client(auckland.nurse)
    form = c.get(f"/patients/{patient_a.pk}/outcomes/new/").content.decode()
    # The browser's date input needs ISO; the clinic's date is already the 30th.
    assert 'type="date"' in form and 'value="2026-11-30"' in form
    from anagen.outcomes.tests.helpers import photo_consent

    photo_consent(auckland, patient_a)
    photos = c.get(f"/patients/{patient_a.pk}/photos/").content.decode()
    assert 'name="taken_on" value="2026-11-30"' in photos


def test_measurement_on_the_clinic_today_is_not_in_the_future(auckland, patient_a):
    # 30 Nov is "today" in Auckland although UTC is still on the 29th.
    mset = record(auckland, patient_a, dt.date(2026, 11, 30), "baseline", 150)
    assert str(mset) == "Baseline 30 Nov 2026 (Phototrichogram)"
    page = auckland.client(auckland.nurse).get(f"/patients/{patient_a.pk}/outcomes/")
    body = page.content.decode()
    assert "30 Nov 2026" in body and "2026-11-30" not in body


def test_report_time_is_clinic_time(auckland, patient_a):
    record(auckland, patient_a, dt.date(2025, 6, 1), "baseline", 141.9)
    record(auckland, patient_a, dt.date(2025, 12, 1), "follow_up", 177.5)
    actor = auckland.actor(auckland.physician)
    text = report.document_text(
        report.render_document(report.report_html(actor=actor, patient=patient_a))
    )
    assert "Prepared Mon 30 Nov 2026, 09:30" in text
    assert "UTC" not in text and "2025-12-01" not in text and "1 Dec 2025" in text
