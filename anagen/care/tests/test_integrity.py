"""The database itself refuses records the services would never write."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from anagen.care.models import Assessment, Consent, ScreeningRecord
from anagen.care.tests.helpers import assess, consent, ready_patient
from anagen.patients.models import IntakeLab

pytestmark = pytest.mark.django_db


def refused(qs, **values) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        qs.update(**values)


def test_assessment_ranges_and_signature(clinic_a, patient_a):
    draft = assess(clinic_a, patient_a, sign=False)
    rows = Assessment.objects.filter(pk=draft.pk)
    refused(rows, salt_vertex=Decimal("100.1"))
    refused(rows, salt_score=Decimal("-1"))
    refused(rows, signed_at=timezone.now())  # signed by nobody
    refused(rows, signed_by=clinic_a.physician)  # signed at no time
    refused(rows, pull_test_pulled=50)  # pulled without shed
    refused(rows, pull_test_pulled=50, pull_test_shed=51)  # more out than pulled
    refused(rows, pull_test_pulled=0, pull_test_shed=0)
    refused(rows, pull_test="maybe")
    refused(rows, version=0)
    # What the service writes passes.
    rows.update(salt_vertex=Decimal("100"), pull_test_pulled=50, pull_test_shed=5)


def test_signed_consent_keeps_its_snapshot_and_withdrawal_is_complete(clinic_a, patient_a):
    c = consent(clinic_a, patient_a)
    rows = Consent.objects.filter(pk=c.pk)
    refused(rows, snapshot_html="")
    refused(rows, sha256="")
    refused(rows, signed_by_patient_name="")
    refused(rows, withdrawn_at=timezone.now())  # by nobody, for no reason
    refused(rows, withdrawn_at=timezone.now(), withdrawn_by=clinic_a.nurse, withdrawn_reason="")


def test_screening_decision_and_override(clinic_a, patient_a):
    from anagen.care import services

    ready_patient(clinic_a, patient_a)
    record = services.screening_run(
        actor=clinic_a.actor(clinic_a.nurse), patient=patient_a, procedure="prp_scalp"
    )
    assert record.decision == "eligible"
    rows = ScreeningRecord.objects.filter(pk=record.pk)
    refused(rows, decision="probably")
    # Only a review can be overridden, and an override says who, when and why.
    refused(rows, override_at=timezone.now(), override_by=clinic_a.physician, override_reason="ok")
    refused(rows, decision="review", override_at=timezone.now(), override_reason="A reason.")


def test_lab_values_are_not_negative(clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    lab = IntakeLab.objects.filter(intake__patient=patient_a).first()
    assert lab is not None
    refused(IntakeLab.objects.filter(pk=lab.pk), value=Decimal("-1"))
    refused(IntakeLab.objects.filter(pk=lab.pk), value_entered=Decimal("-0.5"))
