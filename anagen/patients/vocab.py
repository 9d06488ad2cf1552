"""Coded lists used by intake forms.

Condition codes match the screening kernel's condition vocabulary where a condition changes
candidacy (reference/clinical-facts.md §4.1–4.4), so an intake feeds screening without mapping.
The extra work-up items (thyroid disease, iron deficiency, …) come from §4.4.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import models


class Sex(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    OTHER = "other", "Other / not stated"


CONDITIONS: list[tuple[str, str]] = [
    ("platelet_dysfunction", "Platelet dysfunction syndrome"),
    ("bleeding_disorder", "Bleeding or clotting disorder (e.g. haemophilia)"),
    ("hemodynamic_instability", "Haemodynamic instability"),
    ("sepsis", "Sepsis / septicaemia"),
    ("infection_at_site", "Infection at the treatment site"),
    ("severe_scalp_inflammation", "Severe scalp inflammation (e.g. seborrhoeic dermatitis)"),
    ("systemic_infection", "Systemic infection"),
    ("recent_fever", "Recent fever or illness"),
    ("cancer_hematologic", "Haematologic cancer"),
    ("cancer_bone", "Bone cancer"),
    ("cancer_other", "Other cancer"),
    ("chronic_liver_disease", "Chronic liver disease"),
    ("thyroid_disease", "Thyroid disease"),
    ("iron_deficiency", "Iron deficiency"),
    ("autoimmune_disease", "Autoimmune disease"),
    ("immunosuppression", "Immunosuppression (disease or medication)"),
    ("chemotherapy", "Chemotherapy (current or recent)"),
    ("keloid_tendency", "Keloid tendency"),
    ("polycystic_ovary_syndrome", "Polycystic ovary syndrome"),
    ("chronic_skin_disease", "Chronic skin disease"),
]
CONDITION_LABELS = dict(CONDITIONS)


class MedicationCategory(models.TextChoices):
    ANTICOAGULANT = "anticoagulant", "Anticoagulant"
    ANTIPLATELET = "antiplatelet", "Antiplatelet"
    ASPIRIN = "aspirin", "Aspirin"
    NSAID = "nsaid", "NSAID"
    SYSTEMIC_CORTICOSTEROID = "systemic_corticosteroid", "Systemic corticosteroid"
    ISOTRETINOIN = "isotretinoin", "Isotretinoin"
    FINASTERIDE = "finasteride", "Finasteride"
    MINOXIDIL = "minoxidil", "Minoxidil"
    SUPPLEMENT = "supplement", "Supplement"
    OTHER = "other", "Other"


class PriorProcedureKind(models.TextChoices):
    """Dated procedures at the treatment site that a screening rule reads (kernel event kinds)."""

    CORTICOSTEROID_INJECTION_AT_SITE = (
        "corticosteroid_injection_at_site",
        "Corticosteroid injection at the treatment site",
    )
    OTHER = "other", "Other procedure at the site (recorded only)"


class Smoking(models.TextChoices):
    NEVER = "never", "Never"
    FORMER = "former", "Former"
    CURRENT = "current", "Current"


class HairLossPattern(models.TextChoices):
    MALE_PATTERN = "male_pattern", "Male pattern (temples / crown)"
    FEMALE_PATTERN = "female_pattern", "Female pattern (diffuse crown, widening part)"
    PATCHY = "patchy", "Patchy"
    DIFFUSE = "diffuse", "Diffuse shedding"
    HAIRLINE_TRACTION = "hairline_traction", "Hairline / traction areas"
    SCARRING = "scarring", "Scarring / shiny patches"
    OTHER = "other", "Other"


class PriorTreatment(models.TextChoices):
    MINOXIDIL = "minoxidil", "Minoxidil"
    FINASTERIDE = "finasteride", "Finasteride"
    DUTASTERIDE = "dutasteride", "Dutasteride"
    SPIRONOLACTONE = "spironolactone", "Spironolactone"
    TOPICAL_CORTICOSTEROID = "topical_corticosteroid", "Topical corticosteroid"
    INTRALESIONAL_CORTICOSTEROID = "intralesional_corticosteroid", "Intralesional corticosteroid"
    JAK_INHIBITOR = "jak_inhibitor", "JAK inhibitor"
    PRP = "prp", "PRP"
    LOW_LEVEL_LASER = "low_level_laser", "Low-level laser"
    HAIR_TRANSPLANT = "hair_transplant", "Hair transplant"
    MESOTHERAPY = "mesotherapy", "Mesotherapy"
    OTHER = "other", "Other"


class TreatmentResponse(models.TextChoices):
    UNKNOWN = "unknown", "Unknown / too early"
    NONE = "none", "No response"
    PARTIAL = "partial", "Partial response"
    GOOD = "good", "Good response"
    WORSE = "worse", "Worse"


class LabAnalyte(models.TextChoices):
    PLATELETS = "platelets", "Platelets"
    HEMOGLOBIN = "hemoglobin", "Haemoglobin"
    WBC = "wbc", "White blood cells"
    FERRITIN = "ferritin", "Ferritin"
    TSH = "tsh", "TSH"


@dataclass(frozen=True)
class LabSpec:
    canonical: str
    loinc: str
    # Accepted entry units and the factor that converts each to the canonical unit.
    units: dict[str, Decimal]


# LOINC codes from reference/clinical-facts.md §9.3 where it lists them.
LAB_UNITS: dict[str, LabSpec] = {
    "platelets": LabSpec(
        "/µL", "777-3", {"/µL": Decimal(1), "10³/µL": Decimal(1000), "10⁹/L": Decimal(1000)}
    ),
    "hemoglobin": LabSpec("g/dL", "718-7", {"g/dL": Decimal(1), "g/L": Decimal("0.1")}),
    "wbc": LabSpec(
        "/µL", "6690-2", {"/µL": Decimal(1), "10³/µL": Decimal(1000), "10⁹/L": Decimal(1000)}
    ),
    "ferritin": LabSpec("ng/mL", "", {"ng/mL": Decimal(1), "µg/L": Decimal(1)}),
    "tsh": LabSpec("mIU/L", "", {"mIU/L": Decimal(1), "µIU/mL": Decimal(1)}),
}
LAB_UNIT_CHOICES = sorted({u for spec in LAB_UNITS.values() for u in spec.units})
