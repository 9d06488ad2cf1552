"""Assessments: drafts by physicians and nurses, signed (and then locked) by a physician."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.accounts.permissions import Perm
from anagen.audit.services import audit_record, diff_fields
from anagen.care.models import Assessment, PullTest
from anagen.care.services.common import _require, _scale_label
from anagen.clinical import DIAGNOSES, parse_scale, salt, scales_for_diagnosis
from anagen.clinical import ValidationError as KernelValidationError
from anagen.patients.models import Patient

SIGNED_LOCKED = "Signed assessments cannot be changed; record a new assessment."
# A pull test reads positive when more than 10% of the hairs pulled come out (clinical facts §5.5).
PULL_TEST_POSITIVE_FRACTION = Decimal("0.10")


@dataclass
class AssessmentData:
    visit_on: dt.date
    diagnosis_code: str
    scale_id: str = ""
    scale_value: str = ""
    salt_vertex: Decimal | None = None
    salt_posterior: Decimal | None = None
    salt_right: Decimal | None = None
    salt_left: Decimal | None = None
    follicles_present: bool | None = None  # None: not assessed
    pull_test: str = PullTest.NOT_DONE
    pull_test_pulled: int | None = None
    pull_test_shed: int | None = None
    notes: str = ""


_SALT_AREAS = ("salt_vertex", "salt_posterior", "salt_right", "salt_left")


def _clean_assessment(
    patient: Patient, data: AssessmentData, today: dt.date | None = None
) -> dict[str, Any]:
    """Validate against the kernel's vocabularies and scales; return the fields to store."""
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {
        "visit_on": data.visit_on,
        "diagnosis_code": data.diagnosis_code,
        "scale_id": data.scale_id or "",
        "scale_value": "",
        "follicles_present": data.follicles_present,
        "pull_test": data.pull_test or PullTest.NOT_DONE,
        "pull_test_pulled": data.pull_test_pulled,
        "pull_test_shed": data.pull_test_shed,
        "notes": (data.notes or "").strip(),
        "salt_score": None,
        "salt_band": "",
        **{a: getattr(data, a) for a in _SALT_AREAS},
    }
    if data.visit_on is None:
        errors["visit_on"] = "Enter the visit date."
    elif data.visit_on > (today or timezone.localdate()):
        errors["visit_on"] = "The visit date cannot be in the future."
    elif data.visit_on < patient.birth_date:
        errors["visit_on"] = "The visit date cannot be before the patient's birth."

    if data.diagnosis_code not in DIAGNOSES:
        errors["diagnosis_code"] = f"Unknown diagnosis {data.diagnosis_code!r}."
    elif clean["scale_id"]:
        allowed = scales_for_diagnosis(data.diagnosis_code)
        if clean["scale_id"] not in allowed:
            names = ", ".join(_scale_label(s) for s in allowed)
            errors["scale_id"] = (
                f"{_scale_label(clean['scale_id']) or clean['scale_id']} is not a scale for "
                f"{DIAGNOSES[data.diagnosis_code]['label']}; use one of: {names}."
            )

    areas = [getattr(data, a) for a in _SALT_AREAS]
    given = [a is not None for a in areas]
    if any(given) and not all(given):
        errors["salt_vertex"] = "Enter the % hair loss for all four SALT areas, or none."
    elif all(given):
        try:
            score = salt(*(float(a) for a in areas))  # type: ignore[arg-type]
        except KernelValidationError as exc:
            errors[f"salt_{exc.field}"] = f"SALT {exc.field}: {exc.message}."
        else:
            clean["salt_score"] = Decimal(str(score.score))
            clean["salt_band"] = score.band
    if clean["scale_id"] == "salt" and "scale_id" not in errors:
        if clean["salt_score"] is None and not any(k.startswith("salt_") for k in errors):
            errors["salt_vertex"] = "The SALT scale needs the % hair loss of all four areas."
        elif clean["salt_score"] is not None:
            clean["scale_value"] = str(clean["salt_score"])
    elif clean["scale_id"] and "scale_id" not in errors:
        try:
            clean["scale_value"] = parse_scale(clean["scale_id"], data.scale_value or "").code
        except KernelValidationError as exc:
            errors["scale_value"] = f"{_scale_label(clean['scale_id'])}: {exc.message}."

    pulled, shed = data.pull_test_pulled, data.pull_test_shed
    if clean["pull_test"] not in PullTest.values:
        errors["pull_test"] = f"Choose one of: {', '.join(PullTest.values)}."
    elif (pulled is None) != (shed is None):
        errors["pull_test_shed"] = "Enter both the hairs pulled and the hairs that came out."
    elif pulled is not None and shed is not None:
        if not 1 <= pulled <= 200:
            errors["pull_test_pulled"] = "Hairs pulled must be between 1 and 200 (usually 40-60)."
        elif not 0 <= shed <= pulled:
            errors["pull_test_shed"] = (
                "Hairs that came out must be between 0 and the number pulled."
            )
        else:
            reading = (
                PullTest.POSITIVE
                if Decimal(shed) > PULL_TEST_POSITIVE_FRACTION * pulled
                else PullTest.NEGATIVE
            )
            if clean["pull_test"] == PullTest.NOT_DONE:
                clean["pull_test"] = reading
            elif clean["pull_test"] != reading:
                errors["pull_test"] = (
                    f"{shed} of {pulled} hairs reads as {reading} (positive above 10%); "
                    "correct the counts or the result."
                )
    if errors:
        raise ValidationError(errors)
    return clean


@transaction.atomic
def assessment_create(*, actor: Actor, patient: Patient, data: AssessmentData) -> Assessment:
    """Record a new assessment version (a draft until a physician signs it)."""
    _require(actor, patient, Perm.ASSESS)
    clean = _clean_assessment(patient, data, actor.today())
    # Lock the patient row so two assessments recorded at once get distinct versions.
    Patient.objects.select_for_update().filter(pk=patient.pk).first()
    last = Assessment.objects.filter(patient=patient).aggregate(v=Max("version"))["v"] or 0
    assessment = Assessment.objects.create(
        patient=patient, version=last + 1, created_by=actor.user, **clean
    )
    audit_record(
        action="assessment.create",
        actor=actor,
        patient=patient,
        obj=assessment,
        changes={"version": assessment.version, **clean},
    )
    return assessment


@transaction.atomic
def assessment_update(*, actor: Actor, assessment: Assessment, data: AssessmentData) -> Assessment:
    """Change a draft. Signed assessments are locked: a correction is a new version."""
    _require(actor, assessment.patient, Perm.ASSESS)
    locked = Assessment.objects.select_for_update().get(pk=assessment.pk)
    if locked.is_signed:
        raise ValidationError(SIGNED_LOCKED, code="locked")
    clean = _clean_assessment(assessment.patient, data, actor.today())
    before = {k: getattr(locked, k) for k in clean}
    changes = diff_fields(before, clean)
    if changes:
        for key, value in clean.items():
            setattr(locked, key, value)
        locked.save()
        audit_record(
            action="assessment.update",
            actor=actor,
            patient=assessment.patient,
            obj=locked,
            changes=changes,
        )
    return locked


@transaction.atomic
def assessment_sign(*, actor: Actor, assessment: Assessment) -> Assessment:
    _require(actor, assessment.patient, Perm.ASSESSMENT_SIGN)
    locked = Assessment.objects.select_for_update().get(pk=assessment.pk)
    if locked.is_signed:
        raise ValidationError("This assessment is already signed.", code="locked")
    locked.signed_by = actor.user
    locked.signed_at = timezone.now()
    locked.save(update_fields=["signed_by", "signed_at", "updated_at"])
    audit_record(
        action="assessment.sign",
        actor=actor,
        patient=assessment.patient,
        obj=locked,
        changes={"version": locked.version, "signed_at": locked.signed_at},
    )
    return locked
