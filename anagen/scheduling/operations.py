"""Operational analytics for the clinic admin: how the diary is used (reads only).

Over a period of clinic-local days (``start`` to ``end`` inclusive):

- **No-show rate** = no-shows ÷ appointments whose time has come and that were not cancelled.
- **Late-cancellation rate** = late cancellations ÷ all appointments in the period. A
  cancellation is late when the appointment's history records it less than 24 hours before
  the appointment's start (the ``"cancelled"`` event's ``at``, which ends the history: a
  cancelled appointment changes no further).
- **Utilisation** of each practitioner, room and centrifuge = booked minutes (its active
  bookings starting in the period) ÷ working-hours minutes (its weekly hours over the period's
  days, less public holidays, clinic closures and, for practitioners, their leave). A resource
  with no working hours of its own (typically a centrifuge) is measured against the clinic's
  opening hours: per weekday, from the rooms' earliest opening to their latest closing.
- **Sessions per practitioner**: session records started in the period, by the practitioner of
  their appointment.
- **Draw to injection**: minutes from the "Blood drawn" stamp to the "Delivery started" stamp of
  the session records, with how many exceed the clinic's rule (procedure_rules.json).

Counts, sums and averages are computed by the database (aggregates); Python only adds up the
working-hours calendar.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import (
    Avg,
    Count,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    Max,
    Min,
    Q,
    Sum,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.accounts.permissions import Perm
from anagen.clinical import procedure_rules
from anagen.scheduling.closures import clinic_closed_days, leave_days
from anagen.scheduling.models import (
    Appointment,
    AppointmentStatus,
    Resource,
    ResourceBooking,
    ResourceKind,
    WorkingHours,
)

LATE_CANCELLATION = dt.timedelta(hours=24)
MAX_PERIOD_DAYS = 366
DEFAULT_WEEKS = 4
KIND_ORDER = (ResourceKind.PRACTITIONER, ResourceKind.ROOM, ResourceKind.CENTRIFUGE)


def _duration(end: str, start: str) -> ExpressionWrapper:
    return ExpressionWrapper(F(end) - F(start), output_field=DurationField())


def _minutes(value: dt.timedelta | None) -> float:
    return value.total_seconds() / 60 if value else 0.0


def _rate(part: int | float, whole: int | float) -> float | None:
    return part / whole if whole else None


def percent(rate: float | None) -> str:
    """'12.5 %', or a dash when there is nothing to divide by."""
    return "—" if rate is None else f"{rate * 100:.1f} %"


@dataclass(frozen=True)
class Rate:
    label: str
    part: int
    whole: int
    explains: str

    @property
    def rate(self) -> float | None:
        return _rate(self.part, self.whole)

    @property
    def shown(self) -> str:
        return percent(self.rate)


@dataclass(frozen=True)
class Utilisation:
    name: str
    kind_label: str
    booked_minutes: float
    available_minutes: float
    clinic_hours: bool  # measured against the clinic's opening hours (no hours of its own)

    @property
    def rate(self) -> float | None:
        return _rate(self.booked_minutes, self.available_minutes)

    @property
    def shown(self) -> str:
        return percent(self.rate)

    @property
    def booked_hours(self) -> float:
        return self.booked_minutes / 60

    @property
    def available_hours(self) -> float:
        return self.available_minutes / 60


@dataclass(frozen=True)
class PractitionerSessions:
    name: str
    sessions: int
    signed: int


@dataclass(frozen=True)
class DrawToInjection:
    sessions: int
    average_minutes: float | None
    shortest_minutes: float | None
    longest_minutes: float | None
    over_limit: int
    limit_minutes: int | None


@dataclass
class Operations:
    start: dt.date
    end: dt.date
    appointments: int
    rates: list[Rate]
    utilisation: list[Utilisation]
    by_kind: list[Utilisation] = field(default_factory=list)
    sessions: list[PractitionerSessions] = field(default_factory=list)
    draw_to_injection: DrawToInjection | None = None


def default_period(actor: Actor) -> tuple[dt.date, dt.date]:
    """The last four weeks, ending today (clinic-local)."""
    end = actor.today()
    return end - dt.timedelta(days=7 * DEFAULT_WEEKS - 1), end


def _bounds(actor: Actor, start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    lo = dt.datetime.combine(start, dt.time(0), tzinfo=actor.tz)
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(0), tzinfo=actor.tz)
    return lo.astimezone(dt.UTC), hi.astimezone(dt.UTC)


def _appointment_rates(actor: Actor, lo: dt.datetime, hi: dt.datetime) -> tuple[int, list[Rate]]:
    now = timezone.now()
    cancelled = Q(status=AppointmentStatus.CANCELLED)
    figures = (
        Appointment.objects.filter(clinic=actor.clinic, starts_at__gte=lo, starts_at__lt=hi)
        .annotate(
            last_event=KT("history__-1__event"),
            cancelled_at=Cast(KT("history__-1__at"), output_field=DateTimeField()),
        )
        .annotate(notice=_duration("starts_at", "cancelled_at"))
        .aggregate(
            total=Count("id"),
            due=Count("id", filter=Q(starts_at__lt=now) & ~cancelled),
            no_show=Count("id", filter=Q(status=AppointmentStatus.NO_SHOW)),
            cancelled=Count("id", filter=cancelled),
            late=Count(
                "id",
                filter=cancelled
                & Q(last_event=AppointmentStatus.CANCELLED.value, notice__lt=LATE_CANCELLATION),
            ),
        )
    )
    total = int(figures["total"])
    return total, [
        Rate(
            "No-show rate",
            int(figures["no_show"]),
            int(figures["due"]),
            "no-shows among appointments whose time has come and that were not cancelled",
        ),
        Rate(
            "Late-cancellation rate",
            int(figures["late"]),
            total,
            "cancelled less than 24 hours before the start, among all appointments",
        ),
        Rate(
            "Cancellation rate",
            int(figures["cancelled"]),
            total,
            "all cancellations, whenever made, among all appointments",
        ),
    ]


def _weekday_minutes(actor: Actor) -> tuple[dict[int, dict[int, float]], dict[int, float]]:
    """({resource id: {weekday: minutes}}, {weekday: the clinic's opening minutes})."""
    hours = (
        WorkingHours.objects.filter(resource__clinic=actor.clinic, resource__is_active=True)
        .values("resource_id", "weekday")
        .annotate(length=Sum(_duration("end", "start")))
    )
    per_resource: dict[int, dict[int, float]] = defaultdict(dict)
    for row in hours:
        per_resource[row["resource_id"]][row["weekday"]] = _minutes(row["length"])
    opening = (
        WorkingHours.objects.filter(
            resource__clinic=actor.clinic, resource__is_active=True, resource__kind="room"
        )
        .values("weekday")
        .annotate(opens=Min("start"), closes=Max("end"))
    )
    clinic: dict[int, float] = {}
    day = dt.date(2000, 1, 3)  # any date: only the clock difference matters
    for times in opening:
        span = dt.datetime.combine(day, times["closes"]) - dt.datetime.combine(day, times["opens"])
        clinic[times["weekday"]] = _minutes(span)
    return per_resource, clinic


def _utilisation(
    actor: Actor, start: dt.date, end: dt.date, lo: dt.datetime, hi: dt.datetime
) -> list[Utilisation]:
    resources = list(
        Resource.objects.filter(clinic=actor.clinic, is_active=True).order_by("kind", "name", "id")
    )
    booked = dict(
        ResourceBooking.objects.filter(
            resource__clinic=actor.clinic, active=True, starts_at__gte=lo, starts_at__lt=hi
        )
        .values("resource_id")
        .annotate(length=Sum(_duration("ends_at", "starts_at")))
        .values_list("resource_id", "length")
    )
    per_resource, clinic_hours = _weekday_minutes(actor)
    closed = clinic_closed_days(actor.clinic, start, end)
    leave = leave_days([r.membership_id for r in resources if r.membership_id], start, end)
    days = [
        start + dt.timedelta(days=i)
        for i in range((end - start).days + 1)
        if start + dt.timedelta(days=i) not in closed
    ]
    out = []
    for r in resources:
        week = per_resource.get(r.pk)
        away = leave.get(r.membership_id, {}) if r.membership_id else {}
        source = week if week else clinic_hours
        available = sum(source.get(d.weekday(), 0.0) for d in days if d not in away)
        out.append(
            Utilisation(
                name=r.name,
                kind_label=r.get_kind_display(),
                booked_minutes=_minutes(booked.get(r.pk)),
                available_minutes=available,
                clinic_hours=not week,
            )
        )
    return out


def _by_kind(rows: list[Utilisation]) -> list[Utilisation]:
    out = []
    for kind in KIND_ORDER:
        mine = [u for u in rows if u.kind_label == kind.label]
        if mine:
            out.append(
                Utilisation(
                    name=f"All {kind.label.lower()}s",
                    kind_label=kind.label,
                    booked_minutes=sum(u.booked_minutes for u in mine),
                    available_minutes=sum(u.available_minutes for u in mine),
                    clinic_hours=any(u.clinic_hours for u in mine),
                )
            )
    return out


def _sessions(actor: Actor, lo: dt.datetime, hi: dt.datetime) -> list[PractitionerSessions]:
    from anagen.procedures.models import SessionStatus, TreatmentSession

    rows = (
        TreatmentSession.objects.filter(clinic=actor.clinic, started_at__gte=lo, started_at__lt=hi)
        .values("appointment__practitioner__name")
        .annotate(n=Count("id"), signed=Count("id", filter=Q(status=SessionStatus.SIGNED)))
        .order_by("-n", "appointment__practitioner__name")
    )
    return [
        PractitionerSessions(
            name=r["appointment__practitioner__name"] or "Without an appointment",
            sessions=int(r["n"]),
            signed=int(r["signed"]),
        )
        for r in rows
    ]


def draw_to_injection_limit() -> int | None:
    rule = procedure_rules.rules()["prp_targets"].get("draw_to_injection_minutes", {})
    limit = rule.get("max")
    return int(limit) if limit is not None else None


def _draw_to_injection(actor: Actor, lo: dt.datetime, hi: dt.datetime) -> DrawToInjection:
    from anagen.procedures.models import TreatmentSession

    limit = draw_to_injection_limit()
    over = Q(wait__gt=dt.timedelta(minutes=limit if limit is not None else 10**6))
    figures = (
        TreatmentSession.objects.filter(
            clinic=actor.clinic,
            started_at__gte=lo,
            started_at__lt=hi,
            draw_at__isnull=False,
            injection_started_at__isnull=False,
        )
        .annotate(wait=_duration("injection_started_at", "draw_at"))
        .aggregate(
            n=Count("id"),
            average=Avg("wait"),
            shortest=Min("wait"),
            longest=Max("wait"),
            over=Count("id", filter=over),
        )
    )
    n = int(figures["n"])
    return DrawToInjection(
        sessions=n,
        average_minutes=_minutes(figures["average"]) if n else None,
        shortest_minutes=_minutes(figures["shortest"]) if n else None,
        longest_minutes=_minutes(figures["longest"]) if n else None,
        over_limit=int(figures["over"]),
        limit_minutes=limit,
    )


def operations_summary(*, actor: Actor, start: dt.date, end: dt.date) -> Operations:
    """The clinic's operational figures over ``start``–``end`` (clinic-local days)."""
    actor.require(Perm.ANALYTICS_VIEW)
    if end < start:
        start, end = end, start
    lo, hi = _bounds(actor, start, end)
    total, rates = _appointment_rates(actor, lo, hi)
    utilisation = _utilisation(actor, start, end, lo, hi)
    return Operations(
        start=start,
        end=end,
        appointments=total,
        rates=rates,
        utilisation=utilisation,
        by_kind=_by_kind(utilisation),
        sessions=_sessions(actor, lo, hi),
        draw_to_injection=_draw_to_injection(actor, lo, hi),
    )
