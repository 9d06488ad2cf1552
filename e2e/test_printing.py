"""Printing in the browser: a consent signed with a drawn signature and an aftercare sheet
print to PDF (the PDF download and the page's own print stylesheet), and their text is checked."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from conftest import make_patient
from e2e.conftest import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _text(pdf: bytes) -> str:
    assert pdf.startswith(b"%PDF")
    pages = PdfReader(io.BytesIO(pdf)).pages
    assert all((p.extract_text() or "").strip() for p in pages)  # no empty page
    return " ".join(" ".join((p.extract_text() or "").split()) for p in pages)


@pytest.fixture(autouse=True)
def _slow_machine(page):
    page.set_default_timeout(20_000)
    expect.set_options(timeout=15_000)
    yield
    expect.set_options(timeout=5_000)


def test_consent_with_a_drawn_signature_prints_to_pdf(page, clinic_a):
    from anagen.care.models import Consent

    clinic_a.clinic.consent_drawn_signature = True
    clinic_a.clinic.save()
    patient = make_patient(clinic_a, given_name="Ines", family_name="Duarte")
    login(page, "a.nurse")
    page.goto(f"/patients/{patient.pk}/consents/prp_scalp/sign/")
    pad = page.locator("#signature-pad")
    expect(pad).to_be_visible()
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 30, box["y"] + 100)
    page.mouse.down()
    for step in range(1, 12):
        page.mouse.move(box["x"] + 30 + step * 25, box["y"] + 100 + (-1) ** step * 30, steps=3)
    page.mouse.up()
    assert page.locator('input[name="signature"]').input_value().startswith("data:image/png")
    page.get_by_label("Patient's full name (typed by the patient)").fill("Ines Duarte")
    page.get_by_label("The patient has read this text and agrees").check()
    page.get_by_role("button", name="Sign consent").click()
    expect(page.locator("#consent-state")).to_contain_text("Valid")
    expect(page.locator("#snapshot img.signature-img")).to_be_visible()
    consent = Consent.objects.get(patient=patient)
    assert "data:image/png;base64," in consent.snapshot_html

    # The PDF a person downloads from the page.
    with page.expect_download() as info:
        page.locator("#consent-pdf").click()
    text = _text(Path(info.value.path()).read_bytes())
    assert "Signed consent" in text and "Ines Duarte" in text
    assert "Signature (drawn by the patient)" in text
    assert consent.sha256 in text.replace(" ", "")

    # The page itself printed (print stylesheet): the document, no navigation, no buttons.
    printed = _text(page.pdf(format="A4"))
    assert "Ines Duarte" in printed and consent.sha256 in printed.replace(" ", "")
    for chrome in ("Sign out", "Withdraw consent", "Download PDF", "Skip to content"):
        assert chrome not in printed, chrome


def test_aftercare_sheet_prints_to_pdf(page, clinic_a):
    login(page, "a.nurse")
    page.goto("/care/aftercare/prp_scalp/")
    expect(page.locator("#aftercare-sheet")).to_contain_text("After your scalp PRP treatment")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download PDF").click()
    text = _text(Path(info.value.path()).read_bytes())
    assert "After your scalp PRP treatment" in text
    assert "Call us if you have" in text and clinic_a.clinic.name in text
    printed = _text(page.pdf(format="A4"))
    assert "What to avoid" in printed and "Alcohol for 24 hours" in printed
    for chrome in ("Sign out", "Download PDF", "All sheets"):
        assert chrome not in printed, chrome
