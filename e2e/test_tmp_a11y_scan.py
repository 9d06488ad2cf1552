"""TEMPORARY (a11y helper): full report of axe + 320px, written to var/a11y-report.json."""
from __future__ import annotations

import json
import os
from collections import defaultdict

import pytest
from django.test import Client

from anagen.accounts.models import Membership
from anagen.accounts.testing import sign_in
from anagen.demo import seed_demo
from e2e.test_accessibility import AXE, NARROW, WCAG, _pages_for

pytestmark = pytest.mark.e2e


@pytest.mark.django_db(transaction=True)
def test_scan(browser, live_server):
    seed_demo()
    axe = AXE.read_text()
    only = os.environ.get("A11Y_ONLY", "")
    roles_only = os.environ.get("A11Y_ROLES", "")
    violations: dict[str, list] = defaultdict(list)
    too_wide: list = []
    checked = 0
    roles_done: set[str] = set()
    memberships = Membership.objects.select_related("user").filter(clinic__slug="north")
    for membership in memberships.order_by("role", "pk"):
        if membership.role in roles_done:
            continue
        roles_done.add(membership.role)
        if roles_only and membership.role not in roles_only.split(","):
            continue
        client = sign_in(Client(), membership.user)
        urls = _pages_for(client)
        if only:
            urls = [u for u in urls if any(o in u for o in only.split(","))]
        context = browser.new_context(base_url=live_server.url, bypass_csp=True)
        context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])
        page = context.new_page()
        for url in urls:
            page.set_viewport_size({"width": 1280, "height": 900})
            page.goto(url)
            page.evaluate(axe)
            result = page.evaluate("(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG)
            for v in result["violations"]:
                violations[v["id"]].append([membership.role, url, [n["target"] for n in v["nodes"][:5]], v["nodes"][0].get("failureSummary", "")[:300] if v["nodes"] else ""])
            page.set_viewport_size({"width": NARROW, "height": 800})
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > NARROW + 1:
                wide = page.evaluate("""() => { const out=[]; for (const el of document.querySelectorAll('body *')) { const r=el.getBoundingClientRect(); if (r.right > 322 && el.offsetParent !== null) { let p=el.parentElement, inside=false; while(p){ const s=getComputedStyle(p); if (s.overflowX==='auto'||s.overflowX==='scroll'||s.overflowX==='hidden'){inside=true;break;} p=p.parentElement;} if(!inside) out.push(el.tagName+(el.id?'#'+el.id:'')+(el.className&&typeof el.className==='string'?'.'+el.className.split(' ').join('.'):'')+' '+Math.round(r.right)); } } return out.slice(0,8); }""")
                too_wide.append([membership.role, url, width, wide])
            checked += 1
        context.close()
    out = {"checked": checked, "violations": violations, "too_wide": too_wide}
    with open(os.environ.get("A11Y_OUT", "var/a11y-report.json"), "w") as f:
        json.dump(out, f, indent=1)
