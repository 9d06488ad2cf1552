"""The demo seed: consistent diagnoses, idempotent (its speed: benchmarks/demo_load.py)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from anagen.care.demo import seed_care_demo
from anagen.care.models import Assessment, Consent, ScreeningRecord
from anagen.demo import seed_demo

pytestmark = pytest.mark.django_db


def test_seed_care_demo_is_consistent_and_idempotent():
    today = timezone.localdate()
    seed_demo(today)
    seed_care_demo(today)
    assessments = Assessment.objects.select_related("patient").prefetch_related("patient__intakes")
    count = assessments.count()
    assert 100 <= count <= 150  # about 70% of 180 patients
    for a in assessments:
        pattern = a.patient.intakes.all()[0].hair_loss_pattern
        expected = {
            "male_pattern": "androgenetic_alopecia",
            "female_pattern": "female_pattern_hair_loss",
            "patchy": "alopecia_areata",
            "diffuse": "telogen_effluvium",
            "hairline_traction": "traction_alopecia",
        }[pattern]
        assert a.diagnosis_code == expected and a.is_signed
        if expected == "androgenetic_alopecia":
            assert a.scale_id == "norwood_hamilton"
        if expected == "alopecia_areata":
            assert a.scale_id == "salt" and a.salt_score is not None
    assert ScreeningRecord.objects.count() == count
    decisions = set(ScreeningRecord.objects.values_list("decision", flat=True))
    assert "eligible" in decisions and len(decisions) >= 3
    assert Consent.objects.filter(kind="prp_scalp").count() > count * 0.7
    assert Consent.objects.filter(kind="photo_clinical").count() > count * 0.7
    seed_care_demo(today)
    assert Assessment.objects.count() == count
