"""The chart's fast path (issue 15): the cards, the timeline list, the latest intake's head and
the alert banner are read with the timeline's one query and written in Python
(anagen/patients/chart_html.py). On random data, for every role, each part must be byte for
byte what the templates render from the selectors the inclusion tags call, and nothing shown
may be cached: a change shows on the next view."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from anagen.care.models import Consent
from anagen.patients import selectors
from anagen.patients.chart_html import ChartCards, timeline_html
from anagen.patients.models import Patient
from anagen.patients.tests.test_chart_panel_queries import _full
from anagen.procedures.models import AdverseEvent, Preparation, TreatmentSession
from anagen.scheduling.models import Appointment, Recall, TreatmentPlan
from conftest import make_patient

pytestmark = pytest.mark.django_db

NAMES = ["José", "Ana <b>", 'O"Brien & Co', "Zoë", "d'Arc"]
CARDS = {
    "schedule": "scheduling",
    "billing": "billing",
    "care": "care",
    "procedures": "procedures",
    "outcomes": "outcomes",
}
CLINICAL_CARDS = ("care", "procedures", "outcomes")


def _vary(staff, patient: Patient, rng: random.Random) -> None:
    """Rows in states the cards draw differently: preparations with and without figures
    (a null PAW grade, a zero fold, no volume), serious and other adverse events, a withdrawn
    consent, cancelled visits, a recall, names that need escaping."""
    first = TreatmentSession.objects.filter(patient=patient).first()
    if first is not None:
        for _ in range(6):  # more sessions than the card lists, some sharing a start
            first.pk = None
            first.started_at = first.started_at - dt.timedelta(days=rng.choice([0, 1, 30]))
            first.save()
    for i, session in enumerate(TreatmentSession.objects.filter(patient=patient)):
        computed = rng.choice(
            [
                {},
                {"fold": 4.2, "paw": {"code": "P2-x-Bβ"}},
                {"fold": 3, "paw": {"code": None}},
                {"fold": 0},
                {"fold": '<b>&"', "paw": {"code": "<x> & 'y'"}},
            ]
        )
        Preparation.objects.update_or_create(
            session=session,
            defaults={
                "blood_volume_ml": Decimal("20.00"),
                "recorded_by": staff.nurse,
                "computed": computed,
                "injected_volume_ml": rng.choice([None, Decimal("0"), Decimal("3.50")]),
            },
        )
        TreatmentSession.objects.filter(pk=session.pk).update(
            status=rng.choice(["in_progress", "ready_to_sign"][: 1 + i % 2])
        )
    for event in AdverseEvent.objects.filter(patient=patient):
        AdverseEvent.objects.filter(pk=event.pk).update(
            serious=rng.random() < 0.3, term_other=rng.choice(["", "<i>x</i> & y"])
        )
    if rng.random() < 0.6:
        _withdraw(staff, patient)
    for appt in Appointment.objects.filter(patient=patient):
        if rng.random() < 0.4:
            Appointment.objects.filter(pk=appt.pk).update(status="cancelled")
    if rng.random() < 0.8:  # packages: open, frozen, expired, partly credited
        from anagen.billing.models import PackageSale
        from anagen.billing.services import package_sell
        from anagen.billing.tests.helpers import package

        definition = package(staff)
        today = staff.actor(staff.front_desk).today()
        for _ in range(rng.randint(1, 3)):
            sale = package_sell(
                actor=staff.actor(staff.admin),
                patient=patient,
                package=definition,
                sold_on=today - dt.timedelta(days=rng.choice([0, 100, 400])),
            )
            PackageSale.objects.filter(pk=sale.pk).update(
                name=rng.choice(NAMES),
                frozen_on=rng.choice([None, None, today - dt.timedelta(days=3)]),
                sessions_refunded=rng.choice([0, 0, 1]),
            )
    plan = TreatmentPlan.objects.filter(patient=patient).first()
    if plan is not None:
        TreatmentPlan.objects.filter(pk=plan.pk).update(protocol_name=rng.choice(NAMES))
        if rng.random() < 0.7:
            today = timezone.localdate()
            Recall.objects.get_or_create(
                plan=plan,
                defaults={
                    "clinic": staff.clinic,
                    "patient": patient,
                    "due_from": today + dt.timedelta(days=20),
                    "due_until": today + dt.timedelta(days=50),
                },
            )


def _withdraw(staff, patient: Patient) -> None:
    from anagen.care.services import consent_withdraw

    for consent in Consent.objects.filter(patient=patient, withdrawn_at__isnull=True):
        consent_withdraw(actor=staff.actor(staff.physician), consent=consent, reason="Changed mind")


def _old(actor, patient: Patient, token: str) -> dict[str, str]:
    """What the templates render from the selectors (the reference)."""
    context = {"patient": patient, "actor": actor, "csrf_token": token}
    return {
        name: render_to_string(f"{app}/_chart_panel.html", context)
        for name, app in CARDS.items()
        if actor.perms.clinical_view or name not in CLINICAL_CARDS
    }


def _compare(staff, user, patient: Patient) -> None:
    actor = staff.actor(user)
    clinical = actor.perms.clinical_view
    with timezone.override(actor.tz):
        old = _old(actor, patient, "T0KEN")
        cards = ChartCards(actor, patient, lambda: "T0KEN")
        timeline = cards.read() if clinical else []
        for name in CARDS:
            if name in CLINICAL_CARDS and not clinical:
                continue
            assert getattr(cards, name)() == old[name], (user.username, patient.pk, name)
        if not clinical:
            return
        from anagen.patients.timeline import timeline_for

        assert timeline == timeline_for(actor=actor, patient=patient)
        reference = render_to_string("patients/_timeline.html", {"timeline": timeline})
        assert timeline_html(timeline) == reference
        # The intake's head as intake_latest_head gives it (what the chart shows of it).
        head = selectors.intake_latest_head(actor=actor, patient=patient)
        fast = cards.intake()
        if head is None:
            assert fast is None
        else:
            assert fast is not None
            assert (fast.pk, fast.patient_id, fast.version, fast.recorded_at) == (
                head.pk,
                head.patient_id,
                head.version,
                head.recorded_at,
            )
            assert str(fast.recorded_by) == str(head.recorded_by)
        # The banner as patient_alerts gives it.
        want = render_to_string(
            "_patient_alerts.html",
            {"alerts": selectors.patient_alerts(actor=actor, patient=patient) or None},
        )
        got = render_to_string("_patient_alerts.html", {"alerts": cards.alerts() or None})
        assert got == want


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fast_chart_parts_equal_the_templates_on_random_data(clinic_a, patient_a, seed):
    rng = random.Random(seed)
    staff = clinic_a
    full = _full(staff)
    other = make_patient(staff, given_name=rng.choice(NAMES), family_name=rng.choice(NAMES))
    _vary(staff, full, rng)
    for patient in (patient_a, full, other):
        patient.refresh_from_db()
        for user in (staff.physician, staff.nurse, staff.front_desk, staff.admin):
            _compare(staff, user, patient)


def test_the_chart_shows_a_new_allergy_adverse_event_and_withdrawal_at_once(clinic_a):
    """Nothing clinical is kept between views: each change shows on the next one."""
    from anagen.care.tests.helpers import record_intake

    staff = clinic_a
    full = _full(staff)
    client = staff.client(staff.physician)
    url = reverse("patient-detail", args=[full.pk])
    client.get(url)
    record_intake(staff, full, allergies=[{"substance": "Latex <new>", "reaction": "hives"}])
    AdverseEvent.objects.filter(patient=full).update(serious=True)
    _withdraw(staff, full)
    body = client.get(url).content.decode()
    assert "Latex &lt;new&gt; (hives)" in body
    assert "Substance 0" not in body  # the earlier version's allergies are gone
    assert ", serious" in body
    assert 'class="consent-withdrawn"' in body


def test_one_query_reads_the_timeline_cards_intake_and_banner(clinic_a):
    staff = clinic_a
    full = _full(staff)
    actor = staff.actor(staff.physician)
    cards = ChartCards(actor, full)
    assert actor.clinic is not None  # loaded once per request by the middleware, not here
    with CaptureQueriesContext(connection) as ctx:
        cards.read()
        cards.intake()
        cards.alerts()
        cards.procedures()
        cards.outcomes()
    assert len(ctx.captured_queries) == 1
