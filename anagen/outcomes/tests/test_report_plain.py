"""The patient's report speaks plain words: no jargon, no empty page, the clinic's name and time."""

import datetime as dt
import io

import pytest
from pypdf import PdfReader

from anagen.outcomes import report
from anagen.outcomes.tests.helpers import record

pytestmark = pytest.mark.django_db

JARGON = ("MDC", "trichoscop", "Trichoscop", "phototrichogram", "SALT", "SEM", "CV ", "95 %")


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def _pdf_pages(actor, patient) -> list[str]:
    pdf = report.report_pdf(actor=actor, patient=patient)
    return [page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages]


def test_report_pdf_in_plain_words_without_empty_pages(clinic_a, patient_a):
    record(clinic_a, patient_a, dt.date(2025, 6, 1), "baseline", 141.9)
    record(clinic_a, patient_a, dt.date(2025, 9, 1), "follow_up", 150.0)
    record(clinic_a, patient_a, dt.date(2025, 12, 1), "follow_up", 177.5)
    actor = clinic_a.actor(clinic_a.physician)
    pages = _pdf_pages(actor, patient_a)
    text = "\n".join(pages)
    # what was measured, what changed, and whether that is more than measurement error
    assert "What we measured and what changed" in text
    assert "Hair density" in text and "went up by" in text
    assert "more than the normal measuring difference" in text
    assert clinic_a.clinic.name in text
    for word in JARGON:
        assert word not in text, word
    # charts exist (three points), and no page is empty
    assert "Your measurements over time" in text
    assert all(page.strip() for page in pages), [len(p) for p in pages]


def test_no_charts_section_without_charts(clinic_a, patient_a):
    actor = clinic_a.actor(clinic_a.physician)
    pages = _pdf_pages(actor, patient_a)
    text = "\n".join(pages)
    assert "No measurements recorded yet." in text
    assert "over time" not in text and "Charts" not in text
    assert all(page.strip() for page in pages)


def test_report_time_is_clinic_time(clinic_a, patient_a):
    clinic_a.clinic.timezone = "Pacific/Auckland"
    clinic_a.clinic.save()
    actor = clinic_a.actor(clinic_a.physician)
    html = report.report_html(actor=actor, patient=patient_a)
    local = actor.now().astimezone(actor.tz)
    assert local.strftime("%-d %b %Y") in html
