"""The fixed cost of an API read (issue 15): the token is remembered per worker (and forgotten at
once when it is revoked or its person or membership changes), a list page is one query with its
bounded count, and a read's ETag does not read the record twice."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from anagen.accounts import signed_in
from anagen.accounts.models import ApiToken, Membership, Role
from anagen.accounts.services import (
    api_token_create,
    api_token_revoke,
    membership_change_role,
    membership_set_active,
)
from anagen.interop import paging
from anagen.interop.etag import etag_of
from anagen.patients.models import Patient
from conftest import make_patient

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _own_stamp(settings, tmp_path):
    """A stamp file of this test's own: other test runs on the machine touch theirs."""
    settings.VAR_DIR = tmp_path
    signed_in.check_stamp()
    signed_in.forget_all()
    paging.forget_counts()


def _token(staff, user) -> tuple[ApiToken, str]:
    membership = Membership.objects.get(user=user, clinic=staff.clinic)
    return api_token_create(membership=membership, name="integration", days=7)


def _get(raw: str, url: str = "/api/v1/patients") -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as ctx:
        status = Client().get(url, headers={"Authorization": f"Bearer {raw}"}).status_code
    return status, [q["sql"] for q in ctx.captured_queries]


def _token_reads(sqls: list[str]) -> int:
    return sum('FROM "accounts_apitoken"' in s for s in sqls)


def test_a_token_is_read_once_per_worker_not_on_every_call(clinic_a, patient_a):
    _, raw = _token(clinic_a, clinic_a.physician)
    status, first = _get(raw)
    assert status == 200 and _token_reads(first) == 1
    status, second = _get(raw)
    assert status == 200 and _token_reads(second) == 0
    assert not any("accounts_membership" in s or "accounts_user" in s for s in second)


def test_revoking_a_token_takes_effect_on_the_next_call(clinic_a, patient_a):
    token, raw = _token(clinic_a, clinic_a.physician)
    assert _get(raw)[0] == 200
    api_token_revoke(token=token)
    assert _get(raw)[0] == 401


def test_another_workers_revocation_is_seen_through_the_stamp(clinic_a, patient_a):
    token, raw = _token(clinic_a, clinic_a.physician)
    assert _get(raw)[0] == 200
    # What another worker does: the row changes there and the stamp file is touched on commit.
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    assert _get(raw)[0] == 200  # this worker was not told (a bulk update signals nothing)
    signed_in._touch_stamp()
    assert _get(raw)[0] == 401


def test_deactivating_the_membership_or_the_person_takes_effect_at_once(clinic_a, patient_a):
    _, nurse_raw = _token(clinic_a, clinic_a.nurse)
    _, desk_raw = _token(clinic_a, clinic_a.front_desk)
    assert _get(nurse_raw)[0] == _get(desk_raw)[0] == 200
    membership = Membership.objects.get(user=clinic_a.nurse, clinic=clinic_a.clinic)
    membership_set_active(actor=clinic_a.actor(clinic_a.admin), membership=membership, active=False)
    assert _get(nurse_raw)[0] == 401
    clinic_a.front_desk.is_active = False
    clinic_a.front_desk.save()
    assert _get(desk_raw)[0] == 401


def test_a_role_change_takes_effect_on_the_next_call(clinic_a, patient_a):
    _, raw = _token(clinic_a, clinic_a.front_desk)
    progress = f"/api/v1/outcomes/patients/{patient_a.pk}/progress"
    assert _get(raw, progress)[0] == 403
    membership = Membership.objects.get(user=clinic_a.front_desk, clinic=clinic_a.clinic)
    membership_change_role(
        actor=clinic_a.actor(clinic_a.admin), membership=membership, role=Role.NURSE
    )
    assert _get(raw, progress)[0] == 200


def test_an_expired_token_is_refused_though_remembered(clinic_a, patient_a, monkeypatch):
    token, raw = _token(clinic_a, clinic_a.physician)
    assert _get(raw)[0] == 200
    later = token.expires_at + dt.timedelta(seconds=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert _get(raw)[0] == 401


def test_unknown_keys_are_not_remembered(clinic_a, patient_a):
    before = len(signed_in._entries)
    for n in range(5):
        assert _get(f"ang_not-a-token-{n}")[0] == 401
    assert len(signed_in._entries) == before


def test_last_use_is_written_once_a_minute_though_the_token_is_remembered(
    clinic_a, patient_a, monkeypatch
):
    token, raw = _token(clinic_a, clinic_a.physician)
    _get(raw)
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    status, sqls = _get(raw)
    assert status == 200 and not any("UPDATE" in s and "accounts_apitoken" in s for s in sqls)
    for minutes in (2, 2.5, 4):
        monkeypatch.setattr(timezone, "now", lambda m=minutes: first + dt.timedelta(minutes=m))
        _, sqls = _get(raw)
        writes = [s for s in sqls if "UPDATE" in s and "accounts_apitoken" in s]
        assert len(writes) == (0 if minutes == 2.5 else 1), minutes
    token.refresh_from_db()
    assert token.last_used_at == first + dt.timedelta(minutes=4)


# --- paging ----------------------------------------------------------------------------------


def _patients(staff, n: int) -> None:
    for i in range(n):
        make_patient(
            staff, given_name=f"P{i}", family_name="Paged", phone="", email="", sms_reminders=False
        )


def test_a_page_is_one_query_with_its_bounded_count(clinic_a):
    _patients(clinic_a, 5)
    qs = Patient.objects.filter(clinic=clinic_a.clinic).order_by("given_name")
    for page, size, results in ((1, 2, 2), (3, 2, 1), (1, 10, 5)):
        with CaptureQueriesContext(connection) as ctx:
            got = paging.page_of(qs, page, size)
        assert len(ctx) == 1 and "COUNT(" in ctx.captured_queries[0]["sql"]
        assert got["count"] == paging.bounded_count(qs) == 5
        assert len(got["results"]) == results
        assert [p.pk for p in got["results"]] == [p.pk for p in qs[(page - 1) * size : page * size]]


def test_an_empty_list_and_a_page_past_the_end(clinic_a):
    _patients(clinic_a, 3)
    empty = Patient.objects.filter(clinic=clinic_a.clinic, given_name="Nobody")
    with CaptureQueriesContext(connection) as ctx:
        assert paging.page_of(empty, 1, 10) == {"count": 0, "page": 1, "pages": 1, "results": []}
    assert len(ctx) == 1
    qs = Patient.objects.filter(clinic=clinic_a.clinic)
    past = paging.page_of(qs, 5, 2)
    assert past["count"] == 3 and past["pages"] == 2 and past["results"] == []


def test_a_list_over_the_cap_is_not_counted_again_for_a_while(clinic_a, monkeypatch):
    _patients(clinic_a, 4)
    monkeypatch.setattr(paging, "COUNT_CAP", 2)
    qs = Patient.objects.filter(clinic=clinic_a.clinic).order_by("pk")
    assert paging.page_of(qs, 1, 1)["count"] == 3  # "more than 2"
    with CaptureQueriesContext(connection) as ctx:
        again = paging.page_of(qs, 2, 1)
    assert again["count"] == 3 and again["pages"] == 3 and len(again["results"]) == 1
    assert len(ctx) == 1 and "COUNT(" not in ctx.captured_queries[0]["sql"]
    # Under the cap, counts are always exact and never remembered.
    few = qs.filter(given_name__in=["P0", "P1"])
    assert paging.page_of(few, 1, 1)["count"] == 2
    Patient.objects.filter(given_name="P1").update(given_name="Q1")
    assert paging.page_of(few, 1, 1)["count"] == 1
    # After OVER_CAP_SECONDS the list is counted again.
    monkeypatch.setattr(paging, "OVER_CAP_SECONDS", 0.0)
    with CaptureQueriesContext(connection) as ctx:
        assert paging.page_of(qs, 1, 1)["count"] == 3
    assert "COUNT(" in ctx.captured_queries[0]["sql"]


def test_a_list_that_shrank_under_the_cap_counts_its_last_page_exactly(clinic_a, monkeypatch):
    _patients(clinic_a, 4)
    monkeypatch.setattr(paging, "COUNT_CAP", 2)
    qs = Patient.objects.filter(clinic=clinic_a.clinic, given_name__startswith="P").order_by("pk")
    assert paging.page_of(qs, 1, 1)["count"] == 3  # "more than 2", remembered
    assert paging.page_of(qs, 2, 3)["count"] == 3  # a last page past the cap: still "more than"
    Patient.objects.filter(given_name__in=["P2", "P3"]).update(given_name="Q")
    # A middle page may still say "more than 2" for a while (the memory's documented limit) …
    assert paging.page_of(qs, 1, 1)["count"] == 3
    # … but a page that ends the list counts itself, and the memory is dropped.
    with CaptureQueriesContext(connection) as ctx:
        last = paging.page_of(qs, 1, 5)
    assert last["count"] == 2 and last["pages"] == 1 and len(last["results"]) == 2
    assert len(ctx) == 1
    assert paging.page_of(qs, 1, 1)["count"] == 2
    assert paging.page_of(qs, 2, 1)["count"] == 2


def test_pages_of_other_querysets_still_count_apart(clinic_a):
    _patients(clinic_a, 3)
    values = Patient.objects.filter(clinic=clinic_a.clinic).order_by("pk").values("pk")
    got = paging.page_of(values, 1, 2)
    assert got["count"] == 3 and got["results"] == list(values[:2])


# --- ETag of a read ----------------------------------------------------------------------------


def test_a_patient_read_tags_the_row_as_read_without_reading_it_again(clinic_a, patient_a):
    _, raw = _token(clinic_a, clinic_a.physician)
    url = f"/api/v1/patients/{patient_a.pk}"
    _get(raw, url)
    with CaptureQueriesContext(connection) as ctx:
        response = Client().get(url, headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 200
    assert response["ETag"] == etag_of(Patient.objects.get(pk=patient_a.pk))
    reads = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("SELECT")]
    assert sum('FROM "patients_patient"' in s for s in reads) == 1, reads


# --- JSON ------------------------------------------------------------------------------------


def test_the_fast_encoder_writes_the_same_bytes_as_ninjas():
    import json
    import zoneinfo
    from decimal import Decimal

    from ninja.responses import NinjaJSONEncoder

    from anagen.interop.render import FastJSONEncoder

    paris = zoneinfo.ZoneInfo("Europe/Paris")
    values = [
        dt.datetime(2026, 11, 30, 14, 5, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 30, 14, 5, 7, 123456, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 30, 14, 5, 7, 999, tzinfo=paris),
        dt.datetime(2026, 11, 30, 14, 5),
        dt.date(2026, 2, 28),
        dt.time(9, 30, 15, 250000),
        dt.timedelta(minutes=90),
        Decimal("12.50"),
        {"nested": [dt.date(2026, 1, 1), None, 1.5, "x"]},
    ]
    assert json.dumps(values, cls=FastJSONEncoder) == json.dumps(values, cls=NinjaJSONEncoder)
