"""Reads of scheduling data, always scoped to the actor's clinic (another clinic's row is a 404)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import CharField, Count, Func, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from anagen.accounts.access import Actor, record_id
from anagen.accounts.models import Membership
from anagen.accounts.permissions import ROLE_PERMS, Perm
from anagen.audit.reads import note_list, note_read
from anagen.patients.models import Patient
from anagen.raw_values import day as _raw_day
from anagen.raw_values import instant as _raw_instant
from anagen.scheduling.models import (
    OPEN_STATUSES,
    Appointment,
    AppointmentStatus,
    CalendarFeedToken,
    ClinicClosure,
    PlanStatus,
    Recall,
    RecallStatus,
    ReminderRule,
    ReminderSent,
    Resource,
    ResourceKind,
    StaffLeave,
    TreatmentPlan,
    WorkingHours,
)
from anagen.scheduling.reminder_text import MessageFacts

UPCOMING_LIMIT = 5


def appointments_for(actor: Actor) -> QuerySet[Appointment]:
    actor.require(Perm.PATIENT_VIEW)
    return Appointment.objects.filter(
        clinic=actor.clinic, patient__deleted_at__isnull=True
    ).select_related("patient", "clinic", "practitioner", "room", "centrifuge", "plan")


def appointment_for(actor: Actor, appointment_id: object) -> Appointment:
    appt = appointments_for(actor).filter(pk=record_id(appointment_id)).first()
    if appt is None:
        raise Http404("No such appointment.")
    note_read(actor, obj=appt)  # audited once per request (anagen/audit/reads.py)
    return appt


def plans_for(actor: Actor) -> QuerySet[TreatmentPlan]:
    actor.require(Perm.PATIENT_VIEW)
    return TreatmentPlan.objects.filter(
        clinic=actor.clinic, patient__deleted_at__isnull=True
    ).select_related("patient", "created_by")


def plan_for(actor: Actor, plan_id: object) -> TreatmentPlan:
    plan = plans_for(actor).filter(pk=record_id(plan_id)).first()
    if plan is None:
        raise Http404("No such plan.")
    note_read(actor, obj=plan)  # audited once per request (anagen/audit/reads.py)
    return plan


def resources_for(actor: Actor, *, active_only: bool = False) -> QuerySet[Resource]:
    actor.require(Perm.PATIENT_VIEW)
    qs = Resource.objects.filter(clinic=actor.clinic).select_related("membership__user")
    return qs.filter(is_active=True) if active_only else qs


def calendar_resources(actor: Actor) -> list[Resource]:
    """The clinic's active resources as the calendar needs them (filters, columns, working
    hours, leave): plain values, built into unsaved-looking instances (cacheable, one query)."""
    actor.require(Perm.PATIENT_VIEW)
    rows = Resource.objects.filter(clinic=actor.clinic, is_active=True).values_list(
        "pk", "kind", "name", "membership_id"
    )
    return [
        Resource(pk=pk, clinic_id=actor.clinic.pk, kind=kind, name=name, membership_id=member)
        for pk, kind, name, member in rows
    ]


def resource_for(actor: Actor, resource_id: object) -> Resource:
    resource = resources_for(actor).filter(pk=record_id(resource_id)).first()
    if resource is None:
        raise Http404("No such resource.")
    return resource


def recall_for(actor: Actor, recall_id: object) -> Recall:
    actor.require(Perm.PATIENT_VIEW)
    recall = (
        Recall.objects.filter(clinic=actor.clinic, patient__deleted_at__isnull=True)
        .select_related("patient")
        .filter(pk=record_id(recall_id))
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
    tz = actor.tz
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
    recall = Recall.objects.filter(
        patient=patient, clinic=actor.clinic, status=RecallStatus.OPEN
    ).first()
    return PatientSchedule(
        plan=plan,
        done=getattr(plan, "n_done", 0),
        total=getattr(plan, "n_total", 0),
        upcoming=upcoming,
        recall=recall,
    )


# The chart card in one query (issue 15): the current plan with its counts, the next open
# appointments with practitioner and room names, the open recall (rows tagged p / a / r).
_SCHEDULE_CARD_SQL = (
    "SELECT * FROM (SELECT 'p' AS r, p.id, p.protocol_name AS t1, p.status AS t2,"
    " CAST(NULL AS text) AS t3, CAST(NULL AS text) AS t4,"
    " (SELECT COUNT(*) FROM scheduling_appointment x WHERE x.plan_id = p.id"
    " AND x.status <> %s) AS n1,"
    " (SELECT COUNT(*) FROM scheduling_appointment x WHERE x.plan_id = p.id"
    " AND x.status = %s) AS n2,"
    " CAST(NULL AS bigint) AS n3, CAST(NULL AS bigint) AS n4, CAST(NULL AS bigint) AS n5,"
    " CAST(NULL AS timestamp with time zone) AS at1, CAST(NULL AS date) AS d1,"
    " CAST(NULL AS date) AS d2 FROM scheduling_treatmentplan p"
    " WHERE p.patient_id = %s AND p.clinic_id = %s AND p.status <> %s"
    " ORDER BY p.created_at DESC LIMIT 1) sp"
    " UNION ALL SELECT * FROM (SELECT 'a', a.id, a.kind, a.status, pr.name, rm.name,"
    " a.sequence, a.plan_id, a.practitioner_id, a.room_id, CAST(NULL AS bigint), a.starts_at,"
    " CAST(NULL AS date), CAST(NULL AS date) FROM scheduling_appointment a"
    " LEFT JOIN scheduling_resource pr ON pr.id = a.practitioner_id"
    " LEFT JOIN scheduling_resource rm ON rm.id = a.room_id"
    " WHERE a.patient_id = %s AND a.clinic_id = %s AND a.status IN (%s, %s) AND a.ends_at >= %s"
    " ORDER BY a.starts_at LIMIT %s) sa"
    " UNION ALL SELECT * FROM (SELECT 'r', c.id, CAST(NULL AS text), CAST(NULL AS text),"
    " CAST(NULL AS text), CAST(NULL AS text), CAST(NULL AS bigint), CAST(NULL AS bigint),"
    " CAST(NULL AS bigint), CAST(NULL AS bigint), CAST(NULL AS bigint),"
    " CAST(NULL AS timestamp with time zone), c.due_from, c.due_until FROM scheduling_recall c"
    " WHERE c.patient_id = %s AND c.clinic_id = %s AND c.status = %s"
    " ORDER BY c.due_from, c.id LIMIT 1) sr"
)


def patient_schedule_card(*, actor: Actor, patient: Patient) -> PatientSchedule:
    """What ``patient_schedule`` gives the chart card, in one query whatever the history (rows
    with only the fields the card shows)."""
    cancelled, completed = AppointmentStatus.CANCELLED.value, AppointmentStatus.COMPLETED.value
    clinic_id = actor.membership.clinic_id
    params: list[Any] = [
        *(cancelled, completed, patient.pk, clinic_id, PlanStatus.CANCELLED.value),
        *(patient.pk, clinic_id, *(str(s) for s in OPEN_STATUSES)),
        connection.ops.adapt_datetimefield_value(timezone.now() - dt.timedelta(hours=12)),
        UPCOMING_LIMIT,
        *(patient.pk, clinic_id, RecallStatus.OPEN.value),
    ]
    with connection.cursor() as cursor:
        cursor.execute(_SCHEDULE_CARD_SQL, params)
        rows = cursor.fetchall()
    plan, recall, done, total = None, None, 0, 0
    upcoming: list[Appointment] = []
    for r, pk, t1, t2, t3, t4, n1, n2, n3, n4, _, at1, d1, d2 in rows:
        if r == "p":
            plan = TreatmentPlan(
                id=pk, clinic_id=clinic_id, patient=patient, protocol_name=t1, status=t2
            )
            total, done = n1, n2
        elif r == "a":
            a = Appointment(
                id=pk,
                clinic_id=clinic_id,
                patient=patient,
                kind=t1,
                status=t2,
                sequence=n1,
                plan_id=n2,
                practitioner_id=n3,
                room_id=n4,
                starts_at=_raw_instant(at1),
            )
            a.practitioner = Resource(id=n3, name=t3)
            a.room = Resource(id=n4, name=t4)
            upcoming.append(a)
        else:
            recall = Recall(
                id=pk,
                clinic_id=clinic_id,
                patient=patient,
                due_from=_raw_day(d1),
                due_until=_raw_day(d2),
                status=RecallStatus.OPEN,
            )
    return PatientSchedule(plan=plan, done=done, total=total, upcoming=upcoming, recall=recall)


def practitioners_for(actor: Actor) -> QuerySet[Resource]:
    return resources_for(actor, active_only=True).filter(kind=ResourceKind.PRACTITIONER)


def rooms_for(actor: Actor) -> QuerySet[Resource]:
    return resources_for(actor, active_only=True).filter(kind=ResourceKind.ROOM)


def plan_appointments(plan: TreatmentPlan) -> QuerySet[Appointment]:
    """A plan's sessions in order (the plan came through ``plan_for``)."""
    return plan.appointments.select_related("practitioner", "room", "clinic").order_by(
        "sequence", "starts_at"
    )


# --- Appointment history -------------------------------------------------------------------

EVENT_LABELS = {
    "booked": "Booked",
    "moved": "Moved",
    **{s.value: str(s.label) for s in AppointmentStatus},
}


@dataclass(frozen=True)
class HistoryEntry:
    at: dt.datetime | None
    event: str
    by: str
    reason: str = ""
    moved_from: dt.datetime | None = None
    moved_to: dt.datetime | None = None
    outside_window: bool = False


def _instant(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except (TypeError, ValueError):
        return None
    return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=dt.UTC)


def appointment_history(appointment: Appointment) -> list[HistoryEntry]:
    """The appointment's history as instants and words (the JSON stores ISO stamps and codes);
    pages show the instants in the clinic's zone."""
    out = []
    for h in appointment.history or []:
        if not isinstance(h, dict):
            continue
        code = str(h.get("event", ""))
        out.append(
            HistoryEntry(
                at=_instant(h.get("at")),
                event=EVENT_LABELS.get(code, code.replace("_", " ").capitalize()),
                by=str(h.get("by", "")),
                reason=str(h.get("reason", "") or ""),
                moved_from=_instant(h["starts_at"]) if code == "moved" else None,
                moved_to=_instant(h.get("to")) if code == "moved" else None,
                outside_window=bool(h.get("outside_window")),
            )
        )
    return out


# --- Resources, feeds and reminder rules (management pages) --------------------------------


def resources_with_hours(actor: Actor) -> QuerySet[Resource]:
    return resources_for(actor).prefetch_related("working_hours")


def working_hours_of(resource: Resource) -> list[WorkingHours]:
    return list(resource.working_hours.all())


def practitioner_candidates(actor: Actor) -> QuerySet[Membership]:
    """Active members who may perform sessions (the permission table says which roles) and are
    not yet a practitioner resource."""
    actor.require(Perm.RESOURCES_MANAGE)
    roles = [role for role, perms in ROLE_PERMS.items() if Perm.SESSION_PERFORM in perms]
    return (
        Membership.objects.filter(clinic=actor.clinic, is_active=True, role__in=roles)
        .exclude(scheduling_resource__isnull=False)
        .select_related("user")
    )


def feed_practitioners(actor: Actor) -> list[Resource]:
    """Whose feeds the actor may see: everyone's for a resource manager, else their own."""
    qs = practitioners_for(actor)
    if not actor.can(Perm.RESOURCES_MANAGE):
        qs = qs.filter(membership=actor.membership)
    return list(qs)


def feed_tokens(resources: list[Resource]) -> dict[int, CalendarFeedToken]:
    return {t.resource_id: t for t in CalendarFeedToken.objects.filter(resource__in=resources)}


def reminder_rules_for(actor: Actor) -> QuerySet[ReminderRule]:
    actor.require(Perm.REMINDERS_MANAGE)
    return ReminderRule.objects.filter(clinic=actor.clinic)


def reminder_rule_for(actor: Actor, rule_id: object) -> ReminderRule:
    rule = reminder_rules_for(actor).filter(pk=record_id(rule_id)).first()
    if rule is None:
        raise Http404("No such rule.")
    return rule


def reminders_sent(actor: Actor, *, status: str = "", channel: str = "") -> QuerySet[ReminderSent]:
    """The reminder log, newest first: to whom, by which channel, how it went (audited as a
    list of patients' data)."""
    actor.require(Perm.REMINDERS_MANAGE)
    # Appointment reminders and maintenance-recall reminders, in one log.
    qs = ReminderSent.objects.filter(
        Q(appointment__clinic=actor.clinic) | Q(recall__clinic=actor.clinic)
    ).select_related("appointment__patient", "rule", "recall__patient")
    if status:
        qs = qs.filter(status=status)
    if channel:
        qs = qs.filter(channel=channel)
    note_list(actor, what="Reminders sent")  # audited (anagen/audit/reads.py)
    return qs.order_by("-sent_at", "-id")


def reminder_preview_facts(actor: Actor) -> MessageFacts:
    """A made-up appointment for the template preview (no real patient): next weekday at
    10:00 in clinic time, with one of the clinic's practitioners."""
    actor.require(Perm.REMINDERS_MANAGE)
    day = actor.today() + dt.timedelta(days=1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    practitioner = (
        Resource.objects.filter(clinic=actor.clinic, kind=ResourceKind.PRACTITIONER, is_active=True)
        .values_list("name", flat=True)
        .first()
    )
    return MessageFacts(
        patient_first_name="Alex",
        clinic_name=actor.clinic.name,
        starts_at=dt.datetime.combine(day, dt.time(10, 0), tzinfo=actor.tz),
        tz=actor.tz,
        practitioner=practitioner or "Dr Sample",
        procedure="PRP scalp session",
    )


def plan_search(
    *, actor: Actor, patient: Patient | None = None, status: str | None = None
) -> QuerySet[TreatmentPlan]:
    """Plans for the API list, newest first. Their appointments: ``plan_appointment_values``
    for a page of them (one query, plain values: no model instance per appointment)."""
    qs = plans_for(actor)
    note_list(actor, what="Treatment plans")  # audited (anagen/audit/reads.py)
    if patient is not None:
        qs = qs.filter(patient=patient)
    if status:
        qs = qs.filter(status=status)
    # The API's plan carries ids only: no joined rows (fewer joins to plan, issue 15).
    return qs.select_related(None).order_by("-created_at", "-id")


class _InstantText(Func):
    """An instant as the API writes it (DjangoJSONEncoder: ISO 8601 in UTC, the milliseconds
    when there is a fraction, "Z"), written by PostgreSQL: reading the text costs a tenth of
    reading a timestamptz and writing it in Python (issue 15)."""

    output_field = CharField()
    template = (
        "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN"
        " mod(extract(microseconds FROM %(expressions)s)::bigint, 1000000) = 0 THEN '' ELSE '.'"
        " || lpad((mod(extract(microseconds FROM %(expressions)s)::bigint, 1000000) / 1000)::text,"
        " 3, '0') END || 'Z'"
    )

    def as_sql(self, compiler: Any, connection: Any, *args: Any, **extra: Any) -> Any:
        # The instant is named three times: its parameters (if any) three times too.
        sql, params = compiler.compile(self.get_source_expressions()[0])
        return self.template % {"expressions": sql}, (*params, *params, *params)


def plan_appointment_values(
    plan_ids: list[int], fields: tuple[str, ...], instants: tuple[str, ...] = ()
) -> list[tuple[Any, ...]]:
    """``fields`` of the appointments of these plans (ids from ``plan_search``: the actor's
    clinic), by plan, then in sequence (issue 15: the API list's rows, no history decoded).
    On PostgreSQL the ``instants`` come as the API's text already; elsewhere as datetimes."""
    if not plan_ids:
        return []
    qs = Appointment.objects.filter(plan_id__in=plan_ids).order_by("plan_id", "sequence", "id")
    if not (instants and connection.vendor == "postgresql"):
        return list(qs.values_list(*fields))
    # PostgreSQL: plain values (no converters), the SQL compiled once per number of plans.
    key = (id(connection), len(plan_ids), fields, instants)
    sql = _PLAN_APPOINTMENTS_SQL.get(key)
    if sql is None:
        texts = {name: f"api_{name}_text" for name in instants}
        qs = qs.annotate(**{text: _InstantText(name) for name, text in texts.items()})
        fields = tuple(texts.get(name, name) for name in fields)
        sql, params = qs.values_list(*fields).query.sql_with_params()
        if list(params) != list(plan_ids):  # (the ids are the query's only parameters)
            return list(qs.values_list(*fields))
        if len(_PLAN_APPOINTMENTS_SQL) > 256:
            _PLAN_APPOINTMENTS_SQL.clear()
        _PLAN_APPOINTMENTS_SQL[key] = sql
    with connection.cursor() as cursor:
        cursor.execute(sql, list(plan_ids))
        return cursor.fetchall()


_PLAN_APPOINTMENTS_SQL: dict[tuple[Any, ...], str] = {}


def appointment_search(
    *,
    actor: Actor,
    patient: Patient | None = None,
    starts_from: dt.datetime | None = None,
    starts_before: dt.datetime | None = None,
    practitioner_id: int | None = None,
    room_id: int | None = None,
    status: str | None = None,
) -> QuerySet[Appointment]:
    """Appointments for the API list, in time order, filtered by what the caller gave."""
    qs = appointments_for(actor)
    note_list(actor, what="Appointments")  # audited (anagen/audit/reads.py)
    if patient is not None:
        qs = qs.filter(patient=patient)
    if starts_from is not None:
        qs = qs.filter(starts_at__gte=starts_from)
    if starts_before is not None:
        qs = qs.filter(starts_at__lt=starts_before)
    if practitioner_id is not None:
        qs = qs.filter(practitioner_id=practitioner_id)
    if room_id is not None:
        qs = qs.filter(room_id=room_id)
    if status:
        qs = qs.filter(status=status)
    # The API's appointment carries ids only: no joined rows (fewer joins to plan, issue 15),
    # and no history (not decoded for every row).
    return qs.select_related(None).defer("history").order_by("starts_at", "id")


# --- Closures, leave and public holidays (the calendar's blocked days) ----------------------


def closures_for(actor: Actor, today: dt.date) -> list[ClinicClosure]:
    """Closures that have not ended yet, soonest first."""
    actor.require(Perm.RESOURCES_MANAGE)
    return list(ClinicClosure.objects.filter(clinic=actor.clinic, ends_on__gte=today)[:200])


def closure_for(actor: Actor, closure_id: object) -> ClinicClosure:
    actor.require(Perm.RESOURCES_MANAGE)
    found = ClinicClosure.objects.filter(clinic=actor.clinic, pk=record_id(closure_id)).first()
    if found is None:
        raise Http404("No such closure.")
    return found


def leave_list(actor: Actor, today: dt.date) -> list[StaffLeave]:
    actor.require(Perm.RESOURCES_MANAGE)
    return list(
        StaffLeave.objects.filter(membership__clinic=actor.clinic, ends_on__gte=today)
        .select_related("membership__user")
        .order_by("starts_on", "id")[:200]
    )


def leave_for(actor: Actor, leave_id: object) -> StaffLeave:
    actor.require(Perm.RESOURCES_MANAGE)
    found = (
        StaffLeave.objects.filter(membership__clinic=actor.clinic, pk=record_id(leave_id))
        .select_related("membership")
        .first()
    )
    if found is None:
        raise Http404("No such leave.")
    return found


def staff_for_leave(actor: Actor) -> QuerySet[Membership]:
    actor.require(Perm.RESOURCES_MANAGE)
    return Membership.objects.filter(clinic=actor.clinic, is_active=True).select_related("user")


def holidays_ahead(actor: Actor, today: dt.date, days: int = 365) -> list[tuple[dt.date, str]]:
    """The clinic's public holidays in the coming year (by its country and region)."""
    from anagen.scheduling.closures import public_holidays

    found = public_holidays(actor.clinic, today, today + dt.timedelta(days=days))
    return sorted(found.items())
