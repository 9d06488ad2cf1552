"""The patient chart's cards and timeline written in Python, byte for byte as their templates.

Through the templates, each of the chart's cards (``*/_chart_panel.html`` and the templates
their inclusion tags render) and each of the timeline's up to fifty rows cost ``{% url %}``
reversals, clinic-time date formats and dozens of variable lookups (issue 15). The functions
below write the same string the templates would (same whitespace, same escaping, same
localisation, ``fast_widgets.template_text`` for every ``{{ }}``).

For a clinical reader, the rows of the sessions, outcomes and packages cards, the latest intake's
head and the allergy / adverse-event banner are read as extra branches of the timeline's single
``UNION ALL`` query (``EXTRA`` below: the same rows, order and limits as the selectors
``panel_sessions``, ``outcomes_summary``, ``patient_packages``, ``intake_latest_head`` and
``patient_alerts``), so the chart costs one query for all of them. The consultation, schedule
and balance cards call their selectors as before. Everything is read afresh on every request:
nothing clinical is cached. The templates and selectors stay the reference:
``anagen/patients/tests/test_chart_fast.py`` compares both on random data for every role.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import replace
from decimal import Decimal
from functools import lru_cache
from typing import Any

from django.template.defaultfilters import date as date_filter
from django.template.defaultfilters import default_if_none
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import template_localtime  # type: ignore[attr-defined]
from django.utils.translation import get_language

from anagen.accounts.access import Actor
from anagen.accounts.permissions import Perm
from anagen.patients.models import Intake, IntakeAllergy, Patient
from anagen.patients.selectors import ALERT_EVENTS_SHOWN, PatientAlerts
from anagen.patients.timeline import (
    Row,
    SqlSource,
    TimelineEntry,
    decimal_of,
    labels,
    timeline_read,
)
from anagen.procedures.timeline import SESSIONS as procedure_sessions
from anagen.web.fast_widgets import template_text as _t
from anagen.web.worklist_html import _day, _human, _Urls, _when

VOLUME_PLACES = 2  # Preparation.injected_volume_ml's decimal places

# The cards' rows read as branches of the timeline's query (anagen/patients/timeline.py):
# the latest few sessions with their preparation's figures (as procedures.selectors
# panel_sessions), and the outcomes summary (as outcomes.selectors outcomes_summary: both
# counts and the latest visit on one row).
EXTRA: dict[str, SqlSource] = {
    "sessions": replace(
        procedure_sessions,
        entries=lambda actor, patient: _no_entries,
        limit=5,  # procedures.templatetags.procedures_tags.PANEL_ROWS
    ),
    "outcomes": SqlSource(
        select={
            "n1": "(SELECT COUNT(*) FROM outcomes_measurementset WHERE patient_id = %s)",
            "n2": "(SELECT COUNT(*) FROM outcomes_photoset WHERE patient_id = %s)",
            "k": "l.id",
            "day": "l.measured_on",
            "t1": "l.visit_label",
            "t2": "l.method",
        },
        tables="(SELECT 1 AS one) o LEFT JOIN (SELECT id, measured_on, visit_label, method"
        " FROM outcomes_measurementset WHERE patient_id = %s"
        " ORDER BY measured_on DESC, id DESC LIMIT 1) l ON 1 = 1",
        order="l.id",
        params=lambda actor, patient: [patient.pk] * 3,
        entries=lambda actor, patient: _no_entries,
        limit=1,
    ),
    # The latest intake version's head (as patients.selectors intake_latest_head).
    "intake": SqlSource(
        select={
            "at": "i.recorded_at",
            "k": "i.id",
            "n1": "i.version",
            "n2": "i.recorded_by_id",
            "t1": "u.first_name",
            "t2": "u.last_name",
            "t3": "u.username",
        },
        tables="patients_intake i LEFT JOIN accounts_user u ON u.id = i.recorded_by_id"
        " WHERE i.patient_id = %s",
        order="i.version DESC",
        params=lambda actor, patient: [patient.pk],
        entries=lambda actor, patient: _no_entries,
        limit=1,
    ),
    # The packages the patient bought (as billing.selectors patient_packages: the newest 20,
    # with the sessions used; frozen_on as ISO text, the only second date).
    "packages": SqlSource(
        select={
            "k": "(SELECT COUNT(*) FROM billing_packageconsumption pc"
            " WHERE pc.package_sale_id = s.id)",
            "n1": "s.sessions_total",
            "n2": "s.sessions_refunded",
            "dec": "s.sessions_transferred",
            "t1": "s.name",
            "t2": "CAST(s.frozen_on AS text)",
            "day": "s.expires_on",
        },
        tables="billing_packagesale s WHERE s.clinic_id = %s AND s.patient_id = %s",
        order="s.sold_on DESC, s.id DESC",
        params=lambda actor, patient: [actor.membership.clinic_id, patient.pk],
        entries=lambda actor, patient: _no_entries,
        when=lambda actor: actor.can(Perm.PACKAGE_STATUS_VIEW),
        limit=20,
    ),
    # The allergy and adverse-event banner (as patients.selectors patient_alerts).
    "events": SqlSource(
        select={
            "at": "onset_at",
            "k": "id",
            "t1": "term",
            "t2": "term_other",
            "n1": "ctcae_grade",
            "n2": "CASE WHEN serious THEN 1 ELSE 0 END",
        },
        tables="procedures_adverseevent WHERE patient_id = %s",
        order="onset_at DESC, id DESC",
        params=lambda actor, patient: [patient.pk],
        entries=lambda actor, patient: _no_entries,
        limit=ALERT_EVENTS_SHOWN + 1,
    ),
    "allergies": SqlSource(
        select={"k": "id", "t1": "substance", "t2": "reaction"},
        tables="patients_intakeallergy WHERE intake_id = (SELECT id FROM patients_intake"
        " WHERE patient_id = %s ORDER BY version DESC LIMIT 1)",
        order="id",
        params=lambda actor, patient: [patient.pk],
        entries=lambda actor, patient: _no_entries,
        limit=1_000_000,  # every allergy of the version
    ),
}


def _no_entries(row: Row) -> TimelineEntry:  # pragma: no cover - extra rows make no entries
    raise NotImplementedError


@lru_cache(maxsize=1)
def _procedure_options() -> str:
    """The start-session select's options (the procedures catalogue: constant)."""
    from anagen.clinical import PROCEDURES

    return "".join(
        f'<option value="{_t(code)}">{_t(value["label"])}</option>'
        for code, value in PROCEDURES.items()
    )


# ``{{ value }}``, ``{{ value|lower }}`` and ``{{ value|pluralize }}``.


def _s(value: Any) -> str:
    """``{{ value }}``, with a plain string escaped directly (``escape`` is ``html.escape``)."""
    return html.escape(value) if type(value) is str else _t(value)


def _lower(value: Any) -> str:
    return _t(str(value).lower())


def _plural(count: Any) -> str:
    try:
        return "" if int(count) == 1 else "s"
    except (TypeError, ValueError):  # pragma: no cover - counts are numbers
        return ""


def timeline_html(entries: list[TimelineEntry]) -> SafeString:
    """patients/_timeline.html for ``entries`` (rendered per request: nothing cached).

    ``{{ e.at|date:'c' }}`` is the instant in the active zone in ISO form (``date`` puts an
    aware instant in the active zone first); ``{{ e.at|when }}`` the clinic-time words."""
    zone = timezone.get_current_timezone()
    zone_name = timezone.get_current_timezone_name()
    language = get_language()
    rows = []
    for e in entries:
        at = e.at
        if isinstance(at, dt.datetime) and at.tzinfo is not None:
            stamp = _s(at.astimezone(zone).isoformat())
            when = _human("when", at, zone_name, language)
        else:  # pragma: no cover - every source gives aware instants
            stamp = _t(date_filter(template_localtime(at), "c"))
            when = _when(at)
        title = _s(e.title)
        link = f'<a href="{_s(e.url)}">{title}</a>' if e.url else title
        detail = f' <span class="muted">— {_s(e.detail)}</span>' if e.detail else ""
        rows.append(
            f'<li class="tl-{_s(e.kind)}"><time datetime="{stamp}">{when}</time> '
            f"{link}{detail}</li>"
        )
    text = '  <ol class="timeline">\n    ' + "".join(rows) + "\n  </ol>"
    return mark_safe(text)  # noqa: S308 - every value above is escaped


class ChartCards:
    """The chart's cards for one request: each method reads its card's data through the
    selector its inclusion tag uses and writes the card (the ``*/_chart_panel.html`` include,
    with its closing newline)."""

    def __init__(self, actor: Actor, patient: Patient, csrf_token: Any = None) -> None:
        self.actor = actor
        self.patient = patient
        self.csrf_token = csrf_token
        self.url = _Urls()
        self.rows: dict[str, list[Row]] = {}

    def read(self) -> list[TimelineEntry]:
        """The timeline, and the rows of the sessions and outcomes cards, the latest intake's
        head and the alert banner, in one query (clinical readers only)."""
        timeline, self.rows = timeline_read(actor=self.actor, patient=self.patient, extra=EXTRA)
        return timeline

    def intake(self) -> Intake | None:
        """The latest intake version without its lines (``intake_latest_head``'s fields the
        chart shows: version, when and by whom; anagen/patients/chart.py reads the rest when
        the version's summary is not rendered yet)."""
        from anagen.accounts.models import User

        rows = self.rows["intake"]
        if not rows:
            return None
        (r,) = rows
        intake = Intake(id=r.k, patient=self.patient, version=r.n1, recorded_at=r.at)
        intake.recorded_by_id = r.n2
        if r.n2 is not None:
            intake.recorded_by = User(id=r.n2, first_name=r.t1, last_name=r.t2, username=r.t3)
        return intake

    def alerts(self) -> PatientAlerts | None:
        """The banner's allergies and adverse events (``patient_alerts``, from ``read``)."""
        from anagen.procedures.models import AdverseEvent

        if not self.actor.can(Perm.CLINICAL_VIEW):
            return None
        events = [
            AdverseEvent(
                id=r.k,
                patient=self.patient,
                term=r.t1,
                term_other=r.t2,
                ctcae_grade=r.n1,
                serious=bool(r.n2),
                onset_at=r.at,
            )
            for r in self.rows["events"]
        ]
        allergies = [
            IntakeAllergy(id=r.k, substance=r.t1, reaction=r.t2) for r in self.rows["allergies"]
        ]
        return PatientAlerts(
            allergies=allergies,
            adverse_events=events[:ALERT_EVENTS_SHOWN],
            more_events=len(events) > ALERT_EVENTS_SHOWN,
        )

    # scheduling/_chart_panel.html -> schedule_card -> scheduling/_chart_card.html
    def schedule(self) -> str:
        from anagen.scheduling import selectors

        actor, patient = self.actor, self.patient
        s = selectors.patient_schedule_card(actor=actor, patient=patient)
        with timezone.override(actor.clinic.timezone):
            return self._schedule(s)

    def _schedule(self, s: Any) -> str:
        actor, url, pk = self.actor, self.url, self.patient.pk
        perms = actor.perms
        out = ['\n<section class="card" aria-labelledby="sched-h" id="schedule-card">\n']
        out.append('  <div class="page-head">\n    <h2 id="sched-h">Plan and appointments</h2>\n')
        out.append('    <div class="actions">\n      ')
        if perms.plan:
            out.append(f'<a class="button" href="{url("plan-new", pk)}">Choose a protocol</a>')
        out.append("\n      ")
        if perms.book:
            out.append(
                f'<a class="button secondary" href="{url("appointment-new", pk)}">'
                "Book appointment</a>"
            )
        out.append(
            f'\n      <a class="button secondary" href="{url("calendar")}">See calendar</a>\n'
            "    </div>\n  </div>\n  "
        )
        plan = s.plan
        if plan:
            out.append(
                f'\n  <p id="current-plan"><a href="{url("plan-detail", plan.pk)}">'
                f"{_t(plan.protocol_name)}</a> — {_lower(plan.get_status_display())}, "
                f"{_t(s.done)} of {_t(s.total)} sessions done</p>\n  "
            )
        else:
            out.append('<p class="empty">No treatment plan yet.</p>')
        out.append("\n  ")
        recall = s.recall
        if recall:
            out.append(
                '<p class="warning" id="recall">Maintenance session due between '
                f"{_day(recall.due_from)} and {_day(recall.due_until)}."
            )
            if perms.book:
                out.append(f' <a href="{url("appointment-new", pk)}">Book it</a>.')
            out.append("</p>")
        out.append("\n  ")
        if s.upcoming:
            out.append(
                '\n  <table class="list" id="upcoming"><thead><tr><th>When</th><th>Visit</th>'
                "<th>Practitioner</th><th>Room</th><th>Status</th></tr></thead>\n  <tbody>"
            )
            for a in s.upcoming:
                visit = _t(a.get_kind_display())
                if a.plan_id:
                    visit += f" {_t(a.sequence)}"
                out.append(
                    f'<tr><td><a href="{url("appointment-detail", a.pk)}">{_when(a.starts_at)}'
                    f"</a></td><td>{visit}</td><td>{_t(_name(a.practitioner))}</td>"
                    f"<td>{_t(_name(a.room))}</td><td>{_t(a.get_status_display())}</td></tr>"
                )
            out.append("</tbody></table>\n  ")
        else:
            out.append('<p class="empty">No upcoming appointments.</p>')
        out.append("\n</section>\n\n\n")
        return "".join(out)

    # billing/_chart_panel.html -> billing_card -> billing/_chart_card.html
    def billing(self) -> str:
        from anagen.billing import selectors
        from anagen.billing.money import format_money

        actor, patient = self.actor, self.patient
        summary = None
        if actor.perms.billing:
            summary = selectors.patient_balance(actor=actor, patient=patient)
        packages = (
            (
                self._packages()
                if "packages" in self.rows
                else selectors.patient_packages(actor=actor, patient=patient)
            )
            if actor.perms.package_status_view
            else []
        )
        if summary is None and not packages:
            return "\n\n"
        out = ['\n<section class="card" aria-labelledby="billing-h" id="billing-card">\n']
        out.append('  <div class="page-head">\n    <h2 id="billing-h">')
        out.append("Account and packages" if summary is not None else "Packages")
        out.append("</h2>\n    ")
        if summary is not None:
            out.append(
                '<div class="actions"><a class="button secondary" '
                f'href="{self.url("billing-patient", patient.pk)}">Open account</a></div>'
            )
        out.append("\n  </div>\n  ")
        if summary is not None:

            def money(amount: Decimal | None) -> str:
                return _t(format_money(amount, summary.currency))

            out.append('\n  <p id="balance">')
            if summary.balance > 0:
                out.append(f"Owes <strong>{money(summary.owed)}</strong>")
            elif summary.balance < 0:
                out.append(f"Credit on account <strong>{money(summary.credit)}</strong>")
            else:
                out.append("Nothing owed")
            out.append(
                f'\n    <span class="muted">— invoiced {money(summary.invoiced)}, '
                f"paid {money(summary.paid)}"
            )
            if summary.credited:
                out.append(f", credited {money(summary.credited)}")
            if summary.refunded:
                out.append(f", refunded {money(summary.refunded)}")
            out.append("</span></p>\n  ")
        out.append("\n  ")
        if packages:
            out.append('\n  <ul id="package-status">')
            for p in packages:
                sale = p.sale
                total = _t(sale.sessions_total)
                out.append(f"<li>{_t(sale.name)}: ")
                if p.frozen:
                    out.append(
                        f"frozen since {_day(sale.frozen_on)} ({_t(p.left)} of {total} "
                        "sessions left)"
                    )
                elif p.expired:
                    out.append(f"expired {_day(sale.expires_on)} ({_t(p.used)} of {total} used)")
                else:
                    out.append(f"<strong>{_t(p.left)} of {total} sessions left</strong>")
                    if sale.sessions_refunded:
                        out.append(f" ({_t(sale.sessions_refunded)} credited)")
                    out.append(f", valid until {_day(sale.expires_on)}")
                out.append("</li>")
            out.append("</ul>\n  ")
        elif summary is not None:
            out.append('<p class="empty">No packages.</p>')
        out.append("\n</section>\n\n\n")
        return "".join(out)

    def _packages(self) -> list[Any]:
        """``patient_packages`` from the rows ``read`` gave (the fields the card shows)."""
        from anagen.billing.models import PackageSale
        from anagen.billing.selectors.ledger import PackageStatus

        today = self.actor.today()
        out = []
        for r in self.rows["packages"]:
            sale = PackageSale(
                name=r.t1,
                sessions_total=r.n1,
                sessions_refunded=r.n2,
                sessions_transferred=int(r.dec),
                expires_on=r.day,
                frozen_on=parse_date(r.t2) if r.t2 else None,
            )
            out.append(PackageStatus(sale=sale, used=r.k, expired=sale.expires_on < today))
        return out

    # care/_chart_panel.html -> care_panel -> care/_panel.html
    def care(self) -> str:
        from anagen.care import selectors
        from anagen.care.templatetags.care_tags import _ALWAYS

        actor, patient, url = self.actor, self.patient, self.url
        pk = patient.pk
        panel = selectors.care_panel(actor=actor, patient=patient)
        out = [
            '<section class="card" aria-labelledby="care-h" id="care-panel">\n'
            '  <h2 id="care-h">Consultation</h2>\n  <dl class="facts">\n'
            '    <dt>Assessment</dt>\n    <dd id="care-assessment">'
        ]
        a = panel.assessment
        if a:
            out.append(
                f'<a href="{url("care-assessment-detail", pk, a.version)}">v{_t(a.version)}</a>'
                f": {_t(a.diagnosis_label)}"
            )
            if a.severity:
                out.append(f", {_t(a.severity)}")
            out.append(" — ")
            out.append(f"signed {_day(a.signed_at)}" if a.is_signed else "draft, not signed")
        else:
            out.append('<span class="empty">None yet.</span>')
        out.append("\n      ")
        if actor.perms.assess:
            out.append(f'· <a href="{url("care-assessment-create", pk)}">New assessment</a>')
        out.append('</dd>\n    <dt>Screening</dt>\n    <dd id="care-screening">')
        s = panel.screening
        if s:
            out.append(
                f'<a href="{url("care-screening-detail", pk, s.pk)}">{_t(s.procedure_label)}: '
                f"{_t(s.effective_decision_label)}</a>"
            )
            if s.is_overridden:
                out.append(" (override)")
            if s.earliest_on:
                out.append(f", earliest {_day(s.earliest_on)}")
            out.append(f' <span class="muted">{_day(s.run_at)}</span>')
        else:
            out.append('<span class="empty">Not screened yet.</span>')
        out.append("\n      ")
        if actor.perms.screen:
            out.append(f'· <a href="{url("care-screening-create", pk)}">Screen</a>')
        out.append('</dd>\n    <dt>Consents</dt>\n    <dd id="care-consents">')
        consents = list(panel.consents)
        last = len(consents) - 1
        for i, c in enumerate(consents):
            if c.status != "none" or c.kind in _ALWAYS:
                out.append(
                    f'<span class="consent-{_t(c.status)}">{_t(c.label)}: '
                    f"{_t(c.status_label)}</span>"
                )
                if i != last:
                    out.append("<br>")
        out.append(
            f'\n      <br><a href="{url("care-consent-list", pk)}">Consents</a></dd>\n'
            "  </dl>\n</section>\n\n"
        )
        return "".join(out)

    # procedures/_chart_panel.html -> procedures_panel -> procedures/_panel.html
    def procedures(self) -> str:
        """The card from the ``PANEL_SESSIONS`` rows read with the timeline (``read``)."""
        from anagen.clinical import PROCEDURES
        from anagen.procedures.models import TreatmentSession

        actor, patient, url = self.actor, self.patient, self.url
        pk = patient.pk
        if not actor.can(Perm.CLINICAL_VIEW):
            return "\n\n"
        sessions = self.rows["sessions"]
        out = [
            '<section class="card" aria-labelledby="proc-h" id="procedures-panel">\n'
            '  <h2 id="proc-h">Treatment sessions</h2>\n  '
        ]
        if sessions:
            status = labels(TreatmentSession, "status")
            out.append('<ul class="timeline">')
            for r in sessions:
                label = str(PROCEDURES.get(r.t1, {}).get("label", r.t1))  # procedure_label
                out.append(
                    f"<li><time>{_day(r.at)}</time>"
                    f'<a href="{url("procedures-session-detail", pk, r.k)}">'
                    f"{_t(label)}</a> — {_lower(status(r.t2))}"
                )
                prepared = bool(r.n1)
                computed = r.j if prepared else None
                fold = _lookup(computed, "fold")
                if prepared and fold and fold is not _MISSING:
                    paw = _lookup(_lookup(computed, "paw"), "code")
                    # A missing key reads as "" (before the filter), a None as the default.
                    paw_text = "" if paw is _MISSING else default_if_none(paw, "PAW not graded")
                    out.append(f" · fold {_t(fold)}× · {_t(paw_text)}")
                volume = decimal_of(r.dec, VOLUME_PLACES) if prepared else None
                if volume:
                    out.append(f" · {_t(volume)} mL")
                out.append("</li>")
            out.append("</ul>")
        else:
            out.append('<p class="empty">No sessions yet.</p>')
        out.append("\n  ")
        if actor.can(Perm.SESSION_PERFORM):
            out.append(
                '<form method="post" action="'
                f'{url("procedures-session-start", pk)}" class="inline">{self._csrf()}\n'
                '    <label for="start-procedure">Start session for</label>\n'
                '    <select name="procedure" id="start-procedure">'
            )
            out.append(_procedure_options())
            out.append(
                '</select>\n    <button type="submit" class="small">Start session</button>\n'
                "  </form>"
            )
        out.append(
            f'\n  <p><a href="{url("procedures-inventory")}">Inventory</a> · '
            f'<a href="{url("procedures-formulations")}">Formulations</a></p>\n</section>\n\n'
        )
        return "".join(out)

    def _csrf(self) -> str:
        """``{% csrf_token %}``."""
        token = self.csrf_token() if callable(self.csrf_token) else self.csrf_token
        if not token or token == "NOTPROVIDED":  # noqa: S105 - Django's marker
            return ""
        return f'<input type="hidden" name="csrfmiddlewaretoken" value="{_t(str(token))}">'

    # outcomes/_chart_panel.html -> outcomes_panel -> outcomes/_panel.html
    def outcomes(self) -> str:
        """The card from the ``OUTCOMES_SUMMARY`` row read with the timeline (``read``)."""
        from anagen.outcomes.models import MeasurementSet

        patient, url = self.patient, self.url
        pk = patient.pk
        (r,) = self.rows["outcomes"]
        sets, photos = r.n1, r.n2
        out = [
            '<section class="card" aria-labelledby="outcomes-h" id="outcomes-panel">\n'
            '  <h2 id="outcomes-h">Outcomes</h2>\n  '
        ]
        if sets:
            visit = labels(MeasurementSet, "visit_label")(r.t1)
            method = labels(MeasurementSet, "method")(r.t2)
            out.append(
                f"\n  <p>{_t(sets)} measurement visit{_plural(sets)}; latest "
                f"{_lower(visit)} on {_day(r.day)} "
                f"({_lower(method)}). {_t(photos)} photo "
                f"set{_plural(photos)}.</p>\n  "
            )
        else:
            out.append('<p class="empty">No measurements yet')
            if photos:
                out.append(f"; {_t(photos)} photo set{_plural(photos)}")
            out.append(".</p>")
        out.append(
            '\n  <p class="actions">\n'
            f'    <a href="{url("outcomes-progress", pk)}">Progress</a>\n'
            f'    <a href="{url("outcomes-measurements", pk)}">Measurements</a>\n'
            f'    <a href="{url("outcomes-photos", pk)}">Photos</a>\n'
            f'    <a href="{url("outcomes-photo-compare", pk)}">Compare</a>\n    '
        )
        if self.actor.can(Perm.OUTCOMES_RECORD):
            out.append(
                f'<a class="button" href="{url("outcomes-measurement-create", pk)}">'
                "Record measurements</a>"
            )
        out.append("\n  </p>\n</section>\n\n")
        return "".join(out)


def _name(resource: Any) -> Any:
    """``{{ a.practitioner.name }}``: nothing when there is no resource."""
    return "" if resource is None else resource.name


_MISSING = object()


def _lookup(value: Any, key: str) -> Any:
    """``value.key`` as a template looks it up in a dict (``_MISSING`` when it is not there)."""
    if isinstance(value, dict):
        return value.get(key, _MISSING)
    return _MISSING
