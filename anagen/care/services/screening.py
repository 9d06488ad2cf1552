"""Screening: the patient's latest record given to the kernel's ``screen``, and overrides."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.accounts.clinic_time import human_date
from anagen.accounts.permissions import Perm
from anagen.audit.services import audit_record
from anagen.care import selectors
from anagen.care.models import Assessment, ScreeningRecord, ScreeningTrigger
from anagen.care.services.common import _require, unknown_procedure_message
from anagen.clinical import CONDITIONS, EVENT_TYPES, MEDICATION_CATEGORIES, PROCEDURES, screen
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
        .prefetch_related(
            "medications", "labs", "prior_treatments", "allergies", "prior_procedures"
        )
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
    """The exact document given to the kernel's ``screen`` (stored with the result).

    Everything the intake and assessment record that a screening rule reads goes in: patient
    birth date and sex, allergies, every medication category the kernel knows (isotretinoin,
    supplements…), lab values with their date, dated procedures at the site, SALT.
    """
    labs: dict[str, Any] = {}
    latest_lab: dict[str, Any] = {}
    for lab in intake.labs.all():
        if lab.analyte not in latest_lab or lab.taken_on > latest_lab[lab.analyte].taken_on:
            latest_lab[lab.analyte] = lab
    sent = [a for a in ("platelets", "hemoglobin") if a in latest_lab]
    if "platelets" in latest_lab:
        labs["platelets_per_uL"] = _number(latest_lab["platelets"].value)
    if "hemoglobin" in latest_lab:
        labs["hemoglobin_g_dL"] = _number(latest_lab["hemoglobin"].value)
    if sent:
        # One date for the panel: the oldest of the values sent, so staleness is never hidden.
        labs["taken_on"] = min(latest_lab[a].taken_on for a in sent).isoformat()
    medications = [
        {
            # Categories the kernel has no rule for (finasteride, minoxidil) go as "other".
            "category": m.category if m.category in MEDICATION_CATEGORIES else "other",
            "name": m.name,
            "last_dose_on": m.last_dose_on.isoformat() if m.last_dose_on else None,
            "prescribed": m.prescribed,
        }
        for m in intake.medications.all()
    ]
    diagnosis: dict[str, Any] = {
        "code": assessment.diagnosis_code,
        "follicles_present": assessment.follicles_present,
    }
    if assessment.salt_score is not None:
        diagnosis["salt"] = _number(assessment.salt_score)
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
        "diagnosis": diagnosis,
        # Intake work-up items (thyroid disease, iron deficiency…) change no screening rule.
        "conditions": [c for c in intake.conditions if c in CONDITIONS],
        "medications": medications,
        "allergies": [
            {"substance": a.substance, "reaction": a.reaction} for a in intake.allergies.all()
        ],
        "events": [
            {"kind": p.kind, "on": p.on.isoformat()}
            for p in intake.prior_procedures.all()
            if p.kind in EVENT_TYPES
        ],
        "labs": labs,
        "first_line_tried": sorted(
            {t.treatment for t in intake.prior_treatments.all() if t.treatment in FIRST_LINE}
        ),
    }


def screening_fingerprint(result: dict[str, Any]) -> list[dict[str, Any]]:
    """What a physician judges when overriding: every finding's rule and the inputs it read."""
    return sorted(
        ({"rule": f["rule"], "inputs": f.get("inputs", {})} for f in result.get("findings", [])),
        key=lambda e: (e["rule"], json.dumps(e["inputs"], sort_keys=True, default=str)),
    )


def _fingerprint_of(record: ScreeningRecord) -> list[dict[str, Any]]:
    if record.override_fingerprint is not None:
        return list(record.override_fingerprint)
    return screening_fingerprint(record.result)  # overrides from before fingerprints existed


def _value_text(value: Any, tz: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_value_text(v, tz)}" for k, v in value.items())
    if isinstance(value, str):
        try:
            return human_date(dt.date.fromisoformat(value), tz)
        except ValueError:
            return value
    return "not recorded" if value is None else str(value)


_ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


def _finding_text(record: ScreeningRecord, rule: str, tz: Any) -> str:
    """A finding's message as staff read it (the kernel writes ISO dates)."""
    for f in record.findings:
        if f["rule"] == rule:
            text = str(f["message"]).rstrip(".")
            return _ISO_DATE.sub(lambda m: _value_text(m.group(0), tz), text)
    return rule.replace("_", " ")


def override_changes(earlier: ScreeningRecord, record: ScreeningRecord, tz: Any) -> list[str]:
    """What differs between the facts an override judged and this screening, in words."""
    old, new = _fingerprint_of(earlier), screening_fingerprint(record.result)
    if old == new:
        return []
    changes: list[str] = []
    old_inputs: dict[str, Any] = {}
    for entry in old:
        old_inputs.update(entry["inputs"])
    new_inputs: dict[str, Any] = {}
    for entry in new:
        new_inputs.update(entry["inputs"])
    for label, value in old_inputs.items():
        if label in new_inputs and new_inputs[label] != value:
            changes.append(
                f"{label} {_value_text(value, tz)} → {_value_text(new_inputs[label], tz)}"
            )
    old_keys = {json.dumps(e, sort_keys=True, default=str) for e in old}
    new_keys = {json.dumps(e, sort_keys=True, default=str) for e in new}
    old_rules = {e["rule"] for e in old}
    new_rules = {e["rule"] for e in new}
    for rule in sorted(new_rules - old_rules):
        changes.append(f"new finding: {_finding_text(record, rule, tz)}")
    for rule in sorted(old_rules - new_rules):
        changes.append(f"no longer found: {_finding_text(earlier, rule, tz)}")
    if not changes and old_keys != new_keys:
        changes.append("the findings' inputs changed")
    return changes


def _earlier_override(record: ScreeningRecord) -> tuple[ScreeningRecord | None, bool]:
    """The latest override of this patient's procedure, and whether a later screening has
    already voided it (a void override never comes back, even if the facts return)."""
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
    if earlier is None:
        return None, False
    voided_since = (
        ScreeningRecord.objects.filter(
            patient_id=record.patient_id, procedure=record.procedure, id__gt=earlier.id
        )
        .exclude(pk=record.pk)
        .exclude(override_void_reason="")
        .exists()
    )
    return earlier, voided_since


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
        result = screen(doc, today=actor.today())
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
    # An override is bound to the facts it judged: it carries over (pre-session) only while
    # every finding and every input those findings read is unchanged; otherwise it is void.
    carried = None
    earlier, voided = _earlier_override(record)
    if earlier is not None:
        changes = override_changes(earlier, record, actor.tz)
        if changes or voided or record.decision != "review":
            record.override_void_reason = "; ".join(changes) or (
                "the facts changed after it was given" if voided else "the decision changed"
            )
            record.save(update_fields=["override_void_reason"])
        elif trigger == ScreeningTrigger.PRE_SESSION:
            carried = earlier
    if carried is not None:
        record.override_by = carried.override_by
        record.override_at = carried.override_at
        record.override_reason = carried.override_reason
        record.override_carried_from = carried
        record.override_fingerprint = _fingerprint_of(carried)
        record.save(
            update_fields=[
                "override_by",
                "override_at",
                "override_reason",
                "override_carried_from",
                "override_fingerprint",
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
            "override_void": record.override_void_reason or None,
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
    locked.override_fingerprint = screening_fingerprint(locked.result)
    locked.save(
        update_fields=["override_by", "override_at", "override_reason", "override_fingerprint"]
    )
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
