"""The patient search page's fast path (issue 15, anagen/patients/search.py and search_html.py):
the page read with the shown columns, compiled SQL with each request's values put in, the count
in the page's own query for trigram-able names, the rows written in Python. On random data and
random searches it must give what the previous path gave: ``CappedPaginator(patient_search(...))``
paged as before, rendered by ``patients/_results.html``; byte for byte, for every role."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.core.paginator import Page
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext

from anagen.audit.models import AuditAction, AuditEvent
from anagen.patients import search
from anagen.patients.search import patient_search_page
from anagen.patients.search_html import results_html
from anagen.patients.selectors import patient_search, search_terms
from anagen.patients.services import patient_soft_delete
from anagen.web.paging import CappedPaginator
from conftest import make_patient

pytestmark = pytest.mark.django_db

ROLES = ("physician", "nurse", "front_desk", "admin")
GIVEN = ["José", "Ana <b>", 'O"Brien & Co', "Zoë", "d'Arc", "Wilma", "Will", "Mary-Jane", "Lia"]
FAMILY = ["Wilson", "Álvarez", "Smith & Sons", "Nunes", "Williams", "O'Neil", "Lião", "Li"]
PAGES = [None, "", "1", "2", "3", "4", "0", "-1", "abc", "2.0", " 2", "999", "99999999999999999"]


def _reference(actor, query: str, number: str | None, per: int) -> Page:
    """The search page as it was read before issue 15's fast path (views._search_page)."""
    patients = patient_search(actor=actor, query=query)
    paginator = CappedPaginator(patients, per)
    if number not in (None, "", "1"):
        return paginator.get_page(number)
    rows = list(patients[: paginator.per_page])
    if len(rows) < paginator.per_page:
        paginator.__dict__["count"] = len(rows)
    return Page(rows, 1, paginator)


def _fill(staff, rng: random.Random, n: int) -> list:
    patients = []
    for i in range(n):
        patients.append(
            make_patient(
                staff,
                given_name=rng.choice(GIVEN),
                family_name=rng.choice(FAMILY),
                birth_date=dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(3) * 4000),
                sex=rng.choice(["female", "male", "other"]),
                phone=f"07700 9{rng.randrange(100):02d}{i:03d}",
            )
        )
    return patients


def _queries(rng: random.Random, patients: list) -> list[str]:
    p = rng.choice(patients)
    return [
        "",
        "  ",
        p.family_name,
        p.given_name.lower(),
        p.family_name[:3],
        p.family_name[:2],
        "i",
        "wil",
        "wil son",
        "son wil",
        "will lia",
        "alvarez jose",
        "ÁLVAREZ",
        p.record_number,
        p.record_number.lower(),
        p.record_number[:3],
        f" {p.record_number} ",
        p.phone[-6:],
        p.phone,
        "07700 9",
        p.birth_date.isoformat(),
        p.birth_date.strftime("%d/%m/%Y"),
        "%",
        "_",
        "a%b",
        "\\",
        "<b>",
        "&",
        "zzz",
        "x1",
        "li 2",
    ]


def _render(page: Page, query: str, actor) -> str:
    return render_to_string(
        "patients/_results.html", {"page": page, "query": query, "actor": actor}
    )


@pytest.fixture
def small_pages(monkeypatch):
    """Pages of 3 and a cap of 7: every case (capped, last page past the cap) with few rows."""
    monkeypatch.setattr(CappedPaginator, "cap", 7)
    return 3


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_fast_page_equals_the_previous_path_on_random_data(clinic_a, small_pages, seed):
    rng = random.Random(seed)
    patients = _fill(clinic_a, rng, 26)
    gone = make_patient(clinic_a, given_name="Gone", family_name="Wilson")
    patient_soft_delete(
        actor=clinic_a.actor(clinic_a.physician), patient=gone, reason="Registered twice by mistake"
    )
    for role in ROLES:
        actor = clinic_a.actor(getattr(clinic_a, role))
        for query in _queries(rng, patients):
            for number in [*rng.sample(PAGES, 3), "2"]:
                want = _reference(actor, query.strip(), number, small_pages)
                got = patient_search_page(
                    actor=actor, query=query, number=number, per_page=small_pages
                )
                where = f"{role} q={query!r} page={number!r}"
                assert [r.pk for r in got.object_list] == [p.pk for p in want.object_list], where
                assert got.number == want.number, where
                assert got.paginator.count == want.paginator.count, where
                html = results_html(got, query, actor)
                assert html == _render(want, query, actor), where


def test_the_real_page_size_and_cap_equal_the_previous_path(clinic_a):
    rng = random.Random(7)
    patients = _fill(clinic_a, rng, 30)
    actor = clinic_a.actor(clinic_a.front_desk)
    for query in ("", "wil", "i", patients[0].record_number, "zzz"):
        for number in (None, "2", "9", "0"):
            want = _reference(actor, query, number, 25)
            got = patient_search_page(actor=actor, query=query, number=number)
            assert results_html(got, query, actor) == _render(want, query, actor)


def test_the_compiled_sql_is_what_django_compiles_for_the_search(clinic_a):
    """The SQL compiled once with stand-ins and filled in per request is the SQL (and the
    parameters) Django compiles for that very search: same filter, same escaping."""
    actor = clinic_a.actor(clinic_a.nurse)
    rng = random.Random(11)
    words = ["wil", "son", "a%b", "x_y", "back\\slash", "ÁLV", "o'neil", "NS100", "n5", "é"]
    typed = [" ".join(rng.sample(words, rng.randint(1, 3))) for _ in range(40)]
    typed += ["07700 900123", "+44 7700 900 123", "A000001", "a000001", "", "1984-05-02"]
    for query in typed:
        terms = search_terms(query)
        for what in ("rows", "counted", "ids"):
            search._query(actor, terms, what)  # compiled (or taken from the cache)
            assert search._query(actor, terms, what) == search._sql_of(
                search._queryset(actor, terms, what)
            ), (query, what)


def test_a_name_search_is_one_query_with_its_count(clinic_a, small_pages):
    for i in range(10):
        make_patient(clinic_a, given_name=f"Name{i:02d}", family_name="Wilson")
    actor = clinic_a.actor(clinic_a.front_desk)
    assert actor.clinic.pk  # (the membership's clinic read once, as a request has it)
    for number in (None, "2", "3"):
        with CaptureQueriesContext(connection) as ctx:
            page = patient_search_page(
                actor=actor, query="wilson", number=number, per_page=small_pages
            )
        assert len(ctx.captured_queries) == 1
        assert page.paginator.count == 8  # more than the cap of 7: "More than 7"
    # A short word cannot use the trigram index: its page, then a bounded count.
    with CaptureQueriesContext(connection) as ctx:
        patient_search_page(actor=actor, query="wi", number=None, per_page=small_pages)
    assert len(ctx.captured_queries) == 2


def test_the_page_and_fragment_are_the_results_and_the_search_is_audited(clinic_a):
    for i in range(3):
        make_patient(clinic_a, given_name=f"Name{i:02d}", family_name="Wilson")
    for role in ROLES:
        user = getattr(clinic_a, role)
        actor = clinic_a.actor(user)
        client = clinic_a.client(user)
        for query in ("wilson ", "", "zzz"):
            want = _render(_reference(actor, query.strip(), None, 25), query, actor)
            since = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
            fragment = client.get("/patients/", {"q": query}, headers={"HX-Request": "true"})
            assert fragment.content.decode() == want
            (event,) = AuditEvent.objects.filter(pk__gt=since)
            assert event.action == AuditAction.PATIENT_LIST_READ
            expected = {"list": "Patient search"}
            if query.strip():
                expected["search"] = query.strip()
            assert event.changes == expected
            full = client.get("/patients/", {"q": query}).content.decode()
            assert f'<div id="results">{want}</div>' in full


def test_sqlite_and_postgresql_give_the_same_first_page(clinic_a):
    """Whatever the database (no trigram index on SQLite), the counted page is exact."""
    for i in range(4):
        make_patient(clinic_a, given_name=f"Name{i:02d}", family_name="Williams")
    actor = clinic_a.actor(clinic_a.nurse)
    page = patient_search_page(actor=actor, query="liam", number=None)
    assert [r.given_name for r in page.object_list] == [f"Name{i:02d}" for i in range(4)]
    assert page.paginator.count == 4 and "More than" not in results_html(page, "liam", actor)
    assert page.object_list[0].get_sex_display() == "Male"
    assert page.object_list[0].birth_date == dt.date(1984, 5, 2)
