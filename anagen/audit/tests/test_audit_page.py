"""The audit page in words: labels, clinic time, "Field: before → after", no dicts or codes."""

from __future__ import annotations

import re
import zoneinfo

import pytest

from anagen.accounts.clinic_time import human_datetime
from anagen.audit.models import AuditAction, AuditEvent
from anagen.patients.services import patient_update

pytestmark = pytest.mark.django_db


def test_audit_page_reads_as_words_in_clinic_time(clinic_a, patient_a):
    clinic_a.clinic.timezone = "Pacific/Auckland"
    clinic_a.clinic.save(update_fields=["timezone"])
    patient_update(
        actor=clinic_a.actor(clinic_a.front_desk),
        patient=patient_a,
        data={"given_name": "Josep", "sms_reminders": False},
    )
    html = clinic_a.client(clinic_a.admin).get("/audit/").content.decode()
    table = html.split('<table class="list" id="audit">')[1]
    assert "<td>Patient changed</td>" in table and "<td>Patient created</td>" in table
    assert "Given name: José → Josep" in table
    assert "Sms reminders: Yes → No" in table
    assert "Date of birth: — → 2 May 1984" in table
    assert ("<td>Web page</td>" in table and "<td>Patient</td>" in table) or "Patient " in table
    # No codes, dicts or ISO stamps where people read.
    visible = re.sub(r"<[^>]+>", " ", table)
    assert "patient.update" not in visible and "{" not in visible and "[" not in visible
    assert not re.search(r"\d{4}-\d{2}-\d{2}", visible)
    event = AuditEvent.objects.filter(action=AuditAction.PATIENT_UPDATE).get()
    assert human_datetime(event.at, zoneinfo.ZoneInfo("Pacific/Auckland")) in table


def test_date_filters_prefill_iso(clinic_a):
    html = clinic_a.client(clinic_a.admin).get("/audit/", {"date_from": "2026-11-30"}).content
    assert b'value="2026-11-30"' in html
