"""Patient imports from another system: the uploaded file, its column mapping and the run.

An import is all or nothing: every row is checked first, and patients (with their intake
basics) are created in one transaction only when no row has an error. `ImportedRecord` links the
other system's record id to our patient, so running the same file again creates nobody twice.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", "Uploaded"
    CHECKED = "checked", "Checked"
    QUEUED = "queued", "Waiting to start"
    RUNNING = "running", "Importing"
    DONE = "done", "Imported"
    FAILED = "failed", "Refused"


class PatientImport(models.Model):
    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    content = models.TextField(help_text="The file as uploaded (text).")
    delimiter = models.CharField(max_length=1, default=",")
    headers = models.JSONField(default=list, blank=True)
    # Our field -> their column header ("" or absent: not in the file).
    mapping = models.JSONField(default=dict, blank=True)
    total_rows = models.PositiveIntegerField(default=0)
    status = models.CharField(
        max_length=10, choices=ImportStatus.choices, default=ImportStatus.UPLOADED
    )
    checked_rows = models.PositiveIntegerField(default=0)
    to_create = models.PositiveIntegerField(default=0)
    already_here = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    matched_count = models.PositiveIntegerField(default=0)
    # [{"row": 12, "column": "DOB", "field": "birth_date", "message": "…"}], the first ones.
    errors = models.JSONField(default=list, blank=True)
    error_count = models.PositiveIntegerField(default=0)
    failure = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["clinic", "-created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=ImportStatus.values),
                name="patient_import_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(checked_rows__lte=models.F("total_rows")),
                name="patient_import_progress_within_total",
            ),
        ]

    def __str__(self) -> str:
        return f"Patient import {self.pk}"

    @property
    def is_running(self) -> bool:
        return self.status in (ImportStatus.QUEUED, ImportStatus.RUNNING)

    @property
    def percent(self) -> int:
        if self.status == ImportStatus.DONE:
            return 100
        if not self.total_rows:
            return 0
        # Checking the rows is 90 % of the work shown; saving them all at once is the rest.
        return min(90, int(90 * self.checked_rows / self.total_rows))


class ImportedRecord(models.Model):
    """The other system's record id of a patient we imported (one per clinic and id)."""

    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="+")
    external_id = models.CharField(max_length=100)
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    source = models.ForeignKey(PatientImport, on_delete=models.PROTECT, related_name="records")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "external_id"], name="imported_record_unique_external_id"
            )
        ]

    def __str__(self) -> str:
        return f"{self.external_id} -> {self.patient_id}"


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "Waiting to start"
    RUNNING = "running", "Being made"
    DONE = "done", "Ready"
    FAILED = "failed", "Failed"


class PatientExport(models.Model):
    """One patient's record as one archive (GDPR articles 15 and 20), made by the task worker:
    a FHIR R4 Bundle, the photos and report PDFs, and the log of who opened the record."""

    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(
        max_length=10, choices=ExportStatus.choices, default=ExportStatus.QUEUED
    )
    file = models.FileField(upload_to="exports/patients/", max_length=200, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    resources = models.PositiveIntegerField(default=0)
    failure = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["clinic", "patient", "-created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=ExportStatus.values),
                name="patient_export_status_valid",
            )
        ]

    def __str__(self) -> str:
        return f"Export {self.pk} of patient {self.patient_id}"

    @property
    def is_running(self) -> bool:
        return self.status in (ExportStatus.QUEUED, ExportStatus.RUNNING)


class RetentionRule(models.Model):
    """How long this clinic keeps a patient's clinical record after the last visit.

    Required before the clinic can accept an erasure request; there is no default (the period is
    a legal rule of the clinic's jurisdiction: see anagen/clinical/data/retention.json).
    """

    clinic = models.OneToOneField(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="retention_rule"
    )
    years = models.PositiveSmallIntegerField()
    basis = models.CharField(max_length=300, help_text="The law or policy the period rests on.")
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    set_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(years__gte=1, years__lte=100), name="retention_years_range"
            )
        ]

    def __str__(self) -> str:
        return f"{self.years} years ({self.basis})"


class ErasureStatus(models.TextChoices):
    RESTRICTED = "restricted", "Restricted, kept until the end of the retention period"
    PURGED = "purged", "Deleted"


class ErasureRequest(models.Model):
    """A patient's request to be erased (GDPR art. 17): the record is restricted at once and
    purged when the clinic's retention period has run out.

    `patient` has no database constraint: the request outlives the patient row as the record
    that the purge happened (it holds ids, dates and counts, no personal data).
    """

    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.OneToOneField(
        "patients.Patient",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="erasure",
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    received_on = models.DateField(help_text="The day the patient asked.")
    retention_years = models.PositiveSmallIntegerField()
    retention_basis = models.CharField(max_length=300)
    last_visit_on = models.DateField()
    keep_until = models.DateField()
    status = models.CharField(
        max_length=12, choices=ErasureStatus.choices, default=ErasureStatus.RESTRICTED
    )
    purged_at = models.DateTimeField(null=True, blank=True)
    # {"care.assessment": 2, …, "files": 3}: counts only.
    purged_counts = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["keep_until", "id"]
        indexes = [models.Index(fields=["status", "keep_until"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=ErasureStatus.values),
                name="erasure_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(keep_until__gte=models.F("last_visit_on")),
                name="erasure_keep_until_after_last_visit",
            ),
        ]

    def __str__(self) -> str:
        return f"Erasure of patient {self.patient_id}"
