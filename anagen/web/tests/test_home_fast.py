"""The home page's fast path (issue 15): each section's first rows and count in ONE query,
compiled once per clinic and day and read afresh, with the columns the cards show; the rows
written in Python byte for byte as the row templates. The answers must equal the section
querysets' (the full lists' own definitions) on random data, for every role."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from anagen.care.models import Assessment, ScreeningRecord
from anagen.outcomes.models import MeasurementSet
from anagen.outcomes.services import last_measurements_refresh
from anagen.patients.models import Patient
from anagen.procedures.models import Lot, Product, TreatmentSession
from anagen.scheduling.models import Appointment, Recall, TreatmentPlan
from anagen.scheduling.tests.conftest import make_kit
from anagen.web import worklist
from anagen.web.worklist_html import rows_html, sign_table_html
from conftest import make_patient

pytestmark = pytest.mark.django_db

ROLES = ("physician", "nurse", "front_desk", "admin")
NAMES = ["José", "Ana <b>", 'O"Brien & Co', "Zoë", "d'Arc"]


def _fill(staff, kit, rng: random.Random, n: int) -> None:
    """Random rows for every section: some visits cancelled or started, some patients deleted
    (shown nowhere), ties in the sort keys, a few more rows than a card shows."""
    actor = staff.actor(staff.physician)
    today = actor.today()
    patients = [
        make_patient(staff, given_name=rng.choice(NAMES), family_name=f"{rng.choice(NAMES)} {i}")
        for i in range(n)
    ]
    start = dt.datetime.combine(today, dt.time(6, 0), tzinfo=actor.tz)
    for i in range(3 * n):
        p = rng.choice(patients)
        # Each visit its own slot (a patient's visits may not overlap).
        at = start + dt.timedelta(days=rng.choice([0, 0, 1, 2]), minutes=10 * i)
        procedure = rng.choice(["prp_scalp", "mesotherapy_scalp", ""])
        appt = Appointment.objects.create(
            clinic=staff.clinic,
            patient=p,
            kind="induction" if procedure else "consultation",
            procedure=procedure,
            starts_at=at,
            ends_at=at + dt.timedelta(minutes=9),
            practitioner=kit.physician,
            room=rng.choice([kit.room1, kit.room2]),
            status=rng.choice(["booked", "booked", "checked_in", "cancelled"]),
        )
        if procedure and rng.random() < 0.2:
            TreatmentSession.objects.create(
                clinic=staff.clinic,
                patient=p,
                appointment=appt,
                procedure=procedure,
                started_at=at,
                started_by=staff.nurse,
                status="in_progress",
            )
        if procedure and rng.random() < 0.4:
            ScreeningRecord.objects.create(
                patient=p,
                procedure=procedure,
                planned_on=today - dt.timedelta(days=rng.choice([0, 10, 40])),
                trigger="manual",
                inputs={},
                result={},
                decision=rng.choice(["eligible", "review", "defer"]),
                ruleset="anagen-prp-screening@1.0.0",
                run_by=staff.physician,
            )
    now = timezone.now()
    for i in range(2 * n):
        p = rng.choice(patients)
        status = rng.choice(["in_progress", "ready_to_sign", "signed"])
        TreatmentSession.objects.create(
            clinic=staff.clinic,
            patient=p,
            procedure="prp_scalp",
            started_at=now - dt.timedelta(days=rng.choice([1, 100, 200]), minutes=i % 3),
            started_by=rng.choice([staff.nurse, staff.physician]),
            status=status,
            **({"signed_by": staff.physician, "signed_at": now} if status == "signed" else {}),
        )
    for i, p in enumerate(patients):
        Assessment.objects.create(
            patient=p,
            version=1,
            visit_on=today - dt.timedelta(days=rng.choice([0, 3, 3])),
            diagnosis_code="aga",
            created_by=staff.physician,
            **({"signed_by": staff.physician, "signed_at": now} if i % 3 == 0 else {}),
        )
        MeasurementSet.objects.create(
            patient=p,
            measured_on=today - dt.timedelta(days=rng.choice([300, 400, 10])),
            visit_label="follow_up",
            method="phototrichogram",
            recorded_by=staff.nurse,
        )
        plan = TreatmentPlan.objects.create(
            clinic=staff.clinic,
            patient=p,
            protocol_id="prp-aga-monthly-3",
            protocol_name=rng.choice(["PRP monthly", "PRP <3>"]),
            procedure="prp_scalp",
            start_on=today - dt.timedelta(days=200),
            status="completed",
            created_by=staff.physician,
        )
        due_from = today - dt.timedelta(days=rng.choice([3, 30, -5]))
        Recall.objects.create(
            clinic=staff.clinic,
            patient=p,
            plan=plan,
            due_from=due_from,
            due_until=due_from + dt.timedelta(days=rng.choice([0, 1, 5, 40])),
        )
    last_measurements_refresh(patient_ids=[p.pk for p in patients])
    product = Product.objects.create(clinic=staff.clinic, name="Kit & <serum>", category="kit")
    for i in range(n):
        Lot.objects.create(
            product=product,
            lot_number=f"L{staff.clinic.pk}-{i}",
            expires_on=today + dt.timedelta(days=rng.choice([-1, 3, 3, 20, 45])),
            received_on=today,
            quantity=5,
            used=rng.choice([0, 5]),
        )
    Patient.all_objects.filter(pk__in=[p.pk for p in patients[::5]]).update(
        deleted_at=actor.now(), deleted_reason="test"
    )


def _key(name: str, row) -> tuple:
    if name == "screenings_due":
        return (row.appointment.pk, row.reason)
    if name == "follow_ups":
        return (row.patient.pk, row.last_measured_on, row.due_on)
    return (row.pk,)


def _expected(actor, name: str) -> tuple[list[tuple], int]:
    """The section's first rows and total from its queryset (what the full list shows)."""
    qs = worklist.QUERIES[name](actor, actor.today())
    rows = worklist.present(name, list(qs[: worklist.PREVIEW]))
    n = qs.count()
    total = n if name in worklist.DAY_BOUNDED else min(n, worklist.COUNT_CAP + 1)
    return [_key(name, r) for r in rows], total


def test_sections_equal_their_querysets_on_random_data_for_every_role(
    clinic_a, clinic_b, monkeypatch
):
    monkeypatch.setattr(worklist, "COUNT_CAP", 6)  # some sections past the cap, some under
    rng = random.Random(1515)
    _fill(clinic_a, make_kit(clinic_a), rng, 14)
    _fill(clinic_b, make_kit(clinic_b), rng, 6)  # another clinic's rows show nowhere in A
    seen = []
    for staff in (clinic_a, clinic_b):
        for role in ROLES:
            actor = staff.actor(getattr(staff, role))
            wl = worklist.worklist_for(actor)
            assert list(wl.sections) == [
                n for n, s in worklist.SECTIONS.items() if actor.can(s.perm)
            ]
            for name, shown in wl.sections.items():
                rows, total = _expected(actor, name)
                assert [_key(name, r) for r in shown.rows] == rows, (role, name)
                assert shown.total == total, (role, name)
                seen.append(shown)
    # The data exercise the cases: full cards, capped counts, short sections.
    assert any(s.capped for s in seen)
    assert any(0 < len(s.rows) < worklist.PREVIEW for s in seen)
    assert any(len(s.rows) == worklist.PREVIEW for s in seen)


def test_one_query_a_section_and_no_more_with_rows(clinic_a, clinic_b):
    """Each section costs one query (rows and count together), with or without rows; the page
    reads no column the cards leave out (that would be a query per row)."""
    _fill(clinic_b, make_kit(clinic_b), random.Random(7), 14)
    for role in ROLES:
        counts = []
        for staff in (clinic_a, clinic_b):
            actor = staff.actor(getattr(staff, role))
            worklist.worklist_for(actor)  # compiled once (no query)
            with CaptureQueriesContext(connection) as ctx:
                wl = worklist.worklist_for(actor)
            assert len(ctx.captured_queries) == len(wl.sections), role
            client = staff.client(getattr(staff, role))
            client.get("/")
            with CaptureQueriesContext(connection) as ctx:
                html = client.get("/").content.decode()
            counts.append(len(ctx.captured_queries))
        assert counts[0] == counts[1], role  # empty clinic A, full clinic B
        if "lots" in wl.sections:
            assert "Kit &amp; &lt;serum&gt;" in html


def test_the_plan_is_kept_per_clinic_and_day(clinic_a, clinic_b):
    """Compiled SQL is reused only for the same clinic, day, zone and sections."""
    _fill(clinic_a, make_kit(clinic_a), random.Random(3), 8)
    a = clinic_a.actor(clinic_a.admin)
    b = clinic_b.actor(clinic_b.admin)
    today = a.today()
    names = tuple(worklist.SECTIONS)
    plan_a = worklist._plan(a, today, names, worklist.PREVIEW)
    assert worklist._plan(a, today, names, worklist.PREVIEW) is plan_a
    assert worklist._plan(b, today, names, worklist.PREVIEW) is not plan_a
    tomorrow = worklist._plan(a, today + dt.timedelta(days=1), names, worklist.PREVIEW)
    assert tomorrow is not plan_a
    assert tomorrow.first["arrivals"].params != plan_a.first["arrivals"].params
    assert worklist.worklist_for(b).is_empty and not worklist.worklist_for(a).is_empty


def _template_rows(name: str, rows, context: dict) -> str:
    request = RequestFactory().get("/")
    if name in ("to_sign", "assessments_to_sign"):
        key = "sessions" if name == "to_sign" else "assessments"
        return render_to_string("web/rows/sign_table.html", {key: rows, **context}, request)
    return render_to_string(f"web/rows/{name}.html", {"rows": rows, **context}, request)


def test_rows_written_in_python_equal_the_templates(clinic_a):
    """Byte for byte, on random rows (names to escape, procedures or none, overdue recalls,
    expired lots), with and without the arguments the templates take."""
    _fill(clinic_a, make_kit(clinic_a), random.Random(11), 14)
    tried = 0
    for role in ROLES:
        actor = clinic_a.actor(getattr(clinic_a, role))
        wl = worklist.worklist_for(actor, preview=30)
        for name, shown in wl.sections.items():
            for extra in ({}, {"back": "arrivals"}):
                context = {"csrf_token": "t0ken", "actor": actor, "today": wl.today, **extra}
                expected = _template_rows(name, shown.rows, context)
                if name == "to_sign":
                    got = sign_table_html(shown.rows, [], context)
                elif name == "assessments_to_sign":
                    got = sign_table_html([], shown.rows, context)
                else:
                    got = rows_html(name, shown.rows, context)
                assert got == expected, (role, name, extra)
                tried += bool(shown.rows)
        if "to_sign" in wl.sections:
            context = {"csrf_token": "t0ken", "actor": actor}
            both = render_to_string(
                "web/rows/sign_table.html",
                {"sessions": wl.sign_sessions, "assessments": wl.sign_assessments, **context},
            )
            assert sign_table_html(wl.sign_sessions, wl.sign_assessments, context) == both
    assert tried >= 18  # every section had rows for some role
