"""Rows → FHIR R4 resources (plain dicts, validated with fhir.resources' R4B models).

Each builder takes one row (already scoped to the caller's clinic by the selectors) and the
request context; ``validated`` turns the dict into the R4B model and back, so every resource the
server hands out has passed fhir.resources' validation.
"""

from __future__ import annotations

import datetime as dt
import importlib
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from typing import Any

from django.urls import reverse

from anagen.clinical import ACTIVATION_AGENTS, ANTICOAGULANT_AGENTS, DIAGNOSES, SCALES
from anagen.fhir import codes as C

Json = dict[str, Any]

# resourceType → fhir.resources R4B module
_MODULES = {
    "Patient": "patient",
    "Condition": "condition",
    "Observation": "observation",
    "MedicationStatement": "medicationstatement",
    "AllergyIntolerance": "allergyintolerance",
    "Procedure": "procedure",
    "BiologicallyDerivedProduct": "biologicallyderivedproduct",
    "Consent": "consent",
    "CarePlan": "careplan",
    "Appointment": "appointment",
    "AdverseEvent": "adverseevent",
    "DocumentReference": "documentreference",
    "Provenance": "provenance",
    "Bundle": "bundle",
    "CapabilityStatement": "capabilitystatement",
    "OperationOutcome": "operationoutcome",
}


@cache
def model_class(resource_type: str) -> Any:
    name = _MODULES.get(resource_type, resource_type.lower())
    module = importlib.import_module(f"fhir.resources.R4B.{name}")
    return getattr(module, resource_type)


def validated_model(resource: Json) -> Any:
    return model_class(resource["resourceType"]).model_validate(resource)


def validated(resource: Json) -> Json:
    """The resource after a round trip through its R4B model (raises if it is not valid)."""
    out: Json = validated_model(resource).model_dump(mode="json")
    return out


@dataclass
class Ctx:
    """What builders need beyond the row: where links point, which patients allow photos."""

    base: str  # the FHIR base, e.g. https://clinic.example/fhir/R4
    site: str  # the site root for links to pages, e.g. https://clinic.example
    photo_consent: set[int] = field(default_factory=set)


# --- small helpers ----------------------------------------------------------------------------


def ref(resource_type: str, rid: object, display: str = "") -> Json:
    out: Json = {"reference": f"{resource_type}/{rid}"}
    if display:
        out["display"] = display
    return out


def who(user: Any) -> Json:
    """A person named only by display (staff are not served as Practitioner resources)."""
    return {"display": (user.get_full_name() or user.get_username()) if user else "Unknown"}


def day(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def instant(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def coding(system: str, code: str, display: str = "") -> Json:
    out: Json = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def concept(text: str, *codings: Json) -> Json:
    out: Json = {"text": text}
    if codings:
        out["coding"] = list(codings)
    return out


def quantity(value: Any, unit: str) -> Json:
    code, human = C.UCUM_UNITS[unit]
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    return {"value": number, "unit": human, "system": C.UCUM, "code": code}


def _drop_empty(resource: Json) -> Json:
    return {k: v for k, v in resource.items() if v not in (None, [], {}, "")}


def scale_concept(scale_id: str, value: str) -> Json:
    definition = SCALES.get(scale_id)
    display = ""
    label = scale_id
    if definition is not None:
        label = definition.label
        if value in definition.codes:
            display = definition.labels[definition.codes.index(value)]
    return concept(f"{label} {value}", coding(C.cs(scale_id.replace("_", "-")), value, display))


# --- Patient ----------------------------------------------------------------------------------

GENDER = {"male": "male", "female": "female", "other": "other"}


def patient(p: Any, ctx: Ctx) -> Json:
    telecom = []
    if p.phone:
        telecom.append({"system": "phone", "value": p.phone})
    if p.email:
        telecom.append({"system": "email", "value": p.email})
    return _drop_empty(
        {
            "resourceType": "Patient",
            "id": str(p.pk),
            "meta": {"lastUpdated": instant(p.updated_at)},
            "identifier": [
                {
                    "use": "usual",
                    "system": C.record_number_system(p.clinic.slug),
                    "value": p.record_number,
                }
            ],
            "active": True,
            "name": [{"use": "official", "family": p.family_name, "given": [p.given_name]}],
            "telecom": telecom,
            "gender": GENDER.get(p.sex, "unknown"),
            "birthDate": day(p.birth_date),
            "address": [{"text": p.address}] if p.address else [],
            "communication": (
                [{"language": concept(p.preferred_language, coding(C.BCP47, p.preferred_language))}]
                if p.preferred_language
                else []
            ),
            "managingOrganization": {"display": p.clinic.name},
        }
    )


# --- Condition (assessment diagnosis) ------------------------------------------------------------


def condition(a: Any, ctx: Ctx) -> Json:
    entry = DIAGNOSES.get(a.diagnosis_code, {})
    codings = []
    if entry.get("icd10"):
        codings.append(coding(C.ICD10, entry["icd10"], entry.get("icd10_title") or ""))
    if entry.get("snomed_ct"):
        codings.append(coding(C.SNOMED, entry["snomed_ct"], entry.get("snomed_ct_term") or ""))
    codings.append(coding(C.cs("diagnosis"), a.diagnosis_code, a.diagnosis_label))
    stage = []
    if a.scale_id == "salt" and a.salt_score is not None:
        stage.append(
            {
                "summary": concept(f"SALT {a.salt_score} ({a.salt_band})"),
                "type": concept("SALT", coding(C.cs("hair-measure"), "salt", "SALT score")),
                "assessment": [ref("Observation", f"scale-{a.pk}")],
            }
        )
    elif a.scale_id and a.scale_value:
        stage.append(
            {
                "summary": scale_concept(a.scale_id, a.scale_value),
                "assessment": [ref("Observation", f"scale-{a.pk}")],
            }
        )
    return _drop_empty(
        {
            "resourceType": "Condition",
            "id": str(a.pk),
            "meta": {"lastUpdated": instant(a.updated_at)},
            "clinicalStatus": concept(
                "Active",
                coding("http://terminology.hl7.org/CodeSystem/condition-clinical", "active"),
            ),
            "verificationStatus": concept(
                "Confirmed" if a.is_signed else "Provisional",
                coding(
                    "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                    "confirmed" if a.is_signed else "provisional",
                ),
            ),
            "category": [
                concept(
                    "Encounter diagnosis",
                    coding(
                        "http://terminology.hl7.org/CodeSystem/condition-category",
                        "encounter-diagnosis",
                    ),
                )
            ],
            "code": concept(a.diagnosis_label, *codings),
            "bodySite": [concept("Scalp", coding(C.SNOMED, *C.SCALP_SNOMED))],
            "subject": ref("Patient", a.patient_id),
            "recordedDate": day(a.visit_on),
            "recorder": who(a.signed_by or a.created_by),
            "stage": stage,
            "note": [{"text": a.notes}] if a.notes else [],
        }
    )


# --- Observations -----------------------------------------------------------------------------

LAB_UNIT = {"/µL": "/µL", "g/dL": "g/dL", "ng/mL": "ng/mL", "mIU/L": "mIU/L"}


def _category(code: str, display: str) -> list[Json]:
    system = "http://terminology.hl7.org/CodeSystem/observation-category"
    return [concept(display, coding(system, code, display))]


def obs_lab(lab: Any, ctx: Ctx) -> Json:
    from anagen.patients.vocab import LAB_UNITS

    spec = LAB_UNITS.get(lab.analyte)
    label = lab.get_analyte_display()
    if spec is not None and spec.loinc:
        code = coding(C.LOINC, spec.loinc, label)
    else:
        code = coding(C.cs("lab"), lab.analyte, label)
    value: Json | None = quantity(lab.value, lab.unit) if lab.unit in LAB_UNIT else None
    return _drop_empty(
        {
            "resourceType": "Observation",
            "id": f"lab-{lab.pk}",
            "status": "final",
            "category": _category("laboratory", "Laboratory"),
            "code": concept(label, code),
            "subject": ref("Patient", lab.intake.patient_id),
            "effectiveDateTime": day(lab.taken_on),
            "issued": instant(lab.intake.recorded_at),
            "valueQuantity": value,
            "valueString": None if value else f"{lab.value} {lab.unit}",
            "note": [{"text": f"As entered: {lab.value_entered} {lab.unit_entered}"}],
        }
    )


def obs_scale(a: Any, ctx: Ctx) -> Json:
    """The assessment's severity scale: SALT with its regions, or a stage (Norwood, Ludwig …)."""
    base: Json = {
        "resourceType": "Observation",
        "id": f"scale-{a.pk}",
        "status": "final" if a.is_signed else "preliminary",
        "category": _category("exam", "Exam"),
        "subject": ref("Patient", a.patient_id),
        "effectiveDateTime": day(a.visit_on),
        "performer": [who(a.signed_by or a.created_by)],
        "derivedFrom": [],
    }
    if a.scale_id == "salt":
        components = [
            {
                "code": concept(
                    f"SALT, {region}", coding(C.cs("hair-measure"), f"salt-{region}", region)
                ),
                "valueQuantity": quantity(value, "%"),
            }
            for region, value in (
                ("vertex", a.salt_vertex),
                ("posterior", a.salt_posterior),
                ("right", a.salt_right),
                ("left", a.salt_left),
            )
            if value is not None
        ]
        if a.salt_band:
            components.append(
                {
                    "code": concept("SALT band", coding(C.cs("hair-measure"), "salt-band")),
                    "valueCodeableConcept": concept(
                        a.salt_band, coding(C.cs("salt-band"), a.salt_band)
                    ),
                }
            )
        base |= {
            "code": concept("SALT score", coding(C.cs("hair-measure"), "salt", "SALT score")),
            "valueQuantity": quantity(a.salt_score, "%") if a.salt_score is not None else None,
            "component": components,
        }
    else:
        label = a.scale_label
        base |= {
            "code": concept(
                f"{label} stage", coding(C.cs("hair-measure"), f"{a.scale_id}-stage", label)
            ),
            "valueCodeableConcept": scale_concept(a.scale_id, a.scale_value),
        }
    if base.get("valueQuantity") is None and "valueCodeableConcept" not in base:
        base["dataAbsentReason"] = concept(
            "Not asked",
            coding("http://terminology.hl7.org/CodeSystem/data-absent-reason", "not-asked"),
        )
    return _drop_empty(base)


def _measure(code: str, label: str, value: Any, unit: str) -> Json:
    return {
        "code": concept(label, coding(C.cs("hair-measure"), code, label)),
        "valueQuantity": quantity(value, unit),
    }


def _method(ms: Any) -> Json:
    return concept(ms.get_method_display(), coding(C.cs("measurement-method"), ms.method))


def obs_visit(ms: Any, ctx: Ctx) -> Json:
    """A visit's measures: pull and wash tests, SALT, stage, global photo rating, satisfaction."""
    comps: list[Json] = []
    if ms.pull_test_pulled is not None:
        comps.append(
            _measure("pull-test-pulled", "Pull test, hairs pulled", ms.pull_test_pulled, "hairs")
        )
        comps.append(
            _measure("pull-test-shed", "Pull test, hairs shed", ms.pull_test_shed, "hairs")
        )
    if ms.wash_test_count is not None:
        comps.append(_measure("wash-test", "Wash test, hairs shed", ms.wash_test_count, "hairs"))
    if ms.salt is not None:
        comps.append(_measure("salt", "SALT score", ms.salt, "%"))
    if ms.stage_scale and ms.stage_value:
        label = SCALES[ms.stage_scale].label if ms.stage_scale in SCALES else ms.stage_scale
        comps.append(
            {
                "code": concept(
                    f"{label} stage",
                    coding(C.cs("hair-measure"), f"{ms.stage_scale}-stage", label),
                ),
                "valueCodeableConcept": scale_concept(ms.stage_scale, ms.stage_value),
            }
        )
    if ms.global_photo_rating is not None:
        comps.append(
            {
                "code": concept(
                    "Global photographic rating (-3 to +3)",
                    coding(C.cs("hair-measure"), "global-photo-rating"),
                ),
                "valueInteger": ms.global_photo_rating,
            }
        )
    if ms.satisfaction is not None:
        comps.append(
            {
                "code": concept(
                    "Patient satisfaction (1 to 5)", coding(C.cs("hair-measure"), "satisfaction")
                ),
                "valueInteger": ms.satisfaction,
            }
        )
    out: Json = {
        "resourceType": "Observation",
        "id": f"visit-{ms.pk}",
        "status": "final",
        "category": _category("exam", "Exam"),
        "code": concept(
            f"Hair measures, {ms.get_visit_label_display().lower()} visit",
            coding(C.cs("hair-measure"), "visit-measures", "Hair measures of a visit"),
        ),
        "subject": ref("Patient", ms.patient_id),
        "effectiveDateTime": day(ms.measured_on),
        "issued": instant(ms.recorded_at),
        "performer": [who(ms.recorded_by)],
        "method": _method(ms),
        "device": {"display": ms.device} if ms.device else None,
        "component": comps,
        "note": [{"text": ms.notes}] if ms.notes else [],
    }
    if not comps:
        out["dataAbsentReason"] = concept(
            "Not performed",
            coding("http://terminology.hl7.org/CodeSystem/data-absent-reason", "not-performed"),
        )
    return _drop_empty(out)


SITE_MEASURES = (
    ("hair_count", "hair-count", "Hair count in the target area", "hairs"),
    ("area_cm2", "target-area", "Target area", "cm2"),
    ("density_per_cm2", "hair-density", "Hair density", "hairs/cm2"),
    ("mean_diameter_um", "mean-shaft-diameter", "Mean hair shaft diameter", "um"),
    (
        "cumulative_thickness_mm_per_cm2",
        "cumulative-thickness",
        "Cumulative hair thickness",
        "mm/cm2",
    ),
    ("terminal_pct", "terminal-pct", "Terminal hairs", "%"),
    ("vellus_pct", "vellus-pct", "Vellus hairs", "%"),
    ("anagen_pct", "anagen-pct", "Anagen hairs", "%"),
    ("telogen_pct", "telogen-pct", "Telogen hairs", "%"),
)


def obs_site(m: Any, ctx: Ctx) -> Json:
    ms = m.measurement_set
    comps = [
        _measure(code, label, getattr(m, attr), unit)
        for attr, code, label, unit in SITE_MEASURES
        if getattr(m, attr) is not None
    ]
    out: Json = {
        "resourceType": "Observation",
        "id": f"site-{m.pk}",
        "status": "final",
        "category": _category("exam", "Exam"),
        "code": concept(
            "Hair measures at a marked site",
            coding(C.cs("hair-measure"), "site-measures", "Hair measures at a marked site"),
        ),
        "subject": ref("Patient", ms.patient_id),
        "effectiveDateTime": day(ms.measured_on),
        "issued": instant(ms.recorded_at),
        "performer": [who(ms.recorded_by)],
        "method": _method(ms),
        "bodySite": concept(
            f"{m.site.name} ({m.site.get_location_display()})",
            coding(C.cs("scalp-site"), m.site.location, m.site.get_location_display()),
        ),
        "component": comps,
    }
    if not comps:
        out["dataAbsentReason"] = concept(
            "Not performed",
            coding("http://terminology.hl7.org/CodeSystem/data-absent-reason", "not-performed"),
        )
    return _drop_empty(out)


# --- intake: medications and allergies ---------------------------------------------------------


def medication_statement(med: Any, ctx: Ctx) -> Json:
    intake = med.intake
    return _drop_empty(
        {
            "resourceType": "MedicationStatement",
            "id": str(med.pk),
            "status": "unknown" if med.last_dose_on else "active",
            "category": concept("Prescribed" if med.prescribed else "Over the counter"),
            "medicationCodeableConcept": concept(
                med.name,
                coding(C.cs("medication-category"), med.category, med.get_category_display()),
            ),
            "subject": ref("Patient", intake.patient_id),
            "effectiveDateTime": day(med.last_dose_on),
            "dateAsserted": instant(intake.recorded_at),
            "informationSource": ref("Patient", intake.patient_id),
            "dosage": [{"text": med.dose}] if med.dose else [],
            "note": [{"text": f"Last dose on {med.last_dose_on}"}] if med.last_dose_on else [],
        }
    )


def allergy(al: Any, ctx: Ctx) -> Json:
    intake = al.intake
    return _drop_empty(
        {
            "resourceType": "AllergyIntolerance",
            "id": str(al.pk),
            "clinicalStatus": concept(
                "Active",
                coding(
                    "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active"
                ),
            ),
            "verificationStatus": concept(
                "Unconfirmed",
                coding(
                    "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
                    "unconfirmed",
                ),
            ),
            "code": concept(al.substance),
            "patient": ref("Patient", intake.patient_id),
            "recordedDate": instant(intake.recorded_at),
            "recorder": who(intake.recorded_by),
            "asserter": ref("Patient", intake.patient_id),
            "reaction": ([{"manifestation": [concept(al.reaction)]}] if al.reaction else []),
        }
    )


# --- the session (Procedure) and its PRP (BiologicallyDerivedProduct) -----------------------------


def _body_sites(s: Any) -> list[Json]:
    site = s.site
    if site == "scalp":
        sites = [concept("Scalp", coding(C.SNOMED, *C.SCALP_SNOMED))]
    else:
        sites = [concept(site.capitalize() or "Not recorded")]
    for zone in s.zones.all():
        sites.append(
            concept(
                f"{zone.zone_label}: {zone.volume_ml} mL",
                coding(C.cs("zone"), zone.zone, zone.zone_label),
            )
        )
    return sites


def procedure(s: Any, ctx: Ctx) -> Json:
    performers = [
        {"function": concept("Started and recorded the session"), "actor": who(s.started_by)}
    ]
    if s.signed_by_id:
        performers.append(
            {"function": concept("Signed the session record"), "actor": who(s.signed_by)}
        )
    used = [
        concept(
            f"{use.lot.product.name}, lot {use.lot.lot_number} × {use.quantity}",
            coding(C.cs("lot"), use.lot.lot_number, use.lot.product.name),
        )
        for use in s.lot_uses.all()
    ]
    appointment = s.appointment
    return _drop_empty(
        {
            "resourceType": "Procedure",
            "id": str(s.pk),
            "meta": {"lastUpdated": instant(s.updated_at)},
            "status": "completed" if (s.is_signed or s.completed_at) else "in-progress",
            "category": concept(
                "PRP" if s.is_prp else "Mesotherapy",
                coding(C.cs("procedure-kind"), s.kind or "other"),
            ),
            "code": concept(
                s.procedure_label, coding(C.cs("procedure"), s.procedure, s.procedure_label)
            ),
            "subject": ref("Patient", s.patient_id),
            "basedOn": (
                [ref("CarePlan", appointment.plan_id)]
                if appointment and appointment.plan_id
                else []
            ),
            "performedPeriod": _drop_empty(
                {"start": instant(s.started_at), "end": instant(s.completed_at)}
            ),
            "performer": performers,
            "bodySite": _body_sites(s),
            "usedCode": used,
            "note": [{"text": s.notes}] if s.notes else [],
            "extension": ([{"url": C.ext("delivery-mode"), "valueCode": s.delivery_mode}]),
        }
    )


def _count_ext(sample: str, analyte: str, value: Any, unit: str) -> Json:
    system, code, display = C.PRP_COUNT_CODES[(sample, analyte)]
    return {
        "url": C.ext("prp-count"),
        "extension": [
            {"url": "sample", "valueCode": sample.replace("_", "-")},
            {"url": "analyte", "valueCoding": coding(system, code, display)},
            {"url": "value", "valueQuantity": quantity(value, unit)},
        ],
    }


def _classification(scheme: str, label: str, code: str | None, text: str = "") -> Json | None:
    if not code:
        return None
    return {
        "url": C.ext("prp-classification"),
        "valueCodeableConcept": concept(
            f"{label} {text or code}", coding(C.cs(f"prp-{scheme}"), code, f"{label} {code}")
        ),
    }


def _volume(name: str, value: Any) -> Json | None:
    return (
        {"url": C.ext(name), "valueQuantity": quantity(value, "mL")} if value is not None else None
    )


def bdp(prep: Any, ctx: Ctx) -> Json:
    s = prep.session
    computed = prep.computed or {}
    exts: list[Json | None] = [
        {"url": C.ext("procedure"), "valueReference": ref("Procedure", s.pk)},
        _volume("prp-blood-volume", prep.blood_volume_ml),
        _volume("prp-anticoagulant-volume", prep.anticoagulant_volume_ml),
        _volume("prp-volume", prep.prp_volume_ml),
        _volume("prp-activation-volume", prep.activation_volume_ml),
        _volume("prp-injected-volume", prep.injected_volume_ml),
    ]
    if prep.anticoagulant_agent:
        label: Any = ANTICOAGULANT_AGENTS.get(prep.anticoagulant_agent, {}).get(
            "label", prep.anticoagulant_agent
        )
        exts.append(
            {
                "url": C.ext("prp-anticoagulant"),
                "valueCodeableConcept": concept(
                    str(label), coding(C.cs("anticoagulant"), prep.anticoagulant_agent)
                ),
            }
        )
    for sample, prefix in (("whole_blood", "wb"), ("prp", "prp")):
        for analyte, unit in (
            ("platelets", "/µL"),
            ("wbc", "/µL"),
            ("rbc", "/µL"),
            ("neutrophils_pct", "%"),
        ):
            attr = (
                f"{prefix}_{analyte}"
                if analyte == "neutrophils_pct"
                else f"{prefix}_{analyte}_per_ul"
            )
            value = getattr(prep, attr)
            if value is not None:
                exts.append(_count_ext(sample, analyte, value, unit))
    derived: tuple[tuple[str, str, str | None], ...] = (
        ("fold", "prp-fold", None),
        ("dose_billion", "prp-dose", "10*9"),
        ("efficiency_pct", "prp-efficiency", "%"),
        ("purity_pct", "prp-purity", "%"),
    )
    for key, ext_name, derived_unit in derived:
        value = computed.get(key)
        if value is None:
            continue
        if derived_unit is None:
            exts.append({"url": C.ext(ext_name), "valueDecimal": Decimal(str(value))})
        else:
            exts.append({"url": C.ext(ext_name), "valueQuantity": quantity(value, derived_unit)})
    paw = computed.get("paw") or {}
    mishra = computed.get("mishra") or {}
    depa = computed.get("depa") or {}
    depa_letters = [depa.get(k) for k in ("dose", "efficiency", "purity")]
    depa_code = "".join(depa_letters) if all(depa_letters) else None  # type: ignore[arg-type]
    exts += [
        _classification("paw", "PAW", paw.get("code")),
        _classification(
            "depa", "DEPA", depa_code, f"{depa_code}, activation: {depa.get('activation')}"
        ),
        _classification("mishra", "Mishra", mishra.get("code")),
        _classification("dohan-ehrenfest", "Dohan Ehrenfest", computed.get("dohan_ehrenfest")),
    ]
    if prep.kernel_version:
        exts.append({"url": C.ext("kernel-version"), "valueString": prep.kernel_version})
    processing: list[Json] = []
    for n, spin in enumerate(computed.get("spins") or prep.spins or [], start=1):
        g = spin.get("rcf_g") or spin.get("g")
        minutes = spin.get("minutes")
        words = f"Centrifugation {n}: {g} × g for {minutes} min" if g else f"Centrifugation {n}"
        if spin.get("rpm"):
            words += f" ({spin['rpm']} rpm, rotor radius {spin.get('radius_cm')} cm)"
        step: Json = {
            "description": words,
            "procedure": concept(
                "Centrifugation", coding(C.cs("prp-processing"), "centrifugation")
            ),
            "extension": [
                e
                for e in (
                    {"url": C.ext("rcf"), "valueQuantity": quantity(g, "g")} if g else None,
                    {"url": C.ext("spin-minutes"), "valueQuantity": quantity(minutes, "min")}
                    if minutes
                    else None,
                )
                if e
            ],
        }
        if n == 1 and s.spin_started_at:
            step["timeDateTime"] = instant(s.spin_started_at)
        processing.append(_drop_empty(step))
    manipulation = None
    agent = prep.activation_agent or "none"
    agent_label = str(ACTIVATION_AGENTS.get(agent, {}).get("label", agent))
    if agent != "none":
        words = f"Activated with {agent_label}"
        if prep.activation_volume_ml is not None:
            words += f", {prep.activation_volume_ml} mL"
        manipulation = _drop_empty({"description": words, "timeDateTime": instant(s.activation_at)})
    else:
        exts.append(
            {
                "url": C.ext("prp-activation"),
                "valueCodeableConcept": concept(agent_label, coding(C.cs("activation"), "none")),
            }
        )
    return _drop_empty(
        {
            "resourceType": "BiologicallyDerivedProduct",
            "id": str(prep.pk),
            "meta": {"lastUpdated": instant(prep.updated_at)},
            "extension": [e for e in exts if e],
            "productCategory": "fluid",
            "productCode": concept(
                "Autologous platelet-rich plasma", coding(C.cs("product"), "autologous-prp")
            ),
            "status": "unavailable" if (s.completed_at or s.is_signed) else "available",
            "quantity": 1,
            "collection": _drop_empty(
                {
                    "collector": who(prep.operator) if prep.operator_id else None,
                    "source": ref("Patient", s.patient_id),
                    "collectedDateTime": instant(s.draw_at),
                }
            ),
            "processing": processing,
            "manipulation": manipulation,
        }
    )


# --- consent, plan, appointment, adverse event ------------------------------------------------


def consent(c: Any, ctx: Ctx) -> Json:
    privacy = c.kind.startswith("photo")
    scope_code = "patient-privacy" if privacy else "treatment"
    return _drop_empty(
        {
            "resourceType": "Consent",
            "id": str(c.pk),
            "status": "inactive" if c.is_withdrawn else "active",
            "scope": concept(
                "Privacy consent" if privacy else "Treatment",
                coding("http://terminology.hl7.org/CodeSystem/consentscope", scope_code),
            ),
            "category": [concept(c.get_kind_display(), coding(C.cs("consent-kind"), c.kind))],
            "patient": ref("Patient", c.patient_id),
            "dateTime": instant(c.signed_at),
            "performer": [ref("Patient", c.patient_id, c.signed_by_patient_name)],
            "organization": [{"display": c.patient.clinic.name}],
            "sourceAttachment": {
                "contentType": "text/html",
                "title": f"{c.template.title} (version {c.template.version})",
                "creation": instant(c.signed_at),
            },
            "policyRule": concept(
                f"{c.template.title}, version {c.template.version}",
                coding(C.cs("consent-text"), f"{c.kind}-v{c.template.version}"),
            ),
            "verification": [{"verified": True, "verificationDate": instant(c.signed_at)}],
            "provision": _drop_empty(
                {
                    "type": "deny" if c.is_withdrawn else "permit",
                    "period": {"start": instant(c.signed_at), "end": instant(c.withdrawn_at)}
                    if c.withdrawn_at
                    else {"start": instant(c.signed_at)},
                }
            ),
            "extension": [
                {"url": C.ext("snapshot-sha256"), "valueString": c.sha256},
                *(
                    [{"url": C.ext("withdrawal-reason"), "valueString": c.withdrawn_reason}]
                    if c.withdrawn_reason
                    else []
                ),
            ],
        }
    )


def careplan(plan: Any, ctx: Ctx) -> Json:
    return _drop_empty(
        {
            "resourceType": "CarePlan",
            "id": str(plan.pk),
            "status": C.CAREPLAN_STATUS.get(plan.status, "unknown"),
            "intent": "plan",
            "category": [concept("Hair restoration protocol")],
            "title": plan.protocol_name,
            "description": f"{plan.protocol_name}: {plan.get_status_display().lower()}",
            "subject": ref("Patient", plan.patient_id),
            "period": {"start": day(plan.start_on)},
            "created": instant(plan.created_at),
            "author": who(plan.created_by),
            "activity": [
                {"reference": ref("Appointment", a.pk, str(a))} for a in plan.appointments.all()
            ],
            "extension": [
                {
                    "url": C.ext("protocol"),
                    "valueCoding": coding(C.cs("protocol"), plan.protocol_id, plan.protocol_name),
                }
            ],
        }
    )


def appointment(a: Any, ctx: Ctx) -> Json:
    participants = [
        {"actor": ref("Patient", a.patient_id), "status": "accepted", "required": "required"},
        {"actor": {"display": a.practitioner.name}, "status": "accepted", "required": "required"},
        {"actor": {"display": a.room.name}, "status": "accepted", "required": "required"},
    ]
    if a.centrifuge_id:
        participants.append({"actor": {"display": a.centrifuge.name}, "status": "accepted"})
    return _drop_empty(
        {
            "resourceType": "Appointment",
            "id": str(a.pk),
            "meta": {"lastUpdated": instant(a.updated_at)},
            "status": C.APPOINTMENT_STATUS.get(a.status, "booked"),
            "appointmentType": concept(
                a.get_kind_display(), coding(C.cs("appointment-kind"), a.kind)
            ),
            "serviceType": (
                [concept(a.procedure_label, coding(C.cs("procedure"), a.procedure))]
                if a.procedure
                else []
            ),
            "description": f"{a.get_kind_display()} {a.sequence}",
            "start": instant(a.starts_at),
            "end": instant(a.ends_at),
            "created": instant(a.created_at),
            "comment": a.notes,
            "supportingInformation": [ref("CarePlan", a.plan_id)] if a.plan_id else [],
            "requestedPeriod": (
                [{"start": day(a.window_earliest), "end": day(a.window_latest)}]
                if a.window_earliest
                else []
            ),
            "participant": participants,
        }
    )


def adverse_event(ae: Any, ctx: Ctx) -> Json:
    severity = "mild" if ae.ctcae_grade == 1 else "moderate" if ae.ctcae_grade == 2 else "severe"
    return _drop_empty(
        {
            "resourceType": "AdverseEvent",
            "id": str(ae.pk),
            "actuality": "actual",
            "event": concept(ae.term_label, coding(C.cs("adverse-event-term"), ae.term)),
            "subject": ref("Patient", ae.patient_id),
            "date": instant(ae.onset_at),
            "recordedDate": instant(ae.recorded_at),
            "recorder": who(ae.recorded_by),
            "seriousness": concept(
                "Serious" if ae.serious else "Non-serious",
                coding(C.AE_SERIOUSNESS_SYSTEM, "serious" if ae.serious else "non-serious"),
            ),
            "severity": concept(
                f"CTCAE grade {ae.ctcae_grade}", coding(C.AE_SEVERITY_SYSTEM, severity)
            ),
            "outcome": concept(
                ae.outcome_label,
                coding(C.AE_OUTCOME_SYSTEM, C.AE_OUTCOMES.get(ae.outcome, "unknown")),
            ),
            "suspectEntity": [
                {
                    "instance": ref("Procedure", ae.session_id),
                    "causality": [
                        {
                            "assessment": concept(
                                ae.relatedness_label, coding(C.cs("relatedness"), ae.relatedness)
                            )
                        }
                    ],
                }
            ],
            "extension": [
                {"url": C.ext("ctcae-grade"), "valueInteger": ae.ctcae_grade},
                *(
                    [
                        {
                            "url": C.ext("lot"),
                            "valueString": f"{ae.lot.product.name}, lot {ae.lot.lot_number}",
                        }
                    ]
                    if ae.lot_id
                    else []
                ),
                *(
                    [{"url": C.ext("description"), "valueString": ae.description}]
                    if ae.description
                    else []
                ),
            ],
        }
    )


# --- documents: photos (with photo consent) and outcome reports -------------------------------


def docref_photo(photo: Any, ctx: Ctx) -> Json:
    ps = photo.photo_set
    url = ctx.site + reverse(
        "outcomes-photo-file", kwargs={"patient_id": ps.patient_id, "photo_id": photo.pk}
    )
    return _drop_empty(
        {
            "resourceType": "DocumentReference",
            "id": f"photo-{photo.pk}",
            "status": "current",
            "type": concept("Clinical photograph", coding(C.cs("document-kind"), "photo")),
            "category": [concept(photo.get_view_display(), coding(C.cs("photo-view"), photo.view))],
            "subject": ref("Patient", ps.patient_id),
            "date": instant(photo.uploaded_at),
            "author": [who(photo.uploaded_by)],
            "securityLabel": [
                concept(
                    "Photos for the clinical record (consent given)",
                    coding(C.cs("consent-kind"), "photo_clinical"),
                )
            ],
            "content": [
                {
                    "attachment": {
                        "contentType": "image/jpeg",
                        "url": url,
                        "title": f"{photo.get_view_display()}, {ps.taken_on.isoformat()}",
                        "creation": day(ps.taken_on),
                    }
                }
            ],
            "extension": [
                {"url": C.ext("sha256"), "valueString": photo.sha256},
                {"url": C.ext("pixel-size"), "valueString": f"{photo.width}x{photo.height}"},
            ],
        }
    )


def docref_report(rf: Any, ctx: Ctx) -> Json:
    url = ctx.site + reverse("outcomes-report-file", kwargs={"job_id": rf.job_id, "file_id": rf.pk})
    return _drop_empty(
        {
            "resourceType": "DocumentReference",
            "id": f"report-{rf.pk}",
            "status": "current",
            "type": concept("Outcome report", coding(C.cs("document-kind"), "outcome-report")),
            "subject": ref("Patient", rf.patient_id),
            "date": instant(rf.created_at),
            "author": [who(rf.job.requested_by)],
            "content": [
                {
                    "attachment": {
                        "contentType": "application/pdf",
                        "url": url,
                        "title": "Outcome report",
                        "creation": instant(rf.created_at),
                    }
                }
            ],
            "extension": [{"url": C.ext("sha256"), "valueString": rf.sha256}],
        }
    )


# --- Provenance of signed records -------------------------------------------------------------

SIGNATURE_AUTHOR = coding(
    "urn:iso-astm:E1762-95:2013", "1.2.840.10065.1.12.1.1", "Author's Signature"
)
SIGNATURE_CONSENT = coding(
    "urn:iso-astm:E1762-95:2013", "1.2.840.10065.1.12.1.7", "Consent Signature"
)
SIGNATURE_WITNESS = coding(
    "urn:iso-astm:E1762-95:2013", "1.2.840.10065.1.12.1.8", "Witness Signature"
)
PARTICIPANT = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"


def _provenance(
    rid: str, targets: list[Json], when: Any, signer: Json, sig: Json, role: str
) -> Json:
    return {
        "resourceType": "Provenance",
        "id": rid,
        "target": targets,
        "recorded": instant(when),
        "activity": concept("Signed", coding(C.cs("provenance-activity"), "sign")),
        "agent": [{"type": concept(role.capitalize(), coding(PARTICIPANT, role)), "who": signer}],
        "signature": [{"type": [sig], "when": instant(when), "who": signer}],
    }


def prov_assessment(a: Any, ctx: Ctx) -> Json:
    targets = [ref("Condition", a.pk)]
    if a.scale_id:
        targets.append(ref("Observation", f"scale-{a.pk}"))
    return _provenance(
        f"assessment-{a.pk}", targets, a.signed_at, who(a.signed_by), SIGNATURE_AUTHOR, "author"
    )


def prov_session(s: Any, ctx: Ctx) -> Json:
    targets = [ref("Procedure", s.pk)]
    prep_id = getattr(getattr(s, "preparation", None), "pk", None) if s.is_prp else None
    if prep_id:
        targets.append(ref("BiologicallyDerivedProduct", prep_id))
    return _provenance(
        f"session-{s.pk}", targets, s.signed_at, who(s.signed_by), SIGNATURE_AUTHOR, "verifier"
    )


def prov_consent(c: Any, ctx: Ctx) -> Json:
    out = _provenance(
        f"consent-{c.pk}",
        [ref("Consent", c.pk)],
        c.signed_at,
        ref("Patient", c.patient_id, c.signed_by_patient_name),
        SIGNATURE_CONSENT,
        "author",
    )
    witness = who(c.witness)
    out["agent"].append(
        {"type": concept("Witness", coding(PARTICIPANT, "attester")), "who": witness}
    )
    out["signature"].append(
        {"type": [SIGNATURE_WITNESS], "when": instant(c.signed_at), "who": witness}
    )
    return out
