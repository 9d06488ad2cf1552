"""Every page the crawler visits passes axe-core and fits a 320 px wide screen (issue 14).

The crawler's walk (anagen/tests/test_crawler.py) finds the pages each role is shown; each page
is then opened in Chromium as that role, axe-core (from the npm registry, e2e/a11y) checks it
against WCAG 2.1 A and AA, and the page must not scroll sideways at 320 px.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest
from django.test import Client

from anagen.accounts.models import Membership
from anagen.accounts.testing import sign_in
from anagen.demo import seed_demo
from anagen.tests import test_crawler as crawler

pytestmark = pytest.mark.e2e

AXE = Path(__file__).parent / "a11y" / "node_modules" / "axe-core" / "axe.min.js"
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
NARROW = 320


def _pages_for(client: Client) -> list[str]:
    """One URL per route and query shape that this role is shown, HTML pages only."""
    seen: list[str] = []
    routes: set[tuple[str, tuple[str, ...]]] = set()
    queue = ["/"]
    visited: set[str] = set()
    while queue and len(visited) < crawler.MAX_PAGES_PER_ROLE:
        url = queue.pop(0)
        if url in visited:
            continue
        visited.add(url)
        path, _, query = url.partition("?")
        key = crawler._pattern_key(path, query)
        if key is None or key in routes:
            continue
        routes.add(key)
        response = client.get(url)
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        if response.headers.get("HX-Request") or "hx" in url:
            continue
        seen.append(url)
        for href in crawler._links(response.content.decode("utf-8", "replace")):
            nxt = crawler._normalise(url, href)
            if nxt and nxt not in visited:
                queue.append(nxt)
    return seen


@pytest.mark.django_db(transaction=True)
def test_every_page_passes_axe_and_fits_a_narrow_screen(browser, live_server):
    if not AXE.exists():
        pytest.fail("axe-core is missing: scripts/test.sh installs it (npm ci --prefix e2e/a11y)")
    seed_demo()
    axe = AXE.read_text()
    violations: dict[str, list[str]] = defaultdict(list)
    too_wide: list[str] = []
    checked = 0
    roles_done: set[str] = set()
    memberships = Membership.objects.select_related("user").filter(clinic__slug="north")
    for membership in memberships.order_by("role", "pk"):
        if membership.role in roles_done:
            continue
        roles_done.add(membership.role)
        client = sign_in(Client(), membership.user)
        urls = _pages_for(client)
        context = browser.new_context(base_url=live_server.url, bypass_csp=True)
        context.add_cookies(
            [
                {
                    "name": "sessionid",
                    "value": client.cookies["sessionid"].value,
                    "url": live_server.url,
                }
            ]
        )
        page = context.new_page()
        for url in urls:
            page.set_viewport_size({"width": 1280, "height": 900})
            page.goto(url)
            page.evaluate(axe)
            result = page.evaluate(
                "(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG
            )
            for v in result["violations"]:
                target = json.dumps(v["nodes"][0]["target"]) if v["nodes"] else ""
                violations[v["id"]].append(f"{membership.role} {url} {target}")
            page.set_viewport_size({"width": NARROW, "height": 800})
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > NARROW + 1:
                too_wide.append(f"{membership.role} {url} ({width} px)")
            checked += 1
        context.close()
    summary = {rule: (len(where), where[:3]) for rule, where in violations.items()}
    assert checked > 60, checked
    assert not summary, f"axe violations on {checked} page visits: {summary}"
    assert not too_wide, f"{len(too_wide)} pages scroll sideways at {NARROW} px: {too_wide[:10]}"
