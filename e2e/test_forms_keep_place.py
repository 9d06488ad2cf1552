"""Issue 14, item 4 in Chromium: a session section with an error keeps the page position and shows
the error beside its field (htmx swaps the section in place); without JavaScript the page comes
back at the section's anchor, at the page's own address, with the first invalid field focused."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from anagen.care.tests.helpers import ready_patient
from anagen.procedures.tests.helpers import start
from e2e.conftest import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _session_url(clinic_a, patient_a) -> str:
    ready_patient(clinic_a, patient_a)
    session = start(clinic_a, patient_a)
    return f"/patients/{patient_a.pk}/sessions/{session.pk}/"


def test_a_section_error_keeps_the_place_and_sits_beside_its_field(page, clinic_a, patient_a):
    url = _session_url(clinic_a, patient_a)
    login(page, "a.nurse")
    page.goto(url)
    page.set_viewport_size({"width": 1000, "height": 700})
    delivery = page.locator("#delivery")
    delivery.get_by_role("button", name="Save injection map").scroll_into_view_if_needed()
    # A volume without its technique: refused by the server, not by the browser.
    page.get_by_label("Vertex / crown: volume (mL)").fill("0.7")
    before = page.evaluate("window.scrollY")
    assert before > 200  # the section is well down the page
    delivery.get_by_role("button", name="Save injection map").click()
    cell = page.locator("#zone-vertex td.has-error")
    expect(cell.locator(".error")).to_contain_text("Vertex / crown: choose a technique.")
    technique = page.get_by_label("Vertex / crown: technique")
    expect(cell.locator("select")).to_have_attribute("name", "vertex_technique")
    expect(technique).to_be_focused()
    assert page.url.endswith(url)  # no navigation: swapped in place
    assert abs(page.evaluate("window.scrollY") - before) < 150  # the place is kept
    # Corrected, it saves in place and says so inside the section.
    technique.select_option("nappage")
    page.locator("#delivery").get_by_role("button", name="Save injection map").click()
    expect(page.locator("#delivery .saved")).to_contain_text("Delivery map saved.")
    expect(page.locator("#zone-vertex .error")).to_have_count(0)
    assert page.url.endswith(url)


def test_without_javascript_the_page_returns_at_the_section(
    browser, live_server, clinic_a, patient_a
):
    url = _session_url(clinic_a, patient_a)
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        login(page, "a.nurse")
        page.goto(url)
        page.get_by_label("Vertex / crown: volume (mL)").fill("0.7")
        page.locator("#delivery").get_by_role("button", name="Save injection map").click()
        page.wait_for_load_state()
        assert page.url.endswith(f"{url}#delivery"), page.url  # the page's address, at the section
        cell = page.locator("#zone-vertex td.has-error")
        expect(cell.locator(".error")).to_contain_text("Vertex / crown: choose a technique.")
        expect(cell.locator("select")).to_have_attribute("autofocus", "")
    finally:
        context.close()
