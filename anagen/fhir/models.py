"""Bulk Data exports (FHIR Bulk Data Access IG v2): one row per kick-off, run by the task worker.

The NDJSON files live under MEDIA_ROOT/private/fhir-exports/<key>/ (never served by the media
URL); they are downloaded through an authenticated, audited view, only by the person who asked
for the export, and are deleted when the export expires (`expires_at`, ANAGEN_FHIR_EXPORT_HOURS
after it finished, 24 by default).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired (files deleted)"


class ExportLevel(models.TextChoices):
    SYSTEM = "system", "Whole system"
    GROUP = "group", "Group of patients"
    PATIENT = "patient", "All patients"


class BulkExport(models.Model):
    key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    level = models.CharField(max_length=10, choices=ExportLevel.choices)
    types = models.JSONField(default=list)
    since = models.DateTimeField(null=True, blank=True)
    # The `patient` parameter (Patient and Group level): only these patients' records.
    patient_ids = models.JSONField(default=list, blank=True)
    request_url = models.TextField()
    base_url = models.CharField(max_length=500)
    status = models.CharField(
        max_length=10, choices=ExportStatus.choices, default=ExportStatus.QUEUED
    )
    progress = models.CharField(max_length=200, blank=True)
    transaction_time = models.DateTimeField(null=True, blank=True)
    # [{"type": "Patient", "name": "Patient.ndjson", "count": 180, "bytes": 123}]
    output = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # When the files are deleted (set when the export is done).
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ExportStatus.values), name="fhir_export_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(level__in=ExportLevel.values), name="fhir_export_level_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"Bulk export {self.key} ({self.get_status_display().lower()})"
