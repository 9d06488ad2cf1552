"""One clinic far from UTC (Pacific/Auckland): chart, session, calendar, audit and PDF agree.

20:30 UTC on Sunday 29 Nov 2026 is 09:30 on Monday 30 Nov 2026 in Auckland (NZDT, UTC+13).
Every page a person reads must say 09:30 on the 30th; none may show the UTC 20:30 or an ISO
stamp.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest

from anagen.audit.models import AuditEvent
from anagen.outcomes import report
from anagen.outcomes.tests.helpers import record
from anagen.procedures.models import TreatmentSession
from anagen.procedures.tests.helpers import ready_patient
from anagen.scheduling.models import Appointment
from anagen.scheduling.services import appointment_check_in
from anagen.scheduling.tests.conftest import make_kit

INSTANT = dt.datetime(2026, 11, 29, 20, 30, tzinfo=dt.UTC)
ISO_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


@pytest.fixture
def auckland(clinic_a, monkeypatch):
    clinic_a.clinic.timezone = "Pacific/Auckland"
    clinic_a.clinic.save(update_fields=["timezone"])
    monkeypatch.setattr("django.utils.timezone.now", lambda: INSTANT)
    return clinic_a


def _text(response) -> str:
    assert response.status_code == 200
    html = response.content.decode()
    # Only what a person reads: drop tags, attributes (input values are ISO by design) and
    # scripts.
    html = re.sub(r"<script.*?</script>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def test_chart_session_calendar_audit_and_pdf_show_auckland_time(auckland, patient_a):
    staff = auckland
    ready_patient(staff, patient_a)
    kit = make_kit(staff, hours=False)
    appt = Appointment.objects.create(
        clinic=staff.clinic,
        patient=patient_a,
        kind="induction",
        procedure="prp_scalp",
        starts_at=INSTANT,
        ends_at=INSTANT + dt.timedelta(minutes=75),
        practitioner=kit.physician,
        room=kit.room1,
        centrifuge=kit.centrifuge,
    )
    # Check-in on the clinic's day (the 30th), although UTC is still on the 29th.
    appointment_check_in(actor=staff.actor(staff.front_desk), appointment=appt)
    staff.client(staff.nurse).post(f"/appointments/{appt.pk}/session/")
    session = TreatmentSession.objects.get(appointment=appt)

    nurse = staff.client(staff.nurse)
    pages = {
        "chart": nurse.get(f"/patients/{patient_a.pk}/"),
        "session": nurse.get(f"/patients/{patient_a.pk}/sessions/{session.pk}/"),
        "calendar": nurse.get("/calendar/?date=2026-11-30"),
        "appointment": nurse.get(f"/appointments/{appt.pk}/"),
    }
    for name, response in pages.items():
        text = _text(response)
        assert "09:30" in text, name
        assert "20:30" not in text, name
        assert not ISO_STAMP.search(text), (name, ISO_STAMP.search(text))
    assert "30 Nov 2026" in _text(pages["session"])

    assert AuditEvent.objects.filter(at=INSTANT).exists()
    audit = _text(staff.client(staff.admin).get("/audit/"))
    assert "30 Nov 2026, 09:30" in audit
    assert "20:30" not in audit and not ISO_STAMP.search(audit)

    record(staff, patient_a, dt.date(2026, 6, 1), "baseline", 141.9)
    record(staff, patient_a, dt.date(2026, 11, 30), "follow_up", 177.5)
    pdf_text = report.document_text(
        report.render_document(
            report.report_html(actor=staff.actor(staff.physician), patient=patient_a)
        )
    )
    assert "Mon 30 Nov 2026, 09:30" in pdf_text
    assert "UTC" not in pdf_text and "20:30" not in pdf_text
