"""session_gate: the check every session passes before it starts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils import timezone

from anagen.audit.models import AuditEvent
from anagen.care import services
from anagen.care.models import ScreeningRecord
from anagen.care.selectors import consent_valid_for
from anagen.care.tests.helpers import assess, consent, ready_patient, record_intake
from anagen.patients.services import IntakeData, intake_record

pytestmark = pytest.mark.django_db


def gate(staff, patient, user=None, procedure="prp_scalp", on=None):
    # The gate runs when a session starts: a nurse or physician does that.
    return services.session_gate(
        actor=staff.actor(user or staff.nurse),
        patient=patient,
        procedure=procedure,
        on=on,
    )


def test_eligible_with_consent_passes_and_records_pre_session_screening(clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    result = gate(clinic_a, patient_a)
    assert result.ok, result.reasons
    assert result.reasons == []
    assert result.screening is not None
    assert result.screening.trigger == "pre_session"
    assert result.screening.planned_on == timezone.localdate()
    assert AuditEvent.objects.filter(action="screening.run").count() == 1


def test_no_consent_blocks(clinic_a, patient_a):
    record_intake(clinic_a, patient_a)
    assess(clinic_a, patient_a)
    result = gate(clinic_a, patient_a)
    assert not result.ok
    assert result.reasons == ["No valid consent for PRP, scalp: none signed."]


def test_changed_intake_turns_eligible_into_defer(clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    assert gate(clinic_a, patient_a).ok
    today = timezone.localdate()
    intake_record(
        actor=clinic_a.actor(clinic_a.nurse),
        patient=patient_a,
        data=IntakeData(
            medications=[
                {
                    "name": "Ibuprofen",
                    "category": "nsaid",
                    "prescribed": False,
                    "last_dose_on": today - dt.timedelta(days=1),
                }
            ]
        ),
    )
    result = gate(clinic_a, patient_a)
    assert not result.ok
    assert result.screening.decision == "defer"
    earliest = today + dt.timedelta(days=6)
    assert result.screening.earliest_on == earliest
    assert result.reasons == [
        f"Screening for PRP injection, scalp says defer: not before {earliest.day} {earliest:%b %Y}."
    ]
    # The reasons never carry the clinical finding (it stays on the screening record).
    assert "Ibuprofen" not in " ".join(result.reasons)


def test_new_template_version_needs_reconsent(clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    services.consent_template_publish(
        actor=clinic_a.actor(clinic_a.admin),
        kind="prp_scalp",
        title="PRP scalp consent (2027)",
        body="A new text with the updated risks explained in detail.",
    )
    assert consent_valid_for(patient_a, "prp_scalp") is None
    result = gate(clinic_a, patient_a)
    assert not result.ok
    assert result.reasons == [
        "No valid consent for PRP, scalp (template v2 needs re-consent; signed v1)."
    ]
    consent(clinic_a, patient_a)
    assert gate(clinic_a, patient_a).ok


def test_withdrawn_consent_blocks(clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    c = consent_valid_for(patient_a, "prp_scalp")
    assert c is not None
    services.consent_withdraw(
        actor=clinic_a.actor(clinic_a.physician), consent=c, reason="Patient asked by phone."
    )
    result = gate(clinic_a, patient_a)
    assert not result.ok and "withdrawn" in result.reasons[0]


def test_review_override_carries_over_only_for_the_same_findings(clinic_a, patient_a):
    ready_patient(clinic_a, patient_a, smoking="current")
    manual = services.screening_run(
        actor=clinic_a.actor(clinic_a.nurse), patient=patient_a, procedure="prp_scalp"
    )
    assert manual.decision == "review"
    first = gate(clinic_a, patient_a)
    assert not first.ok
    assert "needs a physician's review" in first.reasons[0]
    services.screening_override(
        actor=clinic_a.actor(clinic_a.physician),
        screening=manual,
        reason="Smoker, counselled; benefit outweighs risk.",
    )
    second = gate(clinic_a, patient_a)
    assert second.ok, second.reasons
    assert second.screening.override_carried_from_id == manual.pk
    assert second.screening.effective_decision == "eligible"

    # A new relative finding (anticoagulant) is a new judgement: the old override no longer counts.
    intake_record(
        actor=clinic_a.actor(clinic_a.nurse),
        patient=patient_a,
        data=IntakeData(
            smoking="current",
            medications=[{"name": "Apixaban", "category": "anticoagulant", "prescribed": True}],
        ),
    )
    third = gate(clinic_a, patient_a)
    assert not third.ok
    assert third.screening.decision == "review"
    assert third.screening.override_at is None


def test_missing_intake_or_assessment_is_a_reason_not_a_crash(clinic_a, patient_a):
    consent(clinic_a, patient_a)
    result = gate(clinic_a, patient_a)
    assert not result.ok
    assert result.reasons == ["Cannot screen: Record an intake before screening."]
    assert result.screening is None
    record_intake(clinic_a, patient_a)
    result = gate(clinic_a, patient_a)
    assert result.reasons == ["Cannot screen: Record an assessment before screening."]
    assert ScreeningRecord.objects.count() == 0


def test_other_clinic_patient_is_404_and_unknown_procedure_is_an_error(
    clinic_a, clinic_b, patient_b, patient_a
):
    with pytest.raises(Http404):
        gate(clinic_a, patient_b)
    with pytest.raises(ValidationError):
        gate(clinic_a, patient_a, procedure="botox")


def test_reasons_are_clinical_and_only_a_clinical_actor_reads_them(clinic_a, patient_a):
    record_intake(clinic_a, patient_a)
    assess(clinic_a, patient_a)
    nurse = gate(clinic_a, patient_a)
    assert nurse.reasons == ["No valid consent for PRP, scalp: none signed."]
    front_desk = gate(clinic_a, patient_a, user=clinic_a.front_desk)
    assert not front_desk.ok
    assert front_desk.reasons == [services.NOT_CLEARED]
    assert "consent" not in " ".join(front_desk.reasons).lower()


def test_gate_uses_the_clinics_date_not_utcs(clinic_a, patient_a, monkeypatch):
    """Noon UTC is already tomorrow on Kiritimati (UTC+14): the gate screens for that date."""
    ready_patient(clinic_a, patient_a)
    clinic_a.clinic.timezone = "Pacific/Kiritimati"
    clinic_a.clinic.save(update_fields=["timezone"])
    utc_today = timezone.now().astimezone(dt.UTC).date()
    noon_utc = dt.datetime.combine(utc_today, dt.time(12, 0), tzinfo=dt.UTC)
    monkeypatch.setattr(timezone, "now", lambda: noon_utc)
    result = gate(clinic_a, patient_a, on=None)
    assert result.screening is not None
    assert result.screening.planned_on == utc_today + dt.timedelta(days=1)
