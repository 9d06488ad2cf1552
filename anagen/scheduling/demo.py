"""Demo scheduling data: resources, working hours, reminder rules and ~40 booked series per clinic.

Deterministic (random.Random(seed)) and idempotent: resources are get-or-created and the series
are only added to a clinic that has no treatment plan yet. Past sessions get their status set
directly (completed, a few no-shows), because a real check-in needs care's consent and screening.
Bookings are written in bulk with the same hold layout and free-slot search as the services.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from anagen.accounts.clinic_time import zone_of
from anagen.accounts.models import Clinic, Membership
from anagen.accounts.permissions import Perm, role_has
from anagen.clinical import PROCEDURES, build_plan, get_protocol
from anagen.patients.models import Patient
from anagen.scheduling import availability as av
from anagen.scheduling import calendar_version
from anagen.scheduling.models import (
    Appointment,
    AppointmentStatus,
    PlanStatus,
    Recall,
    Resource,
    ResourceBooking,
    ResourceKind,
    TreatmentPlan,
    WorkingHours,
)
from anagen.scheduling.services import recall_window, reminder_rules_ensure_defaults

CLINIC_SLUGS = ("north", "river")
SERIES_PER_CLINIC = 40
PROTOCOL_MIX = ["prp-aga-monthly-3"] * 6 + [
    "prp-aga-2x2m",
    "prp-aga-monthly-3-booster",
    "meso-hair-biweekly",
]
OPEN, CLOSE = dt.time(9, 0), dt.time(17, 30)


def _resources(clinic: Clinic) -> list[Resource]:
    out = []
    for username in (f"{clinic.slug}.physician", f"{clinic.slug}.nurse"):
        m = Membership.objects.filter(clinic=clinic, user__username=username).first()
        if m is None:
            continue
        r, _ = Resource.objects.get_or_create(
            membership=m,
            defaults={
                "clinic": clinic,
                "kind": ResourceKind.PRACTITIONER,
                "name": m.user.get_full_name() or username,
                "licensed_procedures": list(PROCEDURES),
            },
        )
        out.append(r)
    for name in ("Room 1", "Room 2"):
        r, _ = Resource.objects.get_or_create(clinic=clinic, kind=ResourceKind.ROOM, name=name)
        out.append(r)
    r, _ = Resource.objects.get_or_create(
        clinic=clinic,
        kind=ResourceKind.CENTRIFUGE,
        name="Centrifuge A",
        defaults={"rotor_radius_cm": Decimal("10.0")},
    )
    out.append(r)
    for res in out:
        if res.kind != ResourceKind.CENTRIFUGE and not res.working_hours.exists():
            WorkingHours.objects.bulk_create(
                WorkingHours(resource=res, weekday=d, start=OPEN, end=CLOSE) for d in range(5)
            )
    return out


def _seed_series(clinic: Clinic, resources: list[Resource], today: dt.date) -> None:
    rng = random.Random(f"scheduling-{clinic.slug}")
    tz = zone_of(clinic)
    now = timezone.now()
    author = next(
        (
            r.membership.user
            for r in resources
            if r.membership and role_has(r.membership.role, Perm.PLAN)
        ),
        None,
    )
    if author is None:
        return
    patients = list(Patient.objects.filter(clinic=clinic).order_by("id")[:SERIES_PER_CLINIC])
    lo = av.local(today - dt.timedelta(days=400), dt.time(0), tz)
    hi = av.local(today + dt.timedelta(days=400), dt.time(0), tz)
    cal = av.Calendar.load(resources, lo, hi, tz)
    long_ago = lo
    bookings: list[tuple[Appointment, list[tuple[Resource, str, dt.datetime, dt.datetime]]]] = []
    for patient in patients:
        protocol_id = rng.choice(PROTOCOL_MIX)
        doc = get_protocol(protocol_id)
        start = today + dt.timedelta(days=rng.randint(-150, 45))
        holds = av.layout(doc["procedure"], protocol_id)
        combos = av.combos_for(resources, doc["procedure"])
        rng.shuffle(combos)
        sessions = [s for s in build_plan(protocol_id, start).sessions if s.kind != "maintenance"]
        plan = TreatmentPlan.objects.create(
            clinic=clinic,
            patient=patient,
            protocol_id=protocol_id,
            protocol_name=doc["name"],
            procedure=doc["procedure"],
            start_on=start,
            created_by=author,
        )
        done = 0
        for s in sessions:
            found = None
            for day in av.days_by_closeness(s.earliest_on, s.latest_on, s.target_on):
                found = av.first_free(cal, holds, combos, day, long_ago)
                if found:
                    break
            if found is None:
                continue
            at, combo = found
            items = av.holds_for(holds, combo, at)
            ends = at + dt.timedelta(minutes=av.duration_minutes(holds))
            status = AppointmentStatus.BOOKED
            if ends < now:
                status = (
                    AppointmentStatus.NO_SHOW
                    if rng.random() < 0.05
                    else AppointmentStatus.COMPLETED
                )
                done += status == AppointmentStatus.COMPLETED
            appt = Appointment(
                clinic=clinic,
                patient=patient,
                plan=plan,
                sequence=s.n,
                kind=s.kind,
                procedure=doc["procedure"],
                starts_at=at,
                ends_at=ends,
                target_on=s.target_on,
                window_earliest=s.earliest_on,
                window_latest=s.latest_on,
                practitioner=combo.practitioner,
                room=combo.room,
                centrifuge=combo.centrifuge,
                status=status,
                history=[{"at": now.isoformat(timespec="seconds"), "by": "demo", "event": status}],
            )
            for r, _p, b_start, b_end in items:
                cal.add(r.pk, b_start, b_end)
            bookings.append((appt, items))
        plan_appts = [a for a, _ in bookings if a.plan is plan]
        if plan_appts and all(a.status != AppointmentStatus.BOOKED for a in plan_appts):
            plan.status = PlanStatus.COMPLETED
            last_day = plan_appts[-1].starts_at.astimezone(tz).date()
            window = recall_window(plan, last_day)
            if window:
                Recall.objects.create(
                    clinic=clinic,
                    patient=patient,
                    plan=plan,
                    due_from=window[0],
                    due_until=window[1],
                )
        elif done:
            plan.status = PlanStatus.ACTIVE
        plan.save(update_fields=["status"])
    Appointment.objects.bulk_create([a for a, _ in bookings])
    calendar_version.bump(clinic.pk)  # bulk_create sends no signal
    ResourceBooking.objects.bulk_create(
        ResourceBooking(
            appointment=a,
            resource=r,
            phase=phase,
            starts_at=s,
            ends_at=e,
            active=a.status != AppointmentStatus.NO_SHOW,
        )
        for a, items in bookings
        for r, phase, s, e in items
    )


def seed_scheduling_demo(today: dt.date) -> None:
    for clinic in Clinic.objects.filter(slug__in=CLINIC_SLUGS):
        with transaction.atomic():
            resources = _resources(clinic)
            reminder_rules_ensure_defaults(clinic=clinic)
            if not TreatmentPlan.objects.filter(clinic=clinic).exists():
                _seed_series(clinic, resources, today)
            _seed_cancellation(clinic)
            _seed_reminder_log(clinic)


def _seed_cancellation(clinic: Clinic) -> None:
    """One future visit cancelled through the service (with its reason and audit row), so the
    demo holds an appointment in every state and the page crawler meets a cancelled one."""
    from anagen.accounts.access import Actor
    from anagen.scheduling.services import appointment_cancel

    if Appointment.objects.filter(clinic=clinic, status=AppointmentStatus.CANCELLED).exists():
        return
    desk = Membership.objects.filter(
        clinic=clinic, user__username=f"{clinic.slug}.frontdesk", is_active=True
    ).first()
    appt = (
        Appointment.objects.filter(
            clinic=clinic, status=AppointmentStatus.BOOKED, starts_at__gt=timezone.now()
        )
        .order_by("-starts_at")
        .first()
    )
    if desk is None or appt is None:
        return
    appointment_cancel(
        actor=Actor(user=desk.user, membership=desk, via="cli"),
        appointment=appt,
        reason="Patient asked to cancel (demo)",
    )


def _seed_reminder_log(clinic: Clinic) -> None:
    """A few rows in the reminder log (sent, skipped, failed) so its page has something to show;
    nothing is actually sent."""
    from anagen.scheduling.models import Channel, ReminderRule, ReminderSent, ReminderStatus
    from anagen.scheduling.services.reminders import _reminder_text

    if ReminderSent.objects.filter(appointment__clinic=clinic).exists():
        return
    rule = ReminderRule.objects.filter(clinic=clinic, channel=Channel.SMS).first()
    if rule is None:
        return
    upcoming = (
        Appointment.objects.filter(
            clinic=clinic, status=AppointmentStatus.BOOKED, starts_at__gt=timezone.now()
        )
        .select_related("patient", "clinic", "practitioner")
        .order_by("starts_at")[:3]
    )
    outcomes = [
        (ReminderStatus.SENT, ""),
        (ReminderStatus.FAILED, "SMS provider refused the message (400): The number is not valid."),
        (ReminderStatus.SKIPPED_NO_CONSENT, ""),
    ]
    for n, (appt, (status, detail)) in enumerate(zip(upcoming, outcomes, strict=False), 1):
        reached = status != ReminderStatus.SKIPPED_NO_CONSENT
        ReminderSent.objects.create(
            appointment=appt,
            rule=rule,
            channel=rule.channel,
            status=status,
            detail=detail,
            recipient=appt.patient.phone if reached else "",
            body=_reminder_text(appt, rule.template) if reached else "",
            provider_message_id=f"demo-{n}" if status == ReminderStatus.SENT else "",
        )
    # A maintenance recall's reminder sits in the same log.
    from anagen.scheduling.services.reminders import _recall_text

    recall = Recall.objects.filter(clinic=clinic).select_related("patient", "clinic").first()
    if recall is not None:
        ReminderSent.objects.create(
            recall=recall,
            channel=Channel.SMS,
            status=ReminderStatus.SENT,
            recipient=recall.patient.phone,
            body=_recall_text(recall),
            provider_message_id="demo-recall",
        )
