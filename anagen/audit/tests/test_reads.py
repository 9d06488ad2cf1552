"""A request that reads patient data writes exactly one audit row; a refused one writes none."""

from __future__ import annotations

import re

import pytest

from anagen.audit.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_second_factor(monkeypatch):
    monkeypatch.setattr(
        "anagen.accounts.middleware.mfa_pending", lambda request: None, raising=False
    )


def _new_rows(since: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(id__gt=since).order_by("id"))


def _last() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def test_a_form_page_of_a_patient_writes_one_record_read(clinic_a, patient_a):
    client = clinic_a.client(clinic_a.front_desk)  # (signing in is audited too)
    since = _last()
    response = client.get(f"/patients/{patient_a.pk}/edit/")
    assert response.status_code == 200
    (row,) = _new_rows(since)
    assert row.action == AuditAction.RECORD_READ and row.patient_id == patient_a.pk
    assert row.actor == clinic_a.front_desk and row.clinic == clinic_a.clinic


def test_a_search_writes_one_list_read_with_the_words_searched(clinic_a, patient_a):
    client = clinic_a.client(clinic_a.front_desk)
    since = _last()
    client.get("/patients/", {"q": "Álvarez"})
    (row,) = _new_rows(since)
    assert row.action == AuditAction.PATIENT_LIST_READ and row.patient_id is None
    assert row.changes == {"list": "Patient search", "search": "Álvarez"}


def test_a_page_that_audits_itself_gets_no_second_row(clinic_a, patient_a):
    client = clinic_a.client(clinic_a.physician)
    since = _last()
    client.get(f"/patients/{patient_a.pk}/")
    assert [r.action for r in _new_rows(since)] == [AuditAction.CHART_READ]


def test_refused_and_unknown_reads_write_nothing(clinic_a, clinic_b, patient_a, patient_b):
    client = clinic_a.client(clinic_a.physician)
    since = _last()
    assert client.get(f"/patients/{patient_b.pk}/edit/").status_code == 404
    assert client.get("/patients/999999/edit/").status_code == 404
    assert _new_rows(since) == []


def test_the_audit_page_shows_reads_in_words(clinic_a, patient_a):
    clinic_a.client(clinic_a.front_desk).get("/patients/", {"q": "Álvarez"})
    html = clinic_a.client(clinic_a.admin).get("/audit/").content.decode()
    table = re.sub(r"<[^>]+>", " ", html.split('id="audit"')[1])
    assert "Patient list viewed" in table and "Patient search" in table
    assert "patient_list.read" not in table
    # Hashes are for `anagen audit verify`, never on the page.
    event = AuditEvent.objects.order_by("-id").first()
    assert event is not None and event.hash and event.hash not in html
