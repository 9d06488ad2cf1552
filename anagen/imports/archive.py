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
from django.db.models import BooleanField, ExpressionWrapper, Q

from anagen.accounts.access import Actor
from anagen.accounts.permissions import Perm
from anagen.audit.services import audit_record
from anagen.care.models import Assessment
from anagen.outcomes.models import Measurement, MeasurementSet, VisitLabel
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
    Assessment: (
        (
            "version",
            "visit_on",
            "diagnosis_code",
            "scale_id",
            "scale_value",
            "salt_vertex",
            "salt_posterior",
            "salt_right",
            "salt_left",
            "salt_score",
            "salt_band",
            "notes",
            "is_signed",
        ),
        ("version",),
    ),
    MeasurementSet: (
        (
            "measured_on",
            "visit_label",
            "method",
            "device",
            "pull_test_pulled",
            "pull_test_shed",
            "wash_test_count",
            "salt",
            "stage_scale",
            "stage_value",
            "global_photo_rating",
            "satisfaction",
            "notes",
        ),
        ("measured_on", "visit_label"),
    ),
    Measurement: (
        (
            "measurement_set__measured_on",
            "site__name",
            "site__location",
            "hair_count",
            "area_cm2",
            "density_per_cm2",
            "mean_diameter_um",
            "cumulative_thickness_mm_per_cm2",
            "terminal_pct",
            "vellus_pct",
            "anagen_pct",
            "telogen_pct",
        ),
        ("measurement_set__measured_on", "site__name"),
    ),
}
# How each compared model reaches its patient.
PATIENT_PATH = {
    Assessment: "patient",
    MeasurementSet: "patient",
    Measurement: "measurement_set__patient",
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
    "care.Assessment (follicles present, pull test)": "not in the FHIR export",
    "care.Assessment (who signed, when)": "re-signed by the person importing, on import",
    "care.ScreeningRecord": "not in the FHIR export",
    "care.Consent": "exported (Consent); not re-imported yet",
    "scheduling.TreatmentPlan": "exported (CarePlan); not re-imported yet",
    "scheduling.Appointment": "exported (Appointment); not re-imported yet",
    "procedures.TreatmentSession and its parts": (
        "exported (Procedure, BiologicallyDerivedProduct, Provenance); not re-imported yet"
    ),
    "procedures.AdverseEvent": "exported (AdverseEvent); not re-imported yet",
    "outcomes.Measurement (units as entered)": (
        "areas and densities are exported in cm² only; one entered per inch² comes back per cm²"
    ),
    "outcomes.MeasurementSite (sites without measurements)": "only measured sites are exported",
    "outcomes.PhotoSet / Photo": "exported (DocumentReference + files); not re-imported yet",
    "outcomes.ReportFile": "exported (DocumentReference + PDF); not re-imported yet",
    "billing.*": "invoices and payments are not part of the clinical archive",
}

# The same, in words for the import page.
NOT_CARRIED_WORDS = (
    "reminder choices (text message, email)",
    "intake answers other than medicines, allergies and laboratory results, and earlier intakes",
    "whether follicles were present and the pull test of an assessment",
    "screening results",
    "consents, plans and appointments",
    "treatment sessions, PRP preparations and adverse events",
    "photos and outcome reports",
    "invoices and payments",
)


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


def _components(resource: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {_coding_code(c.get("code")): c for c in resource.get("component", [])}


def _number(component: dict[str, Any] | None) -> Any:
    if component is None:
        return None
    if "valueInteger" in component:
        return component["valueInteger"]
    value = component.get("valueQuantity", {}).get("value")
    return None if value is None else float(Decimal(str(value)))


def _observation_kind(resource: dict[str, Any]) -> str:
    return _coding_code(resource.get("code"))


def _visits(bundle: dict[str, Any]) -> list[Any]:
    """Measurement visits (Observation visit-measures) with their sites (site-measures)."""
    from anagen.outcomes.services import SiteValues, VisitValues

    observations = _resources(bundle, "Observation")
    sites: dict[tuple[str, str], list[Any]] = {}
    for r in observations:
        if _observation_kind(r) != "site-measures":
            continue
        comps = _components(r)
        body = r.get("bodySite", {})
        location = _coding_code(body)
        display = next((c.get("display", "") for c in body.get("coding", [])), "")
        name = body.get("text", "").removesuffix(f" ({display})")
        sites.setdefault((r.get("effectiveDateTime", ""), r.get("issued", "")), []).append(
            SiteValues(
                site_name=name,
                location=location,
                hair_count=_number(comps.get("hair-count")),
                area=_number(comps.get("target-area")),
                density=_number(comps.get("hair-density")),
                mean_diameter_um=_number(comps.get("mean-shaft-diameter")),
                cumulative_thickness_mm_per_cm2=_number(comps.get("cumulative-thickness")),
                terminal_pct=_number(comps.get("terminal-pct")),
                anagen_pct=_number(comps.get("anagen-pct")),
            )
        )
    labels = {str(label).lower(): value for value, label in VisitLabel.choices}
    visits = []
    for r in observations:
        if _observation_kind(r) != "visit-measures":
            continue
        comps = _components(r)
        text = r.get("code", {}).get("text", "")
        label = text.removeprefix("Hair measures, ").removesuffix(" visit")
        stage_scale, stage_value = "", ""
        for code, comp in comps.items():
            if code.endswith("-stage"):
                stage_scale = code.removesuffix("-stage")
                stage_value = _coding_code(comp.get("valueCodeableConcept"))
        salt = _number(comps.get("salt"))
        visits.append(
            VisitValues(
                measured_on=_day(r.get("effectiveDateTime")),  # type: ignore[arg-type]
                visit_label=labels.get(label, label),
                method=_coding_code(r.get("method")),
                device=(r.get("device") or {}).get("display", ""),
                pull_test_pulled=_number(comps.get("pull-test-pulled")),
                pull_test_shed=_number(comps.get("pull-test-shed")),
                wash_test_count=_number(comps.get("wash-test")),
                salt=salt,
                stage_scale=stage_scale,
                stage_value=stage_value,
                global_photo_rating=_number(comps.get("global-photo-rating")),
                satisfaction=_number(comps.get("satisfaction")),
                notes="\n".join(n.get("text", "") for n in r.get("note", [])),
                sites=sites.get((r.get("effectiveDateTime", ""), r.get("issued", "")), []),
            )
        )
    return sorted(visits, key=lambda v: v.measured_on)


def _assessments(bundle: dict[str, Any]) -> list[tuple[Any, bool]]:
    """(AssessmentData, signed) per Condition, in the order they were recorded."""
    from anagen.care.services import AssessmentData

    scales = {r.get("id", ""): r for r in _resources(bundle, "Observation")}
    found = []
    for r in _resources(bundle, "Condition"):
        diagnosis = next(
            (
                c.get("code", "")
                for c in r.get("code", {}).get("coding", [])
                if str(c.get("system", "")).endswith("/diagnosis")
            ),
            "",
        )
        values: dict[str, Any] = {}
        scale = scales.get(f"scale-{r.get('id')}")
        if scale is not None:
            code = _coding_code(scale.get("code"))
            if code == "salt":
                values["scale_id"] = "salt"
                for region, comp in _components(scale).items():
                    if region.startswith("salt-") and region != "salt-band":
                        value = comp.get("valueQuantity", {}).get("value")
                        values[region.replace("-", "_")] = Decimal(str(value))
            elif code.endswith("-stage"):
                values["scale_id"] = code.removesuffix("-stage")
                values["scale_value"] = _coding_code(scale.get("valueCodeableConcept"))
        data = AssessmentData(
            visit_on=_day(r.get("recordedDate")),  # type: ignore[arg-type]
            diagnosis_code=diagnosis,
            notes="\n".join(n.get("text", "") for n in r.get("note", [])),
            **values,
        )
        signed = _coding_code(r.get("verificationStatus")) == "confirmed"
        found.append((int(r.get("id", 0)), data, signed))
    return [(data, signed) for _, data, signed in sorted(found, key=lambda f: f[0])]


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
    visits = _visits(bundle)
    assessments = _assessments(bundle)
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
        from anagen.care.services import assessment_create, assessment_sign
        from anagen.outcomes.services import measurement_set_record

        for values, signed in assessments:
            made = assessment_create(actor=actor, patient=patient, data=values)
            if signed:
                assessment_sign(actor=actor, assessment=made)

        for visit in visits:
            measurement_set_record(actor=actor, patient=patient, values=visit)
        audit_record(
            action="patient_archive.import",
            actor=actor,
            patient=patient,
            changes={
                "resources": len(bundle.get("entry", [])),
                "medications": len(meds),
                "allergies": len(allergies),
                "labs": len(labs),
                "measurement_visits": len(visits),
                "assessments": len(assessments),
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
    elif model in PATIENT_PATH:
        qs = model._base_manager.filter(**{PATIENT_PATH[model]: patient})
        if model is Assessment:
            signed = ExpressionWrapper(Q(signed_at__isnull=False), output_field=BooleanField())
            qs = qs.annotate(is_signed=signed)
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
