"""The day's worklist for the active clinic: what each person should do next, section by section.

A selector module (reads only). Each section is one flat query (with its joins), bounded by
``LIMIT`` rows, so the page's query count does not grow with the number of rows; a section is
only read when the actor's permissions show it (``SECTION_PERMS``). Dates are the clinic's.

Sections:
- arrivals: today's booked appointments not yet checked in (check in);
- waiting: checked-in appointments whose session record has not started (start it / open);
- in progress: session records being written (open);
- to sign: session records ready for a physician's signature and draft assessments (sign);
- screenings due: procedure visits today and tomorrow whose patient has no recent eligible
  screening for that procedure (screen);
- follow-ups: patients treated since their last measurement, which is older than the follow-up
  interval of the outcome rules (record measurements);
- recalls: open maintenance recalls whose window has opened (book);
- lots: lots with stock left expiring within ``LOT_DAYS`` days (inventory).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Exists, F, OuterRef, Q

from anagen.accounts.access import Actor
from anagen.accounts.permissions import Perm
from anagen.care.models import Assessment, ScreeningRecord
from anagen.clinical import PROCEDURES
from anagen.clinical.outcomes import RESPONDER_RULES, follow_up_window
from anagen.outcomes.models import LastMeasurement
from anagen.patients.models import Patient
from anagen.procedures.models import Lot, SessionStatus, TreatmentSession
from anagen.scheduling.models import Appointment, AppointmentStatus, Recall, RecallStatus

LIMIT = 50
LOT_DAYS = 30
# A screening older than this is run again before a session (the session gate re-screens anyway;
# this list lets the clinical team clear patients the day before rather than at the chair).
SCREENING_FRESH_DAYS = 30

SECTION_PERMS: dict[str, Perm] = {
    "arrivals": Perm.CHECK_IN,
    "waiting": Perm.PATIENT_VIEW,
    "in_progress": Perm.CLINICAL_VIEW,
    "to_sign": Perm.SESSION_SIGN,
    "assessments_to_sign": Perm.ASSESSMENT_SIGN,
    "screenings_due": Perm.SCREEN,
    "follow_ups": Perm.OUTCOMES_RECORD,
    "recalls": Perm.BOOK,
    "lots": Perm.INVENTORY_MANAGE,
}


@dataclass
class Worklist:
    today: dt.date
    sections: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def signatures(self) -> int:
        return len(self.sections.get("to_sign", [])) + len(
            self.sections.get("assessments_to_sign", [])
        )

    @property
    def is_empty(self) -> bool:
        return not any(self.sections.values())


@dataclass(frozen=True)
class ScreeningDue:
    appointment: Appointment
    reason: str

    @property
    def procedure_label(self) -> str:
        return self.appointment.procedure_label


@dataclass(frozen=True)
class FollowUpDue:
    patient: Patient
    last_measured_on: dt.date
    due_on: dt.date


def _day_bounds(actor: Actor, day: dt.date, days: int = 1) -> tuple[dt.datetime, dt.datetime]:
    lo = dt.datetime.combine(day, dt.time(0), tzinfo=actor.tz)
    return lo, dt.datetime.combine(day + dt.timedelta(days=days), dt.time(0), tzinfo=actor.tz)


def _appointments(actor: Actor) -> Any:
    return Appointment.objects.filter(
        clinic=actor.clinic, patient__deleted_at__isnull=True
    ).select_related("patient", "practitioner", "room", "clinic")


def arrivals(actor: Actor, today: dt.date) -> list[Appointment]:
    lo, hi = _day_bounds(actor, today)
    qs = _appointments(actor).filter(
        status=AppointmentStatus.BOOKED, starts_at__gte=lo, starts_at__lt=hi
    )
    return list(qs.order_by("starts_at", "id")[:LIMIT])


def waiting(actor: Actor, today: dt.date) -> list[Appointment]:
    """Checked in today and no session record started yet."""
    lo, hi = _day_bounds(actor, today)
    started = TreatmentSession.objects.filter(appointment=OuterRef("pk"))
    qs = (
        _appointments(actor)
        .filter(status=AppointmentStatus.CHECKED_IN, starts_at__gte=lo, starts_at__lt=hi)
        .filter(~Exists(started))
    )
    return list(qs.order_by("starts_at", "id")[:LIMIT])


def _sessions(actor: Actor, status: str) -> list[TreatmentSession]:
    qs = (
        TreatmentSession.objects.filter(
            clinic=actor.clinic, status=status, patient__deleted_at__isnull=True
        )
        .select_related("patient", "started_by", "appointment")
        .order_by("started_at", "id")
    )
    return list(qs[:LIMIT])


def in_progress(actor: Actor) -> list[TreatmentSession]:
    return _sessions(actor, SessionStatus.IN_PROGRESS)


def to_sign(actor: Actor) -> list[TreatmentSession]:
    return _sessions(actor, SessionStatus.READY_TO_SIGN)


def assessments_to_sign(actor: Actor) -> list[Assessment]:
    qs = (
        Assessment.objects.filter(
            patient__clinic=actor.clinic,
            patient__deleted_at__isnull=True,
            signed_at__isnull=True,
        )
        .select_related("patient", "created_by")
        .order_by("visit_on", "id")
    )
    return list(qs[:LIMIT])


def screenings_due(actor: Actor, today: dt.date) -> list[ScreeningDue]:
    """Procedure visits today and tomorrow whose patient needs screening first (two queries)."""
    lo, hi = _day_bounds(actor, today, days=2)
    started = TreatmentSession.objects.filter(appointment=OuterRef("pk"))
    appts = list(
        _appointments(actor)
        .filter(
            status__in=(AppointmentStatus.BOOKED, AppointmentStatus.CHECKED_IN),
            starts_at__gte=lo,
            starts_at__lt=hi,
            procedure__in=list(PROCEDURES),
        )
        .filter(~Exists(started))
        .order_by("starts_at", "id")[: LIMIT * 4]
    )
    if not appts:
        return []
    since = today - dt.timedelta(days=SCREENING_FRESH_DAYS)
    latest: dict[tuple[int, str], ScreeningRecord] = {}
    for record in ScreeningRecord.objects.filter(
        patient_id__in={a.patient_id for a in appts},
        procedure__in={a.procedure for a in appts},
        planned_on__gte=since,
    ).order_by("run_at", "id"):
        latest[(record.patient_id, record.procedure)] = record
    out = []
    for a in appts:
        rec = latest.get((a.patient_id, a.procedure))
        if rec is None:
            out.append(ScreeningDue(a, "No screening in the last 30 days"))
        elif rec.effective_decision != "eligible":
            out.append(ScreeningDue(a, f"Last screening: {rec.effective_decision_label}"))
        if len(out) >= LIMIT:
            break
    return out


def _follow_up_months() -> int:
    """The shortest follow-up interval the clinic's outcome rules judge response at."""
    months = [follow_up_window(rule_id).months for rule_id in RESPONDER_RULES]
    return min(months) if months else 3


def _add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return dt.date(year, month, min(day.day, 28))


def follow_ups(actor: Actor, today: dt.date) -> list[FollowUpDue]:
    """Patients treated (a signed session) since their last measurement, which is older than the
    follow-up interval: their follow-up measurement is overdue. One query.

    Reads each patient's kept latest measurement date (``LastMeasurement``, index on clinic and
    date) oldest first, and probes the patient's signed sessions after it: an index walk that
    stops at ``LIMIT`` rows, not a pass over every patient of the clinic (issue 15)."""
    months = _follow_up_months()
    cutoff = _add_months(today, -months)
    treated_after = TreatmentSession.objects.filter(
        patient=OuterRef("patient_id"),
        status=SessionStatus.SIGNED,
        started_at__date__gt=OuterRef("measured_on"),
    )
    qs = (
        LastMeasurement.objects.filter(
            clinic=actor.clinic, measured_on__lte=cutoff, patient__deleted_at__isnull=True
        )
        .filter(Exists(treated_after))
        .select_related("patient")
        .order_by("measured_on", "patient_id")
    )
    return [
        FollowUpDue(row.patient, row.measured_on, _add_months(row.measured_on, months))
        for row in qs[:LIMIT]
    ]


def recalls(actor: Actor, today: dt.date) -> list[Recall]:
    qs = (
        Recall.objects.filter(
            clinic=actor.clinic,
            status=RecallStatus.OPEN,
            due_from__lte=today,
            patient__deleted_at__isnull=True,
        )
        .select_related("patient", "plan")
        .order_by("due_until", "id")
    )
    return list(qs[:LIMIT])


def lots(actor: Actor, today: dt.date) -> list[Lot]:
    qs = (
        Lot.objects.filter(
            product__clinic=actor.clinic,
            product__is_active=True,
            recalled_at__isnull=True,
            expires_on__lte=today + dt.timedelta(days=LOT_DAYS),
        )
        .select_related("product")
        .annotate(left=F("quantity") - F("used"))  # the kept stock level (issue 15)
        .filter(Q(left__gt=0))
        .order_by("expires_on", "id")
    )
    return list(qs[:LIMIT])


def worklist_for(actor: Actor) -> Worklist:
    """The sections the actor may see, each read in one or two queries."""
    actor.require(Perm.PATIENT_VIEW)
    today = actor.today()
    readers: dict[str, Callable[[], list[Any]]] = {
        "arrivals": lambda: arrivals(actor, today),
        "waiting": lambda: waiting(actor, today),
        "in_progress": lambda: in_progress(actor),
        "to_sign": lambda: to_sign(actor),
        "assessments_to_sign": lambda: assessments_to_sign(actor),
        "screenings_due": lambda: screenings_due(actor, today),
        "follow_ups": lambda: follow_ups(actor, today),
        "recalls": lambda: recalls(actor, today),
        "lots": lambda: lots(actor, today),
    }
    wl = Worklist(today=today)
    for name, perm in SECTION_PERMS.items():
        if actor.can(perm):
            wl.sections[name] = readers[name]()
    return wl
