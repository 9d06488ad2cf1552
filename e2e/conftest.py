"""Browser tests: Playwright driving Debian's Chromium (never a downloaded browser)."""

from __future__ import annotations

import os
import shutil

import pytest

# Sync Playwright runs an event loop in the test thread; Django must allow ORM calls there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("ANAGEN_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM) or shutil.which("pdftoppm") is None:
        pytest.skip(
            "Debian's chromium or poppler-utils is not installed (scripts/test.sh installs both)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield page
    context.close()
    # A CSP violation shows up as a console error: the pages must run under the strict policy.
    assert not [e for e in errors if "Content Security Policy" in e], errors


def login(page, username: str, password: str = "correct-horse-battery") -> None:
    """Sign in as a person does: password, then (when asked) the code their authenticator app
    shows. Someone whose role needs two-factor sign-in has an app already (enrolled earlier; the
    enrolment itself is driven in test_mfa.py); the code is computed from the app's secret."""
    from anagen.accounts.models import User
    from anagen.accounts.selectors import mfa_required_for
    from anagen.accounts.testing import enrolled_device, fresh_code

    user = User.objects.get(username=username)
    if mfa_required_for(user=user):
        enrolled_device(user)
    # The first request of a run imports the whole site: give it time on a busy machine.
    page.goto("/login/", timeout=60_000)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login/" not in url or "/login/verify/" in url)
    if "/login/verify/" in page.url:
        page.get_by_label("Code").fill(fresh_code(enrolled_device(user)))
        page.get_by_role("button", name="Verify").click()
    page.wait_for_url(lambda url: "/login/" not in url)
