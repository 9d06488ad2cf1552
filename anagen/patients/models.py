"""The patient registry and versioned intakes."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from anagen.patients import vocab


class LivePatientManager(models.Manager["Patient"]):
    """Patients not soft-deleted: the default everywhere (lists, search, access, API)."""

    def get_queryset(self) -> models.QuerySet[Patient]:
        return super().get_queryset().filter(deleted_at__isnull=True)


class Patient(models.Model):
    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="patients")
    record_number = models.CharField(max_length=20)
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    # Lower-case, accent-free "given family" used for tolerant search and duplicate checks.
    search_name = models.CharField(max_length=210, editable=False)
    birth_date = models.DateField()
    sex = models.CharField(max_length=10, choices=vocab.Sex.choices)
    phone = models.CharField(max_length=20, blank=True, help_text="Stored in E.164 form.")
    phone_digits = models.CharField(max_length=20, blank=True, editable=False)
    email = models.EmailField(blank=True)
    address = models.TextField(blank=True)
    preferred_language = models.CharField(max_length=35, blank=True, default="en")
    sms_reminders = models.BooleanField(
        default=False, help_text="Patient agreed to appointment reminders by SMS."
    )
    email_reminders = models.BooleanField(
        default=False, help_text="Patient agreed to appointment reminders by email."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    deleted_reason = models.TextField(blank=True)
    history = HistoricalRecords()

    # One manager hides soft-deleted patients: `objects` is live patients only. Related lookups
    # (an appointment's patient, an audit row's patient) use Django's plain base manager and
    # still reach a deleted patient; `all_objects` is for the deleted-patients list and restore.
    objects = LivePatientManager()
    all_objects = models.Manager()  # noqa: DJ012  (ruff reads the custom manager above as a field)

    class Meta:
        ordering = ["family_name", "given_name", "id"]
        default_manager_name = "objects"
        base_manager_name = "all_objects"
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "record_number"], name="record_number_unique_in_clinic"
            ),
            # A deletion says why (the service also records who); a live record carries no
            # deletion details. (Rows deleted before this rule get a reason in the migration.)
            models.CheckConstraint(
                condition=models.Q(
                    deleted_at__isnull=True, deleted_by__isnull=True, deleted_reason=""
                )
                | (models.Q(deleted_at__isnull=False) & ~models.Q(deleted_reason="")),
                name="patient_deletion_complete",
            ),
        ]
        indexes = [
            models.Index(fields=["clinic", "search_name"]),
            models.Index(fields=["clinic", "birth_date"]),
            models.Index(fields=["clinic", "phone_digits"]),
            models.Index(fields=["clinic", "family_name", "given_name"]),
        ]

    def __str__(self) -> str:
        return f"{self.given_name} {self.family_name} ({self.record_number})"

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class Intake(models.Model):
    """One version of a patient's intake. A new intake is a new row; old ones never change."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="intakes")
    version = models.PositiveIntegerField()
    recorded_at = models.DateTimeField(auto_now_add=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    conditions = models.JSONField(default=list, blank=True)
    conditions_note = models.TextField(blank=True)
    smoking = models.CharField(
        max_length=10, choices=vocab.Smoking.choices, default=vocab.Smoking.NEVER
    )
    pregnant = models.BooleanField(default=False)
    breastfeeding = models.BooleanField(default=False)
    hair_loss_onset = models.DateField(null=True, blank=True)
    hair_loss_pattern = models.CharField(
        max_length=20, choices=vocab.HairLossPattern.choices, blank=True
    )
    family_history = models.BooleanField(default=False)
    family_history_note = models.CharField(max_length=200, blank=True)
    tight_hairstyles = models.BooleanField(default=False)
    recent_triggers = models.TextField(
        blank=True, help_text="Fever, surgery, childbirth, crash diet, stress, new drugs…"
    )
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["patient", "version"], name="intake_version_unique"),
            models.CheckConstraint(
                condition=models.Q(version__gte=1), name="intake_version_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"Intake v{self.version} for {self.patient}"

    @property
    def condition_labels(self) -> list[str]:
        return [vocab.CONDITION_LABELS.get(c, c) for c in self.conditions]


class IntakeMedication(models.Model):
    intake = models.ForeignKey(Intake, on_delete=models.CASCADE, related_name="medications")
    name = models.CharField(max_length=120)
    category = models.CharField(max_length=30, choices=vocab.MedicationCategory.choices)
    # An explicit answer (prescribed or over the counter), never a default: OTC aspirin is a
    # 10-day deferral, prescribed aspirin a review.
    prescribed = models.BooleanField()
    last_dose_on = models.DateField(null=True, blank=True)
    dose = models.CharField(max_length=80, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_category_display()})"


class IntakeAllergy(models.Model):
    intake = models.ForeignKey(Intake, on_delete=models.CASCADE, related_name="allergies")
    substance = models.CharField(max_length=120)
    reaction = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.substance


class IntakeLab(models.Model):
    intake = models.ForeignKey(Intake, on_delete=models.CASCADE, related_name="labs")
    analyte = models.CharField(max_length=20, choices=vocab.LabAnalyte.choices)
    # As entered, for the record…
    value_entered = models.DecimalField(max_digits=12, decimal_places=3)
    unit_entered = models.CharField(max_length=12)
    # …and in the canonical unit, for rules and charts.
    value = models.DecimalField(max_digits=14, decimal_places=3)
    unit = models.CharField(max_length=12)
    taken_on = models.DateField()

    class Meta:
        ordering = ["analyte", "-taken_on"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(value_entered__gte=0, value__gte=0),
                name="intake_lab_value_not_negative",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_analyte_display()} {self.value_entered} {self.unit_entered}"


class IntakePriorProcedure(models.Model):
    """A dated procedure at the treatment site (e.g. a corticosteroid injection): screening
    defers within its window (clinical facts §4.1: steroid injection at the site < 1 month)."""

    intake = models.ForeignKey(Intake, on_delete=models.CASCADE, related_name="prior_procedures")
    kind = models.CharField(max_length=40, choices=vocab.PriorProcedureKind.choices)
    on = models.DateField()
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-on", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.on}"


class IntakePriorTreatment(models.Model):
    intake = models.ForeignKey(Intake, on_delete=models.CASCADE, related_name="prior_treatments")
    treatment = models.CharField(max_length=30, choices=vocab.PriorTreatment.choices)
    started_on = models.DateField(null=True, blank=True)
    response = models.CharField(
        max_length=10, choices=vocab.TreatmentResponse.choices, default="unknown"
    )
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.get_treatment_display()}: {self.get_response_display()}"
