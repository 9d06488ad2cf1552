import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from anagen.audit.models import AuditEvent
from anagen.patients.models import Intake
from anagen.patients.services import IntakeData, intake_record


def _intake(**kw):
    base: dict[str, Any] = dict(
        conditions=["thyroid_disease"],
        smoking="current",
        hair_loss_onset=dt.date(2024, 3, 1),
        hair_loss_pattern="male_pattern",
        family_history=True,
        medications=[
            {
                "name": "Ibuprofen",
                "category": "nsaid",
                "prescribed": False,
                "last_dose_on": dt.date(2026, 1, 10),
                "dose": "400 mg",
            }
        ],
        labs=[
            {
                "analyte": "platelets",
                "value": Decimal("180"),
                "unit": "10³/µL",
                "taken_on": dt.date(2026, 1, 5),
            },
            {
                "analyte": "hemoglobin",
                "value": Decimal("131"),
                "unit": "g/L",
                "taken_on": dt.date(2026, 1, 5),
            },
        ],
        allergies=[{"substance": "Lidocaine", "reaction": "Rash"}],
        prior_treatments=[
            {"treatment": "minoxidil", "response": "partial", "started_on": None, "note": ""}
        ],
    )
    base.update(kw)
    return IntakeData(**base)


def test_intake_versions_never_overwrite(clinic_a, patient_a):
    actor = clinic_a.actor(clinic_a.nurse)
    first = intake_record(actor=actor, patient=patient_a, data=_intake())
    second = intake_record(
        actor=actor, patient=patient_a, data=_intake(smoking="former", medications=[])
    )
    assert (first.version, second.version) == (1, 2)
    first.refresh_from_db()
    assert first.smoking == "current" and first.medications.count() == 1
    assert second.medications.count() == 0
    assert AuditEvent.objects.filter(action="intake.create", patient=patient_a).count() == 2


def test_labs_are_stored_as_entered_and_in_canonical_units(clinic_a, patient_a):
    intake = intake_record(actor=clinic_a.actor(clinic_a.nurse), patient=patient_a, data=_intake())
    platelets = intake.labs.get(analyte="platelets")
    assert (platelets.value, platelets.unit) == (Decimal("180000.000"), "/µL")
    hb = intake.labs.get(analyte="hemoglobin")
    assert (hb.value, hb.unit, hb.unit_entered) == (Decimal("13.100"), "g/dL", "g/L")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"conditions": ["made_up"]}, "conditions"),
        (
            {
                "labs": [
                    {
                        "analyte": "tsh",
                        "value": Decimal(1),
                        "unit": "g/dL",
                        "taken_on": dt.date(2026, 1, 1),
                    }
                ]
            },
            "labs[0].unit",
        ),
        (
            {
                "medications": [
                    {
                        "name": "x",
                        "category": "nsaid",
                        "prescribed": False,
                        "last_dose_on": dt.date(2999, 1, 1),
                        "dose": "",
                    }
                ]
            },
            "medications[0].last_dose_on",
        ),
    ],
)
def test_bad_intake_is_refused_with_the_field(clinic_a, patient_a, change, field):
    with pytest.raises(ValidationError) as exc:
        intake_record(
            actor=clinic_a.actor(clinic_a.nurse), patient=patient_a, data=_intake(**change)
        )
    assert field in exc.value.message_dict
    assert not Intake.objects.exists()


def test_front_desk_cannot_record_intake(clinic_a, patient_a):
    with pytest.raises(PermissionDenied):
        intake_record(actor=clinic_a.actor(clinic_a.front_desk), patient=patient_a, data=_intake())


def _post_form(**overrides):
    data = {
        "conditions": ["thyroid_disease", "iron_deficiency"],
        "smoking": "never",
        "hair_loss_onset": "2023-06-01",
        "hair_loss_pattern": "female_pattern",
        "notes": "Widening part",
    }
    for prefix, total in (
        ("medications", 1),
        ("allergies", 0),
        ("labs", 1),
        ("prior_treatments", 0),
        ("prior_procedures", 0),
    ):
        data[f"{prefix}-TOTAL_FORMS"] = str(total)
        data[f"{prefix}-INITIAL_FORMS"] = "0"
    data.update(
        {
            "medications-0-name": "Warfarin",
            "medications-0-category": "anticoagulant",
            "medications-0-prescribed": "yes",
            "labs-0-analyte": "ferritin",
            "labs-0-value": "22",
            "labs-0-unit": "ng/mL",
            "labs-0-taken_on": "2026-01-02",
        }
    )
    data.update(overrides)
    return data


def test_intake_page_records_and_chart_shows_it(clinic_a, patient_a):
    client = clinic_a.client(clinic_a.physician)
    assert client.get(f"/patients/{patient_a.pk}/intake/new/").status_code == 200
    response = client.post(f"/patients/{patient_a.pk}/intake/new/", _post_form())
    assert response.status_code == 302
    chart = client.get(f"/patients/{patient_a.pk}/").content.decode()
    assert "Warfarin (Anticoagulant" in chart and "Thyroid disease" in chart
    assert "Ferritin 22 ng/mL" in chart and "Intake version 1" in chart
    detail = client.get(f"/patients/{patient_a.pk}/intake/1/")
    assert detail.status_code == 200 and b"Widening part" in detail.content
    assert AuditEvent.objects.filter(action="chart.read", patient=patient_a).exists()
    assert AuditEvent.objects.filter(action="intake.read", patient=patient_a).exists()


def test_intake_page_errors_keep_what_was_typed(clinic_a, patient_a):
    client = clinic_a.client(clinic_a.nurse)
    response = client.post(
        f"/patients/{patient_a.pk}/intake/new/",
        _post_form(**{"labs-0-unit": "g/dL", "hair_loss_onset": "2999-01-01"}),
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Use one of: ng/mL, µg/L." in html and "Onset cannot be in the future." in html
    assert 'value="Warfarin"' in html  # nothing typed is lost
    assert not Intake.objects.exists()


def test_chart_empty_states(clinic_a, patient_a):
    html = clinic_a.client(clinic_a.physician).get(f"/patients/{patient_a.pk}/").content.decode()
    assert "No intake recorded yet." in html and "Registered" in html


def test_new_intake_page_carries_rows_over_and_can_delete_one(clinic_a, patient_a):
    actor = clinic_a.actor(clinic_a.nurse)
    intake_record(
        actor=actor,
        patient=patient_a,
        data=_intake(
            medications=[
                {
                    "name": "Warfarin",
                    "category": "anticoagulant",
                    "prescribed": True,
                    "last_dose_on": None,
                    "dose": "",
                },
                {
                    "name": "Biotin",
                    "category": "supplement",
                    "prescribed": False,
                    "last_dose_on": None,
                    "dose": "",
                },
            ]
        ),
    )
    client = clinic_a.client(clinic_a.nurse)
    page = client.get(f"/patients/{patient_a.pk}/intake/new/")
    formset = page.context["formsets"]["medications"]
    data = {
        "smoking": "never",
        "medications-TOTAL_FORMS": "3",
        "medications-INITIAL_FORMS": "2",
        "medications-0-name": "Warfarin",
        "medications-0-category": "anticoagulant",
        "medications-0-prescribed": "yes",
        "medications-1-name": "Biotin",
        "medications-1-category": "supplement",
        "medications-1-DELETE": "on",
        "medications-2-name": "",
        "medications-2-category": "",
        "medications-2-prescribed": "",
    }
    assert formset.initial_form_count() == 2
    for prefix in ("allergies", "labs", "prior_treatments", "prior_procedures"):
        data[f"{prefix}-TOTAL_FORMS"] = "0"
        data[f"{prefix}-INITIAL_FORMS"] = "0"
    response = client.post(f"/patients/{patient_a.pk}/intake/new/", data)
    assert response.status_code == 302, [fs.errors for fs in response.context["formsets"].values()]
    latest = Intake.objects.get(patient=patient_a, version=2)
    assert list(latest.medications.values_list("name", flat=True)) == ["Warfarin"]
