"""Data back in: re-import a per-patient archive (anagen/imports/export.py) and compare records.

`patient_archive_import` reads the archive's FHIR Bundle (`record.json`) and recreates the patient
through the services: the demographics with `patient_create` (keeping the record number the
archive carries when it is free here), and the latest intake's medications, allergies and
laboratory results with `intake_record`. `record_compare` compares two patients' records field
by field over what an archive carries back (`COMPARED`), ignoring database ids and audit rows,
and names every difference ("patients.IntakeLab[platelets 2026-11-27].value: 250.000 ≠ 251.000").

What the archive does not carry back yet is listed, not hidden: `NOT_CARRIED` names each
patient-owned model or field and why (most of the record — assessments, consents, plans,
appointments, sessions, measurements, photos — is exported but not yet re-imported, and some
intake fields are not in the FHIR export at all).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction

from anagen.accounts.access import Actor
from anagen.accounts.permissions import Perm
from anagen.audit.services import audit_record
from anagen.patients.models import Intake, IntakeAllergy, IntakeLab, IntakeMedication, Patient

MAX_ARCHIVE_BYTES = 200 * 1024 * 1024
SEX = {"male": "male", "female": "female", "other": "other", "unknown": "other"}
NOTE_ENTERED = re.compile(r"^As entered: (?P<value>\S+) (?P<unit>.+)$")

# What is compared, per model: its fields (ids, foreign keys to rows and bookkeeping excluded),
# and the fields that name a row (rows are matched on them, sorted).
COMPARED: dict[type[models.Model], tuple[tuple[str, ...], tuple[str, ...]]] = {
    Patient: (
        (
            "record_number",
            "given_name",
            "family_name",
            "birth_date",
            "sex",
            "phone",
            "email",
            "address",
            "preferred_language",
        ),
        ("record_number",),
    ),
    IntakeMedication: (
        ("name", "category", "prescribed", "last_dose_on", "dose"),
        ("name", "category"),
    ),
    IntakeAllergy: (("substance", "reaction"), ("substance",)),
    IntakeLab: (
        ("analyte", "value_entered", "unit_entered", "value", "unit", "taken_on"),
        ("analyte", "taken_on"),
    ),
}

# Patient-owned data an archive does not bring back (yet), and why. Reported, never silent.
NOT_CARRIED: dict[str, str] = {
    "patients.Patient.sms_reminders": "reminder choices are not in the FHIR Patient resource",
    "patients.Patient.email_reminders": "reminder choices are not in the FHIR Patient resource",
    "patients.Intake (conditions, smoking, pregnancy, hair-loss history, notes)": (
        "not in the FHIR export"
    ),
    "patients.Intake (earlier versions)": "only the latest intake is exported",
    "patients.IntakePriorProcedure": "not in the FHIR export",
    "patients.IntakePriorTreatment": "not in the FHIR export",
    "care.Assessment": "exported (Condition, Observation, Provenance); not re-imported yet",
    "care.ScreeningRecord": "not in the FHIR export",
    "care.Consent": "exported (Consent); not re-imported yet",
    "scheduling.TreatmentPlan": "exported (CarePlan); not re-imported yet",
    "scheduling.Appointment": "exported (Appointment); not re-imported yet",
    "procedures.TreatmentSession and its parts": (
        "exported (Procedure, BiologicallyDerivedProduct, Provenance); not re-imported yet"
    ),
    "procedures.AdverseEvent": "exported (AdverseEvent); not re-imported yet",
    "outcomes.MeasurementSet / Measurement": "exported (Observation); not re-imported yet",
    "outcomes.PhotoSet / Photo": "exported (DocumentReference + files); not re-imported yet",
    "outcomes.ReportFile": "exported (DocumentReference + PDF); not re-imported yet",
    "billing.*": "invoices and payments are not part of the clinical archive",
}


# --- reading the archive ----------------------------------------------------------------------


def _bundle_of(data: bytes) -> dict[str, Any]:
    if len(data) > MAX_ARCHIVE_BYTES:
        raise ValidationError("The archive is larger than 200 MB.")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            bundle = json.loads(archive.read("record.json"))
    except (zipfile.BadZipFile, KeyError, ValueError):
        raise ValidationError("This is not a record archive made by Anagen.") from None
    from anagen.fhir import build

    try:
        build.validated_model(bundle)
    except Exception:
        raise ValidationError("The record in this archive is not a valid FHIR Bundle.") from None
    return bundle  # type: ignore[no-any-return]


def _resources(bundle: dict[str, Any], rtype: str) -> list[dict[str, Any]]:
    return [
        e["resource"]
        for e in bundle.get("entry", [])
        if e.get("resource", {}).get("resourceType") == rtype
    ]


def _day(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value[:10]) if value else None


def _patient_data(resource: dict[str, Any]) -> dict[str, Any]:
    name = (resource.get("name") or [{}])[0]
    telecom = {t.get("system"): t.get("value", "") for t in resource.get("telecom", [])}
    language = ""
    for comm in resource.get("communication", []):
        codings = comm.get("language", {}).get("coding", [])
        language = codings[0].get("code", "") if codings else comm["language"].get("text", "")
        break
    return {
        "given_name": " ".join(name.get("given", [])),
        "family_name": name.get("family", ""),
        "birth_date": _day(resource.get("birthDate")),
        "sex": SEX.get(resource.get("gender", ""), "other"),
        "phone": telecom.get("phone", ""),
        "email": telecom.get("email", ""),
        "address": "\n".join(a.get("text", "") for a in resource.get("address", [])),
        "preferred_language": language,
    }


def _coding_code(concept: dict[str, Any] | None) -> str:
    for c in (concept or {}).get("coding", []):
        if c.get("code"):
            return str(c["code"])
    return ""


def _medication(resource: dict[str, Any]) -> dict[str, Any]:
    med = resource.get("medicationCodeableConcept", {})
    return {
        "name": med.get("text", ""),
        "category": _coding_code(med),
        "prescribed": resource.get("category", {}).get("text") == "Prescribed",
        "dose": " ".join(d.get("text", "") for d in resource.get("dosage", [])),
        "last_dose_on": _day(resource.get("effectiveDateTime")),
    }


def _allergy(resource: dict[str, Any]) -> dict[str, Any]:
    reactions = [
        m.get("text", "") for r in resource.get("reaction", []) for m in r.get("manifestation", [])
    ]
    return {"substance": resource.get("code", {}).get("text", ""), "reaction": "; ".join(reactions)}


def _lab(resource: dict[str, Any]) -> dict[str, Any] | None:
    """A laboratory Observation back to the value and unit as entered (the note keeps them)."""
    from anagen.patients.vocab import LAB_UNITS

    categories = {_coding_code(c) for c in resource.get("category", [])}
    if "laboratory" not in categories:
        return None
    analyte = ""
    codes = {c.get("code") for c in resource.get("code", {}).get("coding", [])}
    for key, spec in LAB_UNITS.items():
        if key in codes or (spec.loinc and spec.loinc in codes):
            analyte = key
    for note in resource.get("note", []):
        match = NOTE_ENTERED.match(note.get("text", ""))
        if match and analyte:
            try:
                value = Decimal(match["value"])
            except InvalidOperation:
                return None
            return {
                "analyte": analyte,
                "value": value,
                "unit": match["unit"],
                "taken_on": _day(resource.get("effectiveDateTime")),
            }
    return None


# --- importing ------------------------------------------------------------------------------


def patient_archive_import(*, actor: Actor, data: bytes) -> Patient:
    """Recreate the archive's patient in the actor's clinic (all or nothing)."""
    from anagen.patients import services as patients

    actor.require(Perm.PATIENT_IMPORT)
    bundle = _bundle_of(data)
    found = _resources(bundle, "Patient")
    if len(found) != 1:
        raise ValidationError("The archive must hold exactly one patient.")
    resource = found[0]
    number = next((i.get("value", "") for i in resource.get("identifier", [])), "")
    meds = [_medication(r) for r in _resources(bundle, "MedicationStatement")]
    allergies = [_allergy(r) for r in _resources(bundle, "AllergyIntolerance")]
    labs = [lab for r in _resources(bundle, "Observation") if (lab := _lab(r)) is not None]
    with transaction.atomic():
        patient = patients.patient_create(
            actor=actor, data=_patient_data(resource), confirm_duplicate=True
        )
        # The patient keeps their record number when this clinic has not used it.
        if (
            number
            and not Patient.all_objects.filter(clinic=actor.clinic, record_number=number).exists()
        ):
            Patient.all_objects.filter(pk=patient.pk).update(record_number=number)
            patient.record_number = number
        if meds or allergies or labs:
            patients.intake_record(
                actor=actor,
                patient=patient,
                data=patients.IntakeData(medications=meds, allergies=allergies, labs=labs),
            )
        audit_record(
            action="patient_archive.import",
            actor=actor,
            patient=patient,
            changes={
                "resources": len(bundle.get("entry", [])),
                "medications": len(meds),
                "allergies": len(allergies),
                "labs": len(labs),
            },
        )
    return patient


# --- comparing ------------------------------------------------------------------------------


@dataclass
class Comparison:
    differences: list[str] = field(default_factory=list)
    not_compared: dict[str, str] = field(default_factory=lambda: dict(NOT_CARRIED))

    def __bool__(self) -> bool:  # true when the records match over what is compared
        return not self.differences


def _rows(model: type[models.Model], patient: Patient) -> list[dict[str, Any]]:
    fields, key = COMPARED[model]
    if model is Patient:
        qs: Any = Patient.all_objects.filter(pk=patient.pk)
    else:
        latest = Intake.objects.filter(patient=patient).order_by("-version").first()
        qs = model._base_manager.filter(intake=latest) if latest else model._base_manager.none()
    rows = list(qs.values(*fields))
    return sorted(rows, key=lambda r: tuple(str(r[k]) for k in key + fields))


def _label(model: type[models.Model], row: dict[str, Any]) -> str:
    _, key = COMPARED[model]
    return f"{model._meta.label}[{' '.join(str(row[k]) for k in key)}]"


def record_compare(original: Patient, copy: Patient) -> Comparison:
    """Field by field over `COMPARED`; every difference is named."""
    result = Comparison()
    for model, (fields, _) in COMPARED.items():
        a, b = _rows(model, original), _rows(model, copy)
        if len(a) != len(b):
            result.differences.append(
                f"{model._meta.label}: {len(a)} row(s) in the original, {len(b)} in the copy"
            )
        for left, right in zip(a, b, strict=False):
            for name in fields:
                if left[name] != right[name]:
                    result.differences.append(
                        f"{_label(model, left)}.{name}: {left[name]!r} ≠ {right[name]!r}"
                    )
    return result
