"""The audit trail: who did what, acting for which clinic, to which patient, and when."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

_UNSET: Any = object()


class AuditAction(models.TextChoices):
    """Every action the audit trail records: a closed list, with words for the audit page."""

    ANALYTICS_EXPORT = "analytics.export", "Analytics exported"
    AFTERCARE_PDF = "aftercare.pdf", "Aftercare sheet printed to PDF"
    API_TOKEN_CREATE = "api_token.create", "API token created"
    API_TOKEN_REVOKE = "api_token.revoke", "API token revoked"
    APPOINTMENT_BOOK = "appointment.book", "Appointment booked"
    APPOINTMENT_BOOKED = "appointment.booked", "Appointment booked"
    APPOINTMENT_CANCELLED = "appointment.cancelled", "Appointment cancelled"
    APPOINTMENT_CHECKED_IN = "appointment.checked_in", "Appointment checked in"
    APPOINTMENT_COMPLETED = "appointment.completed", "Appointment completed"
    APPOINTMENT_MOVE = "appointment.move", "Appointment moved"
    APPOINTMENT_NO_SHOW = "appointment.no_show", "Appointment marked no-show"
    APPOINTMENT_UPDATE = "appointment.update", "Appointment changed"
    ASSESSMENT_CREATE = "assessment.create", "Assessment created"
    ASSESSMENT_READ = "assessment.read", "Assessment opened"
    ASSESSMENT_SIGN = "assessment.sign", "Assessment signed"
    ASSESSMENT_UPDATE = "assessment.update", "Assessment changed"
    BILLING_CREDIT_NOTE_ISSUE = "billing.credit_note.issue", "Credit note issued"
    BILLING_INVOICE_CREATE = "billing.invoice.create", "Invoice drafted"
    BILLING_INVOICE_EMAIL = "billing.invoice.email", "Invoice emailed"
    BILLING_INVOICE_ISSUE = "billing.invoice.issue", "Invoice issued"
    BILLING_INVOICE_PDF = "billing.invoice.pdf", "Invoice PDF read"
    BILLING_INVOICE_LINE_ADD = "billing.invoice.line_add", "Invoice line added"
    BILLING_INVOICE_LINE_REMOVE = "billing.invoice.line_remove", "Invoice line removed"
    BILLING_PACKAGE_CONSUME = "billing.package.consume", "Package session used"
    BILLING_PACKAGE_DEFINE = "billing.package.define", "Package defined"
    BILLING_PACKAGE_FREEZE = "billing.package.freeze", "Package frozen"
    BILLING_PACKAGE_REFUND = "billing.package.refund", "Unused package sessions credited"
    BILLING_PACKAGE_SELL = "billing.package.sell", "Package sold"
    BILLING_PACKAGE_TRANSFER = "billing.package.transfer", "Package transferred"
    BILLING_PACKAGE_UNFREEZE = "billing.package.unfreeze", "Package unfrozen"
    BILLING_PAYMENT_RECORD = "billing.payment.record", "Payment taken"
    BILLING_PRICE_SET = "billing.price.set", "Price set"
    BILLING_QUOTE_ACCEPT = "billing.quote.accept", "Quote accepted"
    BILLING_QUOTE_CREATE = "billing.quote.create", "Quote made"
    BILLING_QUOTE_INVOICE = "billing.quote.invoice", "Quote invoiced"
    BILLING_QUOTE_PDF = "billing.quote.pdf", "Quote PDF read"
    BILLING_QUOTE_SEND = "billing.quote.send", "Quote sent"
    BILLING_SETTINGS_UPDATE = "billing.settings.update", "Billing settings changed"
    BILLING_REFUND_RECORD = "billing.refund.record", "Refund made"
    CALENDAR_FEED_READ = "calendar_feed.read", "Calendar feed fetched"
    CHART_READ = "chart.read", "Chart opened"
    CLINIC_MFA_POLICY = "clinic.mfa_policy", "Two-factor rule of the clinic changed"
    CLINIC_SETTINGS = "clinic.settings", "Clinic settings changed"
    CLINIC_LOGO = "clinic.logo", "Clinic logo changed"
    CONSENT_READ = "consent.read", "Consent opened"
    CONSENT_PDF = "consent.pdf", "Consent PDF read"
    CONSENT_SIGN = "consent.sign", "Consent signed"
    CONSENT_WITHDRAW = "consent.withdraw", "Consent withdrawn"
    CONSENT_TEMPLATE_PUBLISH = "consent_template.publish", "Consent text published"
    ERASURE_PURGE = "erasure.purge", "Record erased after its retention period"
    ERASURE_REQUEST = "erasure.request", "Erasure requested, record restricted"
    FEED_TOKEN_ROTATE = "feed_token.rotate", "Calendar feed rotated"
    FHIR_EXPORT_CANCEL = "fhir.export.cancel", "Bulk export cancelled"
    FHIR_EXPORT_DOWNLOAD = "fhir.export.download", "Bulk export file downloaded"
    FHIR_EXPORT_PATIENT = "fhir.export.patient", "Record included in a bulk export"
    FHIR_EXPORT_START = "fhir.export.start", "Bulk export requested"
    FHIR_READ = "fhir.read", "Record read through FHIR"
    FHIR_SEARCH = "fhir.search", "Records searched through FHIR"
    INTAKE_CREATE = "intake.create", "Intake created"
    INTAKE_PDF = "intake.pdf", "Intake summary PDF read"
    INTAKE_READ = "intake.read", "Intake opened"
    LOGIN_FAILURE = "login.failure", "Login failed"
    LOGIN_SUCCESS = "login.success", "Login succeeded"
    MFA_ENROL = "mfa.enrol", "Two-factor sign-in set up"
    MFA_FAILURE = "mfa.failure", "Two-factor code refused"
    MFA_RECOVERY_CODE_USE = "mfa.recovery_code_use", "Recovery code used"
    MFA_RECOVERY_CODES_REGENERATE = "mfa.recovery_codes_regenerate", "Recovery codes replaced"
    MFA_RESET = "mfa.reset", "Two-factor sign-in reset"
    MEASUREMENT_READ = "measurement.read", "Measurement opened"
    MEASUREMENT_IMPORT_COMMIT = "measurement_import.commit", "Measurement import imported"
    MEASUREMENT_IMPORT_PREVIEW = "measurement_import.preview", "Measurement import previewed"
    MEASUREMENT_SET_CREATE = "measurement_set.create", "Measurement set created"
    OUTCOME_PROGRESS_READ = "outcome_progress.read", "Progress opened"
    OUTCOME_REPORT_CREATE = "outcome_report.create", "Outcome report created"
    OUTCOME_REPORT_READ = "outcome_report.read", "Outcome report opened"
    OUTCOME_SITE_CREATE = "outcome_site.create", "Marked site created"
    OUTCOMES_DEMO_SEED = "outcomes.demo_seed", "Outcomes demo data loaded"
    PASSWORD_CHANGE = "password.change", "Password changed"
    PASSWORD_RESET = "password.reset", "Password reset by email"
    PATIENT_CREATE = "patient.create", "Patient created"
    PATIENT_DELETE = "patient.delete", "Patient deleted"
    PATIENT_LIST_READ = "patient_list.read", "Patient list viewed"
    PATIENT_READ = "patient.read", "Patient opened"
    PATIENT_RESTORE = "patient.restore", "Patient restored"
    PATIENT_IMPORT_UPLOAD = "patient_import.upload", "Patient import file uploaded"
    PATIENT_IMPORT_START = "patient_import.start", "Patient import started"
    PATIENT_IMPORT_COMMIT = "patient_import.commit", "Patients imported"
    PATIENT_IMPORT_FAIL = "patient_import.fail", "Patient import refused"
    PATIENT_EXPORT_START = "patient_export.start", "Record archive requested"
    PATIENT_EXPORT_CREATE = "patient_export.create", "Record archive made"
    PATIENT_EXPORT_DOWNLOAD = "patient_export.download", "Record archive downloaded"
    PATIENT_ARCHIVE_IMPORT = "patient_archive.import", "Record archive imported"
    PATIENT_UPDATE = "patient.update", "Patient changed"
    PHOTO_CREATE = "photo.create", "Photo created"
    PHOTO_READ = "photo.read", "Photo opened"
    PHOTO_SET_CREATE = "photo_set.create", "Photo set created"
    PLAN_CANCEL = "plan.cancel", "Plan cancelled"
    PLAN_COMPLETE = "plan.complete", "Plan completed"
    PLAN_CREATE = "plan.create", "Plan created"
    PROCEDURES_ADVERSE_EVENT_FOLLOW_UP = (
        "procedures.adverse_event.follow_up",
        "Adverse event follow-up recorded",
    )
    PROCEDURES_ADVERSE_EVENT_RECORD = "procedures.adverse_event.record", "Adverse event recorded"
    PROCEDURES_DELIVERY_AMEND = "procedures.delivery.amend", "Delivery amended"
    PROCEDURES_DELIVERY_RECORD = "procedures.delivery.record", "Delivery recorded"
    PROCEDURES_DETAILS_AMEND = "procedures.details.amend", "Details amended"
    PROCEDURES_DETAILS_RECORD = "procedures.details.record", "Details recorded"
    PROCEDURES_FORMULATION_CREATE = "procedures.formulation.create", "Formulation created"
    PROCEDURES_LOT_ALLERGY_OVERRIDE = (
        "procedures.lot.allergy_override",
        "Lot recorded despite an allergy",
    )
    PROCEDURES_LOT_RECALL = "procedures.lot.recall", "Lot recalled"
    PROCEDURES_LOT_RECALL_READ = "procedures.lot.recall_read", "Lot recall list opened"
    PROCEDURES_LOT_RECEIVE = "procedures.lot.receive", "Lot received"
    PROCEDURES_LOTS_AMEND = "procedures.lots.amend", "Lots amended"
    PROCEDURES_LOTS_RECORD = "procedures.lots.record", "Lots recorded"
    PROCEDURES_MESO_DELIVERY_AMEND = (
        "procedures.meso_delivery.amend",
        "Mesotherapy delivery amended",
    )
    PROCEDURES_MESO_DELIVERY_RECORD = (
        "procedures.meso_delivery.record",
        "Mesotherapy delivery recorded",
    )
    PROCEDURES_MESO_DELIVERY_REMOVE = (
        "procedures.meso_delivery.remove",
        "Mesotherapy delivery removed",
    )
    PROCEDURES_PHASES_AMEND = "procedures.phases.amend", "Phases amended"
    PROCEDURES_PHASES_RECORD = "procedures.phases.record", "Phases recorded"
    PROCEDURES_PREPARATION_AMEND = "procedures.preparation.amend", "Preparation amended"
    PROCEDURES_PREPARATION_RECORD = "procedures.preparation.record", "Preparation recorded"
    PROCEDURES_PRODUCT_CREATE = "procedures.product.create", "Product created"
    PROCEDURES_SESSION_CLOSE = "procedures.session.close", "Session closed"
    PROCEDURES_SESSION_LIST = "procedures.session.list", "Session listed"
    PROCEDURES_SESSION_PDF = "procedures.session.pdf", "Session record PDF read"
    PROCEDURES_SESSION_READ = "procedures.session.read", "Session opened"
    PROCEDURES_SESSION_SIGN = "procedures.session.sign", "Session signed"
    PROCEDURES_SESSION_START = "procedures.session.start", "Session started"
    PROCEDURES_TOPICAL_AMEND = "procedures.topical.amend", "Topical amended"
    PROCEDURES_TOPICAL_RECORD = "procedures.topical.record", "Topical recorded"
    RATING_CREATE = "rating.create", "Rating created"
    RATING_PAIR_CREATE = "rating_pair.create", "Rating pair created"
    RECALL_CREATE = "recall.create", "Recall created"
    RECORD_READ = "record.read", "Record opened"
    RECALL_DISMISS = "recall.dismiss", "Recall dismissed"
    RECALL_REMINDER_FAILED = "recall_reminder.failed", "Recall reminder failed"
    RECALL_REMINDER_SENT = "recall_reminder.sent", "Recall reminder sent"
    RECALL_REMINDER_SKIPPED_NO_CONSENT = (
        "recall_reminder.skipped_no_consent",
        "Recall reminder skipped (no consent)",
    )
    REMINDER_FAILED = "reminder.failed", "Reminder failed"
    REMINDER_SENT = "reminder.sent", "Reminder sent"
    REMINDER_SKIPPED_NO_CONSENT = "reminder.skipped_no_consent", "Reminder skipped (no consent)"
    REMINDER_RULE_CREATE = "reminder_rule.create", "Reminder rule created"
    REMINDER_RULE_UPDATE = "reminder_rule.update", "Reminder rule changed"
    REPORT_JOB_CREATE = "report_job.create", "Report batch created"
    RETENTION_SET = "retention.set", "Record retention period set"
    RESOURCE_CREATE = "resource.create", "Resource created"
    RESOURCE_HOURS = "resource.hours", "Resource hours changed"
    RESOURCE_UPDATE = "resource.update", "Resource changed"
    SCREENING_OVERRIDE = "screening.override", "Screening overridden"
    SCREENING_READ = "screening.read", "Screening opened"
    SCREENING_RUN = "screening.run", "Screening run"
    STAFF_ACTIVATE = "staff.activate", "Staff member reactivated"
    STAFF_DEACTIVATE = "staff.deactivate", "Staff member deactivated"
    STAFF_CREATE = "staff.create", "Staff created"
    STAFF_ROLE_CHANGE = "staff.role_change", "Staff role changed"
    WHAT_TO_EXPECT_PDF = "what_to_expect.pdf", "What-to-expect page printed to PDF"

    @classmethod
    def label_of(cls, value: str) -> str:
        """The action in words; an action no longer declared reads as its code."""
        try:
            return str(cls(value).label)
        except ValueError:
            return value


class AuditEvent(models.Model):
    # Set before the row is written (not auto_now_add), so the chain hash can cover it.
    at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="audit_events",
    )
    # The name typed at a failed login, kept even when it matches no account.
    username = models.CharField(max_length=150, blank=True)
    clinic = models.ForeignKey(
        "accounts.Clinic", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # An AuditAction value. No `choices` on the column: `audit_record` refuses an undeclared
    # action, and a new action then needs no migration; labels come from `action_label`.
    action = models.CharField(max_length=64)
    # No database constraint: audit rows outlive a patient purged after an erasure request
    # (anagen/imports/erasure.py); the id then names no one. No index of its own either: the
    # (patient, at, id) index below serves every lookup by patient, and a lone patient index
    # led PostgreSQL to read all of a patient's events and sort them for one page (issue 15).
    patient = models.ForeignKey(
        "patients.Patient",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    # What changed lives in AuditChangeValues (one row per event, deletable by an erasure
    # purge); the chain hashes a salted digest of it (`changes_digest`, "" when nothing
    # changed). Rows written before that (chain_version 1) were hashed over the values.
    changes_digest = models.CharField(max_length=64, blank=True, editable=False)
    chain_version = models.PositiveSmallIntegerField(default=2, editable=False)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    via = models.CharField(max_length=16, default="web")  # web | api | cli | system
    # Tamper evidence (anagen/audit/chain.py): the row's place in its clinic's chain, the
    # previous row's hash and this row's SHA-256. Never shown to staff; `anagen audit verify`.
    seq = models.PositiveBigIntegerField(null=True, blank=True, editable=False)
    prev_hash = models.CharField(max_length=64, blank=True, editable=False)
    hash = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["clinic", "seq"], name="audit_chain_seq"),
            # Issue 15: pages newest first in (at, id) order, read straight from an index with a
            # LIMIT (keyset pages): the clinic's events, a patient's, and sign-ins (no clinic).
            models.Index(fields=["clinic", "-at", "-id"], name="audit_clinic_at_id"),
            models.Index(fields=["patient", "-at", "-id"], name="audit_patient_at_id"),
            models.Index(
                fields=["-at", "-id"],
                condition=models.Q(clinic__isnull=True),
                name="audit_no_clinic_at_id",
            ),
            models.Index(fields=["actor", "-at"]),
            models.Index(fields=["action", "-at"]),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} by {self.actor or self.username}"

    @property
    def action_label(self) -> str:
        """The action in words (the audit page, the access log of an export)."""
        return AuditAction.label_of(self.action)

    # `AuditEvent(changes=…)` sets the property; `chain.append` writes the values row.
    @property
    def changes(self) -> dict[str, Any]:
        """What changed, by field ({} when nothing did, or when an erasure removed the values:
        `changes_erased` tells which)."""
        return self.stored_changes or {}

    @changes.setter
    def changes(self, value: dict[str, Any] | None) -> None:
        self._changes = value

    @property
    def stored_changes(self) -> dict[str, Any] | None:
        """What changed ({} when nothing did); None when an erasure purge removed the values."""
        cached = self.__dict__.get("_changes", _UNSET)
        if cached is not _UNSET:
            return cached  # type: ignore[no-any-return]
        value: dict[str, Any] | None
        try:
            value = self.change_values.changes
        except AuditChangeValues.DoesNotExist:
            value = None if self.changes_digest else {}
            if self.chain_version == 1 and self.hash:
                from anagen.audit.chain import written_without_changes

                value = {} if written_without_changes(self) else None
        self._changes = value
        return value

    @property
    def changes_erased(self) -> bool:
        """The values were removed by an erasure purge (who, when and what stay)."""
        return self.stored_changes is None


class AuditChainHead(models.Model):
    """The end of one clinic's audit chain (or of the chain of events without a clinic).

    Appending locks this row, so rows of one chain are numbered and linked one at a time; it
    also records how long the chain is and its last hash, so removing rows at the end (or
    emptying the table) is detected by `anagen audit verify`.
    """

    key = models.CharField(max_length=32, unique=True)  # "clinic:<id>" or "no-clinic"
    clinic = models.OneToOneField(
        "accounts.Clinic", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    length = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, blank=True)
    last_event_id = models.BigIntegerField(null=True, blank=True)
    # Events written before the values moved out of the chain (chain_version 1, the first
    # `legacy_length` of the chain) are sealed together: their metadata and hashes, so an event
    # whose values an erasure removed still verifies (anagen/audit/chain.py, "legacy seal").
    legacy_length = models.PositiveBigIntegerField(default=0)
    legacy_seal = models.CharField(max_length=64, blank=True)

    def __str__(self) -> str:
        return f"{self.key} ({self.length} events)"


class AuditChangeValues(models.Model):
    """What an audit event changed: the values, apart from the hash-chained event row.

    The event's hash covers `changes_digest` = SHA-256(salt, canonical JSON of `changes`), so
    editing a kept value is detected, and an erasure purge may DELETE this row (PostgreSQL
    refuses UPDATE; the salt goes with the values, so a short value such as a phone number
    cannot be guessed back from the digest). `patient_id` is the event's patient (a plain
    number, no relation: the rows outlive the patient until the purge deletes them).
    """

    event = models.OneToOneField(
        AuditEvent,
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="change_values",
    )
    patient_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    salt = models.CharField(max_length=32, blank=True)
    changes = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"values of audit event {self.event_id}"
