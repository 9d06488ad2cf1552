"""Resources, treatment plans, appointments and the bookings that hold resources for them.

Instants are stored in UTC; working hours are clinic-local wall-clock times (``Clinic.timezone``).

No double booking: a ``ResourceBooking`` row holds one resource for one session, from the first
to the last of that resource's touching phases (the room's cream, draw and spin and injection
are one row; ``phase`` names the first phase it covers; holds of one resource with a gap between
stay separate rows, so the resource is bookable in the gap; ``availability.layout``).
On PostgreSQL an exclusion constraint (added by migration 0002, PostgreSQL only) rejects two
active rows of the same resource whose ``[starts_at, ends_at)`` ranges overlap. On SQLite the
booking service serialises writers (``BEGIN IMMEDIATE``) and re-checks overlaps inside the
transaction. Cancelling or marking a no-show sets ``active=False`` so the slot frees up.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from anagen.accounts.clinic_time import human_date, human_datetime, zone_of
from anagen.clinical import PROCEDURES

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# Reminder lead times: at least an hour, at most two weeks before the appointment.
MIN_LEAD_HOURS, MAX_LEAD_HOURS = 1, 24 * 14


def _choices_check(
    field: str, choices: type[models.TextChoices], name: str
) -> models.CheckConstraint:
    return models.CheckConstraint(condition=Q(**{f"{field}__in": choices.values}), name=name)


class ResourceKind(models.TextChoices):
    PRACTITIONER = "practitioner", "Practitioner"
    ROOM = "room", "Room"
    CENTRIFUGE = "centrifuge", "Centrifuge"


class Resource(models.Model):
    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="scheduling_resources"
    )
    kind = models.CharField(max_length=20, choices=ResourceKind.choices)
    name = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)
    # Practitioners only: the physician's or nurse's membership and what they may perform
    # (keys of the clinical kernel's PROCEDURES).
    membership = models.OneToOneField(
        "accounts.Membership",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="scheduling_resource",
    )
    licensed_procedures = models.JSONField(default=list, blank=True)
    # Centrifuges only: the rotor radius turns a speed (rpm) into a g-force (RCF).
    rotor_radius_cm = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "name", "id"]
        indexes = [models.Index(fields=["clinic", "kind", "is_active"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="practitioner", membership__isnull=False)
                | (~Q(kind="practitioner") & Q(membership__isnull=True)),
                name="practitioner_has_membership",
            ),
            models.CheckConstraint(
                condition=Q(rotor_radius_cm__isnull=True) | Q(rotor_radius_cm__gt=0),
                name="rotor_radius_positive",
            ),
            models.CheckConstraint(
                condition=Q(kind="centrifuge") | Q(rotor_radius_cm__isnull=True),
                name="rotor_radius_only_on_centrifuges",
            ),
            _choices_check("kind", ResourceKind, "resource_kind_valid"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def licensed_labels(self) -> list[str]:
        """What the practitioner may perform, in words."""
        return [
            str(PROCEDURES[p]["label"]) if p in PROCEDURES else p
            for p in self.licensed_procedures or []
        ]


class WorkingHours(models.Model):
    """One open interval of a resource on a weekday (0 = Monday), clinic-local time."""

    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="working_hours")
    weekday = models.PositiveSmallIntegerField()
    start = models.TimeField()
    end = models.TimeField()

    class Meta:
        ordering = ["weekday", "start"]
        constraints = [
            models.CheckConstraint(condition=Q(start__lt=F("end")), name="hours_start_before_end"),
            models.CheckConstraint(condition=Q(weekday__lte=6), name="hours_weekday_0_6"),
        ]

    def __str__(self) -> str:
        return f"{self.resource} {self.weekday_name} {self.start:%H:%M}–{self.end:%H:%M}"

    @property
    def weekday_name(self) -> str:
        return WEEKDAY_NAMES[self.weekday] if 0 <= self.weekday <= 6 else str(self.weekday)


class PlanStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class TreatmentPlan(models.Model):
    # No single-column indexes on clinic and patient: the composite indexes below start with
    # them (a second index on the same prefix only costs every insert; issue 15).
    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    patient = models.ForeignKey(
        "patients.Patient",
        on_delete=models.PROTECT,
        related_name="treatment_plans",
        db_index=False,
    )
    protocol_id = models.CharField(max_length=64)
    protocol_name = models.CharField(max_length=200)
    procedure = models.CharField(max_length=40)
    start_on = models.DateField()
    status = models.CharField(max_length=12, choices=PlanStatus.choices, default="planned")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-start_on", "-id"]
        indexes = [
            models.Index(fields=["patient", "status"]),
            # The API's plan list, newest first, stops after one page (issue 15).
            models.Index(fields=["clinic", "-created_at", "-id"], name="plan_clinic_newest_idx"),
        ]
        constraints = [_choices_check("status", PlanStatus, "plan_status_valid")]

    def __str__(self) -> str:
        return f"{self.protocol_name} from {human_date(self.start_on)}"


class AppointmentKind(models.TextChoices):
    INDUCTION = "induction", "Induction"
    BOOSTER = "booster", "Booster"
    MAINTENANCE = "maintenance", "Maintenance"
    CONSULTATION = "consultation", "Consultation"


class AppointmentStatus(models.TextChoices):
    BOOKED = "booked", "Booked"
    CHECKED_IN = "checked_in", "Checked in"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    NO_SHOW = "no_show", "No-show"


OPEN_STATUSES = (AppointmentStatus.BOOKED, AppointmentStatus.CHECKED_IN)


class Appointment(models.Model):
    # clinic, patient, practitioner and room have no single-column index: the composite
    # (…, starts_at) indexes below start with them and serve the same lookups (issue 15).
    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.PROTECT, related_name="appointments", db_index=False
    )
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="appointments", db_index=False
    )
    plan = models.ForeignKey(
        TreatmentPlan,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="appointments",
    )
    sequence = models.PositiveSmallIntegerField(default=1)
    kind = models.CharField(max_length=20, choices=AppointmentKind.choices)
    procedure = models.CharField(max_length=40, blank=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    # The protocol window this session belongs in (null for a free-standing appointment).
    target_on = models.DateField(null=True, blank=True)
    window_earliest = models.DateField(null=True, blank=True)
    window_latest = models.DateField(null=True, blank=True)
    # Denormalised from the bookings so calendar filters are one indexed lookup.
    practitioner = models.ForeignKey(
        Resource,
        on_delete=models.PROTECT,
        related_name="practitioner_appointments",
        db_index=False,
    )
    room = models.ForeignKey(
        Resource, on_delete=models.PROTECT, related_name="room_appointments", db_index=False
    )
    centrifuge = models.ForeignKey(
        Resource,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="centrifuge_appointments",
    )
    status = models.CharField(
        max_length=12, choices=AppointmentStatus.choices, default=AppointmentStatus.BOOKED
    )
    notes = models.TextField(blank=True)
    # Append-only list of {"at", "by", "event", ...}: moves, status changes and their reasons.
    history = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [
            models.Index(fields=["clinic", "starts_at"]),
            models.Index(fields=["patient", "starts_at"]),
            models.Index(fields=["practitioner", "starts_at"]),
            models.Index(fields=["room", "starts_at"]),
            models.Index(fields=["status", "starts_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(starts_at__lt=F("ends_at")), name="appointment_starts_before_end"
            ),
            models.CheckConstraint(condition=Q(sequence__gte=1), name="appointment_sequence_1_up"),
            # A protocol window is both ends or none, in order.
            models.CheckConstraint(
                condition=Q(window_earliest__isnull=True, window_latest__isnull=True)
                | Q(
                    window_earliest__isnull=False,
                    window_latest__isnull=False,
                    window_earliest__lte=F("window_latest"),
                ),
                name="appointment_window_in_order",
            ),
            _choices_check("status", AppointmentStatus, "appointment_status_valid"),
            _choices_check("kind", AppointmentKind, "appointment_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.sequence} at {human_datetime(self.starts_at)}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def needs_session_record(self) -> bool:
        """A PRP or mesotherapy visit: it completes when its session record is signed."""
        return self.procedure in PROCEDURES

    @property
    def procedure_label(self) -> str:
        return str(PROCEDURES.get(self.procedure, {}).get("label", self.procedure))

    def outside_window(self, on: dt.date | None = None) -> bool:
        day = on or self.local_date
        if self.window_earliest is None or self.window_latest is None:
            return False
        return not (self.window_earliest <= day <= self.window_latest)

    @property
    def local_date(self) -> dt.date:
        return self.starts_at.astimezone(zone_of(self.clinic)).date()


class Phase(models.TextChoices):
    ANAESTHETIC_CREAM = "anaesthetic_cream", "Anaesthetic cream"
    DRAW_AND_SPIN = "draw_and_spin", "Draw and spin"
    INJECTION = "injection", "Injection"
    CONSULTATION = "consultation", "Consultation"


class ResourceBooking(models.Model):
    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="bookings")
    # No single-column index: the (resource, active, starts_at) index starts with it.
    resource = models.ForeignKey(
        Resource, on_delete=models.PROTECT, related_name="bookings", db_index=False
    )
    # The first phase the hold covers: one row spans all the resource's touching phases of the
    # visit (``availability.layout``: e.g. the room's row of a PRP visit starts with the cream
    # and lasts the whole visit; the phases within it follow from the procedure's layout).
    phase = models.CharField(max_length=20, choices=Phase.choices)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [models.Index(fields=["resource", "active", "starts_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(starts_at__lt=F("ends_at")), name="booking_starts_before_end"
            ),
            _choices_check("phase", Phase, "booking_phase_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.resource} {self.phase} {self.starts_at}-{self.ends_at}"


class RecallStatus(models.TextChoices):
    OPEN = "open", "Open"
    BOOKED = "booked", "Booked"
    DISMISSED = "dismissed", "Dismissed"


class Recall(models.Model):
    """A maintenance session is due: created when a plan's induction series completes."""

    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="recalls"
    )
    plan = models.OneToOneField(TreatmentPlan, on_delete=models.PROTECT, related_name="recall")
    due_from = models.DateField()
    due_until = models.DateField()
    status = models.CharField(max_length=10, choices=RecallStatus.choices, default="open")
    created_at = models.DateTimeField(auto_now_add=True)
    # Set when the patient was told the maintenance window has opened (claimed before sending).
    reminded_at = models.DateTimeField(null=True, blank=True)
    reminder_status = models.CharField(max_length=20, blank=True)

    class Meta:
        ordering = ["due_from", "id"]
        indexes = [
            models.Index(fields=["clinic", "status", "due_from"]),
            # The home worklist's open recalls, soonest end first (82 ms → 0.9 ms at 100k).
            models.Index(
                fields=["clinic", "status", "due_until", "id"], name="recall_open_by_due_until"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(due_from__lte=F("due_until")), name="recall_due_in_order"
            ),
            _choices_check("status", RecallStatus, "recall_status_valid"),
        ]

    def __str__(self) -> str:
        return (
            f"Recall {human_date(self.due_from)} – {human_date(self.due_until)} "
            f"({self.get_status_display().lower()})"
        )


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"


class ReminderRule(models.Model):
    clinic = models.ForeignKey(
        "accounts.Clinic", on_delete=models.CASCADE, related_name="reminder_rules"
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)
    lead_hours = models.PositiveIntegerField()
    is_active = models.BooleanField(default=True)
    # The message, with placeholders such as {patient_first_name} (anagen.scheduling.messages);
    # empty: the standard wording.
    template = models.CharField(max_length=640, blank=True, default="")

    class Meta:
        ordering = ["-lead_hours", "channel"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "channel", "lead_hours"], name="one_rule_per_lead_time"
            ),
            models.CheckConstraint(
                condition=Q(lead_hours__gte=MIN_LEAD_HOURS, lead_hours__lte=MAX_LEAD_HOURS),
                name="reminder_lead_hours_range",
            ),
            _choices_check("channel", Channel, "reminder_rule_channel_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.lead_hours} h before"


class ReminderStatus(models.TextChoices):
    SENT = "sent", "Sent"
    SKIPPED_NO_CONSENT = "skipped_no_consent", "Skipped: no consent or no address"
    FAILED = "failed", "Failed"


class ReminderSent(models.Model):
    """One reminder in the sent log: of an appointment (by one of its clinic's rules) or of a
    maintenance recall (the window has opened; no rule, no appointment yet)."""

    appointment = models.ForeignKey(
        Appointment, on_delete=models.CASCADE, related_name="reminders", null=True, blank=True
    )
    rule = models.ForeignKey(
        ReminderRule, on_delete=models.CASCADE, related_name="+", null=True, blank=True
    )
    recall = models.ForeignKey(
        Recall, on_delete=models.CASCADE, related_name="reminders", null=True, blank=True
    )
    # Blank for a recall reminder skipped before a channel was chosen (no consent, no address).
    channel = models.CharField(max_length=10, choices=Channel.choices, blank=True)
    sent_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=20, choices=ReminderStatus.choices)
    detail = models.CharField(max_length=300, blank=True)  # why it failed, in the provider's words
    # To whom (the phone number or email address used), what, and the provider's message id.
    recipient = models.CharField(max_length=254, blank=True, default="")
    body = models.TextField(blank=True, default="")
    provider_message_id = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        ordering = ["-sent_at"]
        indexes = [models.Index(fields=["-sent_at"], name="reminder_sent_recent")]
        constraints = [
            models.UniqueConstraint(fields=["appointment", "rule"], name="one_reminder_per_rule"),
            models.UniqueConstraint(fields=["recall"], name="one_reminder_per_recall"),
            _choices_check("status", ReminderStatus, "reminder_sent_status_valid"),
            # Either an appointment's reminder (with its rule) or a recall's, never both.
            models.CheckConstraint(
                condition=Q(appointment__isnull=False, rule__isnull=False, recall__isnull=True)
                | Q(appointment__isnull=True, rule__isnull=True, recall__isnull=False),
                name="reminder_sent_of_appointment_or_recall",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} reminder: {self.get_status_display().lower()}"

    @property
    def patient(self) -> Any:
        """The patient reminded (of the appointment or of the recall)."""
        source: Any = self.appointment or self.recall
        return source.patient


class CalendarFeedToken(models.Model):
    """The secret in a practitioner's iCalendar feed URL. Only its SHA-256 is stored."""

    resource = models.OneToOneField(Resource, on_delete=models.CASCADE, related_name="feed_token")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Feed token of {self.resource_id}"


class ClinicClosure(models.Model):
    """Days the whole clinic is shut (refurbishment, training day): no slot is offered."""

    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.CASCADE, related_name="+")
    starts_on = models.DateField()
    ends_on = models.DateField()
    reason = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["starts_on", "id"]
        indexes = [models.Index(fields=["clinic", "ends_on"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(starts_on__lte=F("ends_on")), name="closure_dates_in_order"
            )
        ]

    def __str__(self) -> str:
        return f"Closed {human_date(self.starts_on)} – {human_date(self.ends_on)}: {self.reason}"


class StaffLeave(models.Model):
    """A staff member is away (whole days): their practitioner slots are blocked."""

    membership = models.ForeignKey(
        "accounts.Membership", on_delete=models.CASCADE, related_name="leave"
    )
    starts_on = models.DateField()
    ends_on = models.DateField()
    reason = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["starts_on", "id"]
        indexes = [models.Index(fields=["membership", "ends_on"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(starts_on__lte=F("ends_on")), name="leave_dates_in_order"
            )
        ]

    def __str__(self) -> str:
        return f"Leave {human_date(self.starts_on)} – {human_date(self.ends_on)}: {self.reason}"


class CalendarVersion(models.Model):
    """A random token per clinic, replaced whenever anything the calendar grid shows changes
    (anagen/scheduling/calendar_version.py): the rendered grid is cached under it."""

    clinic = models.OneToOneField(
        "accounts.Clinic", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    token = models.BigIntegerField()

    def __str__(self) -> str:
        return f"Calendar version {self.token}"
