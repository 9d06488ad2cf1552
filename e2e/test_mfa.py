"""Two-factor sign-in in the browser: a physician enrols at first sign-in (QR code and secret,
confirmed by a code computed from the secret shown), keeps the recovery codes, signs out, signs
in with a code from the app; the same code a second time is refused."""

from __future__ import annotations

import time
from base64 import b32decode

import pytest
from django_otp.oath import TOTP
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _code_after(key: bytes, used_t: int) -> tuple[str, int]:
    """What the phone shows for a step after `used_t` (the next step if this one was used)."""
    totp = TOTP(key)
    now = time.time()
    for ahead in (0, 1):
        totp.time = now + ahead * 30
        if totp.t() > used_t:
            return f"{totp.token():06d}", totp.t()
    raise AssertionError("no unused step within tolerance")


def _password(page, username: str) -> None:
    page.goto("/login/", timeout=60_000)  # the first request of a run imports the whole site
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Sign in").click()


def test_physician_enrols_then_signs_in_with_a_code_and_a_replay_is_refused(page, clinic_a):
    _password(page, "a.physician")
    page.wait_for_url("**/account/two-factor/**")
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up two-factor sign-in")
    expect(page.locator("#qr-code svg")).to_be_visible()
    # Anything else sends the physician back here until enrolment is done.
    page.goto("/patients/")
    page.wait_for_url("**/account/two-factor/**")

    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    key = b32decode(secret + "=" * (-len(secret) % 8))
    code, used_t = _code_after(key, -1)
    page.get_by_label("Code from the app").fill(code)
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    page.get_by_role("link", name="Continue").click()
    page.wait_for_url(lambda url: "/account/" not in url and "/login/" not in url)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login/**")

    _password(page, "a.physician")
    page.wait_for_url("**/login/verify/**")
    code, used_t = _code_after(key, used_t)
    page.get_by_label("Code").fill(code)
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(lambda url: "/login/" not in url)
    expect(page.get_by_role("link", name="Account")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login/**")

    # The same code again (someone who saw it over a shoulder): refused.
    _password(page, "a.physician")
    page.wait_for_url("**/login/verify/**")
    page.get_by_label("Code").fill(code)
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("alert")).to_contain_text("already used")
    assert "/login/verify/" in page.url
