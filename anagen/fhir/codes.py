"""Code systems and units the FHIR resources use.

Standard systems where the clinical facts give a code (ICD-10, SNOMED CT, LOINC, UCUM); the
project's own CodeSystem URLs (under https://anagen.example/fhir/) for everything else: hair
measures, scales, PRP classifications, the project's vocabularies.
"""

from __future__ import annotations

BASE = "https://anagen.example/fhir"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
BCP47 = "urn:ietf:bcp:47"


def cs(name: str) -> str:
    """The project's CodeSystem URL for ``name`` (e.g. hair-measure, prp-paw)."""
    return f"{BASE}/CodeSystem/{name}"


def ext(name: str) -> str:
    """The project's extension URL for ``name``."""
    return f"{BASE}/StructureDefinition/{name}"


def record_number_system(clinic_slug: str) -> str:
    return f"{BASE}/NamingSystem/record-number/{clinic_slug}"


# The project's units → UCUM (code, human unit).
UCUM_UNITS: dict[str, tuple[str, str]] = {
    "/µL": ("/uL", "/µL"),
    "g/dL": ("g/dL", "g/dL"),
    "ng/mL": ("ng/mL", "ng/mL"),
    "mIU/L": ("m[IU]/L", "mIU/L"),
    "mL": ("mL", "mL"),
    "%": ("%", "%"),
    "min": ("min", "min"),
    "g": ("[g]", "× g"),
    "rpm": ("/min", "rpm"),
    "cm": ("cm", "cm"),
    "cm2": ("cm2", "cm²"),
    "um": ("um", "µm"),
    "mm/cm2": ("mm/cm2", "mm/cm²"),
    "hairs": ("{hairs}", "hairs"),
    "hairs/cm2": ("{hairs}/cm2", "hairs/cm²"),
    "10*9": ("10*9", "× 10⁹ platelets"),
}

SCALP_SNOMED = ("41695006", "Scalp structure")  # clinical-facts.md 9.2

# Whole-blood and PRP counts: LOINC where clinical-facts.md 9.3 gives a code, else our own.
PRP_COUNT_CODES: dict[tuple[str, str], tuple[str, str, str]] = {
    ("whole_blood", "platelets"): (LOINC, "777-3", "Platelets [#/volume] in Blood"),
    ("whole_blood", "wbc"): (LOINC, "6690-2", "Leukocytes [#/volume] in Blood"),
    ("whole_blood", "neutrophils_pct"): (
        cs("prp-count"),
        "wb-neutrophils-pct",
        "Neutrophils, % of white cells, whole blood",
    ),
    ("whole_blood", "rbc"): (cs("prp-count"), "wb-rbc", "Red cells per µL, whole blood"),
    ("prp", "platelets"): (LOINC, "74775-8", "Platelets [#/volume] in Platelet rich plasma"),
    ("prp", "wbc"): (cs("prp-count"), "prp-wbc", "White cells per µL, PRP"),
    ("prp", "neutrophils_pct"): (
        cs("prp-count"),
        "prp-neutrophils-pct",
        "Neutrophils, % of white cells, PRP",
    ),
    ("prp", "rbc"): (cs("prp-count"), "prp-rbc", "Red cells per µL, PRP"),
}

# AdverseEvent.outcome (required binding in R4B) from the project's outcome codes.
AE_OUTCOMES = {
    "not_resolved": "ongoing",
    "recovering": "recovering",
    "resolved": "resolved",
    "resolved_with_sequelae": "resolvedWithSequelae",
    "fatal": "fatal",
    "unknown": "unknown",
}
AE_OUTCOME_SYSTEM = "http://terminology.hl7.org/CodeSystem/adverse-event-outcome"
AE_SERIOUSNESS_SYSTEM = "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness"
AE_SEVERITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/adverse-event-severity"

APPOINTMENT_STATUS = {
    "booked": "booked",
    "checked_in": "arrived",
    "completed": "fulfilled",
    "cancelled": "cancelled",
    "no_show": "noshow",
}
CAREPLAN_STATUS = {
    "planned": "active",
    "active": "active",
    "completed": "completed",
    "cancelled": "revoked",
}
