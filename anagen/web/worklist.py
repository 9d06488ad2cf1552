"""The day's worklist for the active clinic: what each person should do next, section by section.

A selector module (reads only). The home page shows the first ``PREVIEW`` rows of each section
the actor's permissions show (``SECTIONS``), most urgent first, with the section's total: ONE
query per section gives both (a day-bounded section is counted in full with its rows, the others
up to ``COUNT_CAP`` + 1, "100+": ``_Compiled.first_rows_counted``), reading only the columns
the cards show (``HOME_SHAPES``); the queries are compiled once per clinic, day and set of
sections and read afresh on every request (``_plan``), so the page's query count and cost do
not grow with the clinic (issue 15). Each section also opens as a full, paginated, searchable
list (``section_list``: the section's queryset in ``QUERIES``). Dates are the clinic's.

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
import threading
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
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.accounts.permissions import Perm
from anagen.audit.reads import note_list
from anagen.care.models import DECISION_LABELS, Assessment, ScreeningRecord
from anagen.clinical import PROCEDURES
from anagen.clinical.outcomes import RESPONDER_RULES, follow_up_window
from anagen.compiled_query import CompiledQuery
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


class _Compiled(CompiledQuery):
    """One query compiled by Django once and run again as often as asked: the SQL, its
    parameters and how its rows become model instances (what ``ModelIterable`` does, with the
    compilation kept). Compiling the home page's ten querysets cost more than running them."""

    def __init__(self, qs: QuerySet[Any]):
        super().__init__(qs)
        self.counted = False
        self.cap = 0

    @classmethod
    def first_rows_counted(cls, qs: QuerySet[Any], rows: int, cap: int) -> _Compiled:
        """The first ``rows`` rows of ``qs`` (ordered by fields of its model) and how many it
        holds up to ``cap`` + 1, in one query: the first ``cap`` + 1 rows in the section's
        order (the index walk that stops early), counted and ordered again by the same columns
        (by position: the joined tables repeat column names), then the first ``rows``.
        ``rows()`` answers the count with the rows."""
        compiled = cls(qs[: max(cap + 1, rows)])
        compiled.cap = cap
        if not compiled.sql:
            return compiled
        model = qs.model
        start = compiled.slice[0]
        positions = []
        for name in qs.query.order_by:
            if not isinstance(name, str) or name.startswith(("-", "?")) or "__" in name:
                raise ValueError(f"cannot order the counted rows by {name!r}")
            attname = (
                model._meta.pk.attname if name == "pk" else model._meta.get_field(name).attname
            )
            positions.append(str(start + compiled.init.index(attname) + 1))
        compiled.sql = (
            f"SELECT wl_first.*, COUNT(*) OVER () FROM ({compiled.sql}) wl_first "  # noqa: S608
            f"ORDER BY {', '.join(positions)} LIMIT {int(rows)}"
        )
        compiled.counted = True
        return compiled

    def rows(self) -> tuple[list[Any], int]:
        """The rows as model instances (select_related objects and annotations set) and, for
        ``first_rows_counted``, the count (else 0)."""
        if not self.sql:
            return [], 0
        fetched = self.fetch(self.params)
        if not fetched:
            return [], 0
        total = 0
        if self.counted:  # the count closes each row
            total = min(int(fetched[0][-1]), self.cap + 1)
            fetched = [r[:-1] for r in fetched]
        return self.instances(fetched), total


_NAMES = ("patient__given_name", "patient__family_name")
_VISIT = ("kind", "procedure", "starts_at", "practitioner__name", "room__name")

# What the home page's cards show of each section (web/rows/*.html): the first rows are read
# with these columns only (and their joins), not every column of every joined table. Reading a
# column not listed would cost a query per row: the query-count tests fill every section.
HOME_SHAPES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # name: (select_related, only)
    "arrivals": (
        ("patient", "practitioner", "room"),
        (*_NAMES, "patient__record_number", *_VISIT),
    ),
    "waiting": (("patient", "practitioner", "room"), (*_NAMES, *_VISIT)),
    "in_progress": (
        ("patient", "started_by"),
        (
            *_NAMES,
            "procedure",
            "started_at",
            "started_by__first_name",
            "started_by__last_name",
            "started_by__username",
        ),
    ),
    "to_sign": (("patient",), (*_NAMES, "procedure", "started_at")),
    "assessments_to_sign": (("patient",), (*_NAMES, "version", "visit_on")),
    "screenings_due": (("patient",), (*_NAMES, "procedure", "starts_at")),
    "follow_ups": (("patient",), (*_NAMES, "measured_on")),
    "recalls": (
        ("patient", "plan"),
        (*_NAMES, "due_from", "due_until", "plan__protocol_name", "plan__procedure"),
    ),
    "lots": (("product",), ("product__name", "lot_number", "expires_on")),
}


def _home_shape(name: str, qs: QuerySet[Any]) -> QuerySet[Any]:
    related, columns = HOME_SHAPES[name]
    return qs.select_related(None).select_related(*related).only(*columns)


@dataclass
class _HomePlan:
    """The home page's queries for one clinic, day, time zone and set of sections, compiled."""

    names: tuple[str, ...]
    first: dict[str, _Compiled]


# Compiled plans, per thread (a compiler belongs to its thread's connection), few and small:
# the SQL depends only on the key below (every value in it is a parameter of the key), so a
# plan is never stale; the rows are read afresh on every request.
_plans = threading.local()
_PLANS_KEPT = 64


def _plan(actor: Actor, today: dt.date, names: tuple[str, ...], preview: int) -> _HomePlan:
    alias = Appointment.objects.db
    connection = connections[alias]
    key = (
        alias,
        id(connection),
        actor.clinic.pk,
        str(actor.tz),
        timezone.get_current_timezone_name(),
        today,
        names,
        preview,
        COUNT_CAP,
    )
    cache: dict[Any, _HomePlan] | None = getattr(_plans, "cache", None)
    if cache is None:
        cache = _plans.cache = {}
    plan = cache.get(key)
    if plan is not None:
        return plan
    first: dict[str, _Compiled] = {}
    for name in names:
        qs = _home_shape(name, QUERIES[name](actor, today))
        if name in DAY_BOUNDED:  # counted in full: a day's visits are a few hundred at most
            first[name] = _Compiled(qs.annotate(wl_total=Window(Count("*")))[:preview])
        else:
            first[name] = _Compiled.first_rows_counted(qs, preview, COUNT_CAP)
    plan = _HomePlan(names, first)
    if len(cache) >= _PLANS_KEPT:
        cache.clear()
    cache[key] = plan
    return plan


def worklist_for(actor: Actor, preview: int = PREVIEW) -> Worklist:
    """The sections the actor may see: the first ``preview`` rows of each and how many it holds
    (a day-bounded section counted in full, the others up to ``COUNT_CAP`` + 1), one query a
    section whatever the rows, so the query count never depends on them. The queries are
    compiled once per clinic, day and set of sections (``_plan``) and read afresh."""
    actor.require(Perm.PATIENT_VIEW)
    today = actor.today()
    names = tuple(name for name, s in SECTIONS.items() if actor.can(s.perm))
    plan = _plan(actor, today, names, preview)
    wl = Worklist(today=today)
    for name in names:
        found, counted = plan.first[name].rows()
        # A day-bounded section's count comes with each row (COUNT(*) OVER ()), the others'
        # with the query (``first_rows_counted``).
        total = (found[0].wl_total if found else 0) if name in DAY_BOUNDED else counted
        wl.sections[name] = Shown(SECTIONS[name], present(name, found), total, name in DAY_BOUNDED)
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
