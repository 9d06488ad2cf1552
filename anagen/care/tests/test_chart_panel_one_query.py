"""The chart's Consultation card in one query (issue 15): it shows exactly what the separate
reads give (latest assessment and screening, every consent kind's status), as consents are
signed, withdrawn and a new template version asks for re-consent."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext

from anagen.care import selectors, services
from anagen.care.templatetags.care_tags import _ALWAYS
from anagen.care.tests.helpers import assess, consent, ready_patient

pytestmark = pytest.mark.django_db
AREAS = ("vertex", "posterior", "right", "left")


def _same(staff, patient) -> str:
    actor = staff.actor(staff.physician)
    full = {
        "actor": actor,
        "patient": patient,
        "assessment": selectors.assessment_latest(actor=actor, patient=patient),
        "screening": selectors.screening_latest(actor=actor, patient=patient),
        "consents": selectors.consent_statuses(actor=actor, patient=patient),
        "procedure_kinds": _ALWAYS,
    }
    with CaptureQueriesContext(connection) as queries:
        panel = selectors.care_panel(actor=actor, patient=patient)
    assert len(queries) == 1
    fast = dict(
        full, assessment=panel.assessment, screening=panel.screening, consents=panel.consents
    )
    expected = render_to_string("care/_panel.html", full)
    shown = render_to_string("care/_panel.html", fast)
    assert shown == expected
    return shown


def test_panel_matches_the_separate_reads(clinic_a, patient_a):
    assert "None yet." in _same(clinic_a, patient_a)
    ready_patient(clinic_a, patient_a)
    salt = {f"salt_{a}": Decimal(v) for a, v in zip(AREAS, ("30", "12.5", "5", "5"), strict=True)}
    assess(
        clinic_a,
        patient_a,
        sign=False,
        diagnosis_code="alopecia_areata",
        scale_id="salt",
        scale_value="",
        **salt,
    )
    services.screening_run(
        actor=clinic_a.actor(clinic_a.physician), patient=patient_a, procedure="prp_scalp"
    )
    shown = _same(clinic_a, patient_a)
    assert "PRP, scalp: Valid" in shown and "SALT" in shown and "draft, not signed" in shown
    photo = consent(clinic_a, patient_a, kind="photo_clinical")
    services.consent_withdraw(
        actor=clinic_a.actor(clinic_a.nurse), consent=photo, reason="Patient asked today"
    )
    assert "Withdrawn" in _same(clinic_a, patient_a)
    services.consent_template_publish(
        actor=clinic_a.actor(clinic_a.admin), kind="prp_scalp", title="PRP v2", body="z" * 40
    )
    assert "Needs re-consent" in _same(clinic_a, patient_a)
    consent(clinic_a, patient_a)
    assert "PRP, scalp: Valid" in _same(clinic_a, patient_a)
