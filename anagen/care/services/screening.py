"""Screening: the patient's latest record given to the kernel's ``screen``, and overrides."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.accounts.permissions import Perm
from anagen.audit.services import audit_record
from anagen.care import selectors
from anagen.care.models import Assessment, ScreeningRecord, ScreeningTrigger
from anagen.care.services.common import _require, unknown_procedure_message
from anagen.clinical import CONDITIONS, MEDICATION_CATEGORIES, PROCEDURES, screen
from anagen.clinical import ValidationError as KernelValidationError
from anagen.patients.models import Intake, Patient

OVERRIDE_MIN_REASON = 10
# Prior treatments the kernel counts as first-line for alopecia areata (clinical facts §6).
FIRST_LINE = ("intralesional_corticosteroid", "topical_corticosteroid")


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _latest_intake(patient: Patient) -> Intake | None:
    return (
        Intake.objects.filter(patient=patient)
        .prefetch_related("medications", "labs", "prior_treatments")
        .order_by("-version")
        .first()
    )


def screening_document(
    *,
    patient: Patient,
    intake: Intake,
    assessment: Assessment,
    procedure: str,
    planned_on: dt.date,
) -> dict[str, Any]:
    """The exact document given to the kernel's ``screen`` (stored with the result)."""
    labs: dict[str, Any] = {}
    latest_lab: dict[str, Any] = {}
    for lab in intake.labs.all():
        if lab.analyte not in latest_lab or lab.taken_on > latest_lab[lab.analyte].taken_on:
            latest_lab[lab.analyte] = lab
    if "platelets" in latest_lab:
        labs["platelets_per_uL"] = _number(latest_lab["platelets"].value)
    if "hemoglobin" in latest_lab:
        labs["hemoglobin_g_dL"] = _number(latest_lab["hemoglobin"].value)
    medications = [
        {
            # Categories the kernel has no rule for (finasteride, supplements…) go as "other".
            "category": m.category if m.category in MEDICATION_CATEGORIES else "other",
            "name": m.name,
            "last_dose_on": m.last_dose_on.isoformat() if m.last_dose_on else None,
            "prescribed": m.prescribed,
        }
        for m in intake.medications.all()
    ]
    return {
        "procedure": procedure,
        "planned_on": planned_on.isoformat(),
        "patient": {
            "birth_date": patient.birth_date.isoformat(),
            "sex": patient.sex,
            "pregnant": intake.pregnant,
            "breastfeeding": intake.breastfeeding,
            "smoker": intake.smoking == "current",
        },
        "diagnosis": {
            "code": assessment.diagnosis_code,
            "follicles_present": assessment.follicles_present,
        },
        # Intake work-up items (thyroid disease, iron deficiency…) change no screening rule.
        "conditions": [c for c in intake.conditions if c in CONDITIONS],
        "medications": medications,
        "events": [],
        "labs": labs,
        "first_line_tried": sorted(
            {t.treatment for t in intake.prior_treatments.all() if t.treatment in FIRST_LINE}
        ),
    }


def _carry_override(record: ScreeningRecord) -> ScreeningRecord | None:
    """An earlier override of the same procedure, if this result is still `review` for the very
    same findings (a physician judged exactly these); anything new needs a new judgement."""
    if record.decision != "review":
        return None
    earlier = (
        ScreeningRecord.objects.filter(
            patient_id=record.patient_id,
            procedure=record.procedure,
            override_at__isnull=False,
            decision="review",
        )
        .exclude(pk=record.pk)
        .order_by("-run_at", "-id")
        .first()
    )
    if earlier is None or earlier.finding_rules != record.finding_rules:
        return None
    return earlier


def _screening_run(
    *,
    actor: Actor,
    patient: Patient,
    procedure: str,
    planned_on: dt.date,
    trigger: str,
) -> ScreeningRecord:
    if procedure not in PROCEDURES:
        raise ValidationError({"procedure": unknown_procedure_message()})
    intake = _latest_intake(patient)
    if intake is None:
        raise ValidationError({"__all__": "Record an intake before screening."})
    assessment = selectors.assessment_for_screening(patient)
    if assessment is None:
        raise ValidationError({"__all__": "Record an assessment before screening."})
    doc = screening_document(
        patient=patient,
        intake=intake,
        assessment=assessment,
        procedure=procedure,
        planned_on=planned_on,
    )
    try:
        result = screen(doc)
    except KernelValidationError as exc:
        raise ValidationError({"__all__": f"Screening input {exc.field}: {exc.message}."}) from exc
    record = ScreeningRecord.objects.create(
        patient=patient,
        procedure=procedure,
        planned_on=planned_on,
        trigger=trigger,
        inputs=doc,
        result=result,
        decision=result["decision"],
        earliest_on=dt.date.fromisoformat(result["earliest_on"]) if result["earliest_on"] else None,
        ruleset=result["ruleset"],
        intake_version=intake.version,
        assessment_version=assessment.version,
        run_by=actor.user,
    )
    carried = _carry_override(record) if trigger == ScreeningTrigger.PRE_SESSION else None
    if carried is not None:
        record.override_by = carried.override_by
        record.override_at = carried.override_at
        record.override_reason = carried.override_reason
        record.override_carried_from = carried
        record.save(
            update_fields=[
                "override_by",
                "override_at",
                "override_reason",
                "override_carried_from",
            ]
        )
    audit_record(
        action="screening.run",
        actor=actor,
        patient=patient,
        obj=record,
        changes={
            "procedure": procedure,
            "planned_on": planned_on,
            "trigger": trigger,
            "decision": record.decision,
            "earliest_on": record.earliest_on,
            "ruleset": record.ruleset,
            "intake_version": intake.version,
            "assessment_version": assessment.version,
            "override_carried_from": carried.pk if carried else None,
        },
    )
    return record


@transaction.atomic
def screening_run(
    *,
    actor: Actor,
    patient: Patient,
    procedure: str,
    planned_on: dt.date | None = None,
) -> ScreeningRecord:
    """Screen the patient's latest intake, labs, medications and assessment for a procedure."""
    _require(actor, patient, Perm.SCREEN)
    today = actor.today()
    planned_on = planned_on or today
    if planned_on < today:
        raise ValidationError({"planned_on": "The planned date cannot be in the past."})
    return _screening_run(
        actor=actor,
        patient=patient,
        procedure=procedure,
        planned_on=planned_on,
        trigger=ScreeningTrigger.MANUAL,
    )


NOT_OVERRIDABLE = {
    "contraindicated": "A contraindicated result cannot be overridden.",
    "not_indicated": "A not-indicated result cannot be overridden.",
    "defer": "A deferral cannot be overridden; screen again once it has passed.",
    "eligible": "Nothing to override: the result is already eligible.",
}


@transaction.atomic
def screening_override(*, actor: Actor, screening: ScreeningRecord, reason: str) -> ScreeningRecord:
    """A physician accepts a `review` result (relative contraindications) with a reason."""
    _require(actor, screening.patient, Perm.SCREENING_OVERRIDE)
    locked = ScreeningRecord.objects.select_for_update().get(pk=screening.pk)
    if locked.decision != "review":
        raise ValidationError(
            NOT_OVERRIDABLE.get(locked.decision, "This result cannot be overridden."),
            code="not_overridable",
        )
    if locked.is_overridden:
        raise ValidationError("This screening is already overridden.", code="not_overridable")
    reason = " ".join((reason or "").split())
    if len(reason) < OVERRIDE_MIN_REASON:
        raise ValidationError(
            {"reason": f"Give the clinical reason (at least {OVERRIDE_MIN_REASON} characters)."}
        )
    locked.override_by = actor.user
    locked.override_at = timezone.now()
    locked.override_reason = reason
    locked.save(update_fields=["override_by", "override_at", "override_reason"])
    audit_record(
        action="screening.override",
        actor=actor,
        patient=locked.patient,
        obj=locked,
        changes={
            "decision": [locked.decision, "eligible"],
            "reason": reason,
            "ruleset": locked.ruleset,
            "findings": locked.finding_rules,
            "inputs": locked.inputs,
        },
    )
    return locked
