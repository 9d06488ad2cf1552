"""Reads of scheduling data, always scoped to the actor's clinic (another clinic's row is a 404)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.accounts.permissions import Perm
from anagen.patients.models import Patient
from anagen.scheduling.models import (
    OPEN_STATUSES,
    Appointment,
    AppointmentStatus,
    PlanStatus,
    Recall,
    RecallStatus,
    Resource,
    ResourceKind,
    TreatmentPlan,
)

UPCOMING_LIMIT = 5


def _pk(value: object) -> int:
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise Http404("Not found.") from None


def appointments_for(actor: Actor) -> QuerySet[Appointment]:
    actor.require(Perm.PATIENT_VIEW)
    return Appointment.objects.filter(
        clinic=actor.clinic, patient__deleted_at__isnull=True
    ).select_related("patient", "clinic", "practitioner", "room", "centrifuge", "plan")


def appointment_for(actor: Actor, appointment_id: object) -> Appointment:
    appt = appointments_for(actor).filter(pk=_pk(appointment_id)).first()
    if appt is None:
        raise Http404("No such appointment.")
    return appt


def plans_for(actor: Actor) -> QuerySet[TreatmentPlan]:
    actor.require(Perm.PATIENT_VIEW)
    return TreatmentPlan.objects.filter(
        clinic=actor.clinic, patient__deleted_at__isnull=True
    ).select_related("patient", "created_by")


def plan_for(actor: Actor, plan_id: object) -> TreatmentPlan:
    plan = plans_for(actor).filter(pk=_pk(plan_id)).first()
    if plan is None:
        raise Http404("No such plan.")
    return plan


def resources_for(actor: Actor, *, active_only: bool = False) -> QuerySet[Resource]:
    actor.require(Perm.PATIENT_VIEW)
    qs = Resource.objects.filter(clinic=actor.clinic).select_related("membership__user")
    return qs.filter(is_active=True) if active_only else qs


def resource_for(actor: Actor, resource_id: object) -> Resource:
    resource = resources_for(actor).filter(pk=_pk(resource_id)).first()
    if resource is None:
        raise Http404("No such resource.")
    return resource


def recall_for(actor: Actor, recall_id: object) -> Recall:
    actor.require(Perm.PATIENT_VIEW)
    recall = (
        Recall.objects.filter(clinic=actor.clinic, patient__deleted_at__isnull=True)
        .select_related("patient")
        .filter(pk=_pk(recall_id))
        .first()
    )
    if recall is None:
        raise Http404("No such recall.")
    return recall


@dataclass
class CalendarDay:
    day: dt.date
    appointments: list[Appointment]


def calendar_days(
    *,
    actor: Actor,
    start: dt.date,
    days: int,
    practitioner_id: int | None = None,
    room_id: int | None = None,
    include_cancelled: bool = False,
) -> list[CalendarDay]:
    """Appointments of ``days`` clinic-local days from ``start``, in one query."""
    tz = ZoneInfo(actor.clinic.timezone)
    lo = dt.datetime.combine(start, dt.time(0), tzinfo=tz)
    hi = dt.datetime.combine(start + dt.timedelta(days=days), dt.time(0), tzinfo=tz)
    qs = appointments_for(actor).filter(starts_at__gte=lo, starts_at__lt=hi)
    if practitioner_id:
        qs = qs.filter(practitioner_id=practitioner_id)
    if room_id:
        qs = qs.filter(room_id=room_id)
    if not include_cancelled:
        qs = qs.exclude(status=AppointmentStatus.CANCELLED)
    out = [CalendarDay(start + dt.timedelta(days=i), []) for i in range(days)]
    for appt in qs.order_by("starts_at", "id"):
        index = (appt.starts_at.astimezone(tz).date() - start).days
        out[index].appointments.append(appt)
    return out


@dataclass
class PatientSchedule:
    plan: TreatmentPlan | None
    done: int
    total: int
    upcoming: list[Appointment]
    recall: Recall | None


def patient_schedule(*, actor: Actor, patient: Patient) -> PatientSchedule:
    """The chart card: current plan with progress, next appointments, open recall (3 queries)."""
    plan = (
        TreatmentPlan.objects.filter(patient=patient, clinic=actor.clinic)
        .exclude(status=PlanStatus.CANCELLED)
        .annotate(
            n_total=Count("appointments", filter=~Q(appointments__status="cancelled")),
            n_done=Count("appointments", filter=Q(appointments__status="completed")),
        )
        .order_by("-created_at")
        .first()
    )
    upcoming = list(
        Appointment.objects.filter(
            patient=patient,
            clinic=actor.clinic,
            status__in=OPEN_STATUSES,
            ends_at__gte=timezone.now() - dt.timedelta(hours=12),
        )
        .select_related("practitioner", "room", "clinic")
        .order_by("starts_at")[:UPCOMING_LIMIT]
    )
    recall = Recall.objects.filter(patient=patient, status=RecallStatus.OPEN).first()
    return PatientSchedule(
        plan=plan,
        done=getattr(plan, "n_done", 0),
        total=getattr(plan, "n_total", 0),
        upcoming=upcoming,
        recall=recall,
    )


def practitioners_for(actor: Actor) -> QuerySet[Resource]:
    return resources_for(actor, active_only=True).filter(kind=ResourceKind.PRACTITIONER)


def rooms_for(actor: Actor) -> QuerySet[Resource]:
    return resources_for(actor, active_only=True).filter(kind=ResourceKind.ROOM)
