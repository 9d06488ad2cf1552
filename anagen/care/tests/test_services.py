"""Services: what screening reads from the record, locking, overrides, consent validity."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from anagen.audit.models import AuditEvent
from anagen.care import services
from anagen.care.models import ConsentTemplate
from anagen.care.selectors import consent_valid_for
from anagen.care.tests.helpers import assess, consent, ready_patient, record_intake

pytestmark = pytest.mark.django_db


def run(staff, patient, procedure="prp_scalp", user=None, **kw):
    return services.screening_run(
        actor=staff.actor(user or staff.physician), patient=patient, procedure=procedure, **kw
    )


def test_screening_document_is_built_from_the_latest_intake_and_assessment(clinic_a, patient_a):
    today = timezone.localdate()
    record_intake(clinic_a, patient_a)  # v1: superseded
    record_intake(
        clinic_a,
        patient_a,
        conditions=["thyroid_disease", "cancer_other"],
        smoking="former",
        breastfeeding=True,
        medications=[
            {"name": "Finasteride 1 mg", "category": "finasteride", "prescribed": True},
            {
                "name": "Naproxen",
                "category": "nsaid",
                "prescribed": False,
                "last_dose_on": today - dt.timedelta(days=2),
            },
        ],
        labs=[
            {
                "analyte": "platelets",
                "value": Decimal("90"),
                "unit": "10³/µL",
                "taken_on": today - dt.timedelta(days=40),
            },
            {
                "analyte": "platelets",
                "value": Decimal("210"),
                "unit": "10³/µL",
                "taken_on": today - dt.timedelta(days=4),
            },
            {
                "analyte": "hemoglobin",
                "value": Decimal("128"),
                "unit": "g/L",
                "taken_on": today - dt.timedelta(days=4),
            },
        ],
        prior_treatments=[
            {"treatment": "intralesional_corticosteroid", "response": "partial"},
            {"treatment": "minoxidil", "response": "none"},
        ],
    )
    assess(clinic_a, patient_a)  # v1 signed
    assess(
        clinic_a,
        patient_a,
        sign=False,
        diagnosis_code="alopecia_universalis",
        scale_id="salt",
        salt_vertex=Decimal(100),
        salt_posterior=Decimal(100),
        salt_right=Decimal(100),
        salt_left=Decimal(100),
    )
    s = run(clinic_a, patient_a, planned_on=today + dt.timedelta(days=1))
    doc = s.inputs
    assert doc["planned_on"] == (today + dt.timedelta(days=1)).isoformat()
    assert doc["patient"] == {
        "birth_date": "1984-05-02",
        "sex": "male",
        "pregnant": False,
        "breastfeeding": True,
        "smoker": False,
    }
    assert doc["conditions"] == ["cancer_other"]  # work-up items are not screening conditions
    assert doc["medications"] == [
        {"category": "other", "name": "Finasteride 1 mg", "last_dose_on": None, "prescribed": True},
        {
            "category": "nsaid",
            "name": "Naproxen",
            "last_dose_on": (today - dt.timedelta(days=2)).isoformat(),
            "prescribed": False,
        },
    ]
    assert doc["labs"] == {
        "platelets_per_uL": 210000,
        "hemoglobin_g_dL": 12.8,
        "taken_on": (today - dt.timedelta(days=4)).isoformat(),  # the panel's date
    }
    assert doc["first_line_tried"] == ["intralesional_corticosteroid"]
    # The latest SIGNED assessment wins over a later draft.
    assert doc["diagnosis"] == {"code": "androgenetic_alopecia", "follicles_present": True}
    assert (s.intake_version, s.assessment_version) == (2, 1)
    assert s.decision == "defer"  # breastfeeding, NSAID
    assert s.earliest_on is None  # breastfeeding has no end date
    assert s.ruleset.startswith("anagen-prp-screening@")
    rules = {f["rule"] for f in s.findings}
    assert {"breastfeeding", "nsaid_washout", "cancer_other"} <= rules
    event = AuditEvent.objects.get(action="screening.run")
    assert event.changes["decision"] == "defer" and event.patient == patient_a


def test_decisions_from_the_kernel(clinic_a, patient_a):
    today = timezone.localdate()
    record_intake(clinic_a, patient_a)
    assess(clinic_a, patient_a)
    assert run(clinic_a, patient_a).decision == "eligible"
    # No living follicles: not indicated on the scalp.
    assess(clinic_a, patient_a, follicles_present=False)
    assert run(clinic_a, patient_a).decision == "not_indicated"
    # Alopecia areata without first-line treatment needs review; with it, eligible.
    assess(
        clinic_a,
        patient_a,
        diagnosis_code="alopecia_areata",
        scale_id="salt",
        salt_vertex=Decimal(10),
        salt_posterior=Decimal(0),
        salt_right=Decimal(0),
        salt_left=Decimal(0),
    )
    assert run(clinic_a, patient_a).decision == "review"
    record_intake(
        clinic_a,
        patient_a,
        prior_treatments=[{"treatment": "topical_corticosteroid", "response": "none"}],
    )
    assert run(clinic_a, patient_a).decision == "eligible"
    # NSAID yesterday: defer with an earliest date.
    record_intake(
        clinic_a,
        patient_a,
        medications=[
            {
                "name": "Ibuprofen",
                "category": "nsaid",
                "prescribed": False,
                "last_dose_on": today - dt.timedelta(days=1),
            }
        ],
    )
    s = run(clinic_a, patient_a)
    assert (s.decision, s.earliest_on) == ("defer", today + dt.timedelta(days=6))


def test_assessment_rules(clinic_a, patient_a):
    nurse = clinic_a.actor(clinic_a.nurse)
    draft = assess(clinic_a, patient_a, sign=False)
    with pytest.raises(PermissionDenied, match="Your role cannot sign assessments"):
        services.assessment_sign(actor=nurse, assessment=draft)
    with pytest.raises(PermissionDenied):
        services.assessment_create(
            actor=clinic_a.actor(clinic_a.front_desk),
            patient=patient_a,
            data=services.AssessmentData(visit_on=timezone.localdate(), diagnosis_code="other"),
        )
    signed = services.assessment_sign(actor=clinic_a.actor(clinic_a.physician), assessment=draft)
    with pytest.raises(ValidationError, match=re.escape(services.SIGNED_LOCKED)):
        services.assessment_update(
            actor=clinic_a.actor(clinic_a.physician),
            assessment=signed,
            data=services.AssessmentData(visit_on=timezone.localdate(), diagnosis_code="other"),
        )
    assert assess(clinic_a, patient_a).version == 2
    assert signed.history.count() == 2  # created, signed
    actions = list(AuditEvent.objects.filter(patient=patient_a).values_list("action", flat=True))
    assert actions.count("assessment.sign") == 2 and "assessment.create" in actions


def test_pull_test_counts_give_the_reading(clinic_a, patient_a):
    a = assess(clinic_a, patient_a, sign=False, pull_test_pulled=60, pull_test_shed=6)
    assert a.pull_test == "negative"  # exactly 10% is normal
    a = assess(clinic_a, patient_a, sign=False, pull_test_pulled=60, pull_test_shed=7)
    assert a.pull_test == "positive"
    with pytest.raises(ValidationError) as exc:
        assess(clinic_a, patient_a, sign=False, pull_test_pulled=10, pull_test_shed=11)
    assert "pull_test_shed" in exc.value.message_dict


def test_override_rules(clinic_a, patient_a):
    ready_patient(clinic_a, patient_a, smoking="current")
    s = run(clinic_a, patient_a)
    physician = clinic_a.actor(clinic_a.physician)
    with pytest.raises(PermissionDenied):
        services.screening_override(
            actor=clinic_a.actor(clinic_a.nurse), screening=s, reason="A good reason here."
        )
    with pytest.raises(ValidationError) as exc:
        services.screening_override(actor=physician, screening=s, reason="   short   ")
    assert "reason" in exc.value.message_dict
    services.screening_override(actor=physician, screening=s, reason="A good reason here.")
    with pytest.raises(ValidationError, match="already overridden"):
        services.screening_override(actor=physician, screening=s, reason="A good reason here.")
    # Deferrals cannot be overridden either.
    record_intake(clinic_a, patient_a, conditions=["recent_fever"])
    deferred = run(clinic_a, patient_a)
    assert deferred.decision == "defer"
    with pytest.raises(ValidationError, match="A deferral cannot be overridden"):
        services.screening_override(
            actor=physician, screening=deferred, reason="A good reason here."
        )


def test_consent_validity(clinic_a, clinic_b, patient_a):
    first = consent(clinic_a, patient_a, kind="photo_clinical")
    assert consent_valid_for(patient_a, "photo_clinical") == first
    assert consent_valid_for(patient_a, "photo_marketing") is None  # each photo use is separate
    second = consent(clinic_a, patient_a, kind="photo_clinical")
    services.consent_withdraw(
        actor=clinic_a.actor(clinic_a.nurse), consent=second, reason="Asked to stop."
    )
    # Withdrawing the latest is a no, even though an older consent was never withdrawn.
    assert consent_valid_for(patient_a, "photo_clinical") is None
    # Another clinic publishing a new text does not affect this clinic's patients.
    ready_patient(clinic_a, patient_a)
    services.consent_template_publish(
        actor=clinic_b.actor(clinic_b.admin),
        kind="prp_scalp",
        title="B's text",
        body="Clinic B wording for PRP scalp.",
    )
    assert consent_valid_for(patient_a, "prp_scalp") is not None
    assert first.history.count() == 1


def test_template_publish_rules(clinic_a):
    with pytest.raises(PermissionDenied):
        services.consent_template_publish(
            actor=clinic_a.actor(clinic_a.nurse), kind="prp_face", title="x", body="y" * 40
        )
    t2 = services.consent_template_publish(
        actor=clinic_a.actor(clinic_a.physician), kind="prp_face", title="Face v2", body="y" * 40
    )
    t3 = services.consent_template_publish(
        actor=clinic_a.actor(clinic_a.admin), kind="prp_face", title="Face v3", body="z" * 40
    )
    assert (t2.version, t3.version) == (2, 3)
    assert ConsentTemplate.objects.filter(clinic=None).count() == 8  # the seeded defaults
    assert AuditEvent.objects.filter(action="consent_template.publish").count() == 2


def test_snapshot_hash_and_content(clinic_a, patient_a):
    c = consent(clinic_a, patient_a)
    assert services.sha256_of(c.snapshot_html) == c.sha256
    assert "Consent text version 1" in c.snapshot_html
    assert "a.nurse" in c.snapshot_html  # witness
    assert c.template.title in c.snapshot_html
