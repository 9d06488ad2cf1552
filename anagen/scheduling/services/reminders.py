"""Reminders: appointment reminders at each rule's lead time, recall reminders, the rules.

Messages carry no procedure or clinical detail (someone else may read them) and give times in
the clinic's zone.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.accounts.clinic_time import human_date, zone_of
from anagen.accounts.models import Clinic
from anagen.accounts.permissions import Perm
from anagen.audit.services import audit_record
from anagen.scheduling import reminder_text
from anagen.scheduling.models import (
    MAX_LEAD_HOURS,
    Appointment,
    AppointmentStatus,
    Channel,
    Recall,
    RecallStatus,
    ReminderRule,
    ReminderSent,
    ReminderStatus,
)

log = logging.getLogger("anagen.scheduling.services")

DEFAULT_REMINDER_RULES = ((Channel.EMAIL, 48), (Channel.SMS, 48), (Channel.SMS, 2))


def reminder_rules_ensure_defaults(*, clinic: Clinic) -> None:
    for channel, hours in DEFAULT_REMINDER_RULES:
        ReminderRule.objects.get_or_create(clinic=clinic, channel=channel, lead_hours=hours)


def message_facts(appt: Appointment) -> reminder_text.MessageFacts:
    procedure = appt.procedure_label if appt.procedure else appt.get_kind_display()
    return reminder_text.MessageFacts(
        patient_first_name=appt.patient.given_name,
        clinic_name=appt.clinic.name,
        starts_at=appt.starts_at,
        tz=zone_of(appt.clinic),
        practitioner=appt.practitioner.name,
        procedure=procedure,
    )


def _reminder_text(appt: Appointment, template: str = "") -> str:
    # The standard wording names no procedure or clinical detail: a reminder may be read by
    # someone else. A clinic's own template may choose otherwise (the page says so).
    return reminder_text.render(template, message_facts(appt))


def _recall_text(recall: Recall) -> str:
    return (
        f"It is time to book your maintenance session at {recall.clinic.name} "
        f"(between {human_date(recall.due_from)} and {human_date(recall.due_until)}). "
        "Please call us to book."
    )


def reminders_send_due(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Send each due reminder once (email and SMS rules per clinic), honouring consent.

    Claims the (appointment, rule) row before sending, so two workers never send it twice.
    """
    now = now or timezone.now()
    counts = {s.value: 0 for s in ReminderStatus}
    rules = ReminderRule.objects.filter(is_active=True).select_related("clinic")
    for rule in rules:
        due = (
            Appointment.objects.filter(
                clinic=rule.clinic,
                status=AppointmentStatus.BOOKED,
                starts_at__gt=now,
                starts_at__lte=now + dt.timedelta(hours=rule.lead_hours),
            )
            .exclude(reminders__rule=rule)
            .select_related("patient", "clinic", "practitioner")
        )
        for appt in due:
            patient = appt.patient
            if rule.channel == Channel.SMS:
                consent, address = patient.sms_reminders, patient.phone
            else:
                consent, address = patient.email_reminders, patient.email
            status = (
                ReminderStatus.SENT if consent and address else ReminderStatus.SKIPPED_NO_CONSENT
            )
            body = _reminder_text(appt, rule.template) if status == ReminderStatus.SENT else ""
            try:
                with transaction.atomic():
                    sent = ReminderSent.objects.create(
                        appointment=appt,
                        rule=rule,
                        channel=rule.channel,
                        status=status,
                        recipient=address if status == ReminderStatus.SENT else "",
                        body=body,
                    )
            except IntegrityError:
                continue  # another worker claimed it
            if status == ReminderStatus.SENT:
                message_id, failure = _deliver(
                    rule.channel, address, f"Appointment reminder — {appt.clinic.name}", body
                )
                if failure:
                    log.warning("reminder %s failed: %s", sent.pk, failure)
                    status = ReminderStatus.FAILED
                    sent.status = status
                    sent.detail = failure[:300]
                sent.provider_message_id = message_id[:100]
                sent.save(update_fields=["status", "detail", "provider_message_id"])
            changes = {"channel": rule.channel, "lead_hours": rule.lead_hours}
            if status == ReminderStatus.FAILED:
                changes["error"] = sent.detail
            audit_record(
                action=f"reminder.{status}",
                clinic=appt.clinic,
                patient=patient,
                obj=appt,
                changes=changes,
                via="task",
            )
            counts[status] += 1
    counts.update(_recall_reminders_send(now=now))
    return counts


def _deliver(channel: str, address: str, subject: str, body: str) -> tuple[str, str]:
    """Send by SMS or email: (the provider's message id, "") on success, ("", the reason in
    words) on failure. Never raises: one failed message must not stop the others."""
    from anagen.scheduling.sms import get_sms_backend

    try:
        if channel == Channel.SMS:
            return str(get_sms_backend().send(to=address, body=body) or ""), ""
        send_mail(
            subject=subject,
            message=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[address],
        )
    except Exception as exc:  # a provider failure must not stop the others
        return "", str(exc) or exc.__class__.__name__
    return "", ""


def _recall_reminders_send(*, now: dt.datetime) -> dict[str, int]:
    """Tell each patient once when their maintenance window opens: email if they agreed to
    email reminders, else SMS if they agreed to SMS, else nothing (recorded as skipped).

    The window opens on the clinic's own date, not UTC's."""
    counts = {"recall_sent": 0, "recall_skipped_no_consent": 0, "recall_failed": 0}
    # No zone is more than a day ahead of UTC: narrow in SQL, decide per clinic below.
    due = Recall.objects.filter(
        status=RecallStatus.OPEN,
        reminded_at__isnull=True,
        due_from__lte=(now + dt.timedelta(days=1)).date(),
    ).select_related("patient", "clinic")
    for recall in due:
        if recall.due_from > now.astimezone(zone_of(recall.clinic)).date():
            continue
        # Claim the recall first, so two workers never send the same message.
        if not Recall.objects.filter(pk=recall.pk, reminded_at__isnull=True).update(
            reminded_at=now
        ):
            continue
        patient = recall.patient
        channel: Channel | None
        if patient.email_reminders and patient.email:
            channel, address = Channel.EMAIL, patient.email
        elif patient.sms_reminders and patient.phone:
            channel, address = Channel.SMS, patient.phone
        else:
            channel, address = None, ""
        status = ReminderStatus.SKIPPED_NO_CONSENT
        body = _recall_text(recall) if channel else ""
        # The sent log shows recall reminders beside appointment reminders (who, when, how).
        sent = ReminderSent.objects.create(
            recall=recall,
            channel=channel or "",
            status=status,
            recipient=address,
            body=body,
        )
        if channel:
            message_id, failure = _deliver(
                channel, address, f"Time to book — {recall.clinic.name}", body
            )
            status = ReminderStatus.FAILED if failure else ReminderStatus.SENT
            if failure:
                log.warning("recall reminder %s failed: %s", sent.pk, failure)
            sent.status = status
            sent.detail = failure[:300]
            sent.provider_message_id = message_id[:100]
            sent.save(update_fields=["status", "detail", "provider_message_id"])
        Recall.objects.filter(pk=recall.pk).update(reminder_status=status)
        changes = {"channel": channel or ""}
        if status == ReminderStatus.FAILED:
            changes["error"] = sent.detail
        audit_record(
            action=f"recall_reminder.{status}",
            clinic=recall.clinic,
            patient=patient,
            obj=recall,
            changes=changes,
            via="task",
        )
        counts[f"recall_{status}"] += 1
    return counts


@transaction.atomic
def reminder_rule_add(
    *, actor: Actor, channel: str, lead_hours: int, template: str = ""
) -> ReminderRule:
    """A new lead time for reminders; one rule per channel and lead time. ``template`` is the
    message with placeholders (empty: the standard wording)."""
    actor.require(Perm.REMINDERS_MANAGE)
    template = reminder_text.validate_template(template)
    if channel not in Channel.values:
        raise ValidationError({"channel": "Choose email or SMS."})
    if not 1 <= lead_hours <= MAX_LEAD_HOURS:
        raise ValidationError({"lead_hours": "Lead time must be between 1 hour and 14 days."})
    if ReminderRule.objects.filter(
        clinic=actor.clinic, channel=channel, lead_hours=lead_hours
    ).exists():
        raise ValidationError(
            {"lead_hours": "There is already a rule for this channel and lead time."}
        )
    rule = ReminderRule.objects.create(
        clinic=actor.clinic, channel=channel, lead_hours=lead_hours, template=template
    )
    audit_record(
        action="reminder_rule.create",
        actor=actor,
        obj=rule,
        changes={"channel": channel, "lead_hours": lead_hours, "template": template},
    )
    return rule


@transaction.atomic
def reminder_rule_set_template(*, actor: Actor, rule: ReminderRule, template: str) -> ReminderRule:
    """Change a rule's message (validated: unknown placeholders are refused)."""
    actor.require(Perm.REMINDERS_MANAGE)
    if rule.clinic_id != actor.clinic.pk:
        from django.http import Http404

        raise Http404("No such rule.")
    template = reminder_text.validate_template(template)
    if rule.template != template:
        old = rule.template
        rule.template = template
        rule.save(update_fields=["template"])
        audit_record(
            action="reminder_rule.update",
            actor=actor,
            obj=rule,
            changes={"template": [old, template]},
        )
    return rule


@transaction.atomic
def reminder_rule_set_active(*, actor: Actor, rule: ReminderRule, active: bool) -> ReminderRule:
    actor.require(Perm.REMINDERS_MANAGE)
    if rule.clinic_id != actor.clinic.pk:
        from django.http import Http404

        raise Http404("No such rule.")
    if rule.is_active != active:
        rule.is_active = active
        rule.save(update_fields=["is_active"])
        audit_record(
            action="reminder_rule.update",
            actor=actor,
            obj=rule,
            changes={"is_active": [not active, active]},
        )
    return rule
