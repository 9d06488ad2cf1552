"""Issue 10: nothing the intake knows is lost on the way to screening (point 3), and an override
is bound to the facts it judged (point 2)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from anagen.care import services
from anagen.care.tests.helpers import assess, consent, record_intake
from anagen.clinical import CONDITIONS, EVENT_TYPES, MEDICATION_CATEGORIES
from anagen.patients import vocab
from anagen.patients.forms import MedicationForm, PatientForm
from anagen.patients.services import IntakeData, patient_create

pytestmark = pytest.mark.django_db

# Intake items that are work-up only: no screening rule reads them (clinical facts §4.4).
WORK_UP_ONLY = {"thyroid_disease", "iron_deficiency", "polycystic_ovary_syndrome"}
WORK_UP_ONLY |= {"chronic_skin_disease"}
# IntakeData fields that no screening rule reads (history, free text).
NOT_SCREENED = {
    "conditions_note",
    "hair_loss_onset",
    "hair_loss_pattern",
    "family_history",
    "family_history_note",
    "tight_hairstyles",
    "recent_triggers",
    "notes",
}


def test_everything_the_kernel_reads_can_be_recorded_on_the_intake() -> None:
    intake_conditions = {code for code, _ in vocab.CONDITIONS}
    assert set(CONDITIONS) <= intake_conditions
    assert intake_conditions - set(CONDITIONS) == WORK_UP_ONLY
    assert set(MEDICATION_CATEGORIES) <= set(vocab.MedicationCategory.values)
    assert set(EVENT_TYPES) <= set(vocab.PriorProcedureKind.values)


def test_a_full_intake_reaches_the_kernel(clinic_a):
    today = timezone.localdate()
    patient = patient_create(
        actor=clinic_a.actor(clinic_a.front_desk),
        data={
            "given_name": "Ana",
            "family_name": "Reis",
            "birth_date": dt.date(1990, 3, 4),
            "sex": "female",
        },
        confirm_duplicate=True,
    )
    data = dict(
        conditions=[*sorted(set(CONDITIONS) - {"sepsis"}), "thyroid_disease"],
        smoking="current",
        pregnant=True,
        breastfeeding=True,
        medications=[
            {
                "name": f"drug {code}",
                "category": code,
                "prescribed": i % 2 == 0,
                "last_dose_on": today - dt.timedelta(days=1 + i % 2),
            }
            for i, code in enumerate(vocab.MedicationCategory.values)
        ],
        allergies=[{"substance": "Lidocaine", "reaction": "Hives"}],
        labs=[
            {
                "analyte": "platelets",
                "value": Decimal("95"),
                "unit": "10³/µL",
                "taken_on": today - dt.timedelta(days=200),
            },
            {
                "analyte": "hemoglobin",
                "value": Decimal("9.5"),
                "unit": "g/dL",
                "taken_on": today - dt.timedelta(days=3),
            },
        ],
        prior_treatments=[{"treatment": "intralesional_corticosteroid", "response": "partial"}],
        prior_procedures=[
            {"kind": "corticosteroid_injection_at_site", "on": today - dt.timedelta(days=10)}
        ],
    )
    # The test fills every screened field: a new intake field must be sent or declared here.
    screened = {f.name for f in dataclasses.fields(IntakeData)} - NOT_SCREENED
    assert screened == set(data), screened ^ set(data)
    record_intake(clinic_a, patient, **data)
    assess(
        clinic_a,
        patient,
        diagnosis_code="alopecia_areata",
        scale_id="salt",
        salt_vertex=Decimal(100),
        salt_posterior=Decimal(50),
        salt_right=Decimal(50),
        salt_left=Decimal(0),
    )
    record = services.screening_run(
        actor=clinic_a.actor(clinic_a.nurse), patient=patient, procedure="prp_scalp"
    )
    doc = record.inputs
    assert doc["patient"] == {
        "birth_date": "1990-03-04",
        "sex": "female",
        "pregnant": True,
        "breastfeeding": True,
        "smoker": True,
    }
    assert set(doc["conditions"]) == set(CONDITIONS) - {"sepsis"}
    sent = {m["name"]: m for m in doc["medications"]}
    for i, code in enumerate(vocab.MedicationCategory.values):
        m = sent[f"drug {code}"]
        assert m["category"] == (code if code in MEDICATION_CATEGORIES else "other")
        assert m["prescribed"] is (i % 2 == 0)
        assert m["last_dose_on"] == (today - dt.timedelta(days=1 + i % 2)).isoformat()
    assert doc["allergies"] == [{"substance": "Lidocaine", "reaction": "Hives"}]
    assert doc["labs"] == {
        "platelets_per_uL": 95000,
        "hemoglobin_g_dL": 9.5,
        "taken_on": (today - dt.timedelta(days=200)).isoformat(),
    }
    assert doc["events"] == [
        {
            "kind": "corticosteroid_injection_at_site",
            "on": (today - dt.timedelta(days=10)).isoformat(),
        }
    ]
    assert doc["first_line_tried"] == ["intralesional_corticosteroid"]
    assert doc["diagnosis"]["salt"] == pytest.approx(40 + 12 + 9)
    rules = {f["rule"] for f in record.findings}
    assert {
        "corticosteroid_injection_at_site",
        "isotretinoin",
        "supplement",
        "allergy_local_anaesthetic",
        "stale_labs",
        "autoimmune_disease",
        "extensive_alopecia_areata",
        "nsaid_washout",
    } <= rules


def test_no_risky_defaults_on_the_forms() -> None:
    assert "sex" in PatientForm({"given_name": "A", "family_name": "B"}).errors
    med = MedicationForm({"name": "Aspirin 75 mg", "category": "aspirin"})
    assert "prescribed" in med.errors
    med = MedicationForm({"name": "Aspirin 75 mg", "category": "aspirin", "prescribed": "no"})
    assert med.is_valid() and med.cleaned_data["prescribed"] is False


def test_a_male_patient_cannot_be_recorded_pregnant(clinic_a, patient_a):
    with pytest.raises(ValidationError) as caught:
        record_intake(clinic_a, patient_a, pregnant=True)
    assert "pregnant" in caught.value.message_dict


def _platelets(count: str) -> list[dict[str, object]]:
    return [
        {
            "analyte": "platelets",
            "value": Decimal(count),
            "unit": "/µL",
            "taken_on": timezone.localdate() - dt.timedelta(days=1),
        }
    ]


def test_override_is_void_when_its_facts_change(clinic_a, patient_a):
    """The issue's example: review at 95,000/µL overridden; a new intake at 51,000/µL."""
    record_intake(clinic_a, patient_a, labs=_platelets("95000"))
    assess(clinic_a, patient_a)
    consent(clinic_a, patient_a)
    nurse, physician = clinic_a.actor(clinic_a.nurse), clinic_a.actor(clinic_a.physician)
    manual = services.screening_run(actor=nurse, patient=patient_a, procedure="prp_scalp")
    assert manual.decision == "review"
    services.screening_override(
        actor=physician, screening=manual, reason="Stable mild thrombocytopenia, haematology ok."
    )
    manual.refresh_from_db()
    assert manual.override_fingerprint == [
        {"rule": "low_platelets", "inputs": {"Platelets (/uL)": 95000}}
    ]
    gate = services.session_gate(actor=nurse, patient=patient_a, procedure="prp_scalp")
    assert gate.ok, gate.reasons  # same facts: the override still applies

    record_intake(clinic_a, patient_a, labs=_platelets("51000"))
    gate = services.session_gate(actor=nurse, patient=patient_a, procedure="prp_scalp")
    assert not gate.ok and gate.screening is not None
    assert gate.screening.decision == "review" and not gate.screening.is_overridden
    (reason,) = gate.reasons
    assert "the override no longer applies: Platelets (/uL) 95,000 → 51,000" in reason
    assert "decide again" in reason
    # And it stays void: going back to the old value does not revive the old override.
    record_intake(clinic_a, patient_a, labs=_platelets("95000"))
    gate = services.session_gate(actor=nurse, patient=patient_a, procedure="prp_scalp")
    assert not gate.ok and gate.screening is not None
    assert "the facts changed after it was given" in gate.reasons[0]
    # A new decision on the new facts clears the gate again.
    services.screening_override(
        actor=physician, screening=gate.screening, reason="Re-checked: count stable at 95,000."
    )
    assert services.session_gate(actor=nurse, patient=patient_a, procedure="prp_scalp").ok


def test_a_new_finding_voids_the_override(clinic_a, patient_a):
    record_intake(clinic_a, patient_a, smoking="current")
    assess(clinic_a, patient_a)
    consent(clinic_a, patient_a)
    nurse, physician = clinic_a.actor(clinic_a.nurse), clinic_a.actor(clinic_a.physician)
    manual = services.screening_run(actor=nurse, patient=patient_a, procedure="prp_scalp")
    services.screening_override(actor=physician, screening=manual, reason="Counselled smoker.")
    record_intake(clinic_a, patient_a, smoking="current", allergies=[{"substance": "lidocaine"}])
    gate = services.session_gate(actor=nurse, patient=patient_a, procedure="prp_scalp")
    assert not gate.ok
    assert "new finding: Allergy to lidocaine" in gate.reasons[0]


@pytest.mark.parametrize(
    ("analyte", "value", "unit"),
    [("platelets", "5000", "10³/µL"), ("platelets", "0", "/µL"), ("hemoglobin", "0", "g/dL")],
)
def test_impossible_lab_values_are_refused_at_intake(clinic_a, patient_a, analyte, value, unit):
    labs = [
        {
            "analyte": analyte,
            "value": Decimal(value),
            "unit": unit,
            "taken_on": timezone.localdate(),
        }
    ]
    with pytest.raises(ValidationError) as caught:
        record_intake(clinic_a, patient_a, labs=labs)
    assert "not a possible value" in caught.value.message_dict["labs[0].value"][0]
