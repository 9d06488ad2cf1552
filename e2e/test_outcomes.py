"""Outcomes in the browser: baseline and follow-up measurements, photos with the overlay,
comparison (side by side and slider), progress chart, and the PDF report."""

import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import expect
from pypdf import PdfReader

from anagen.outcomes.tests.helpers import photo_consent
from conftest import make_patient
from e2e.conftest import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _jpeg(tmp_path, name: str, colour: str) -> str:
    path = tmp_path / name
    img = Image.new("RGB", (120, 90), colour)
    buf = io.BytesIO()
    img.save(buf, format="JPEG")
    path.write_bytes(buf.getvalue())
    return str(path)


def _measure(page, patient_pk: int, on: str, label: str, count: str) -> None:
    page.goto(f"/patients/{patient_pk}/outcomes/new/")
    page.locator("#id_measured_on").fill(on)
    page.locator("#id_visit_label").select_option(label)
    page.locator("#id_method").select_option("phototrichogram")
    page.locator("#id_site_name").fill("Vertex tattoo dot")
    page.locator("#id_hair_count").fill(count)
    page.locator("#id_area").fill("1")
    page.get_by_role("button", name="Save measurements").click()
    expect(page.locator(".messages")).to_contain_text("recorded")


def test_measure_photograph_compare_progress_and_report(page, clinic_a, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    patient = make_patient(clinic_a)
    photo_consent(clinic_a, patient)
    login(page, "a.physician")
    server_errors: list[str] = []
    page.on("response", lambda r: server_errors.append(r.url) if r.status >= 500 else None)

    # Chart card → record the baseline; a validation error first (count without area).
    page.goto(f"/patients/{patient.pk}/")
    page.locator("#outcomes-panel").get_by_role("link", name="Record measurements").click()
    # The date input is pre-filled with the clinic's today (ISO, which the browser accepts).
    expect(page.locator("#id_measured_on")).to_have_value(re.compile(r"^\d{4}-\d{2}-\d{2}$"))
    page.locator("#id_measured_on").fill("2025-06-01")
    page.locator("#id_hair_count").fill("142")
    page.locator("#id_area").fill("")
    page.get_by_role("button", name="Save measurements").click()
    expect(page.get_by_text("A hair count needs the target area")).to_be_visible()
    _measure(page, patient.pk, "2025-06-01", "baseline", "142")
    _measure(page, patient.pk, "2025-12-01", "follow_up", "178")
    expect(page.locator("#measurement-sets")).to_contain_text("178 in 1 cm²")
    expect(page.locator("#measurement-sets")).to_contain_text("1 Jun 2025")
    expect(page.locator("#measurement-sets")).not_to_contain_text("2025-06-01")

    # Photos: first visit, then the second with the first as the ghost overlay.
    page.goto(f"/patients/{patient.pk}/photos/")
    expect(page.locator("#id_taken_on")).to_have_value(re.compile(r"^\d{4}-\d{2}-\d{2}$"))
    page.locator("#id_taken_on").fill("2025-06-01")
    page.get_by_role("button", name="Start photo set").click()
    expect(page.locator("#no-ghost")).to_be_visible()
    page.locator("#id_file").set_input_files(_jpeg(tmp_path, "a.jpg", "red"))
    expect(page.locator("[data-capture-live]")).to_be_visible()
    page.get_by_role("button", name="Save vertex photo").click()
    expect(page.locator(".messages")).to_contain_text("Vertex photo saved")
    page.goto(f"/patients/{patient.pk}/photos/")
    page.locator("#id_taken_on").fill("2025-12-01")
    page.get_by_role("button", name="Start photo set").click()
    ghost = page.locator("#ghost")
    expect(ghost).to_be_visible()
    assert page.evaluate("document.getElementById('ghost').naturalWidth") > 0
    page.locator("#ghost-opacity").fill("80")
    assert page.evaluate("document.getElementById('ghost').style.opacity") == "0.8"
    page.locator("#id_file").set_input_files(_jpeg(tmp_path, "b.jpg", "blue"))
    page.get_by_role("button", name="Save vertex photo").click()
    expect(page.locator(".messages")).to_contain_text("Vertex photo saved")

    # Compare: side by side, then the slider.
    page.goto(f"/patients/{patient.pk}/photos/compare/?view=vertex")
    expect(page.locator("#compare-side figcaption").first).to_contain_text("1 Jun 2025")
    expect(page.locator("#compare-side figcaption").last).to_contain_text("1 Dec 2025")
    page.locator("#cmp-mode").select_option("slider")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#compare-slider")).to_be_visible()
    page.locator("#slider").fill("20")
    clip = page.evaluate("document.querySelector('[data-compare-top]').style.clipPath")
    assert clip.replace(" ", "") == "inset(0px80%0px0px)" or "80%" in clip

    # Progress: change against baseline, the chart image renders.
    page.goto(f"/patients/{patient.pk}/outcomes/progress/")
    card = page.get_by_role("region", name=re.compile("Density"))
    expect(card).to_contain_text("+25.35 %")
    expect(card).to_contain_text("beyond measurement error")
    expect(page.locator("main")).to_contain_text("without a control group")
    chart = card.locator(".chart img")
    expect(chart).to_be_visible()
    page.wait_for_function("document.querySelector('.chart img').naturalWidth > 0")

    # Report: the same template rendered in the page, then the PDF download.
    page.goto(f"/patients/{patient.pk}/outcomes/report.pdf?format=html")
    expect(page.get_by_role("heading", name="Your treatment progress")).to_be_visible()
    expect(page.locator("body")).to_contain_text("Vertex: 1 Jun 2025 and 1 Dec 2025")
    page.goto(f"/patients/{patient.pk}/outcomes/progress/")
    with page.expect_download() as info:
        page.locator("#report-link").click()
    pdf = Path(info.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF")
    assert pdf.rstrip().endswith(b"%%EOF")
    # The downloaded file itself: its text, and its first page rendered to an image.
    reader = PdfReader(io.BytesIO(pdf))
    text = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    # Plain words for the patient: the change, and whether it beats the measuring difference.
    assert "went up by 36.0 hairs per cm² (25.4 %)" in text and patient.record_number in text
    assert "more than the normal measuring difference" in text
    png = tmp_path / "page"
    subprocess.run(  # noqa: S603 (fixed arguments, our own file)
        [
            shutil.which("pdftoppm") or "pdftoppm",
            "-png",
            "-r",
            "50",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            "-",
            str(png),
        ],
        input=pdf,
        check=True,
    )
    rendered = Image.open(f"{png}.png").convert("L")
    assert rendered.width < rendered.height  # portrait A4
    dark = sum(rendered.histogram()[:128])
    assert dark > 500  # text and the chart were drawn, not a blank page

    # Analytics: cohorts read as labels, not codes.
    page.goto("/analytics/?group_by=sex")
    expect(page.locator("#cohorts")).to_contain_text("Male")
    expect(page.locator("#cohorts")).not_to_contain_text("male (n")
    page.goto("/analytics/?group_by=diagnosis")
    expect(page.locator("#cohorts")).to_contain_text("Not assessed")
    expect(page.locator("#cohorts")).not_to_contain_text("not_assessed")
    # Analytics say the comparison is uncontrolled and when the responder rule is judged.
    expect(page.locator("#uncontrolled")).to_be_visible()
    expect(page.locator("#uncontrolled")).to_contain_text("no control group")
    expect(page.locator("main")).to_contain_text("judged at 6 months after the baseline")

    # A photo whose file is lost: the page says so instead of breaking.
    from anagen.outcomes.models import Photo

    lost = Photo.objects.filter(photo_set__patient=patient).order_by("pk").first()
    assert lost is not None
    lost.thumbnail.storage.delete(str(lost.thumbnail.name))
    page.goto(f"/patients/{patient.pk}/photos/")
    expect(page.locator(".photo-missing")).to_have_count(1)
    expect(page.locator(".photo-missing")).to_contain_text("File missing")
    assert not server_errors
