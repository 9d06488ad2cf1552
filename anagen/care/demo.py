"""Demo consultations: assessments, screenings and consents for the demo clinics' patients.

Deterministic (seeded) and idempotent: a clinic that already has assessments is left alone. Goes
through the services, so the demo has the same audit trail and row history as real use.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.accounts.models import Clinic, Membership
from anagen.care import services
from anagen.care.models import Assessment, ScreeningTrigger
from anagen.patients.models import Intake, Patient

DEMO_CLINICS = ("north", "river")
ASSESSED_SHARE = 0.7
CONSENTED_SHARE = 0.85
NORWOOD = ["II", "IIa", "III", "IIIa", "III vertex", "IV", "IVa", "V", "Va", "VI"]


def _actor(clinic: Clinic, key: str) -> Actor | None:
    membership = (
        Membership.objects.select_related("user", "clinic")
        .filter(clinic=clinic, user__username=f"{clinic.slug}.{key}", is_active=True)
        .first()
    )
    return Actor(user=membership.user, membership=membership, via="cli") if membership else None


def _assessment_data(
    rng: random.Random, pattern: str, visit_on: dt.date
) -> services.AssessmentData:
    """A diagnosis consistent with the intake's hair-loss pattern, with a fitting scale."""
    data = services.AssessmentData(visit_on=visit_on, diagnosis_code="other")
    if pattern == "female_pattern":
        data.diagnosis_code = "female_pattern_hair_loss"
        if rng.random() < 0.5:
            data.scale_id, data.scale_value = "ludwig", rng.choice(["I", "I", "II", "III"])
        else:
            data.scale_id, data.scale_value = "sinclair", rng.choice(["2", "2", "3", "3", "4"])
        data.notes = "Widened central part; frontal hairline preserved."
    elif pattern == "patchy":
        data.diagnosis_code = "alopecia_areata"
        data.scale_id = "salt"
        data.salt_vertex = Decimal(rng.choice([0, 5, 10, 20, 30]))
        data.salt_posterior = Decimal(rng.choice([0, 10, 15, 25, 40]))
        data.salt_right = Decimal(rng.choice([0, 0, 5, 10]))
        data.salt_left = Decimal(rng.choice([0, 5, 10, 15]))
        data.pull_test_pulled = 50
        data.pull_test_shed = rng.choice([7, 9, 12])
        data.notes = "Well-demarcated patches; exclamation-mark hairs at the margin."
    elif pattern == "diffuse":
        data.diagnosis_code = "telogen_effluvium"
        data.pull_test_pulled = 60
        data.pull_test_shed = rng.choice([8, 10, 14])
        data.notes = "Diffuse shedding after a febrile illness; no miniaturisation."
    elif pattern == "hairline_traction":
        data.diagnosis_code = "traction_alopecia"
        data.notes = "Thinning along the frontal and temporal hairline; tight braids."
    else:  # male pattern (and "other" sex with a male pattern)
        data.diagnosis_code = "androgenetic_alopecia"
        data.scale_id, data.scale_value = "norwood_hamilton", rng.choice(NORWOOD)
        data.notes = "Bitemporal recession and vertex thinning; miniaturised hairs."
    if data.pull_test_pulled is None:
        data.pull_test_pulled = 50
        data.pull_test_shed = rng.choice([1, 2, 3, 4])
    data.follicles_present = True
    return data


@transaction.atomic
def seed_care_demo(today: dt.date | None = None) -> None:
    today = min(today or timezone.localdate(), timezone.localdate())
    for index, slug in enumerate(DEMO_CLINICS):
        clinic = Clinic.objects.filter(slug=slug).first()
        if clinic is None or Assessment.objects.filter(patient__clinic=clinic).exists():
            continue
        physician = _actor(clinic, "physician")
        nurse = _actor(clinic, "nurse") or physician
        if physician is None or nurse is None:
            continue
        rng = random.Random(2000 + index)
        latest_pattern = {
            i.patient_id: i.hair_loss_pattern
            for i in Intake.objects.filter(patient__clinic=clinic).order_by("patient_id", "version")
        }
        for patient in Patient.objects.filter(clinic=clinic).order_by("record_number"):
            if rng.random() >= ASSESSED_SHARE or patient.pk not in latest_pattern:
                continue
            visit_on = today - dt.timedelta(days=rng.randint(0, 45))
            data = _assessment_data(rng, latest_pattern[patient.pk] or "other", visit_on)
            assessment = services.assessment_create(actor=nurse, patient=patient, data=data)
            services.assessment_sign(actor=physician, assessment=assessment)
            services._screening_run(
                actor=physician,
                patient=patient,
                procedure="prp_scalp",
                planned_on=today,
                trigger=ScreeningTrigger.MANUAL,
            )
            if rng.random() < CONSENTED_SHARE:
                for kind in ("prp_scalp", "photo_clinical"):
                    services.consent_sign(
                        actor=nurse,
                        patient=patient,
                        kind=kind,
                        signed_name=patient.full_name,
                        agreed=True,
                    )
