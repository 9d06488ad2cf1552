"""Consultation records: assessments, screening records, consent templates and signed consents.

Clinical rules live in the kernel (``anagen.clinical``); these models store what was decided, with
enough context (inputs, ruleset, template version, snapshot hash) to show later why.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords

from anagen.clinical import DIAGNOSES, PROCEDURES, SCALES


class PullTest(models.TextChoices):
    NOT_DONE = "not_done", "Not done"
    NEGATIVE = "negative", "Negative (≤ 10% of hairs pulled)"
    POSITIVE = "positive", "Positive (> 10% of hairs pulled)"


class Assessment(models.Model):
    """One visit's assessment. Drafts may change; a signed assessment is locked for good."""

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="assessments"
    )
    version = models.PositiveIntegerField()
    visit_on = models.DateField()
    diagnosis_code = models.CharField(max_length=40)
    scale_id = models.CharField(max_length=30, blank=True)
    # The scale's code ("III vertex", "2", "+1"), or the SALT score as text for scale "salt".
    scale_value = models.CharField(max_length=20, blank=True)
    salt_vertex = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    salt_posterior = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    salt_right = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    salt_left = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    salt_score = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    salt_band = models.CharField(max_length=4, blank=True)
    # Yes / no / not assessed: never a default, since "present" would let a scarring alopecia
    # through screening unexamined (None = not assessed; screening then asks for review).
    follicles_present = models.BooleanField(null=True, blank=True)
    pull_test = models.CharField(max_length=10, choices=PullTest.choices, default="not_done")
    pull_test_pulled = models.PositiveSmallIntegerField(null=True, blank=True)
    pull_test_shed = models.PositiveSmallIntegerField(null=True, blank=True)
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    signed_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-version"]
        # The home worklist's assessments waiting for a signature (few among many signed).
        indexes = [
            models.Index(
                fields=["visit_on", "id"],
                condition=Q(signed_at__isnull=True),
                name="assessment_unsigned",
            )
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "version"], name="assessment_version_unique"
            ),
            models.CheckConstraint(condition=Q(version__gte=1), name="assessment_version_positive"),
            *(
                models.CheckConstraint(
                    condition=Q(**{f"{f}__isnull": True}) | Q(**{f"{f}__gte": 0, f"{f}__lte": 100}),
                    name=f"assessment_{f}_0_100",
                )
                for f in ("salt_vertex", "salt_posterior", "salt_right", "salt_left", "salt_score")
            ),
            # Signed means both who and when; a draft has neither.
            models.CheckConstraint(
                condition=Q(signed_at__isnull=True, signed_by__isnull=True)
                | Q(signed_at__isnull=False, signed_by__isnull=False),
                name="assessment_signed_by_and_at",
            ),
            models.CheckConstraint(
                condition=Q(pull_test_pulled__isnull=True)
                | Q(pull_test_pulled__gte=1, pull_test_pulled__lte=200),
                name="assessment_pull_test_pulled_range",
            ),
            # Counts come in pairs, and no more hairs come out than were pulled.
            models.CheckConstraint(
                condition=Q(pull_test_pulled__isnull=True, pull_test_shed__isnull=True)
                | Q(
                    pull_test_pulled__isnull=False,
                    pull_test_shed__isnull=False,
                    pull_test_shed__lte=F("pull_test_pulled"),
                ),
                name="assessment_pull_test_shed_le_pulled",
            ),
            models.CheckConstraint(
                condition=Q(pull_test__in=PullTest.values), name="assessment_pull_test_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"Assessment v{self.version} for {self.patient_id}"

    @property
    def is_signed(self) -> bool:
        return self.signed_at is not None

    @property
    def diagnosis(self) -> dict[str, object]:
        return DIAGNOSES.get(self.diagnosis_code, {})

    @property
    def diagnosis_label(self) -> str:
        return str(self.diagnosis.get("label", self.diagnosis_code))

    @property
    def scale_label(self) -> str:
        if self.scale_id == "salt":
            return "SALT"
        definition = SCALES.get(self.scale_id)
        return definition.label if definition else self.scale_id

    @property
    def severity(self) -> str:
        if not self.scale_id:
            return ""
        if self.scale_id == "salt":
            return f"SALT {self.salt_score} ({self.salt_band})"
        return f"{self.scale_label} {self.scale_value}"


# What staff read for the kernel's decisions and finding levels (the codes stay in the data).
DECISION_LABELS = {
    "contraindicated": "Contraindicated",
    "not_indicated": "Not indicated",
    "defer": "Defer",
    "review": "Needs a physician's review",
    "eligible": "Eligible",
}
LEVEL_LABELS = {
    "absolute": "Absolute contraindication",
    "suitability": "Not suitable",
    "defer": "Defer",
    "relative": "Relative contraindication",
    "advisory": "Advice",
}


class ScreeningTrigger(models.TextChoices):
    MANUAL = "manual", "Run by staff"
    PRE_SESSION = "pre_session", "Before a session"


class ScreeningRecord(models.Model):
    """One run of the kernel's screening: the exact input, the result, and any override."""

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="screenings"
    )
    procedure = models.CharField(max_length=30)
    planned_on = models.DateField()
    trigger = models.CharField(max_length=12, choices=ScreeningTrigger.choices)
    inputs = models.JSONField()
    result = models.JSONField()
    decision = models.CharField(max_length=20)
    earliest_on = models.DateField(null=True, blank=True)
    ruleset = models.CharField(max_length=60)
    intake_version = models.PositiveIntegerField(null=True, blank=True)
    assessment_version = models.PositiveIntegerField(null=True, blank=True)
    run_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    run_at = models.DateTimeField(auto_now_add=True)
    override_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    override_at = models.DateTimeField(null=True, blank=True)
    override_reason = models.TextField(blank=True)
    # Set when a pre-session screening reused an earlier override for the very same findings.
    override_carried_from = models.ForeignKey(
        "self", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    # What the override judged: each finding's rule and the inputs it read. A later screening
    # whose findings or inputs differ voids the override (issue 10, point 2).
    override_fingerprint = models.JSONField(null=True, blank=True)
    # Set on a screening where an earlier override stopped applying: what changed, in words.
    override_void_reason = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-run_at", "-id"]
        indexes = [models.Index(fields=["patient", "procedure", "-run_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(decision__in=list(DECISION_LABELS)), name="screening_decision_valid"
            ),
            # An override names who and when, with a reason, and only ever accepts a review.
            models.CheckConstraint(
                condition=Q(override_at__isnull=True, override_by__isnull=True)
                | (
                    Q(override_at__isnull=False, override_by__isnull=False, decision="review")
                    & ~Q(override_reason="")
                ),
                name="screening_override_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"Screening {self.procedure} {self.decision} for {self.patient_id}"

    @property
    def is_overridden(self) -> bool:
        return self.override_at is not None

    @property
    def effective_decision(self) -> str:
        return "eligible" if self.is_overridden and self.decision == "review" else self.decision

    @property
    def decision_label(self) -> str:
        return DECISION_LABELS.get(self.decision, self.decision.replace("_", " ").capitalize())

    @property
    def effective_decision_label(self) -> str:
        code = self.effective_decision
        return DECISION_LABELS.get(code, code.replace("_", " ").capitalize())

    @property
    def ruleset_label(self) -> str:
        """'anagen-prp-screening@1.0.0' → 'Screening rules, version 1.0.0'."""
        _, _, version = self.ruleset.partition("@")
        return f"Screening rules, version {version}" if version else "Screening rules"

    @property
    def findings(self) -> list[dict[str, str]]:
        return list(self.result.get("findings", []))

    @property
    def finding_rules(self) -> list[str]:
        return sorted(f["rule"] for f in self.findings)

    @property
    def procedure_label(self) -> str:
        return str(PROCEDURES.get(self.procedure, {}).get("label", self.procedure))


class ConsentKind(models.TextChoices):
    PRP_SCALP = "prp_scalp", "PRP, scalp"
    PRP_FACE = "prp_face", "PRP, face"
    MESOTHERAPY_SCALP = "mesotherapy_scalp", "Mesotherapy, scalp"
    MESOTHERAPY_FACE = "mesotherapy_face", "Mesotherapy, face"
    MESOTHERAPY_BODY = "mesotherapy_body", "Mesotherapy, body"
    PHOTO_CLINICAL = "photo_clinical", "Photos for the clinical record"
    PHOTO_TEACHING = "photo_teaching", "Photos for teaching"
    PHOTO_MARKETING = "photo_marketing", "Photos for marketing"


class ConsentTemplate(models.Model):
    """One version of a consent text. ``clinic`` null = the default every clinic starts with."""

    clinic = models.ForeignKey(
        "accounts.Clinic",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="consent_templates",
    )
    kind = models.CharField(max_length=30, choices=ConsentKind.choices)
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    body = models.TextField()
    published_at = models.DateTimeField()
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    is_active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["kind", "-version"]
        constraints = [
            models.CheckConstraint(
                condition=Q(version__gte=1), name="consent_template_version_positive"
            ),
            models.UniqueConstraint(
                fields=["clinic", "kind", "version"], name="consent_template_version_unique"
            ),
            # NULLs are distinct in unique constraints: guard the global defaults separately.
            models.UniqueConstraint(
                fields=["kind", "version"],
                condition=models.Q(clinic__isnull=True),
                name="consent_template_global_version_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} v{self.version}"


class Consent(models.Model):
    """A signed consent. Never edited: only withdrawn (with a reason)."""

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="consents"
    )
    template = models.ForeignKey(ConsentTemplate, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=30, choices=ConsentKind.choices)
    signed_at = models.DateTimeField()
    signed_by_patient_name = models.CharField(max_length=210)
    witness = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    snapshot_html = models.TextField()
    sha256 = models.CharField(max_length=64)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_reason = models.TextField(blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["-signed_at", "-id"]
        indexes = [models.Index(fields=["patient", "kind", "-signed_at"])]
        constraints = [
            # A signed consent always has its snapshot, the hash of it and the typed name.
            models.CheckConstraint(
                condition=~Q(snapshot_html="") & ~Q(sha256="") & ~Q(signed_by_patient_name=""),
                name="consent_signed_snapshot_present",
            ),
            models.CheckConstraint(
                condition=Q(withdrawn_at__isnull=True, withdrawn_by__isnull=True)
                | (
                    Q(withdrawn_at__isnull=False, withdrawn_by__isnull=False)
                    & ~Q(withdrawn_reason="")
                ),
                name="consent_withdrawal_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} consent for {self.patient_id}"

    @property
    def is_withdrawn(self) -> bool:
        return self.withdrawn_at is not None
