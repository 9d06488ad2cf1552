"""Writes of patient data. Every one records an audit event in the same transaction."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Max
from django.http import Http404
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.accounts.clinic_time import local_today
from anagen.accounts.models import Clinic
from anagen.accounts.permissions import Perm
from anagen.audit.models import AuditAction
from anagen.audit.services import audit_record, diff_fields
from anagen.clinical import lab_implausible
from anagen.patients import vocab
from anagen.patients.models import (
    Intake,
    IntakeAllergy,
    IntakeLab,
    IntakeMedication,
    IntakePriorProcedure,
    IntakePriorTreatment,
    Patient,
)
from anagen.patients.normalise import PhoneError, digits_of, phone_to_e164, search_name_for
from anagen.patients.selectors import patient_possible_duplicates

PATIENT_FIELDS = (
    "given_name",
    "family_name",
    "birth_date",
    "sex",
    "phone",
    "email",
    "address",
    "preferred_language",
    "sms_reminders",
    "email_reminders",
)


class DuplicatePatientError(ValidationError):
    """Same name and birth date as an existing patient; the caller may confirm and go on."""

    def __init__(self, duplicates: list[Patient]) -> None:
        self.duplicates = duplicates
        super().__init__(
            "A patient with this name and date of birth already exists: "
            + ", ".join(p.record_number for p in duplicates),
            code="duplicate",
        )


def _clean_patient_data(data: dict[str, Any], clinic: Clinic) -> dict[str, Any]:
    errors: dict[str, str] = {}
    clean = {k: data[k] for k in PATIENT_FIELDS if k in data}
    for name in ("given_name", "family_name"):
        if name in clean:
            clean[name] = " ".join(str(clean[name] or "").split())
            if not clean[name]:
                errors[name] = "This field is required."
    birth_date = clean.get("birth_date")
    if birth_date is not None:
        if birth_date > local_today(clinic):
            errors["birth_date"] = "Date of birth cannot be in the future."
        elif birth_date < dt.date(1900, 1, 1):
            errors["birth_date"] = "Date of birth must be after 1900."
    if "sex" in clean and clean["sex"] not in vocab.Sex.values:
        errors["sex"] = f"Choose one of: {', '.join(map(str, vocab.Sex.labels))}."
    if "phone" in clean:
        try:
            clean["phone"] = phone_to_e164(str(clean["phone"] or ""), clinic.default_phone_region)
        except PhoneError as exc:
            errors["phone"] = str(exc)
    if clean.get("sms_reminders") and not clean.get("phone", True):
        errors["sms_reminders"] = "SMS reminders need a phone number."
    if clean.get("email_reminders") and not clean.get("email", True):
        errors["email_reminders"] = "Email reminders need an email address."
    if errors:
        raise ValidationError(errors)
    return clean


def _next_record_number(clinic: Clinic) -> str:
    Clinic.objects.filter(pk=clinic.pk).update(record_seq=F("record_seq") + 1)
    seq = Clinic.objects.values_list("record_seq", flat=True).get(pk=clinic.pk)
    return f"{clinic.record_prefix}{seq:06d}"


@transaction.atomic
def patient_create(
    *, actor: Actor, data: dict[str, Any], confirm_duplicate: bool = False
) -> Patient:
    actor.require(Perm.PATIENT_REGISTER)
    clean = _clean_patient_data(data, actor.clinic)
    for required in ("given_name", "family_name", "birth_date", "sex"):
        if not clean.get(required):
            raise ValidationError({required: "This field is required."})
    if not confirm_duplicate:
        duplicates = list(
            patient_possible_duplicates(
                actor=actor,
                given_name=clean["given_name"],
                family_name=clean["family_name"],
                birth_date=clean["birth_date"],
            )
        )
        if duplicates:
            raise DuplicatePatientError(duplicates)
    patient = Patient(clinic=actor.clinic, record_number=_next_record_number(actor.clinic), **clean)
    patient.search_name = search_name_for(patient.given_name, patient.family_name)
    patient.phone_digits = digits_of(patient.phone)
    patient.save()
    audit_record(
        action="patient.create",
        actor=actor,
        patient=patient,
        obj=patient,
        changes={k: [None, v] for k, v in clean.items()},
    )
    return patient


@transaction.atomic
def patient_update(*, actor: Actor, patient: Patient, data: dict[str, Any]) -> Patient:
    actor.require(Perm.PATIENT_REGISTER)
    clean = _clean_patient_data(data, actor.clinic)
    before = {k: getattr(patient, k) for k in clean}
    for key, value in clean.items():
        setattr(patient, key, value)
    for required in ("given_name", "family_name", "birth_date", "sex"):
        if not getattr(patient, required):
            raise ValidationError({required: "This field is required."})
    patient.search_name = search_name_for(patient.given_name, patient.family_name)
    patient.phone_digits = digits_of(patient.phone)
    changes = diff_fields(before, clean)
    if changes:
        patient.save()
        audit_record(
            action="patient.update",
            actor=actor,
            patient=patient,
            obj=patient,
            changes=changes,
        )
    return patient


DELETE_MIN_REASON = 5


@transaction.atomic
def patient_soft_delete(*, actor: Actor, patient: Patient, reason: str) -> Patient:
    """Hide a patient everywhere (lists, search, pages, API), keeping every record; audited.

    Nothing is erased: `patient_restore` brings the record back as it was.
    """
    actor.require(Perm.PATIENT_DELETE)
    if patient.clinic_id != actor.clinic.pk:
        raise Http404("No such patient.")
    locked = Patient.all_objects.select_for_update().get(pk=patient.pk)
    if locked.is_deleted:
        raise ValidationError("This patient record is already deleted.", code="deleted")
    reason = " ".join((reason or "").split())
    if len(reason) < DELETE_MIN_REASON:
        raise ValidationError(
            {"reason": "Say why the record is deleted (e.g. registered twice, test record)."}
        )
    locked.deleted_at = timezone.now()
    locked.deleted_by = actor.user
    locked.deleted_reason = reason
    locked.save(update_fields=["deleted_at", "deleted_by", "deleted_reason", "updated_at"])
    audit_record(
        action=AuditAction.PATIENT_DELETE,
        actor=actor,
        patient=locked,
        obj=locked,
        changes={"reason": reason},
    )
    return locked


@transaction.atomic
def patient_restore(*, actor: Actor, patient: Patient) -> Patient:
    """Bring a soft-deleted patient back, with every record it had; audited."""
    actor.require(Perm.PATIENT_DELETE)
    if patient.clinic_id != actor.clinic.pk:
        raise Http404("No such patient.")
    locked = Patient.all_objects.select_for_update().get(pk=patient.pk)
    if not locked.is_deleted:
        raise ValidationError("This patient record is not deleted.", code="not_deleted")
    reason = locked.deleted_reason
    locked.deleted_at = None
    locked.deleted_by = None
    locked.deleted_reason = ""
    locked.save(update_fields=["deleted_at", "deleted_by", "deleted_reason", "updated_at"])
    audit_record(
        action=AuditAction.PATIENT_RESTORE,
        actor=actor,
        patient=locked,
        obj=locked,
        changes={"deleted_reason": reason},
    )
    return locked


def patient_record_read(*, actor: Actor, patient: Patient, what: str) -> None:
    """Audit that the actor opened part of a patient's record (chart, intake, API read)."""
    audit_record(action=f"{what}.read", actor=actor, patient=patient, obj=patient)


@dataclass
class IntakeData:
    conditions: list[str] = field(default_factory=list)
    conditions_note: str = ""
    smoking: str = vocab.Smoking.NEVER
    pregnant: bool = False
    breastfeeding: bool = False
    hair_loss_onset: dt.date | None = None
    hair_loss_pattern: str = ""
    family_history: bool = False
    family_history_note: str = ""
    tight_hairstyles: bool = False
    recent_triggers: str = ""
    notes: str = ""
    medications: list[dict[str, Any]] = field(default_factory=list)
    allergies: list[dict[str, Any]] = field(default_factory=list)
    labs: list[dict[str, Any]] = field(default_factory=list)
    prior_treatments: list[dict[str, Any]] = field(default_factory=list)
    prior_procedures: list[dict[str, Any]] = field(default_factory=list)


def _analyte_label(analyte: str) -> str:
    return str(dict(vocab.LabAnalyte.choices).get(analyte, "this test"))


def lab_to_canonical(analyte: str, value: Decimal, unit: str) -> tuple[Decimal, str]:
    spec = vocab.LAB_UNITS[analyte]
    if unit not in spec.units:
        raise ValidationError(
            {
                "unit": f"{unit} is not a unit for {_analyte_label(analyte)}; "
                f"use {', '.join(spec.units)}."
            }
        )
    return (value * spec.units[unit]).quantize(Decimal("0.001")), spec.canonical


# Intake analytes the screening kernel reads, by its field name (impossible values are refused).
_SCREENED_LABS = {"platelets": "platelets_per_uL", "hemoglobin": "hemoglobin_g_dL"}


def _validate_intake(data: IntakeData, today: dt.date, patient: Patient | None = None) -> None:
    errors: dict[str, str] = {}
    if patient is not None and patient.sex == vocab.Sex.MALE and data.pregnant:
        errors["pregnant"] = "A patient recorded as male cannot be pregnant."
    unknown = [c for c in data.conditions if c not in vocab.CONDITION_LABELS]
    if unknown:
        errors["conditions"] = (
            f"{len(unknown)} condition(s) are not on the list; choose from the conditions shown."
        )
    if data.hair_loss_onset and data.hair_loss_onset > today:
        errors["hair_loss_onset"] = "Onset cannot be in the future."
    for i, med in enumerate(data.medications):
        if med.get("category") not in vocab.MedicationCategory.values:
            errors[f"medications[{i}].category"] = "Choose a medication category."
        if med.get("last_dose_on") and med["last_dose_on"] > today:
            errors[f"medications[{i}].last_dose_on"] = "Last dose cannot be in the future."
        if not isinstance(med.get("prescribed"), bool):
            errors[f"medications[{i}].prescribed"] = (
                "Say whether it is prescribed or taken over the counter."
            )
    for i, proc in enumerate(data.prior_procedures):
        if proc.get("kind") not in vocab.PriorProcedureKind.values:
            errors[f"prior_procedures[{i}].kind"] = "Choose the procedure."
        if not proc.get("on"):
            errors[f"prior_procedures[{i}].on"] = "Give the date of the procedure."
        elif proc["on"] > today:
            errors[f"prior_procedures[{i}].on"] = "A procedure date cannot be in the future."
    for i, lab in enumerate(data.labs):
        if lab.get("analyte") not in vocab.LabAnalyte.values:
            errors[f"labs[{i}].analyte"] = "Choose a lab test."
        elif lab.get("unit") not in vocab.LAB_UNITS[lab["analyte"]].units:
            units = ", ".join(vocab.LAB_UNITS[lab["analyte"]].units)
            errors[f"labs[{i}].unit"] = (
                f"Not a unit for {_analyte_label(lab['analyte'])}: use {units}."
            )
        if lab.get("value") is not None and lab["value"] < 0:
            errors[f"labs[{i}].value"] = "A lab value cannot be negative."
        if lab.get("taken_on") and lab["taken_on"] > today:
            errors[f"labs[{i}].taken_on"] = "A lab date cannot be in the future."
        key = _SCREENED_LABS.get(str(lab.get("analyte")))
        unit = lab.get("unit")
        if key and lab.get("value") is not None and unit in vocab.LAB_UNITS[lab["analyte"]].units:
            value, canonical = lab_to_canonical(lab["analyte"], Decimal(lab["value"]), unit)
            why = lab_implausible(key, float(value))
            if why:
                errors[f"labs[{i}].value"] = (
                    f"{_analyte_label(lab['analyte'])} {value.normalize():,f} {canonical} is {why}:"
                    " check the value and the unit."
                )
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def intake_record(
    *, actor: Actor, patient: Patient, data: IntakeData, based_on: int | None = None
) -> Intake:
    """Record a new intake version; earlier versions stay as they were. `based_on`: the
    version the new one was edited from (0: none); refused when another was recorded since."""
    actor.require(Perm.INTAKE_RECORD)
    _validate_intake(data, actor.today(), patient)
    # Lock the patient row so two intakes recorded at once get distinct versions.
    Patient.objects.select_for_update().filter(pk=patient.pk).first()
    last = Intake.objects.filter(patient=patient).aggregate(v=Max("version"))["v"] or 0
    if based_on is not None and based_on != last:
        raise ValidationError(
            f"Intake version {last} was recorded while this one was being edited.",
            code="conflict",
        )
    intake = Intake.objects.create(
        patient=patient,
        version=last + 1,
        recorded_by=actor.user,
        conditions=sorted(set(data.conditions)),
        conditions_note=data.conditions_note,
        smoking=data.smoking,
        pregnant=data.pregnant,
        breastfeeding=data.breastfeeding,
        hair_loss_onset=data.hair_loss_onset,
        hair_loss_pattern=data.hair_loss_pattern,
        family_history=data.family_history,
        family_history_note=data.family_history_note,
        tight_hairstyles=data.tight_hairstyles,
        recent_triggers=data.recent_triggers,
        notes=data.notes,
    )
    IntakeMedication.objects.bulk_create(
        IntakeMedication(intake=intake, **m) for m in data.medications
    )
    IntakeAllergy.objects.bulk_create(IntakeAllergy(intake=intake, **a) for a in data.allergies)
    labs = []
    for lab in data.labs:
        value, unit = lab_to_canonical(lab["analyte"], Decimal(lab["value"]), lab["unit"])
        labs.append(
            IntakeLab(
                intake=intake,
                analyte=lab["analyte"],
                value_entered=lab["value"],
                unit_entered=lab["unit"],
                value=value,
                unit=unit,
                taken_on=lab["taken_on"],
            )
        )
    IntakeLab.objects.bulk_create(labs)
    IntakePriorTreatment.objects.bulk_create(
        IntakePriorTreatment(intake=intake, **t) for t in data.prior_treatments
    )
    IntakePriorProcedure.objects.bulk_create(
        IntakePriorProcedure(intake=intake, **p) for p in data.prior_procedures
    )
    audit_record(
        action="intake.create",
        actor=actor,
        patient=patient,
        obj=intake,
        changes={
            "version": intake.version,
            "conditions": intake.conditions,
            "medications": len(data.medications),
            "labs": len(data.labs),
            "prior_procedures": len(data.prior_procedures),
        },
    )
    return intake
