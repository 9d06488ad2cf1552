"""Writes of consultation records: assessments, screening, consent, and the pre-session gate.

Every write records an audit event in the same transaction. Clinical judgement (scales, SALT,
screening rules) is the kernel's; this module gathers the patient's data for it and stores what
it said.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.http import Http404
from django.template.loader import render_to_string
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.accounts.models import Clinic, Role, User
from anagen.accounts.permissions import Perm
from anagen.audit.services import audit_record, diff_fields
from anagen.care import selectors
from anagen.care.models import (
    Assessment,
    Consent,
    ConsentKind,
    ConsentTemplate,
    PullTest,
    ScreeningRecord,
    ScreeningTrigger,
)
from anagen.clinical import (
    CONDITIONS,
    DIAGNOSES,
    MEDICATION_CATEGORIES,
    PROCEDURES,
    SCALES,
    parse_scale,
    salt,
    scales_for_diagnosis,
    screen,
)
from anagen.clinical import ValidationError as KernelValidationError
from anagen.patients.models import Intake, Patient
from anagen.patients.normalise import fold_text

SIGNED_LOCKED = "Signed assessments cannot be changed; record a new assessment."
OVERRIDE_MIN_REASON = 10
# Prior treatments the kernel counts as first-line for alopecia areata (clinical-facts.md §6).
FIRST_LINE = ("intralesional_corticosteroid", "topical_corticosteroid")
# A pull test reads positive when more than 10% of the hairs pulled come out (clinical-facts §5.5).
PULL_TEST_POSITIVE_FRACTION = Decimal("0.10")


def procedure_label(code: str) -> str:
    return str(PROCEDURES.get(code, {}).get("label", code))


def _scale_label(scale_id: str) -> str:
    return "SALT" if scale_id == "salt" else (SCALES[scale_id].label if scale_id in SCALES else "")


def care_record_read(
    *, actor: Actor, patient: Patient, what: str, obj: Any = None
) -> None:
    """Audit that a clinical record of this app was opened (page or API)."""
    audit_record(action=f"{what}.read", actor=actor, patient=patient, obj=obj)


# --- assessments ---------------------------------------------------------------------------


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
    follicles_present: bool = True
    pull_test: str = PullTest.NOT_DONE
    pull_test_pulled: int | None = None
    pull_test_shed: int | None = None
    notes: str = ""


_SALT_AREAS = ("salt_vertex", "salt_posterior", "salt_right", "salt_left")


def _clean_assessment(patient: Patient, data: AssessmentData) -> dict[str, Any]:
    """Validate against the kernel's vocabularies and scales; return the fields to store."""
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {
        "visit_on": data.visit_on,
        "diagnosis_code": data.diagnosis_code,
        "scale_id": data.scale_id or "",
        "scale_value": "",
        "follicles_present": bool(data.follicles_present),
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
    elif data.visit_on > timezone.localdate():
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


def _require_clinical(actor: Actor, patient: Patient) -> None:
    actor.require(Perm.CLINICAL_VIEW)
    if patient.clinic_id != actor.clinic.pk:
        raise Http404("No such patient.")


@transaction.atomic
def assessment_create(
    *, actor: Actor, patient: Patient, data: AssessmentData
) -> Assessment:
    """Record a new assessment version (a draft until a physician signs it)."""
    _require_clinical(actor, patient)
    clean = _clean_assessment(patient, data)
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
def assessment_update(
    *, actor: Actor, assessment: Assessment, data: AssessmentData
) -> Assessment:
    """Change a draft. Signed assessments are locked: a correction is a new version."""
    _require_clinical(actor, assessment.patient)
    locked = Assessment.objects.select_for_update().get(pk=assessment.pk)
    if locked.is_signed:
        raise ValidationError(SIGNED_LOCKED, code="locked")
    clean = _clean_assessment(assessment.patient, data)
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
    _require_clinical(actor, assessment.patient)
    if actor.role != Role.PHYSICIAN:
        raise PermissionDenied("Only a physician can sign an assessment.")
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


# --- screening -----------------------------------------------------------------------------


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
        raise ValidationError(
            {"procedure": f"Unknown procedure {procedure!r}; use one of: {', '.join(PROCEDURES)}."}
        )
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
    _require_clinical(actor, patient)
    planned_on = planned_on or timezone.localdate()
    if planned_on < timezone.localdate():
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
def screening_override(
    *, actor: Actor, screening: ScreeningRecord, reason: str
) -> ScreeningRecord:
    """A physician accepts a `review` result (relative contraindications) with a reason."""
    _require_clinical(actor, screening.patient)
    if actor.role != Role.PHYSICIAN:
        raise PermissionDenied("Only a physician can override a screening result.")
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


# --- consent -------------------------------------------------------------------------------


def consent_document_html(
    *,
    template: ConsentTemplate,
    patient: Patient,
    signed_name: str = "",
    signed_at: dt.datetime | None = None,
    witness: User | None = None,
) -> str:
    """The consent exactly as shown and stored: template text, patient, signature, witness."""
    return render_to_string(
        "care/_consent_document.html",
        {
            "template": template,
            "patient": patient,
            "signed_name": signed_name,
            "signed_at": signed_at,
            "witness": witness,
        },
    )


def sha256_of(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@transaction.atomic
def consent_sign(
    *,
    actor: Actor,
    patient: Patient,
    kind: str,
    signed_name: str,
    agreed: bool,
    template_version: int | None = None,
) -> Consent:
    """Store the signed consent as an immutable snapshot with its SHA-256; the actor witnesses."""
    # Witnessing is clinical work: physicians and nurses only (front desk sees the status).
    _require_clinical(actor, patient)
    if kind not in ConsentKind.values:
        raise ValidationError({"kind": f"Unknown consent kind {kind!r}."})
    template = selectors.consent_template_current(patient.clinic_id, kind)
    if template is None:
        raise ValidationError({"kind": "No consent text is published for this kind."})
    errors: dict[str, str] = {}
    if template_version is not None and template_version != template.version:
        errors["__all__"] = (
            f"Version {template.version} of this consent was published while it was being read; "
            "show the patient the new text and sign again."
        )
    signed_name = " ".join((signed_name or "").split())
    if not signed_name:
        errors["signed_name"] = "The patient types their full name to sign."
    elif fold_text(signed_name) != fold_text(patient.full_name):
        errors["signed_name"] = (
            f"The typed name must be the patient's full name as registered ({patient.full_name})."
        )
    if not agreed:
        errors["agreed"] = "The patient must confirm they have read and agree to the text."
    if errors:
        raise ValidationError(errors)
    signed_at = timezone.now()
    snapshot = consent_document_html(
        template=template,
        patient=patient,
        signed_name=signed_name,
        signed_at=signed_at,
        witness=actor.user,
    )
    consent = Consent.objects.create(
        patient=patient,
        template=template,
        kind=kind,
        signed_at=signed_at,
        signed_by_patient_name=signed_name,
        witness=actor.user,
        snapshot_html=snapshot,
        sha256=sha256_of(snapshot),
    )
    audit_record(
        action="consent.sign",
        actor=actor,
        patient=patient,
        obj=consent,
        changes={
            "kind": kind,
            "template": template.pk,
            "template_version": template.version,
            "sha256": consent.sha256,
        },
    )
    return consent


@transaction.atomic
def consent_withdraw(*, actor: Actor, consent: Consent, reason: str) -> Consent:
    _require_clinical(actor, consent.patient)
    locked = Consent.objects.select_for_update().get(pk=consent.pk)
    if locked.is_withdrawn:
        raise ValidationError("This consent is already withdrawn.", code="withdrawn")
    reason = " ".join((reason or "").split())
    if len(reason) < 5:
        raise ValidationError({"reason": "Say why the consent is withdrawn (who asked, when)."})
    locked.withdrawn_at = timezone.now()
    locked.withdrawn_reason = reason
    locked.withdrawn_by = actor.user
    locked.save(update_fields=["withdrawn_at", "withdrawn_reason", "withdrawn_by"])
    audit_record(
        action="consent.withdraw",
        actor=actor,
        patient=locked.patient,
        obj=locked,
        changes={"kind": locked.kind, "reason": reason},
    )
    return locked


def can_publish_templates(actor: Actor) -> bool:
    return actor.membership.is_active and (
        actor.can(Perm.STAFF_MANAGE) or actor.role == Role.PHYSICIAN
    )


@transaction.atomic
def consent_template_publish(
    *, actor: Actor, kind: str, title: str, body: str
) -> ConsentTemplate:
    """Publish a new version for the actor's clinic; earlier consents then need re-consent."""
    if not can_publish_templates(actor):
        raise PermissionDenied("Only a physician or a clinic admin can publish consent texts.")
    if kind not in ConsentKind.values:
        raise ValidationError({"kind": f"Unknown consent kind {kind!r}."})
    title = " ".join((title or "").split())
    body = (body or "").replace("\r\n", "\n").strip()
    errors: dict[str, str] = {}
    if not title:
        errors["title"] = "Give the consent a title."
    if len(body) < 20:
        errors["body"] = "The consent text is too short."
    if errors:
        raise ValidationError(errors)
    clinic = actor.clinic
    # Lock the clinic row so two publications get distinct version numbers.
    Clinic.objects.select_for_update().filter(pk=clinic.pk).first()
    current = selectors.consent_template_current(clinic, kind)
    if current is not None and current.title == title and current.body == body:
        raise ValidationError(
            {"body": f"This is the text of the current version (v{current.version}); change it."}
        )
    last = selectors.consent_template_versions(clinic, kind).aggregate(v=Max("version"))["v"] or 0
    template = ConsentTemplate.objects.create(
        clinic=clinic,
        kind=kind,
        version=last + 1,
        title=title,
        body=body,
        published_at=timezone.now(),
        published_by=actor.user,
    )
    audit_record(
        action="consent_template.publish",
        actor=actor,
        obj=template,
        changes={"kind": kind, "version": template.version, "title": title},
    )
    return template


# --- the gate before a session ---------------------------------------------------------------


@dataclass(frozen=True)
class GateResult:
    ok: bool
    reasons: list[str]  # human-readable, one per obstacle
    screening: ScreeningRecord | None


def _day(d: dt.date | None) -> str:
    return f"{d.day} {d:%b %Y}" if d else ""


def _screening_reason(record: ScreeningRecord) -> str:
    label = procedure_label(record.procedure)
    if record.decision == "defer":
        when = (
            f"not before {_day(record.earliest_on)}"
            if record.earliest_on
            else "no date yet (a deferral has no end date)"
        )
        return f"Screening for {label} says defer: {when}."
    if record.decision == "review":
        return f"Screening for {label} needs a physician's review (not overridden)."
    if record.decision == "not_indicated":
        return f"Screening for {label}: not indicated."
    return f"Screening for {label}: contraindicated."


def _consent_reason(patient: Patient, procedure: str) -> str:
    label = ConsentKind(procedure).label
    latest = (
        Consent.objects.filter(patient=patient, kind=procedure)
        .select_related("template")
        .order_by("-signed_at", "-id")
        .first()
    )
    if latest is None:
        return f"No valid consent for {label}: none signed."
    if latest.is_withdrawn:
        withdrawn = timezone.localdate(latest.withdrawn_at)
        return f"No valid consent for {label}: withdrawn on {_day(withdrawn)}."
    current = selectors.consent_template_current(patient.clinic_id, procedure)
    version = current.version if current else "?"
    return (
        f"No valid consent for {label} (template v{version} needs re-consent; "
        f"signed v{latest.template.version})."
    )


def session_gate(*, actor: Actor, patient: Patient, procedure: str, on: dt.date) -> GateResult:
    """May a session of ``procedure`` start for this patient on ``on``?

    Re-screens (trigger "pre_session", so a changed intake is caught) and checks the consent.
    ok only when a valid consent exists and the effective decision is eligible; a physician's
    override of `review` carries over only while the findings are the same. Callable by anyone
    who may see the patient (front desk checks patients in); reasons name decisions and dates,
    never clinical findings, which stay on the screening record.
    """
    actor.require(Perm.PATIENT_VIEW)
    if patient.clinic_id != actor.clinic.pk:
        raise Http404("No such patient.")
    if procedure not in PROCEDURES:
        raise ValidationError(
            {"procedure": f"Unknown procedure {procedure!r}; use one of: {', '.join(PROCEDURES)}."}
        )
    reasons: list[str] = []
    screening: ScreeningRecord | None = None
    try:
        with transaction.atomic():
            screening = _screening_run(
                actor=actor,
                patient=patient,
                procedure=procedure,
                planned_on=on,
                trigger=ScreeningTrigger.PRE_SESSION,
            )
    except ValidationError as exc:
        reasons.extend(f"Cannot screen: {m}" for m in exc.messages)
    else:
        if screening.effective_decision != "eligible":
            reasons.append(_screening_reason(screening))
    if selectors.consent_valid_for(patient, procedure) is None:
        reasons.append(_consent_reason(patient, procedure))
    return GateResult(ok=not reasons, reasons=reasons, screening=screening)
