"""Reads that stay cheap at clinic scale (issue 15): charts drawn once per data version, stock
kept not summed, API lists without a count over the clinic, patient search without a probe."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from anagen.outcomes import charts, selectors
from anagen.outcomes.tests.helpers import record
from anagen.procedures import services as procedure_services
from anagen.procedures.models import Lot
from anagen.procedures.services import lots_recount
from anagen.procedures.tests.helpers import make_lot, ready_patient, start
from conftest import make_patient

D0 = dt.date(2025, 6, 1)


def _sqls(ctx) -> list[str]:
    return [q["sql"] for q in ctx.captured_queries]


def test_a_chart_is_drawn_once_per_version_of_its_data(clinic_a, patient_a, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    record(clinic_a, patient_a, D0, "baseline", 141.9)
    record(clinic_a, patient_a, D0 + dt.timedelta(days=180), "follow_up", 177.5)
    actor = clinic_a.actor(clinic_a.physician)
    series = next(s for s in selectors.series_for(actor=actor, patient=patient_a))
    drawn = []
    real = charts._draw_series

    def counting(*args, **kwargs):
        drawn.append(1)
        return real(*args, **kwargs)

    charts._draw_series = counting
    try:
        c = clinic_a.client(clinic_a.physician)
        url = f"/patients/{patient_a.pk}/outcomes/chart.svg"
        first = c.get(url, {"series": series.key}).content
        second = c.get(url, {"series": series.key}).content
        assert first == second and b"<svg" in first and len(drawn) == 1
        stored = list((tmp_path / "private" / "charts").rglob("*.svg"))
        assert len(stored) == 1 and stored[0].stem == charts.chart_key(
            "series", charts.series_data(series, selectors.session_dates(patient_a))
        )
        # New data is a new version: drawn again, under a new key.
        record(clinic_a, patient_a, D0 + dt.timedelta(days=360), "follow_up", 190.0)
        third = c.get(url, {"series": series.key}).content
        assert third != first and len(drawn) == 2
    finally:
        charts._draw_series = real


def test_stock_levels_are_kept_by_the_lot_use_service(clinic_a, patient_a):
    lot = make_lot(clinic_a, quantity=5)
    ready_patient(clinic_a, patient_a)
    session = start(clinic_a, patient_a)
    procedure_services.lot_use_record(
        actor=clinic_a.actor(clinic_a.nurse), session=session, lot=lot, quantity=2
    )
    lot.refresh_from_db()
    assert lot.used == 2
    Lot.objects.filter(pk=lot.pk).update(used=0)
    assert lots_recount(Lot.objects.filter(pk=lot.pk)) == 1
    lot.refresh_from_db()
    assert lot.used == 2
    token_client = clinic_a.client(clinic_a.admin)
    with CaptureQueriesContext(connection) as ctx:
        listing = token_client.get("/api/v1/procedures/lots").json()
    assert listing["results"][0]["used"] == 2 and listing["count"] == 1
    lot_sql = [s for s in _sqls(ctx) if "procedures_lot" in s]
    assert lot_sql and not any("procedures_lotuse" in s for s in lot_sql)
    assert all("LIMIT" in s for s in lot_sql if "COUNT(" in s)  # a bounded count only


def test_api_lists_do_not_count_the_clinic(clinic_a, patient_a, monkeypatch):
    from anagen.interop import paging

    monkeypatch.setattr(paging, "COUNT_CAP", 2)
    for n in range(3):
        make_patient(
            clinic_a, given_name=f"P{n}", family_name="Paged", phone="", sms_reminders=False
        )
    c = clinic_a.client(clinic_a.physician)
    with CaptureQueriesContext(connection) as ctx:
        body = c.get("/api/v1/patients", {"page_size": 1}).json()
    counts = [s for s in _sqls(ctx) if "COUNT(" in s]
    # Four patients, counted no further than the cap + 1: "more than 2".
    assert len(body["results"]) == 1 and body["count"] == 3
    assert len(counts) == 1 and "LIMIT 3" in counts[0]


@pytest.mark.parametrize("typed", ["{record}", "{lower}", "{spaced}"])
def test_record_number_search_is_one_exact_lookup(clinic_a, patient_a, typed):
    record_number = patient_a.record_number
    query = typed.format(
        record=record_number,
        lower=record_number.lower(),
        spaced=f"{record_number[:2]} {record_number[2:]}",
    )
    c = clinic_a.client(clinic_a.front_desk)
    with CaptureQueriesContext(connection) as ctx:
        html = c.get("/patients/", {"q": query}).content.decode()
    assert patient_a.family_name in html
    searches = [s for s in _sqls(ctx) if 'FROM "patients_patient"' in s]
    # No case-insensitive probe, no leading-wildcard LIKE (an index serves every branch).
    assert not any("UPPER(" in s or "LIKE '%" in s for s in searches), searches
    # One bounded page: the results fit on it, so no count runs (a fuller search still counts,
    # bounded: anagen/patients/tests/test_registry.py).
    assert len(searches) == 1 and "LIMIT" in searches[0] and "COUNT(" not in searches[0]


def test_phone_and_name_search_keep_their_behaviour(clinic_a, patient_a):
    c = clinic_a.client(clinic_a.front_desk)
    digits = patient_a.phone_digits
    assert digits, "the fixture patient has a phone"
    for query in (digits[-6:], patient_a.phone, patient_a.family_name.lower()):
        html = c.get("/patients/", {"q": query}).content.decode()
        assert patient_a.record_number in html, query
    assert patient_a.record_number not in c.get("/patients/", {"q": "000000"}).content.decode()
