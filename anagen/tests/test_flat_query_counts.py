"""A page's query count does not grow with the patient's history (issue 15).

Two copies of the same service-written demo patient (anagen/scale/clone.py): one with a single
copy of its history, one with that history merged in many times over (~30+ visits). Every
patient page and API read must cost the same number of queries for both.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.models import Count
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from anagen.accounts.access import Actor
from anagen.accounts.clinic_time import zone_of
from anagen.accounts.models import Clinic, Membership
from anagen.accounts.services import api_token_create
from anagen.accounts.testing import sign_in
from anagen.demo import seed_demo
from anagen.patients.models import Intake, Patient
from anagen.patients.normalise import digits_of, search_name_for
from anagen.procedures.models import Lot, TreatmentSession
from anagen.procedures.services import lots_recount
from anagen.scale.clone import Cloner, CloneSpec
from anagen.scale.generate import CLOSES, OPENS, _book_existing, _pools
from anagen.scale.slots import SlotBook

TODAY = dt.date(2026, 11, 30)
COPIES = 10  # the long patient holds this many copies of the template's history (~30 visits)


def _fields(record: str, family: str) -> dict[str, object]:
    phone = "+447700900" + record[-3:]
    return {
        "record_number": record,
        "given_name": "Query",
        "family_name": family,
        "search_name": search_name_for("Query", family),
        "phone": phone,
        "phone_digits": digits_of(phone),
        "email": f"{family.lower()}@example.com",
    }


def _plant(clinic: Clinic) -> tuple[Patient, Patient]:
    pools = _pools(clinic)
    book = SlotBook(pools, zone_of(clinic), OPENS.hour * 60, CLOSES.hour * 60)
    _book_existing(book, clinic)
    cloner = Cloner(book, {kind: ids[0] for kind, ids in pools.items()})
    # The demo patient with the richest history: sessions, measurements, photos, intakes.
    source = (
        Patient.all_objects.filter(clinic=clinic, record_number__startswith=clinic.record_prefix)
        .annotate(
            visits=Count("appointments", distinct=True),
            sets=Count("measurement_sets", distinct=True),
            photos=Count("photo_sets", distinct=True),
            sessions=Count("treatment_sessions", distinct=True),
        )
        .filter(sets__gt=0, photos__gt=0, sessions__gt=0)
        .order_by("-visits", "pk")
        .first()
    )
    assert source is not None, "the demo has a patient with sessions, measurements and photos"
    template = cloner.template(source.pk)
    cloner.clone([CloneSpec(template, days=-400, patient_fields=_fields("SHORT00001", "Shortt"))])
    cloner.clone([CloneSpec(template, days=-3000, patient_fields=_fields("LONG000002", "Longer"))])
    long_patient = Patient.all_objects.get(record_number="LONG000002")
    for step in range(1, COPIES):
        cloner.clone(
            [
                CloneSpec(
                    template,
                    days=-3000 + step * 400,
                    patient_fields=_fields("LONG000002", "Longer"),
                    into_patient=long_patient.pk,
                )
            ]
        )
    cloner.reset_sequences()
    lots_recount(Lot.objects.filter(product__clinic=clinic))
    from anagen.outcomes.services import outcome_summaries_rebuild

    outcome_summaries_rebuild(clinic=clinic)
    return Patient.all_objects.get(record_number="SHORT00001"), long_patient


def _pages(patient: Patient, physician: Membership) -> list[tuple[str, str, str]]:
    """(label, role, url) for every patient page and API read."""
    from anagen.outcomes import selectors

    pid = patient.pk
    series = selectors.series_for(
        actor=Actor(user=physician.user, membership=physician), patient=patient
    )
    intake = Intake.objects.filter(patient=patient).order_by("-version").first()
    session = TreatmentSession.objects.filter(patient=patient).order_by("-pk").first()
    assert series and intake and session
    return [
        ("chart", "physician", reverse("patient-detail", args=[pid])),
        ("intake", "physician", reverse("intake-detail", args=[pid, intake.version])),
        ("consents", "physician", reverse("care-consent-list", args=[pid])),
        ("measurements", "physician", reverse("outcomes-measurements", args=[pid])),
        ("progress", "physician", reverse("outcomes-progress", args=[pid])),
        (
            "progress chart",
            "physician",
            reverse("outcomes-progress-chart", args=[pid]) + f"?series={series[0].key}",
        ),
        ("photo sets", "physician", reverse("outcomes-photos", args=[pid])),
        (
            "session record",
            "physician",
            reverse("procedures-session-detail", args=[pid, session.pk]),
        ),
        ("billing patient", "admin", reverse("billing-patient", args=[pid])),
        ("API patient", "physician", f"/api/v1/patients/{pid}"),
        ("API measurements", "physician", f"/api/v1/outcomes/patients/{pid}/measurements"),
        ("API progress", "physician", f"/api/v1/outcomes/patients/{pid}/progress"),
        ("API consents", "physician", f"/api/v1/care/patients/{pid}/consents"),
        ("API appointments", "physician", f"/api/v1/scheduling/appointments?patient={pid}"),
        ("API sessions", "physician", f"/api/v1/procedures/sessions?patient_id={pid}"),
        # Forms a patient's history feeds, the rest of the record and the API reads (issue 15:
        # every patient page and API read).
        ("edit details", "physician", reverse("patient-edit", args=[pid])),
        ("intake form (new version)", "physician", reverse("intake-create", args=[pid])),
        ("new measurement form", "physician", reverse("outcomes-measurement-create", args=[pid])),
        ("photo compare", "physician", reverse("outcomes-photo-compare", args=[pid])),
        ("new appointment form", "physician", reverse("appointment-new", args=[pid])),
        ("audit for patient", "admin", reverse("audit-list") + f"?patient={pid}"),
        ("API intake", "physician", f"/api/v1/patients/{pid}/intake"),
        ("API assessments", "physician", f"/api/v1/care/patients/{pid}/assessments"),
        ("API screenings", "physician", f"/api/v1/care/patients/{pid}/screenings"),
        ("API consent status", "physician", f"/api/v1/care/patients/{pid}/consent-status"),
        ("API photo sets", "physician", f"/api/v1/outcomes/patients/{pid}/photo-sets"),
        ("API plans", "physician", f"/api/v1/scheduling/plans?patient={pid}"),
        ("API account", "admin", f"/api/v1/billing/patients/{pid}/account"),
        ("API packages", "admin", f"/api/v1/billing/patients/{pid}/packages"),
        ("API quotes", "admin", f"/api/v1/billing/patients/{pid}/quotes"),
        ("API invoices", "admin", f"/api/v1/billing/invoices?patient_id={pid}"),
        ("API audit", "admin", f"/api/v1/audit/events?patient_id={pid}"),
    ]


def _count(client: Client, url: str, token: str) -> tuple[int, int, list[str]]:
    headers = {"Authorization": f"Bearer {token}"} if url.startswith("/api/") else {}
    client.get(url, headers=headers)  # warm: the first read of a chart draws it; later reuse it
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, headers=headers)
    return len(ctx), response.status_code, [q["sql"][:160] for q in ctx.captured_queries]


@pytest.mark.django_db(transaction=False)
def test_every_patient_page_costs_the_same_queries_for_a_short_and_a_long_history(settings):
    # No idle-timeout renewal in the middle (a write once a minute: this test runs for minutes).
    settings.SESSION_TOUCH_INTERVAL = 10**6
    seed_demo(TODAY)
    clinic = Clinic.objects.get(slug="north")
    short, long_patient = _plant(clinic)
    visits = long_patient.appointments.count()
    assert visits >= COPIES * short.appointments.count() and visits >= 30
    members = {
        role: Membership.objects.select_related("user", "clinic").get(
            user__username=f"north.{role}"
        )
        for role in ("physician", "admin")
    }
    clients = {}
    for role, membership in members.items():
        client = sign_in(Client(), membership.user)
        client.get("/session/ping")
        _, token = api_token_create(membership=membership, name="query counts", days=1)
        clients[role] = (client, token)
    short_pages = _pages(short, members["physician"])
    long_pages = _pages(long_patient, members["physician"])
    grown: list[tuple[object, ...]] = []
    for (label, role, short_url), (_, _, long_url) in zip(short_pages, long_pages, strict=True):
        client, token = clients[role]
        few, few_status, few_sql = _count(client, short_url, token)
        many, many_status, many_sql = _count(client, long_url, token)
        if not few_status == many_status == 200:
            grown.append((label, "HTTP", few_status, many_status))
        elif few != many:
            grown.append((label, few, many, [s for s in many_sql if s not in few_sql][:6]))
    assert not grown, grown
