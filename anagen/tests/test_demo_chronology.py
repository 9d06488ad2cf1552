"""The demo reads like a real clinic's records: no one is treated before they registered, gave
their intake, were assessed, screened and consented; photos follow the photo consent; the audit
trail states the times the records state."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pytest
from django.utils import timezone

from anagen.accounts.clinic_time import zone_of
from anagen.audit.models import AuditEvent
from anagen.care.models import Assessment, Consent, ScreeningRecord
from anagen.demo import seed_demo
from anagen.outcomes.models import MeasurementSet, MeasurementSite, PhotoSet
from anagen.patients.models import Intake, IntakeLab, Patient
from anagen.procedures.models import TreatmentSession

pytestmark = pytest.mark.django_db


def _earliest(rows: list[tuple[int, dt.datetime | None]]) -> dict[int, dt.datetime]:
    out: dict[int, dt.datetime] = {}
    for pk, at in rows:
        if at is not None and (pk not in out or at < out[pk]):
            out[pk] = at
    return out


def test_demo_records_follow_one_another():
    """One demo load (about 15 s), three readings of it."""
    seed_demo()
    _no_session_precedes_its_consent_screening_assessment_or_intake()
    _audit_events_state_the_records_times()
    _outcomes_and_photos_follow_first_contact_and_photo_consent()
    _no_one_is_treated_without_clearance()


def _no_one_is_treated_without_clearance() -> None:
    """Each session's patient was cleared by their latest screening before it: eligible, or a
    review a physician overrode (signed, with a reason) before the session. Patients whose
    screening blocks them (contraindicated, defer) stay in the demo, without a session."""
    screenings: dict[int, list[ScreeningRecord]] = defaultdict(list)
    for r in ScreeningRecord.objects.filter(procedure="prp_scalp").order_by("run_at", "id"):
        screenings[r.patient_id].append(r)
    sessions = list(TreatmentSession.objects.select_related("patient"))
    overridden = 0
    for s in sessions:
        who = f"session {s.pk} of {s.patient.record_number}"
        before = [r for r in screenings[s.patient_id] if r.run_at < s.started_at]
        assert before, f"{who}: no screening before it"
        latest = before[-1]
        if latest.decision == "eligible":
            continue
        assert latest.decision == "review", f"{who}: treated on a {latest.decision} screening"
        assert latest.override_by_id is not None, f"{who}: review not overridden"
        assert latest.override_reason, f"{who}: override without a reason"
        assert latest.override_at is not None and latest.override_at < s.started_at, (
            f"{who}: overridden after the session"
        )
        overridden += 1
    assert overridden, "the demo shows a physician's override"
    treated = {s.patient_id for s in sessions}
    blocked = {
        pid
        for pid, rs in screenings.items()
        if rs[-1].decision in ("contraindicated", "defer", "not_indicated")
    }
    assert blocked, "the demo keeps patients the screening blocks"
    assert not blocked & treated
    overrides = {
        e.object_id
        for e in AuditEvent.objects.filter(action="screening.override").only("object_id")
    }
    for r in ScreeningRecord.objects.filter(override_at__isnull=False, override_carried_from=None):
        assert str(r.pk) in overrides  # recorded through the service, audited


def _no_session_precedes_its_consent_screening_assessment_or_intake() -> None:
    now = timezone.now()
    sessions = list(
        TreatmentSession.objects.select_related("consent", "screening", "patient__clinic")
    )
    assert len(sessions) > 20
    consents = _earliest(
        list(Consent.objects.filter(kind="prp_scalp").values_list("patient_id", "signed_at"))
    )
    screenings = _earliest(
        list(
            ScreeningRecord.objects.filter(procedure="prp_scalp").values_list(
                "patient_id", "run_at"
            )
        )
    )
    signed = _earliest(
        list(
            Assessment.objects.filter(signed_at__isnull=False).values_list(
                "patient_id", "signed_at"
            )
        )
    )
    intakes = _earliest(list(Intake.objects.values_list("patient_id", "recorded_at")))
    for s in sessions:
        who = f"session {s.pk} of {s.patient.record_number} on {s.started_at:%Y-%m-%d}"
        assert s.consent is not None, f"{who}: treated without a consent"
        assert s.consent.signed_at < s.started_at, f"{who}: consent signed after it"
        assert s.screening is not None, f"{who}: treated without a screening"
        assert s.screening.run_at < s.started_at, f"{who}: screened after it"
        assert consents[s.patient_id] < s.started_at, f"{who}: precedes every consent"
        assert screenings[s.patient_id] < s.started_at, f"{who}: precedes every screening"
        assert signed[s.patient_id] < s.started_at, f"{who}: precedes the signed assessment"
        assert intakes[s.patient_id] < s.started_at, f"{who}: precedes the intake"
        assert s.patient.created_at < s.started_at, f"{who}: precedes registration"
        tz = zone_of(s.patient.clinic)
        assert s.screening.planned_on <= s.started_at.astimezone(tz).date()
    # Every consultation follows registration and intake, and lies in the past.
    for a in Assessment.objects.select_related("patient__clinic"):
        registered = a.patient.created_at
        assert registered <= a.created_at <= now
        assert a.visit_on == timezone.localtime(registered, zone_of(a.patient.clinic)).date()
        assert a.signed_at is not None and a.created_at < a.signed_at <= now
        assert intakes[a.patient_id] < a.created_at
    for c in Consent.objects.select_related("patient"):
        assert c.patient.created_at < c.signed_at <= now
        assert c.template.published_at < c.signed_at  # the text was out when it was signed
    # Labs were taken no later than the intake that records them.
    for lab in IntakeLab.objects.select_related("intake"):
        assert lab.taken_on <= lab.intake.recorded_at.date() + dt.timedelta(days=1)


def _audit_events_state_the_records_times() -> None:
    signs = {
        e.object_id: e.at
        for e in AuditEvent.objects.filter(action="consent.sign").only("object_id", "at")
    }
    consents = list(Consent.objects.all())
    assert consents
    for c in consents:
        assert signs[str(c.pk)] == c.signed_at
    runs = {
        e.object_id: e.at
        for e in AuditEvent.objects.filter(action="screening.run").only("object_id", "at")
    }
    for r in ScreeningRecord.objects.all():
        assert abs(runs[str(r.pk)] - r.run_at) < dt.timedelta(seconds=1)


def _outcomes_and_photos_follow_first_contact_and_photo_consent() -> None:
    registered = {
        p.pk: timezone.localtime(p.created_at, zone_of(p.clinic)).date()
        for p in Patient.all_objects.select_related("clinic")
    }
    for m in MeasurementSet.objects.all():
        assert m.measured_on >= registered[m.patient_id]
    for site in MeasurementSite.objects.all():
        assert site.marked_on is not None and site.marked_on >= registered[site.patient_id]
    photo_consent: dict[int, list[dt.datetime]] = defaultdict(list)
    for pid, at in Consent.objects.filter(kind="photo_clinical").values_list(
        "patient_id", "signed_at"
    ):
        photo_consent[pid].append(at)
    photo_sets = list(PhotoSet.objects.select_related("patient__clinic"))
    assert photo_sets
    for ps in photo_sets:
        tz = zone_of(ps.patient.clinic)
        first = min(photo_consent[ps.patient_id]).astimezone(tz).date()
        assert first <= ps.taken_on
