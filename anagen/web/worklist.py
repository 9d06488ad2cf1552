"""The day's worklist for the active clinic: what each person should do next, section by section.

A selector module (reads only). The home page shows the first ``PREVIEW`` rows of each section
the actor's permissions show (``SECTIONS``), most urgent first, with the section's total; one
query per section plus ONE query for every section's count (each count stops at ``COUNT_CAP``
+ 1 rows, "100+"), so the page's query count and cost do not grow with the clinic (issue 15).
Each section also opens as a full, paginated, searchable list (``section_list``). Dates are the
clinic's.

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

from django.db import connections
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce

from anagen.accounts.access import Actor
from anagen.accounts.permissions import Perm
from anagen.audit.reads import note_list
from anagen.care.models import DECISION_LABELS, Assessment, ScreeningRecord
from anagen.clinical import PROCEDURES
from anagen.clinical.outcomes import RESPONDER_RULES, follow_up_window
from anagen.outcomes.models import LastMeasurement
from anagen.patients.models import Patient
from anagen.patients.normalise import fold_text
from anagen.procedures.models import Lot, SessionStatus, TreatmentSession
from anagen.scheduling.models import Appointment, AppointmentStatus, Recall, RecallStatus

# Rows a section shows on the home page; the rest is one click away ("12 more — see all").
PREVIEW = 8
# Counts stop here: a section with more rows says "100+" (a bounded count, not a scan).
COUNT_CAP = 100
# Rows the list functions below return by default (their callers and tests).
LIMIT = 50
LOT_DAYS = 30
# A screening older than this is run again before a session (the session gate re-screens anyway;
# this list lets the clinical team clear patients the day before rather than at the chair).
SCREENING_FRESH_DAYS = 30


@dataclass(frozen=True)
class Section:
    """One worklist section: who sees it, what it is called, where its full list lives."""

    name: str
    perm: Perm
    title: str
    url_name: str
    empty: str
    patients: bool = True  # rows name patients (the full list is an audited list read)


SECTIONS: dict[str, Section] = {
    s.name: s
    for s in (
        Section(
            "arrivals", Perm.CHECK_IN, "Arrivals to check in", "home-arrivals",
            "Nobody else is expected today.",
        ),
        Section(
            "waiting", Perm.PATIENT_VIEW, "Patients waiting", "home-waiting",
            "Nobody is waiting.",
        ),
        Section(
            "in_progress", Perm.CLINICAL_VIEW, "Sessions in progress", "home-in-progress",
            "No session is being recorded.",
        ),
        Section(
            "to_sign", Perm.SESSION_SIGN, "Session records to sign", "home-to-sign",
            "No session record waits for a signature.",
        ),
        Section(
            "assessments_to_sign", Perm.ASSESSMENT_SIGN, "Assessments to sign",
            "home-assessments-to-sign", "No assessment waits for a signature.",
        ),
        Section(
            "screenings_due", Perm.SCREEN, "Screenings due before the next sessions",
            "home-screenings", "Everyone booked today and tomorrow has a recent screening.",
        ),
        Section(
            "follow_ups", Perm.OUTCOMES_RECORD, "Follow-up measurements overdue",
            "home-follow-ups", "No follow-up measurement is overdue.",
        ),
        Section(
            "recalls", Perm.BOOK, "Maintenance recalls due", "home-recalls",
            "No maintenance recall is due.",
        ),
        Section(
            "lots", Perm.INVENTORY_MANAGE, f"Lots expiring within {LOT_DAYS} days", "home-lots",
            f"No lot expires within {LOT_DAYS} days.", patients=False,
        ),
    )
}  # fmt: skip

SECTION_PERMS: dict[str, Perm] = {name: s.perm for name, s in SECTIONS.items()}

# Sections bounded by the day (today's and tomorrow's visits: a few hundred rows at most) are
# counted exactly in the query of their first rows (COUNT(*) OVER ()); the others, which grow
# with the clinic's backlog, by the one capped count query.
DAY_BOUNDED = frozenset({"arrivals", "waiting", "screenings_due"})


@dataclass
class Shown:
    """The first rows of a section and how many it holds in all (counted up to COUNT_CAP + 1)."""

    section: Section
    rows: list[Any]
    total: int
    exact: bool = False  # counted in full (a day-bounded section), not stopped at the cap

    @property
    def capped(self) -> bool:
        return not self.exact and self.total > COUNT_CAP

    @property
    def total_label(self) -> str:
        return f"{COUNT_CAP}+" if self.capped else str(self.total)

    @property
    def more(self) -> int:
        return max(self.total - len(self.rows), 0)

    @property
    def more_label(self) -> str:
        """'12 more — see all' or 'Over 100 in all — see all'."""
        if self.capped:
            return f"Over {COUNT_CAP} in all — see all"
        return f"{self.more} more — see all"

    def __bool__(self) -> bool:
        return bool(self.rows)

    def __iter__(self) -> Any:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)


@dataclass
class Worklist:
    today: dt.date
    sections: dict[str, Shown] = field(default_factory=dict)

    @property
    def signatures(self) -> int:
        return sum(
            self.sections[n].total for n in ("to_sign", "assessments_to_sign") if n in self.sections
        )

    @property
    def signatures_label(self) -> str:
        parts = [self.sections[n] for n in ("to_sign", "assessments_to_sign") if n in self.sections]
        if any(p.capped for p in parts):
            return f"{COUNT_CAP}+"
        return str(sum(p.total for p in parts))

    @property
    def sign_sessions(self) -> list[Any]:
        return self.sections["to_sign"].rows if "to_sign" in self.sections else []

    @property
    def sign_assessments(self) -> list[Any]:
        shown = self.sections.get("assessments_to_sign")
        return shown.rows if shown else []

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
    ).select_related("patient", "practitioner", "room")


# --- each section as one ordered query ---------------------------------------------------------


def arrivals_qs(actor: Actor, today: dt.date) -> QuerySet[Appointment]:
    lo, hi = _day_bounds(actor, today)
    qs = _appointments(actor).filter(
        status=AppointmentStatus.BOOKED, starts_at__gte=lo, starts_at__lt=hi
    )
    return qs.order_by("starts_at", "id")  # type: ignore[no-any-return]


def waiting_qs(actor: Actor, today: dt.date) -> QuerySet[Appointment]:
    """Checked in today and no session record started yet."""
    lo, hi = _day_bounds(actor, today)
    started = TreatmentSession.objects.filter(appointment=OuterRef("pk"))
    qs = (
        _appointments(actor)
        .filter(status=AppointmentStatus.CHECKED_IN, starts_at__gte=lo, starts_at__lt=hi)
        .filter(~Exists(started))
    )
    return qs.order_by("starts_at", "id")  # type: ignore[no-any-return]


def _sessions_qs(actor: Actor, status: str) -> QuerySet[TreatmentSession]:
    # The index session_by_status (clinic, status, started_at, id) answers it in order.
    return (
        TreatmentSession.objects.filter(
            clinic=actor.clinic, status=status, patient__deleted_at__isnull=True
        )
        .select_related("patient", "started_by", "appointment")
        .order_by("started_at", "id")
    )


def in_progress_qs(actor: Actor, today: dt.date) -> QuerySet[TreatmentSession]:
    return _sessions_qs(actor, SessionStatus.IN_PROGRESS)


def to_sign_qs(actor: Actor, today: dt.date) -> QuerySet[TreatmentSession]:
    return _sessions_qs(actor, SessionStatus.READY_TO_SIGN)


def assessments_to_sign_qs(actor: Actor, today: dt.date) -> QuerySet[Assessment]:
    return (
        Assessment.objects.filter(
            patient__clinic=actor.clinic,
            patient__deleted_at__isnull=True,
            signed_at__isnull=True,
        )
        .select_related("patient", "created_by")
        .order_by("visit_on", "id")
    )


def screenings_due_qs(actor: Actor, today: dt.date) -> QuerySet[Appointment]:
    """Procedure visits today and tomorrow, not started, whose patient's latest screening for
    that procedure in the last SCREENING_FRESH_DAYS days is missing or not (effectively)
    eligible. One query: the latest screening is probed per visit through the index on
    (patient, procedure, run_at); ``screen_decision`` is its effective decision (an accepted
    override of a review reads as eligible), "" when there is none."""
    lo, hi = _day_bounds(actor, today, days=2)
    since = today - dt.timedelta(days=SCREENING_FRESH_DAYS)
    started = TreatmentSession.objects.filter(appointment=OuterRef("pk"))
    latest = (
        ScreeningRecord.objects.filter(
            patient=OuterRef("patient_id"), procedure=OuterRef("procedure"), planned_on__gte=since
        )
        .order_by("-run_at", "-id")
        .annotate(
            effective=Case(
                When(override_at__isnull=False, decision="review", then=Value("eligible")),
                default=F("decision"),
            )
        )
        .values("effective")[:1]
    )
    qs = (
        _appointments(actor)
        .filter(
            status__in=(AppointmentStatus.BOOKED, AppointmentStatus.CHECKED_IN),
            starts_at__gte=lo,
            starts_at__lt=hi,
            procedure__in=list(PROCEDURES),
        )
        .filter(~Exists(started))
        .annotate(screen_decision=Coalesce(Subquery(latest), Value("")))
        .exclude(screen_decision="eligible")
    )
    return qs.order_by("starts_at", "id")  # type: ignore[no-any-return]


def _follow_up_months() -> int:
    """The shortest follow-up interval the clinic's outcome rules judge response at."""
    months = [follow_up_window(rule_id).months for rule_id in RESPONDER_RULES]
    return min(months) if months else 3


def _add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return dt.date(year, month, min(day.day, 28))


def follow_ups_qs(actor: Actor, today: dt.date) -> QuerySet[LastMeasurement]:
    """Patients treated (a signed session) since their last measurement, which is older than the
    follow-up interval: their follow-up measurement is overdue.

    Reads each patient's kept latest measurement date (``LastMeasurement``, index on clinic and
    date) oldest first, and probes the patient's signed sessions after it: an index walk that
    stops at the rows asked for, not a pass over every patient of the clinic (issue 15)."""
    cutoff = _add_months(today, -_follow_up_months())
    treated_after = TreatmentSession.objects.filter(
        patient=OuterRef("patient_id"),
        status=SessionStatus.SIGNED,
        started_at__date__gt=OuterRef("measured_on"),
    )
    return (
        LastMeasurement.objects.filter(
            clinic=actor.clinic, measured_on__lte=cutoff, patient__deleted_at__isnull=True
        )
        .filter(Exists(treated_after))
        .select_related("patient")
        .order_by("measured_on", "patient_id")
    )


def recalls_qs(actor: Actor, today: dt.date) -> QuerySet[Recall]:
    return (
        Recall.objects.filter(
            clinic=actor.clinic,
            status=RecallStatus.OPEN,
            due_from__lte=today,
            patient__deleted_at__isnull=True,
        )
        .select_related("patient", "plan")
        .order_by("due_until", "id")
    )


def lots_qs(actor: Actor, today: dt.date) -> QuerySet[Lot]:
    return (
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


QUERIES: dict[str, Callable[[Actor, dt.date], QuerySet[Any]]] = {
    "arrivals": arrivals_qs,
    "waiting": waiting_qs,
    "in_progress": in_progress_qs,
    "to_sign": to_sign_qs,
    "assessments_to_sign": assessments_to_sign_qs,
    "screenings_due": screenings_due_qs,
    "follow_ups": follow_ups_qs,
    "recalls": recalls_qs,
    "lots": lots_qs,
}


def _decision_label(code: str) -> str:
    return DECISION_LABELS.get(code, code.replace("_", " ").capitalize())


def present(name: str, rows: list[Any]) -> list[Any]:
    """Rows as the templates show them (screenings with their reason, follow-ups with the date
    they fell due); the other sections' rows are the model objects themselves."""
    if name == "screenings_due":
        return [
            ScreeningDue(
                a,
                "No screening in the last 30 days"
                if not a.screen_decision
                else f"Last screening: {_decision_label(a.screen_decision)}",
            )
            for a in rows
        ]
    if name == "follow_ups":
        months = _follow_up_months()
        return [
            FollowUpDue(r.patient, r.measured_on, _add_months(r.measured_on, months)) for r in rows
        ]
    return rows


# --- the list functions (the first rows of a section) ------------------------------------------


def _first(name: str, actor: Actor, today: dt.date, limit: int) -> list[Any]:
    return present(name, list(QUERIES[name](actor, today)[:limit]))


def arrivals(actor: Actor, today: dt.date, limit: int = LIMIT) -> list[Appointment]:
    return _first("arrivals", actor, today, limit)


def waiting(actor: Actor, today: dt.date, limit: int = LIMIT) -> list[Appointment]:
    return _first("waiting", actor, today, limit)


def in_progress(actor: Actor, limit: int = LIMIT) -> list[TreatmentSession]:
    return _first("in_progress", actor, actor.today(), limit)


def to_sign(actor: Actor, limit: int = LIMIT) -> list[TreatmentSession]:
    return _first("to_sign", actor, actor.today(), limit)


def assessments_to_sign(actor: Actor, limit: int = LIMIT) -> list[Assessment]:
    return _first("assessments_to_sign", actor, actor.today(), limit)


def screenings_due(actor: Actor, today: dt.date, limit: int = LIMIT) -> list[ScreeningDue]:
    return _first("screenings_due", actor, today, limit)


def follow_ups(actor: Actor, today: dt.date, limit: int = LIMIT) -> list[FollowUpDue]:
    return _first("follow_ups", actor, today, limit)


def recalls(actor: Actor, today: dt.date, limit: int = LIMIT) -> list[Recall]:
    return _first("recalls", actor, today, limit)


def lots(actor: Actor, today: dt.date, limit: int = LIMIT) -> list[Lot]:
    return _first("lots", actor, today, limit)


# --- counts, the home page and the full lists ---------------------------------------------------


def capped_counts(querysets: dict[str, QuerySet[Any]], cap: int | None = None) -> dict[str, int]:
    """Each queryset's row count, counted no further than ``cap`` + 1, all in ONE query
    (``SELECT (SELECT COUNT(*) FROM (… LIMIT cap+1)), …``): each count is an index walk that
    stops early, and the page pays one round trip for every section together."""
    if not querysets:
        return {}
    cap = COUNT_CAP if cap is None else cap
    parts: list[str] = []
    params: list[Any] = []
    alias = None
    for i, qs in enumerate(querysets.values()):
        alias = qs.db
        # Ordered as the section: the planner walks the same index as for its first rows.
        sub = qs.values("pk")[: cap + 1]
        sql, sub_params = sub.query.get_compiler(using=qs.db).as_sql()
        # The SQL is Django's own compilation of our querysets; every value stays a parameter.
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) wl_count_{i})")  # noqa: S608
        params.extend(sub_params)
    with connections[alias or "default"].cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts), params)
        row = cursor.fetchone()
    return {name: int(n) for name, n in zip(querysets, row, strict=True)}


def worklist_for(actor: Actor, preview: int = PREVIEW) -> Worklist:
    """The sections the actor may see: the first ``preview`` rows of each (one query a section,
    which also counts a day-bounded section) and the other sections' capped counts (one query
    for all of them, always run, so the query count never depends on the rows)."""
    actor.require(Perm.PATIENT_VIEW)
    today = actor.today()
    querysets = {
        name: QUERIES[name](actor, today) for name, s in SECTIONS.items() if actor.can(s.perm)
    }
    rows: dict[str, list[Any]] = {}
    totals: dict[str, int] = {}
    for name, qs in querysets.items():
        if name in DAY_BOUNDED:
            found = list(qs.annotate(wl_total=Window(Count("*")))[:preview])
            totals[name] = found[0].wl_total if found else 0
        else:
            found = list(qs[:preview])
        rows[name] = present(name, found)
    totals.update(capped_counts({n: qs for n, qs in querysets.items() if n not in DAY_BOUNDED}))
    wl = Worklist(today=today)
    for name in querysets:
        wl.sections[name] = Shown(SECTIONS[name], rows[name], totals[name], name in DAY_BOUNDED)
    return wl


def _matching_patients(actor: Actor, query: str) -> QuerySet[Patient]:
    """The clinic's patients whose name holds every word of the query (any order, accents and
    case ignored; the trigram index on PostgreSQL), or whose record number is the query."""
    record = query.replace(" ", "")
    names = Q()
    for word in fold_text(query).split():
        names &= Q(search_name__contains=word)
    found = Patient.objects.filter(clinic=actor.clinic).filter(
        names | Q(record_number__in={record, record.upper()})
    )
    return found.values("pk")  # type: ignore[return-value]


def section_list(actor: Actor, name: str, query: str = "") -> QuerySet[Any]:
    """A section in full (for a paginated list page), optionally searched: by patient name or
    record number, or for lots by product name or lot number. Reading it is an audited list
    read when it names patients. ``present`` turns a page of it into rows for the templates."""
    section = SECTIONS[name]
    actor.require(section.perm)
    query = query.strip()
    qs = QUERIES[name](actor, actor.today())
    if section.patients:
        note_list(actor, what=section.title, query=query)  # audited (anagen/audit/reads.py)
    if not query:
        return qs
    if name == "lots":
        return qs.filter(
            Q(product__name__icontains=query) | Q(lot_number__iexact=query.replace(" ", ""))
        )
    return qs.filter(patient_id__in=_matching_patients(actor, query))
