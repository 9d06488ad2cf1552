"""The treatment-room record: sessions, PRP preparations, delivery, mesotherapy, lots, AEs.

Measured values are stored; labels (fold, PAW, DEPA, ...) are the kernel's output kept beside them
in ``Preparation.computed`` with the kernel version, never typed in. Signed sessions are locked:
changes afterwards are amendments with a reason (``Amendment`` plus row history).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from anagen.accounts.clinic_time import human_date
from anagen.clinical import PROCEDURES
from anagen.clinical import procedure_rules as rules


class SessionStatus(models.TextChoices):
    IN_PROGRESS = "in_progress", "In progress"
    READY_TO_SIGN = "ready_to_sign", "Ready to sign"
    SIGNED = "signed", "Signed"


class DeliveryMode(models.TextChoices):
    INJECTION = "injection", "Injection"
    TOPICAL = "topical", "Topical with microneedling"


# The phases a nurse stamps as they happen, in order: (field, label).
PHASES: tuple[tuple[str, str], ...] = (
    ("checked_in_at", "Check-in and re-screen"),
    ("cream_applied_at", "Anaesthetic cream applied"),
    ("draw_at", "Blood drawn"),
    ("spin_started_at", "Centrifugation started"),
    ("activation_at", "Activation"),
    ("injection_started_at", "Delivery started"),
    ("completed_at", "Completed"),
)
PHASE_FIELDS = tuple(f for f, _ in PHASES)


def _null_or(field: str, **lookup: Any) -> Q:
    """A nullable value, when given, satisfies ``lookup`` (e.g. ``gte=0``)."""
    ((op, value),) = lookup.items()
    return Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__{op}": value})


def _checks(prefix: str, **rules: Q) -> list[models.BaseConstraint]:
    return [
        models.CheckConstraint(condition=q, name=f"{prefix}_{name}") for name, q in rules.items()
    ]


# A spin is {g, minutes} or {rpm, radius_cm, minutes}; each number given is above 0. Up to four
# spins are checked (the page records two, the API accepts four).
MAX_CHECKED_SPINS = 4
_SPIN_KEYS = ("g", "rpm", "radius_cm", "minutes")


def _spin_checks() -> dict[str, Q]:
    out = {}
    for i in range(MAX_CHECKED_SPINS):
        for key in _SPIN_KEYS:
            path = f"spins__{i}__{key}"
            out[f"spin{i + 1}_{key}_positive"] = Q(**{f"{path}__isnull": True}) | Q(
                **{f"{path}__gt": 0}
            )
    return out


# Mesotherapy has no blood work.
MESO_PHASES = ("checked_in_at", "cream_applied_at", "injection_started_at", "completed_at")


class TreatmentSession(models.Model):
    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="treatment_sessions"
    )
    appointment = models.OneToOneField(
        "scheduling.Appointment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="treatment_session",
    )
    procedure = models.CharField(max_length=40)
    started_at = models.DateTimeField()
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        max_length=16, choices=SessionStatus.choices, default=SessionStatus.IN_PROGRESS
    )
    # The gate at start: which screening and consent let the session go ahead.
    screening = models.ForeignKey(
        "care.ScreeningRecord", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    consent = models.ForeignKey(
        "care.Consent", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    delivery_mode = models.CharField(
        max_length=12, choices=DeliveryMode.choices, default=DeliveryMode.INJECTION
    )
    rotor_radius_cm = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    checked_in_at = models.DateTimeField(null=True, blank=True)
    cream_applied_at = models.DateTimeField(null=True, blank=True)
    draw_at = models.DateTimeField(null=True, blank=True)
    spin_started_at = models.DateTimeField(null=True, blank=True)
    activation_at = models.DateTimeField(null=True, blank=True)
    injection_started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    baseline_photos_taken = models.BooleanField(default=False)
    aftercare_given = models.BooleanField(default=False)
    notes = models.TextField(blank=True)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    signed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["patient", "-started_at"]),
            models.Index(fields=["clinic", "-started_at"]),
            # The home worklist: sessions in progress and records to sign, oldest first.
            models.Index(fields=["clinic", "status", "started_at", "id"], name="session_by_status"),
        ]
        constraints = _checks(
            "session",
            # Signed iff signed by someone at a time: a signed record always says who and when.
            signed_consistent=(
                Q(status="signed", signed_at__isnull=False, signed_by__isnull=False)
                | (~Q(status="signed") & Q(signed_at__isnull=True, signed_by__isnull=True))
            ),
            status_known=Q(status__in=["in_progress", "ready_to_sign", "signed"]),
            rotor_radius_positive=_null_or("rotor_radius_cm", gt=0),
        )

    def __str__(self) -> str:
        return f"{self.procedure_label} {human_date(self.started_at)}"

    @property
    def procedure_label(self) -> str:
        return str(PROCEDURES.get(self.procedure, {}).get("label", self.procedure))

    @property
    def kind(self) -> str:
        return str(PROCEDURES.get(self.procedure, {}).get("kind", ""))

    @property
    def site(self) -> str:
        return str(PROCEDURES.get(self.procedure, {}).get("site", ""))

    @property
    def is_prp(self) -> bool:
        return self.kind == "prp"

    @property
    def is_signed(self) -> bool:
        return self.status == SessionStatus.SIGNED

    @property
    def phase_fields(self) -> tuple[str, ...]:
        return PHASE_FIELDS if self.is_prp else MESO_PHASES

    @property
    def draw_to_injection_minutes(self) -> int | None:
        if self.draw_at and self.injection_started_at:
            return int((self.injection_started_at - self.draw_at).total_seconds() // 60)
        return None


class Preparation(models.Model):
    """One PRP preparation: what was drawn, spun, measured, activated and injected."""

    session = models.OneToOneField(
        TreatmentSession, on_delete=models.CASCADE, related_name="preparation"
    )
    blood_volume_ml = models.DecimalField(max_digits=6, decimal_places=2)
    tubes = models.PositiveSmallIntegerField(null=True, blank=True)
    anticoagulant_agent = models.CharField(max_length=30, blank=True)
    anticoagulant_volume_ml = models.DecimalField(
        max_digits=6, decimal_places=2, null=True, blank=True
    )
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Baseline whole-blood counts (optional): platelets and WBC per µL, neutrophils % of WBC.
    wb_platelets_per_ul = models.PositiveIntegerField(null=True, blank=True)
    wb_wbc_per_ul = models.PositiveIntegerField(null=True, blank=True)
    wb_neutrophils_pct = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    wb_rbc_per_ul = models.PositiveBigIntegerField(null=True, blank=True)
    # [{"g": 100, "minutes": 15} | {"rpm": 3000, "radius_cm": 10, "minutes": 15}]
    spins = models.JSONField(default=list, blank=True)
    prp_volume_ml = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    prp_platelets_per_ul = models.PositiveIntegerField(null=True, blank=True)
    prp_wbc_per_ul = models.PositiveIntegerField(null=True, blank=True)
    prp_neutrophils_pct = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    prp_rbc_per_ul = models.PositiveBigIntegerField(null=True, blank=True)
    activation_agent = models.CharField(max_length=30, default="none")
    activation_volume_ml = models.DecimalField(
        max_digits=6, decimal_places=2, null=True, blank=True
    )
    injected_volume_ml = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    # The kernel's output for these values (labels, spins in g, warnings) and its version.
    computed = models.JSONField(default=dict, blank=True)
    kernel_version = models.CharField(max_length=40, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        constraints = _checks(
            "preparation",
            blood_volume_nonneg=Q(blood_volume_ml__gte=0),
            anticoagulant_volume_nonneg=_null_or("anticoagulant_volume_ml", gte=0),
            prp_volume_nonneg=_null_or("prp_volume_ml", gte=0),
            activation_volume_nonneg=_null_or("activation_volume_ml", gte=0),
            injected_volume_nonneg=_null_or("injected_volume_ml", gte=0),
            tubes_positive=_null_or("tubes", gte=1),
            wb_platelets_nonneg=_null_or("wb_platelets_per_ul", gte=0),
            wb_wbc_nonneg=_null_or("wb_wbc_per_ul", gte=0),
            wb_rbc_nonneg=_null_or("wb_rbc_per_ul", gte=0),
            prp_platelets_nonneg=_null_or("prp_platelets_per_ul", gte=0),
            prp_wbc_nonneg=_null_or("prp_wbc_per_ul", gte=0),
            prp_rbc_nonneg=_null_or("prp_rbc_per_ul", gte=0),
            wb_neutrophils_pct=Q(wb_neutrophils_pct__isnull=True)
            | Q(wb_neutrophils_pct__gte=0, wb_neutrophils_pct__lte=100),
            prp_neutrophils_pct=Q(prp_neutrophils_pct__isnull=True)
            | Q(prp_neutrophils_pct__gte=0, prp_neutrophils_pct__lte=100),
            **_spin_checks(),
        )

    def __str__(self) -> str:
        return f"Preparation of session {self.session_id}"

    @property
    def labels_ready(self) -> bool:
        return "fold" in self.computed


class DeliveryZone(models.Model):
    session = models.ForeignKey(TreatmentSession, on_delete=models.CASCADE, related_name="zones")
    zone = models.CharField(max_length=30)
    volume_ml = models.DecimalField(max_digits=6, decimal_places=2)
    depth_mm = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    technique = models.CharField(max_length=20)
    needle_gauge = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(18), MaxValueValidator(34)]
    )
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session", "zone"], name="deliveryzone_unique_zone"),
            *_checks(
                "deliveryzone",
                volume_nonneg=Q(volume_ml__gte=0),
                depth_nonneg=_null_or("depth_mm", gte=0),
                gauge_range=Q(needle_gauge__isnull=True)
                | Q(needle_gauge__gte=18, needle_gauge__lte=34),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.zone_label} {self.volume_ml} mL"

    @property
    def zone_label(self) -> str:
        return rules.zone_label(self.zone)


class TopicalApplication(models.Model):
    """PRP applied topically with microneedling (a co-intervention recorded on its own)."""

    session = models.OneToOneField(
        TreatmentSession, on_delete=models.CASCADE, related_name="topical"
    )
    device = models.CharField(max_length=120)
    needle_depth_mm = models.DecimalField(max_digits=4, decimal_places=2)
    passes = models.PositiveSmallIntegerField()
    volume_ml = models.DecimalField(max_digits=6, decimal_places=2)
    history = HistoricalRecords()

    class Meta:
        constraints = _checks(
            "topical",
            depth_nonneg=Q(needle_depth_mm__gte=0),
            passes_positive=Q(passes__gte=1),
            volume_nonneg=Q(volume_ml__gte=0),
        )

    def __str__(self) -> str:
        return f"{self.device} {self.needle_depth_mm} mm × {self.passes}"


# --- mesotherapy -------------------------------------------------------------------------------


class VialType(models.TextChoices):
    SINGLE = "single", "Single-dose vial"
    MULTI = "multi", "Multi-dose vial"


class ConcentrationUnit(models.TextChoices):
    PERCENT = "percent", "%"
    MG_PER_ML = "mg_per_mL", "mg/mL"
    UG_PER_ML = "ug_per_mL", "µg/mL"
    IU_PER_ML = "iu_per_mL", "IU/mL"


class Indication(models.TextChoices):
    SCALP = "scalp", "Scalp"
    FACE = "face", "Face"
    CELLULITE = "cellulite", "Cellulite"
    BODY_CONTOURING = "body_contouring", "Body contouring"


class MesotherapyFormulation(models.Model):
    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=120)
    vial = models.CharField(max_length=10, choices=VialType.choices)
    indications = models.JSONField(default=list)
    notes = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "name"], name="formulation_unique_name")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def indication_labels(self) -> list[str]:
        return [str(Indication(i).label) for i in self.indications if i in Indication.values]


class FormulationIngredient(models.Model):
    formulation = models.ForeignKey(
        MesotherapyFormulation, on_delete=models.CASCADE, related_name="ingredients"
    )
    name = models.CharField(max_length=120)
    # A rule-bearing ingredient code from anagen/clinical/data/procedure_rules.json, or blank.
    code = models.CharField(max_length=40, blank=True)
    concentration = models.DecimalField(max_digits=10, decimal_places=4, null=True, blank=True)
    unit = models.CharField(max_length=12, choices=ConcentrationUnit.choices, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = _checks("ingredient", concentration_positive=_null_or("concentration", gt=0))

    def __str__(self) -> str:
        if self.concentration is None:
            return self.name
        unit = ConcentrationUnit(self.unit).label if self.unit else ""
        return f"{self.name} {self.concentration.normalize():f} {unit}".strip()


class MesoTechnique(models.TextChoices):
    EPIDERMAL = "epidermal", "Epidermal (< 1 mm)"
    PAPULE = "papule", "Papule (1–2 mm)"
    NAPPAGE = "nappage", "Nappage (2–4 mm)"
    POINT_BY_POINT = "point_by_point", "Point-by-point (4–12 mm)"


class MesoDevice(models.TextChoices):
    NEEDLE = "needle", "Needle"
    GUN = "gun", "Mesotherapy gun"


class MesotherapyDelivery(models.Model):
    session = models.ForeignKey(
        TreatmentSession, on_delete=models.CASCADE, related_name="meso_deliveries"
    )
    formulation = models.ForeignKey(
        MesotherapyFormulation, on_delete=models.PROTECT, related_name="+"
    )
    zone = models.CharField(max_length=30)
    technique = models.CharField(max_length=20, choices=MesoTechnique.choices)
    device = models.CharField(max_length=10, choices=MesoDevice.choices)
    injection_points = models.PositiveIntegerField()
    volume_per_point_ml = models.DecimalField(max_digits=6, decimal_places=3)
    area_cm2 = models.DecimalField(max_digits=7, decimal_places=1, null=True, blank=True)
    # Rule-bearing ingredient codes, kept so interval/session-count limits are one query.
    ingredient_codes = models.JSONField(default=list, blank=True)
    findings = models.JSONField(default=list, blank=True)  # warnings from the data-file rules
    rules_version = models.CharField(max_length=20, blank=True)
    # A formulation with an ingredient the patient is allergic to is refused; a physician may
    # record it with a reason (as for a lot): what matched, who decided and why.
    allergy_matches = models.JSONField(default=list, blank=True)
    allergy_override_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    allergy_override_reason = models.TextField(blank=True, default="")
    history = HistoricalRecords()

    class Meta:
        ordering = ["id"]
        constraints = _checks(
            "mesodelivery",
            points_nonneg=Q(injection_points__gte=0),
            volume_per_point_nonneg=Q(volume_per_point_ml__gte=0),
            area_positive=_null_or("area_cm2", gt=0),
            allergy_override_complete=(
                Q(allergy_override_by__isnull=True, allergy_override_reason="")
                | (Q(allergy_override_by__isnull=False) & ~Q(allergy_override_reason=""))
            ),
        )

    def __str__(self) -> str:
        return f"{self.formulation} × {self.injection_points}"

    @property
    def total_volume_ml(self) -> Decimal:
        return (self.volume_per_point_ml * self.injection_points).quantize(Decimal("0.01"))

    @property
    def zone_label(self) -> str:
        return rules.zone_label(self.zone)


# --- inventory ---------------------------------------------------------------------------------


class ProductCategory(models.TextChoices):
    KIT = "kit", "PRP kit"
    TUBE = "tube", "Tube"
    ANTICOAGULANT = "anticoagulant", "Anticoagulant"
    ACTIVATOR = "activator", "Activator"
    ANAESTHETIC_CREAM = "anaesthetic_cream", "Anaesthetic cream"
    NEEDLE = "needle", "Needle"
    MESO_INGREDIENT = "meso_ingredient", "Mesotherapy product"


class Product(models.Model):
    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=120)
    category = models.CharField(max_length=20, choices=ProductCategory.choices)
    manufacturer = models.CharField(max_length=120, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["category", "name"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "name"], name="product_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class Lot(models.Model):
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="lots")
    lot_number = models.CharField(max_length=60)
    expires_on = models.DateField()
    received_on = models.DateField()
    quantity = models.PositiveIntegerField()
    # Units used so far: kept by the lot-use service in the same transaction as the use (issue 15:
    # stock levels kept, not summed over every use per request). lots_recount() rebuilds it.
    used = models.PositiveIntegerField(default=0)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    # A recall (manufacturer or clinic): the lot can no longer be chosen for a session. Who
    # recalled it, when and why are kept together (the check below refuses a partial recall).
    recalled_at = models.DateTimeField(null=True, blank=True)
    recalled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    recall_reason = models.TextField(blank=True, default="")
    history = HistoricalRecords()

    class Meta:
        ordering = ["expires_on", "id"]
        constraints = [
            models.UniqueConstraint(fields=["product", "lot_number"], name="lot_unique_number"),
            *_checks(
                "lot",
                quantity_nonneg=Q(quantity__gte=0),
                recall_complete=(
                    Q(recalled_at__isnull=True, recalled_by__isnull=True, recall_reason="")
                    | (
                        Q(recalled_at__isnull=False, recalled_by__isnull=False)
                        & ~Q(recall_reason="")
                    )
                ),
            ),
        ]
        indexes = [models.Index(fields=["lot_number"])]

    def __str__(self) -> str:
        return f"{self.product} lot {self.lot_number}"

    def is_expired(self, on: dt.date) -> bool:
        return self.expires_on < on

    @property
    def is_recalled(self) -> bool:
        return self.recalled_at is not None


class LotUse(models.Model):
    session = models.ForeignKey(TreatmentSession, on_delete=models.CASCADE, related_name="lot_uses")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="uses")
    quantity = models.PositiveIntegerField(default=1)
    zone = models.CharField(max_length=30, blank=True)
    used_at = models.DateTimeField()
    used_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    # A lot of a product the patient is allergic to is refused; a physician may record it with
    # a reason. What matched (allergy → product) is kept beside who decided and why.
    allergy_matches = models.JSONField(default=list, blank=True)
    allergy_override_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    allergy_override_reason = models.TextField(blank=True, default="")
    history = HistoricalRecords()

    class Meta:
        ordering = ["used_at", "id"]
        constraints = _checks(
            "lotuse",
            quantity_nonneg=Q(quantity__gte=0),
            allergy_override_complete=(
                Q(allergy_override_by__isnull=True, allergy_override_reason="")
                | (Q(allergy_override_by__isnull=False) & ~Q(allergy_override_reason=""))
            ),
        )

    def __str__(self) -> str:
        return f"{self.lot} × {self.quantity}"

    @property
    def zone_label(self) -> str:
        return rules.zone_label(self.zone) if self.zone else ""


# --- adverse events ----------------------------------------------------------------------------


class AdverseEvent(models.Model):
    session = models.ForeignKey(
        TreatmentSession, on_delete=models.PROTECT, related_name="adverse_events"
    )
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    term = models.CharField(max_length=40)
    term_other = models.CharField(max_length=200, blank=True)
    ctcae_grade = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    onset_at = models.DateTimeField()
    # Seriousness (ICH E2A) is not severity (the CTCAE grade): the criteria that apply, and
    # ``serious`` derived from them by the service (at least one). Events recorded before the
    # criteria were asked may be serious with no criterion listed.
    seriousness_criteria = models.JSONField(default=list, blank=True)
    serious = models.BooleanField(default=False)
    relatedness = models.CharField(max_length=12)
    action = models.CharField(max_length=20)
    outcome = models.CharField(max_length=30)
    resolved_on = models.DateField(null=True, blank=True)
    zone = models.CharField(max_length=30, blank=True)
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    description = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["onset_at", "id"]
        constraints = _checks(
            "adverseevent", ctcae_grade_range=Q(ctcae_grade__gte=1, ctcae_grade__lte=5)
        )

    def __str__(self) -> str:
        return f"{self.term_label} grade {self.ctcae_grade}"

    @property
    def zone_label(self) -> str:
        return rules.zone_label(self.zone) if self.zone else ""

    @property
    def term_label(self) -> str:
        label = rules.ae_terms().get(self.term, {}).get("label", self.term)
        return f"{label}: {self.term_other}" if self.term_other else str(label)

    @property
    def outcome_label(self) -> str:
        return str(rules.ae_vocab()["outcomes"].get(self.outcome, {}).get("label", self.outcome))

    @property
    def relatedness_label(self) -> str:
        vocab: dict[str, Any] = rules.ae_vocab()["relatedness"]
        return str(vocab.get(self.relatedness, {}).get("label", self.relatedness))

    @property
    def action_label(self) -> str:
        return str(rules.ae_vocab()["actions"].get(self.action, {}).get("label", self.action))

    @property
    def is_open(self) -> bool:
        return self.outcome in rules.ae_open_outcomes()

    @property
    def seriousness_labels(self) -> list[str]:
        vocab = rules.ae_seriousness_criteria()
        return [str(vocab[c]["label"]) for c in self.seriousness_criteria or [] if c in vocab]


class AdverseEventFollowUp(models.Model):
    event = models.ForeignKey(AdverseEvent, on_delete=models.CASCADE, related_name="follow_ups")
    on = models.DateField()
    outcome = models.CharField(max_length=30)
    note = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["on", "id"]

    def __str__(self) -> str:
        return f"Follow-up {human_date(self.on)}"

    @property
    def outcome_label(self) -> str:
        return rules.ae_label("outcomes", self.outcome)


class Amendment(models.Model):
    """A change to a signed session: what section, why, who, and the values before and after."""

    session = models.ForeignKey(
        TreatmentSession, on_delete=models.PROTECT, related_name="amendments"
    )
    section = models.CharField(max_length=30)
    reason = models.TextField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)
    before = models.JSONField(default=dict)
    after = models.JSONField(default=dict)

    class Meta:
        ordering = ["at", "id"]
        constraints = _checks("amendment", reason_given=~Q(reason=""))

    def __str__(self) -> str:
        return f"Amendment of {self.section} ({human_date(self.at)})"
