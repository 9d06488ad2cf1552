"""The versioned rule files and the one function that applies the mesotherapy rules."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from anagen.procedures import rules, services
from anagen.procedures.models import MesotherapyDelivery, TreatmentSession
from anagen.procedures.tests.helpers import consent, ready_patient, start

DCA = rules.Ingredient("deoxycholic_acid", "Deoxycholic acid", Decimal("10"), "mg_per_mL")
DAY = dt.date(2026, 3, 10)


def _check(**kw: Any) -> dict[str, rules.Finding]:
    args: dict[str, Any] = dict(
        ingredients=[DCA],
        vial="single",
        points=25,
        volume_per_point_ml=Decimal("0.2"),
        area_cm2=Decimal("25"),
        area_code="submental",
        on=DAY,
    )
    args.update(kw)
    return {f.rule: f for f in rules.mesotherapy_check(**args)}


def test_data_files_are_versioned_and_sourced():
    assert rules.RULES_VERSION and rules.AE_VERSION
    for spec in rules.rules()["mesotherapy"]["ingredients"].values():
        for rule in spec["rules"]:
            assert "clinical-facts.md 8" in rule["source"]
    for term in rules.ae_terms().values():
        assert term["source"]
    assert list(rules.ae_vocab()["ctcae_grades"]) == ["1", "2", "3", "4", "5"]


def test_kybella_label_worked_example_passes():
    # clinical-facts.md 8.3: 10 mg/mL, 0.2 mL per injection 1 cm apart = 2 mg/cm².
    assert _check() == {}


def test_dose_per_cm2_and_injection_count_are_hard_stops():
    found = _check(points=60, area_cm2=Decimal("25"))
    assert found["dca_dose_per_cm2"].level == "stop"
    assert "4.8 mg/cm²" in found["dca_dose_per_cm2"].message
    assert found["dca_injections_per_session"].level == "stop"
    assert found["dca_volume_per_session"].level == "stop"  # 12 mL > 10 mL


def test_percent_is_converted_and_interval_and_count_enforced():
    one_pct = rules.Ingredient("deoxycholic_acid", "DCA", Decimal("1"), "percent")  # = 10 mg/mL
    assert _check(ingredients=[one_pct]) == {}
    found = _check(earlier_sessions_on=[DAY - dt.timedelta(days=20)])
    assert found["dca_interval"].level == "stop"
    assert _check(earlier_sessions_on=[dt.date(2026, 2, 10)]) == {}  # one calendar month: ok
    six = [dt.date(2025, m, 1) for m in range(1, 7)]
    assert found_rule(_check(earlier_sessions_on=six), "dca_max_sessions").level == "stop"


def found_rule(found, rule):
    return found[rule]


def test_warnings_off_label_area_multi_dose_and_dutasteride():
    found = _check(area_code="abdomen", vial="multi")
    assert found["dca_indication"].level == "warning"
    assert found["multi_dose_vial"].level == "warning"
    duta = rules.Ingredient("dutasteride", "Dutasteride", Decimal("0.1"), "percent")
    found = _check(ingredients=[duta])
    assert found["dutasteride_concentration"].level == "warning"
    assert (
        _check(ingredients=[rules.Ingredient("dutasteride", "D", Decimal("0.01"), "percent")]) == {}
    )


def test_prp_flags_read_kernel_output():
    flags = rules.prp_flags(
        {
            "fold": 1.5,
            "anticoagulant_to_blood_ratio": 0.1,
            "activator_to_prp_ratio": 0.3,
            "paw": {"exogenous_activation": False},
        }
    )
    assert [f.rule for f in flags] == ["fold"]  # activator ratio ignored without activation


@pytest.mark.django_db
def test_meso_session_with_dca_stops_and_interval(clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    consent(clinic_a, patient_a, "mesotherapy_body")
    nurse = clinic_a.actor(clinic_a.nurse)
    formulation = services.formulation_create(
        actor=nurse,
        name="Submental DCA",
        vial="single",
        indications=["body_contouring"],
        ingredients=[
            {
                "name": "Deoxycholic acid",
                "code": "deoxycholic_acid",
                "concentration": Decimal("10"),
                "unit": "mg_per_mL",
            }
        ],
    )
    session = start(clinic_a, patient_a, "mesotherapy_body")
    data = {
        "zone": "submental",
        "technique": "point_by_point",
        "device": "needle",
        "injection_points": 60,
        "volume_per_point_ml": Decimal("0.2"),
        "area_cm2": Decimal("30"),
    }
    with pytest.raises(ValidationError) as exc:
        services.meso_delivery_add(actor=nurse, session=session, formulation=formulation, data=data)
    assert any("50 per session" in m for m in exc.value.messages)
    delivery = services.meso_delivery_add(
        actor=nurse,
        session=session,
        formulation=formulation,
        data={**data, "injection_points": 25, "area_cm2": Decimal("25")},
    )
    assert delivery.findings == [] and delivery.total_volume_ml == Decimal("5.00")
    # A second session two weeks later is refused: at least one month apart.
    later = start(clinic_a, patient_a, "mesotherapy_body")
    TreatmentSession.objects.filter(pk=session.pk).update(
        started_at=timezone.now() - dt.timedelta(days=14)
    )
    with pytest.raises(ValidationError) as exc:
        services.meso_delivery_add(
            actor=nurse,
            session=later,
            formulation=formulation,
            data={**data, "injection_points": 25, "area_cm2": Decimal("25")},
        )
    assert any("at least 1 month apart" in m for m in exc.value.messages)
    assert MesotherapyDelivery.objects.count() == 1


@pytest.mark.django_db
def test_formulation_validation(clinic_a):
    nurse = clinic_a.actor(clinic_a.nurse)
    with pytest.raises(ValidationError) as exc:
        services.formulation_create(actor=nurse, name="", vial="x", indications=[], ingredients=[])
    assert set(exc.value.message_dict) == {"name", "vial", "indications", "ingredients"}
    with pytest.raises(ValidationError) as exc:
        services.formulation_create(
            actor=nurse,
            name="A",
            vial="single",
            indications=["scalp"],
            ingredients=[{"name": "Biotin", "concentration": Decimal("1")}],
        )
    assert "needs a unit" in exc.value.message_dict["ingredients"][0]
