"""The API's plans list (issue 15): each page's appointments read as plain values in one query
and written as ``_appointment_row`` writes them. The bytes must equal the previous path (the
plans with their appointments prefetched as model instances, read by ``_plan_row``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.db.models import DateTimeField, Prefetch, Value
from django.test import Client

from anagen.accounts.models import Clinic, Membership
from anagen.accounts.services import api_token_create
from anagen.interop.paging import forget_counts, page_of
from anagen.interop.render import instant_text, page_response
from anagen.scheduling import api, selectors
from anagen.scheduling import services as scheduling
from anagen.scheduling.models import Appointment
from anagen.scheduling.tests.conftest import make_kit, next_monday
from conftest import make_patient

pytestmark = pytest.mark.django_db


def _previous(actor, *, patient=None, status=None, page=1, size=25) -> bytes:
    qs = selectors.plan_search(actor=actor, patient=patient, status=status).prefetch_related(
        Prefetch("appointments", queryset=Appointment.objects.defer("history").order_by("sequence"))
    )
    return page_response(page_of(qs, page, size), api._plan_row).content


def test_the_plans_list_equals_the_prefetched_rows(clinic_a):
    make_kit(clinic_a)
    actor = clinic_a.actor(clinic_a.physician)
    patients = [make_patient(clinic_a, given_name=f"P{i}") for i in range(4)]
    plans = []
    for i, patient in enumerate(patients):
        plans.append(
            scheduling.plan_book_series(
                actor=actor,
                patient=patient,
                protocol_id="prp-aga-monthly-3",
                start_on=next_monday() + dt.timedelta(days=i),
            )
        )
    scheduling.plan_cancel(actor=actor, plan=plans[1], reason="Patient moved away")
    membership = Membership.objects.get(user=clinic_a.physician, clinic=clinic_a.clinic)
    token = api_token_create(membership=membership, name="test")[1]
    client = Client(headers={"Authorization": f"Bearer {token}"})
    cases: list[tuple[dict[str, Any], dict[str, Any]]] = [
        ({}, {}),
        ({"page_size": 3}, {"size": 3}),
        ({"page_size": 3, "page": 2}, {"size": 3, "page": 2}),
        ({"page": 5}, {"page": 5}),
        ({"status": "cancelled"}, {"status": "cancelled"}),
        ({"patient": patients[2].pk}, {"patient": patients[2]}),
    ]
    for query, previous in cases:
        forget_counts()
        want = _previous(actor, **previous)
        forget_counts()
        got = client.get("/api/v1/scheduling/plans", query)
        assert got.status_code == 200, query
        assert got.content == want, query
        assert got.headers["Content-Type"] == "application/json; charset=utf-8"
    assert b'"appointments": [{' in want or b'"results": []' in want


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL writes the text")
def test_postgresql_writes_instants_as_the_api_does(clinic_a):
    utc, plus2 = dt.UTC, dt.timezone(dt.timedelta(hours=2))
    values = [
        dt.datetime(2026, 1, 1, tzinfo=utc),
        dt.datetime(2026, 1, 1, 0, 0, 0, 123, tzinfo=utc),
        dt.datetime(2026, 1, 1, 0, 0, 0, 999999, tzinfo=utc),
        dt.datetime(2026, 6, 30, 23, 59, 59, 500000, tzinfo=plus2),
        dt.datetime(2026, 11, 30, 9, 7, 56, 956123, tzinfo=utc),
        dt.datetime(999, 1, 1, 0, 0, 0, 100000, tzinfo=utc),
    ]
    for value in values:
        text = (
            Clinic.objects.filter(pk=clinic_a.clinic.pk)
            .annotate(t=selectors._InstantText(Value(value, output_field=DateTimeField())))
            .values_list("t", flat=True)
            .get()
        )
        assert text == instant_text(value.astimezone(utc)), value
