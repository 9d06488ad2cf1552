"""No page ever answers 5xx or shows developer text: every role crawls the demo clinic.

The demo clinic holds objects in every state (a preparation with kernel warnings, signed and
amended session records, cancelled and no-show appointments, a recalled lot …). Each role
signs in, starts at the home page and follows every link and htmx `hx-get` it is shown, plus
the detail pages of those interesting objects. A URL pattern is visited a bounded number of
times (different objects, page 2 of lists); templates are strict under the test suite, so a
missing variable is a failure too. Any 5xx fails the test with the list of URLs, and so does
an ISO timestamp, a file name, a library name or a raw dict in the text a person reads.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from html import unescape
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urldefrag, urlencode, urlsplit

import pytest
from django.test import Client
from django.urls import Resolver404, resolve

from anagen.accounts.models import Clinic, Membership, Role
from anagen.accounts.testing import sign_in
from anagen.demo import seed_demo

# How many different URLs of one pattern (and query shape) each role visits.
PER_PATTERN = 3
ROUTES_SEEN: set[str] = set()
MAX_PAGES_PER_ROLE = 900
SKIP_PREFIXES = ("/static/", "/media/", "/admin/", "/api/v1/docs", "/accounts/logout")
BINARY_TYPES = ("application/pdf", "text/csv", "image/", "text/calendar", "application/zip")


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value and (
                (tag == "a" and name == "href")
                or (tag in ("img", "object") and name in ("src", "data"))
                or name in ("hx-get", "data-hx-get")
            ):
                self.urls.append(value)


def _links(html: str) -> list[str]:
    parser = _Links()
    parser.feed(html)
    return parser.urls


# Developer text that must never reach staff (issue 9, "human text").
DEVELOPER_TEXT = [
    (re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}"), "an ISO timestamp"),
    (re.compile(r"clinical-facts|\.md\b|\.json\b"), "a file name"),
    (re.compile(r"\bPillow\b|\bWeasyPrint\b|\bdjango\b|Traceback"), "a library name"),
    (re.compile(r"\{'[a-z_]+': "), "a raw dict"),
]


def _visible_text(html: str) -> str:
    """What a person reads: no scripts, styles, tags or attribute values (inputs hold ISO)."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S | re.I)
    html = re.sub(r"<!--.*?-->", " ", html, flags=re.S)
    html = re.sub(r"<[^>]+>", " ", html)
    return unescape(html)


def _developer_text(html: str) -> list[str]:
    text = _visible_text(html)
    found = []
    for pattern, what in DEVELOPER_TEXT:
        match = pattern.search(text)
        if match:
            start = max(match.start() - 40, 0)
            found.append(f"{what}: …{' '.join(text[start : match.end() + 20].split())}…")
    return found


def _pattern_key(path: str, query: str) -> tuple[str, tuple[str, ...]] | None:
    try:
        match = resolve(path)
    except Resolver404:
        return None
    keys = tuple(sorted({k for k, _ in parse_qsl(query, keep_blank_values=True)}))
    # page=2 of a list is its own shape, so paginated lists are walked to page 2.
    if "page" in keys:
        keys = (*keys, "page>1" if "page=1" not in query else "page=1")
    return (match.route, keys)


def _normalise(base: str, href: str) -> str | None:
    href, _ = urldefrag(href)
    if not href or href.startswith(("mailto:", "tel:", "javascript:", "#")):
        return None
    parts = urlsplit(href)
    if (parts.scheme or parts.netloc) and parts.netloc not in ("testserver", ""):
        return None
    path = parts.path or urlsplit(base).path
    if not path.startswith("/"):
        path = urlsplit(base).path.rsplit("/", 1)[0] + "/" + path
    if path.startswith(SKIP_PREFIXES):
        return None
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return path + (f"?{query}" if query else "")


def _interesting_urls(clinic: Clinic) -> list[str]:
    """Detail pages of the objects whose states broke pages before."""
    from django.urls import reverse

    from anagen.procedures.models import Amendment, Lot, Preparation, TreatmentSession
    from anagen.scheduling.models import Appointment

    urls: list[str] = []

    def add(name: str, *args: object) -> None:
        urls.append(reverse(name, args=args))

    sessions = list(TreatmentSession.objects.filter(clinic=clinic).order_by("pk")[:12])
    preps = Preparation.objects.filter(session__clinic=clinic)
    sessions += [p.session for p in preps if p.computed.get("warnings")][:4]
    sessions += [a.session for a in Amendment.objects.filter(session__clinic=clinic)[:4]]
    for status in {s.status for s in TreatmentSession.objects.filter(clinic=clinic)}:
        sessions += list(TreatmentSession.objects.filter(clinic=clinic, status=status)[:2])
    for session in {s.pk: s for s in sessions}.values():
        add("procedures-session-detail", session.patient_id, session.pk)
    for status in ("booked", "checked_in", "completed", "cancelled", "no_show"):
        for appt in Appointment.objects.filter(clinic=clinic, status=status).order_by("pk")[:3]:
            add("appointment-detail", appt.pk)
    for lot in Lot.objects.filter(product__clinic=clinic).order_by("pk")[:20]:
        add("procedures-lot-recall", lot.pk)
    return urls


def _crawl(
    client: Client, start: list[str], routes: set[str] | None = None
) -> tuple[list[str], int]:
    seen: set[str] = set()
    per_pattern: Counter[tuple[str, tuple[str, ...]]] = Counter()
    queue = list(start)
    failures: list[str] = []
    visited = 0
    while queue and visited < MAX_PAGES_PER_ROLE:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        path, _, query = url.partition("?")
        key = _pattern_key(path, query)
        if key is None:
            continue
        if per_pattern[key] >= PER_PATTERN and url not in start:
            continue
        per_pattern[key] += 1
        if routes is not None:
            routes.add(key[0])
        response = client.get(url, HTTP_HX_REQUEST="true" if "hx" in url else None)
        visited += 1
        if response.status_code >= 500:
            failures.append(f"{response.status_code} {url}")
            continue
        ctype = response.get("Content-Type", "")
        if response.status_code != 200 or ctype.startswith(BINARY_TYPES):
            continue
        if "html" not in ctype:
            continue
        body = response.content.decode("utf-8", "replace")
        failures.extend(f"{url}: {problem}" for problem in _developer_text(body))
        for href in _links(body):
            nxt = _normalise(url, href)
            if nxt and nxt not in seen:
                queue.append(nxt)
    return failures, visited


@pytest.mark.django_db(transaction=False)
def test_every_role_crawls_the_demo_clinic_without_a_server_error():
    seed_demo()
    clinic = Clinic.objects.get(slug="north")
    interesting = _interesting_urls(clinic)
    assert interesting, "the demo must hold sessions and appointments to crawl"
    failures: dict[str, list[str]] = defaultdict(list)
    visits: dict[str, int] = {}
    memberships = (
        Membership.objects.select_related("user", "clinic")
        .filter(clinic__slug="north", is_active=True)
        .order_by("role")
    )
    roles_seen = set()
    for membership in memberships:
        if membership.role in roles_seen:
            continue
        roles_seen.add(membership.role)
        # Signed in and past two-factor sign-in, as each role uses the product.
        client = sign_in(Client(raise_request_exception=False), membership.user)
        bad, visited = _crawl(client, ["/", *interesting], ROUTES_SEEN)
        visits[membership.role] = visited
        failures[membership.role].extend(bad)
    assert roles_seen == set(Role.values)
    problems = {role: urls for role, urls in failures.items() if urls}
    assert not problems, f"server errors or developer text while crawling: {problems}"
    # The crawl really walked the clinic (not a login page over and over).
    assert all(n > 40 for n in visits.values()), visits


def test_link_extraction_follows_hrefs_and_htmx_gets():
    html = (
        '<a href="/patients/?page=2">2</a><div hx-get="/x/partial"></div><a href="#top">t</a>'
        '<img src="/p/chart.svg" alt="">'
    )
    assert _links(html) == ["/patients/?page=2", "/x/partial", "#top", "/p/chart.svg"]
    assert _normalise("/patients/", "#top") is None
    assert _normalise("/patients/", "https://example.org/") is None
    assert _normalise("/patients/", "/patients/?q=a&page=2") == "/patients/?page=2&q=a"
    assert re.match(r"^/", _normalise("/a/b/", "c/") or "")


def test_developer_text_is_found_in_what_people_read_and_not_in_attributes():
    assert _developer_text('<input type="date" value="2026-11-30T10:00">') == []
    assert _developer_text("<p>Checked in 2026-11-30T10:00</p>")[0].startswith("an ISO")
    assert _developer_text("<p>Source: clinical-facts.md 4.3</p>")[0].startswith("a file name")
    assert _developer_text("<p>{'baseline_photos_taken': True}</p>")[0].startswith("a raw dict")
    assert _developer_text("<p>Mon 30 Nov 2026, 10:00 — Le QD (2018).</p>") == []
