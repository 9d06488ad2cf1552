"""The home page shows the first rows of each worklist section, most urgent first, with the
section's (capped) total and a link to the section in full: a paginated, searchable list page
for every role that sees the section (issue 15: home fast at 100,000 patients)."""

from __future__ import annotations

import datetime as dt
import random
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from anagen.audit.models import AuditAction, AuditEvent
from anagen.care.models import ScreeningRecord
from anagen.procedures.models import Lot, Product, TreatmentSession
from anagen.scheduling.models import Appointment, Recall, TreatmentPlan
from anagen.scheduling.tests.conftest import make_kit
from anagen.web import worklist
from anagen.web.views import SECTION_PAGE_SIZE
from conftest import make_patient

pytestmark = pytest.mark.django_db

PREVIEW = worklist.PREVIEW


def _at(staff, day_offset: int, minutes: int) -> dt.datetime:
    actor = staff.actor(staff.front_desk)
    day = actor.today() + dt.timedelta(days=day_offset)
    return dt.datetime.combine(day, dt.time(7, 0), tzinfo=actor.tz) + dt.timedelta(minutes=minutes)


def _appointments(staff, kit, patient, n: int, *, day: int = 0, status: str = "booked", **extra):
    """n short visits of one patient, one after the other from 07:00 (clinic time)."""
    out = []
    for i in range(n):
        start = _at(staff, day, 12 * i)
        out.append(
            Appointment.objects.create(
                clinic=staff.clinic,
                patient=patient,
                kind=extra.get("kind", "consultation"),
                procedure=extra.get("procedure", ""),
                starts_at=start,
                ends_at=start + dt.timedelta(minutes=10),
                practitioner=kit.physician,
                room=kit.room1,
                status=status,
            )
        )
    return out


def _sessions(staff, patient, n: int, status: str) -> None:
    for i in range(n):
        TreatmentSession.objects.create(
            clinic=staff.clinic,
            patient=patient,
            procedure="prp_scalp",
            started_at=timezone.now() - dt.timedelta(minutes=n - i),
            started_by=staff.nurse,
            status=status,
        )


def _recalls(staff, patient, n: int) -> None:
    today = staff.actor(staff.physician).today()
    for i in range(n):
        plan = TreatmentPlan.objects.create(
            clinic=staff.clinic,
            patient=patient,
            protocol_id="prp-aga-monthly-3",
            protocol_name="PRP monthly",
            procedure="prp_scalp",
            start_on=today - dt.timedelta(days=200),
            status="completed",
            created_by=staff.physician,
        )
        Recall.objects.create(
            clinic=staff.clinic,
            patient=patient,
            plan=plan,
            due_from=today - dt.timedelta(days=3),
            due_until=today + dt.timedelta(days=i),
        )


def _lots(staff, n: int) -> None:
    product, _ = Product.objects.get_or_create(
        clinic=staff.clinic, name="PRP kit X", defaults={"category": "kit"}
    )
    today = staff.actor(staff.admin).today()
    for i in range(n):
        Lot.objects.create(
            product=product,
            lot_number=f"L-{len(Lot.objects.all()):03d}",
            expires_on=today + dt.timedelta(days=1 + i % 20),
            received_on=today,
            quantity=5,
        )


def _check_in_buttons(html: str) -> int:
    return len(re.findall(r'aria-label="Check in ', html))


def _card(html: str, dom_id: str) -> str:
    start = html.index(f'id="{dom_id}"')
    return html[start : html.index("</section>", start)]


# --- the home page: first rows, totals, "see all" ---------------------------------------------


def test_home_shows_the_first_rows_soonest_first_with_the_total_and_a_link(clinic_a):
    kit = make_kit(clinic_a)
    patient = make_patient(clinic_a)
    appts = _appointments(clinic_a, kit, patient, PREVIEW + 4)
    html = clinic_a.client(clinic_a.front_desk).get("/").content.decode()
    card = _card(html, "wl-arrivals")
    assert _check_in_buttons(card) == PREVIEW
    assert f'<small class="muted">{PREVIEW + 4}</small>' in card
    # The soonest first; the later ones wait behind the link.
    assert reverse("home-check-in", args=[appts[0].pk]) in card
    assert reverse("home-check-in", args=[appts[-1].pk]) not in card
    assert f'href="{reverse("home-arrivals")}">4 more — see all</a>' in card
    # A section whose rows all fit has no link.
    assert "see all" not in _card(html, "wl-recalls")
    assert "No maintenance recall is due." in html


def test_counts_stop_at_the_cap_and_say_so(clinic_a, monkeypatch):
    """A backlog (recalls, follow-ups, records to sign, lots) is counted up to the cap; a day's
    visits are few enough to be counted exactly."""
    monkeypatch.setattr(worklist, "COUNT_CAP", 10)
    kit = make_kit(clinic_a)
    patient = make_patient(clinic_a)
    _appointments(clinic_a, kit, patient, 14)
    _recalls(clinic_a, patient, 14)
    wl = worklist.worklist_for(clinic_a.actor(clinic_a.front_desk))
    recalls = wl.sections["recalls"]
    assert len(recalls.rows) == PREVIEW and recalls.total == 11 and recalls.capped
    arrivals = wl.sections["arrivals"]
    assert len(arrivals.rows) == PREVIEW and arrivals.total == 14 and not arrivals.capped
    html = clinic_a.client(clinic_a.front_desk).get("/").content.decode()
    card = _card(html, "wl-recalls")
    assert '<small class="muted">10+</small>' in card and "Over 10 in all — see all" in card
    assert "6 more — see all" in _card(html, "wl-arrivals")


def test_signatures_card_links_each_kind_in_full(clinic_a):
    patient = make_patient(clinic_a)
    _sessions(clinic_a, patient, PREVIEW + 2, "ready_to_sign")
    html = clinic_a.client(clinic_a.physician).get("/").content.decode()
    card = _card(html, "wl-to-sign")
    assert card.count("Session record · ") == PREVIEW
    assert f'<small class="muted">{PREVIEW + 2}</small>' in card
    assert f'href="{reverse("home-to-sign")}">Session records: 2 more — see all</a>' in card
    assert reverse("home-assessments-to-sign") not in card


# --- the full lists ---------------------------------------------------------------------------


def test_full_list_is_paginated_and_keeps_the_check_in(clinic_a):
    kit = make_kit(clinic_a)
    patient = make_patient(clinic_a)
    n = SECTION_PAGE_SIZE + 5
    appts = _appointments(clinic_a, kit, patient, n)
    client = clinic_a.client(clinic_a.front_desk)
    first = client.get(reverse("home-arrivals")).content.decode()
    assert "<title>Arrivals to check in" in first
    assert _check_in_buttons(first) == SECTION_PAGE_SIZE
    assert f"{n} in all; showing 1–{SECTION_PAGE_SIZE}." in first
    assert "Page 1 of 2" in first and 'href="?page=2"' in first
    second = client.get(reverse("home-arrivals") + "?page=2").content.decode()
    assert _check_in_buttons(second) == 5
    assert reverse("home-check-in", args=[appts[-1].pk]) in second
    # Checked in from the full list, back to the full list.
    done = client.post(reverse("home-check-in", args=[appts[-1].pk]), {"back": "arrivals"})
    assert done.status_code == 302 and done["Location"] == reverse("home-arrivals")
    appts[-1].refresh_from_db()
    assert appts[-1].status == "checked_in"


def test_full_list_searches_by_name_or_record_number_and_is_audited(clinic_a):
    kit = make_kit(clinic_a)
    jose = make_patient(clinic_a)
    ana = make_patient(clinic_a, given_name="Ana", family_name="Lopes", phone="07700 900456")
    _appointments(clinic_a, kit, jose, 3)
    later = _appointments(clinic_a, kit, ana, 2)
    for a in later:  # after José's visits, not overlapping them
        a.starts_at += dt.timedelta(hours=2)
        a.ends_at += dt.timedelta(hours=2)
        a.save()
    client = clinic_a.client(clinic_a.front_desk)
    url = reverse("home-arrivals")
    found = client.get(url, {"q": "lopes"}).content.decode()
    assert _check_in_buttons(found) == 2 and "Lopes, Ana" in found and "Álvarez" not in found
    assert 'href="?q=lopes&amp;page=' not in found  # one page only
    by_record = client.get(url, {"q": jose.record_number.lower()}).content.decode()
    assert _check_in_buttons(by_record) == 3
    nothing = client.get(url, {"q": "nobody here"}).content.decode()
    assert "Nothing in this list matches “nobody here”." in nothing
    event = AuditEvent.objects.filter(clinic=clinic_a.clinic).order_by("-pk").first()
    assert event is not None and event.action == AuditAction.PATIENT_LIST_READ
    assert event.changes == {"list": "Arrivals to check in", "search": "nobody here"}


def test_empty_lists_say_so_in_words(clinic_a):
    expectations = {
        "home-arrivals": (clinic_a.front_desk, "Nobody else is expected today."),
        "home-waiting": (clinic_a.admin, "Nobody is waiting."),
        "home-in-progress": (clinic_a.nurse, "No session is being recorded."),
        "home-to-sign": (clinic_a.physician, "No session record waits for a signature."),
        "home-assessments-to-sign": (clinic_a.physician, "No assessment waits for a signature."),
        "home-screenings": (
            clinic_a.nurse,
            "Everyone booked today and tomorrow has a recent screening.",
        ),
        "home-follow-ups": (clinic_a.nurse, "No follow-up measurement is overdue."),
        "home-recalls": (clinic_a.front_desk, "No maintenance recall is due."),
        "home-lots": (clinic_a.admin, "No lot expires within 30 days."),
    }
    assert {s.url_name for s in worklist.SECTIONS.values()} == set(expectations)
    for name, (user, words) in expectations.items():
        page = clinic_a.client(user).get(reverse(name))
        assert page.status_code == 200, name
        assert words in page.content.decode(), name


def test_each_list_is_open_to_the_roles_that_see_its_section(clinic_a):
    from anagen.accounts.access import Actor

    users = {
        "physician": clinic_a.physician,
        "nurse": clinic_a.nurse,
        "front_desk": clinic_a.front_desk,
        "admin": clinic_a.admin,
    }
    for label, user in users.items():
        actor: Actor = clinic_a.actor(user)
        client = clinic_a.client(user)
        home = client.get("/").content.decode()
        for section in worklist.SECTIONS.values():
            status = client.get(reverse(section.url_name)).status_code
            if actor.can(section.perm):
                assert status == 200, (label, section.name)
            else:
                assert status == 403, (label, section.name)
                assert section.title not in home, (label, section.name)
    # The desk books recalls and checks in; it does not sign or screen.
    desk = clinic_a.actor(clinic_a.front_desk)
    assert desk.can(worklist.SECTIONS["recalls"].perm)
    assert not desk.can(worklist.SECTIONS["to_sign"].perm)


# --- flat queries -----------------------------------------------------------------------------


def _fill(staff, kit, n: int) -> None:
    """n rows in every section a physician sees (today, tomorrow, pending, due)."""
    p = make_patient(staff, given_name=f"N{n}")
    _appointments(staff, kit, p, n)  # arrivals
    q = make_patient(staff, given_name=f"W{n}")
    _appointments(staff, kit, q, n, status="checked_in")  # waiting
    r = make_patient(staff, given_name=f"S{n}")
    _appointments(staff, kit, r, n, day=1, kind="induction", procedure="prp_scalp")  # screenings
    _sessions(staff, p, n, "in_progress")
    _sessions(staff, p, n, "ready_to_sign")
    _recalls(staff, p, n)
    _lots(staff, n)


def _queries(client, url: str, **headers) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url, **headers).status_code == 200
    return len(ctx.captured_queries)


def test_home_query_count_does_not_grow_with_the_rows(clinic_a, clinic_b):
    kit_a, kit_b = make_kit(clinic_a), make_kit(clinic_b)
    _fill(clinic_a, kit_a, 3)
    _fill(clinic_b, kit_b, 30)
    few = clinic_a.client(clinic_a.physician)
    many = clinic_b.client(clinic_b.physician)
    for client in (few, many):
        _queries(client, "/")  # the first request after sign-in also settles the session
    wl = worklist.worklist_for(clinic_b.actor(clinic_b.physician))
    for name in ("arrivals", "waiting", "screenings_due", "in_progress", "to_sign", "recalls"):
        assert len(wl.sections[name].rows) == PREVIEW and wl.sections[name].total == 30, name
    assert _queries(few, "/") == _queries(many, "/")
    hx = {"headers": {"HX-Request": "true"}}
    assert _queries(few, reverse("home-worklist"), **hx) == _queries(
        many, reverse("home-worklist"), **hx
    )
    for section in ("home-arrivals", "home-to-sign", "home-recalls", "home-screenings"):
        assert _queries(few, reverse(section)) == _queries(many, reverse(section)), section


# --- screenings due: one query, the same answer as the old two-step definition ---------------


def _old_screenings_due(actor, today: dt.date) -> list[tuple[int, str]]:
    """The definition before issue 15's rewrite: the visits, then their screenings in Python."""
    appts = [
        a
        for a in worklist._appointments(actor)
        .filter(
            status__in=("booked", "checked_in"),
            starts_at__gte=worklist._day_bounds(actor, today, 2)[0],
            starts_at__lt=worklist._day_bounds(actor, today, 2)[1],
            procedure__in=list(worklist.PROCEDURES),
        )
        .order_by("starts_at", "id")
        if not TreatmentSession.objects.filter(appointment=a).exists()
    ]
    since = today - dt.timedelta(days=worklist.SCREENING_FRESH_DAYS)
    latest: dict[tuple[int, str], ScreeningRecord] = {}
    for record in ScreeningRecord.objects.filter(planned_on__gte=since).order_by("run_at", "id"):
        latest[(record.patient_id, record.procedure)] = record
    out = []
    for a in appts:
        rec = latest.get((a.patient_id, a.procedure))
        if rec is None:
            out.append((a.pk, "No screening in the last 30 days"))
        elif rec.effective_decision != "eligible":
            out.append((a.pk, f"Last screening: {rec.effective_decision_label}"))
    return out


def test_screenings_due_equal_the_old_definition_on_random_data(clinic_a):
    rng = random.Random(15)
    kit = make_kit(clinic_a)
    actor = clinic_a.actor(clinic_a.physician)
    today = actor.today()
    for i in range(14):
        p = make_patient(clinic_a, given_name=f"Q{i}")
        procedure = rng.choice(["prp_scalp", "mesotherapy_scalp"])
        a = _appointments(clinic_a, kit, p, 1, day=rng.choice([0, 1, 2]), procedure=procedure)[0]
        a.starts_at += dt.timedelta(minutes=13 * i)
        a.ends_at += dt.timedelta(minutes=13 * i)
        a.save()
        for _ in range(rng.randint(0, 3)):
            decision = rng.choice(["eligible", "review", "defer", "contraindicated"])
            overridden = decision == "review" and rng.random() < 0.5
            ScreeningRecord.objects.create(
                patient=p,
                procedure=rng.choice([procedure, procedure, "prp_face"]),
                planned_on=today - dt.timedelta(days=rng.choice([0, 5, 29, 30, 31, 90])),
                trigger="manual",
                inputs={},
                result={},
                decision=decision,
                ruleset="anagen-prp-screening@1.0.0",
                run_by=clinic_a.physician,
                **(
                    {
                        "override_by": clinic_a.physician,
                        "override_at": timezone.now(),
                        "override_reason": "Reviewed",
                    }
                    if overridden
                    else {}
                ),
            )
    expected = _old_screenings_due(actor, today)
    with CaptureQueriesContext(connection) as ctx:
        got = [(d.appointment.pk, d.reason) for d in worklist.screenings_due(actor, today)]
    assert got == expected and len(ctx.captured_queries) == 1
    assert 2 <= len(expected) < 14  # the data exercise both outcomes
    assert any(r.startswith("Last screening:") for _, r in expected)
