"""The home page's worklist rows written in Python, byte for byte as ``web/rows/*.html``.

The home page shows up to eight rows in each of nine sections; through the templates each row
costs a few ``{% url %}`` reversals, clinic-time date formats and a dozen variable lookups, which
made the rows the larger part of the page's rendering (issue 15). ``rows_html`` writes the same
string the row template would (same whitespace, same escaping, same localisation, through
``fast_widgets.template_text``): the URLs are reversed once per page with a stand-in number and
filled in, and the clinic-time words come from the same ``human_*`` functions, kept per value,
zone and language. The templates stay the reference, and the full list pages
(``/today/<section>/``) still render them: ``anagen/web/tests/test_home_fast.py`` renders
both on varied rows and requires the same bytes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

from anagen.accounts.clinic_time import human_date, human_datetime, human_time
from anagen.web.fast_widgets import template_text as _t

# Stand-in numbers for the path arguments (reverse once, then fill in each row's numbers).
_A, _B = 9081726354, 9081726355


class _Urls:
    """URL patterns reversed once per page: ``url(name, *ids)`` == escaped ``reverse``."""

    def __init__(self) -> None:
        self._parts: dict[str, list[str]] = {}

    def __call__(self, name: str, *ids: Any) -> str:
        parts = self._parts.get(name)
        if parts is None:
            stand_ins = (_A, _B)[: len(ids)]
            path = str(conditional_escape(reverse(name, args=stand_ins)))
            parts = path.split(str(_A))
            if len(ids) == 2:
                parts = [parts[0], *parts[1].split(str(_B))]
            if len(parts) != len(ids) + 1:  # a stand-in that did not come back once: reverse
                parts = []
            self._parts[name] = parts
        if not parts:
            return str(conditional_escape(reverse(name, args=ids)))
        out = parts[0]
        for value, tail in zip(ids, parts[1:], strict=True):
            out += _t(str(value)) + tail
        return out


@lru_cache(maxsize=4096)
def _human(kind: str, value: Any, zone: str, language: str | None) -> str:
    # ``zone`` and ``language`` are part of the key: the words depend on them.
    if kind == "day":
        return _t(human_date(value))
    if kind == "when":
        return _t(human_datetime(value) if isinstance(value, dt.datetime) else human_date(value))
    return _t(human_time(value))


def _clock(value: Any) -> str:
    """``{{ value|clock }}``."""
    if isinstance(value, dt.datetime | dt.time):
        return _human(
            "clock", value, timezone.get_current_timezone_name(), translation.get_language()
        )
    return _t("" if value is None else str(value))


def _day(value: Any) -> str:
    """``{{ value|day }}``."""
    if isinstance(value, dt.date):
        return _human(
            "day", value, timezone.get_current_timezone_name(), translation.get_language()
        )
    return _t("" if value is None else str(value))


def _when(value: Any) -> str:
    """``{{ value|when }}``."""
    if isinstance(value, dt.date):
        return _human(
            "when", value, timezone.get_current_timezone_name(), translation.get_language()
        )
    return _t("" if value is None else str(value))


def _csrf(context: Any) -> str:
    """``{% csrf_token %}``."""
    token = context.get("csrf_token")
    if not token:
        return ""
    if token == "NOTPROVIDED":  # noqa: S105 - Django's marker, not a secret
        return ""
    return f'<input type="hidden" name="csrfmiddlewaretoken" value="{_t(str(token))}">'


def _urlencode(value: Any) -> str:
    """``{{ value|urlencode }}``."""
    return _t(quote(str(value), safe="/"))


def _name(p: Any) -> str:
    return f"{_t(p.family_name)}, {_t(p.given_name)}"


_ACTION = '<span class="sr">Action</span>'


def _table(heads: tuple[str, ...], rows: list[str]) -> str:
    """The worklist table every section's row template sits in (web/rows/*.html)."""
    head = "".join(f"<th>{h}</th>" for h in heads)
    body = "".join(rows)
    return f'<table class="list"><thead><tr>{head}</tr></thead><tbody>\n{body}</tbody></table>\n'


def _arrivals(rows: list[Any], context: Any, url: _Urls) -> str:
    back = context.get("back")
    csrf = _csrf(context)
    heads = ("Time", "Patient", "Visit", "With", _ACTION)
    out: list[str] = []
    for a in rows:
        p = a.patient
        procedure = f" · {_t(a.procedure_label)}" if a.procedure else ""
        hidden = f'<input type="hidden" name="back" value="{_t(back)}">' if back else ""
        out.append(
            "<tr>\n"
            f"  <td>{_clock(a.starts_at)}</td>\n"
            f'  <td><a href="{url("patient-detail", a.patient_id)}">{_name(p)}</a>'
            f' <span class="muted">{_t(p.record_number)}</span></td>\n'
            f"  <td>{_t(a.get_kind_display())}{procedure}</td>\n"
            f"  <td>{_t(a.practitioner.name)} · {_t(a.room.name)}</td>\n"
            f'  <td><form method="post" action="{url("home-check-in", a.pk)}" class="inline">'
            f'{csrf}{hidden}<button type="submit" class="small" aria-label="Check in '
            f'{_t(p.given_name)} {_t(p.family_name)}">Check in</button></form></td>\n'
            "</tr>"
        )
    return _table(heads, out)


def _waiting(rows: list[Any], context: Any, url: _Urls) -> str:
    actor = context.get("actor")
    may_perform = bool(actor is not None and actor.perms.session_perform)
    csrf = _csrf(context)
    heads = ("Booked for", "Patient", "Visit", "With", _ACTION)
    out: list[str] = []
    for a in rows:
        p = a.patient
        procedure = f" · {_t(a.procedure_label)}" if a.procedure else ""
        if a.needs_session_record and may_perform:
            action = (
                f'<form method="post" action="{url("procedures-session-from-appointment", a.pk)}"'
                f' class="inline">{csrf}<button type="submit" class="small" aria-label="Open the'
                f' session record of {_t(p.given_name)} {_t(p.family_name)}">Open session record'
                "</button></form>"
            )
        else:
            action = f'<a href="{url("appointment-detail", a.pk)}">Open visit</a>'
        out.append(
            "<tr>\n"
            f"  <td>{_clock(a.starts_at)}</td>\n"
            f'  <td><a href="{url("patient-detail", a.patient_id)}">{_name(p)}</a></td>\n'
            f"  <td>{_t(a.get_kind_display())}{procedure}</td>\n"
            f"  <td>{_t(a.practitioner.name)} · {_t(a.room.name)}</td>\n"
            f"  <td>{action}</td>\n"
            "</tr>"
        )
    return _table(heads, out)


def _in_progress(rows: list[Any], context: Any, url: _Urls) -> str:
    heads = ("Started", "Patient", "Procedure", "By", _ACTION)
    out: list[str] = []
    for t in rows:
        out.append(
            "<tr>\n"
            f"  <td>{_when(t.started_at)}</td>\n"
            f"  <td>{_name(t.patient)}</td>\n"
            f"  <td>{_t(t.procedure_label)}</td><td>{_t(t.started_by)}</td>\n"
            f'  <td><a href="{url("procedures-session-detail", t.patient_id, t.pk)}">'
            "Open session record</a></td>\n"
            "</tr>"
        )
    return _table(heads, out)


def _to_sign_rows(rows: list[Any], context: Any, url: _Urls) -> str:
    """web/rows/to_sign.html."""
    csrf = _csrf(context)
    out = []
    for t in rows:
        p = t.patient
        out.append(
            "<tr>\n"
            f"  <td>Session record · {_t(t.procedure_label)}</td>\n"
            f"  <td>{_name(p)}</td><td>{_when(t.started_at)}</td>\n"
            f'  <td><a href="{url("procedures-session-detail", t.patient_id, t.pk)}">Read</a>\n'
            f'    <form method="post" action="{url("procedures-session-sign", t.patient_id, t.pk)}"'
            ' class="inline" data-confirm="Sign and lock this session record? Changes afterwards'
            f' need a reason.">{csrf}<button type="submit" class="small" aria-label="Sign the'
            f' session record of {_t(p.given_name)} {_t(p.family_name)}">Sign</button>'
            "</form></td>\n"
            "</tr>"
        )
    return "".join(out) + "\n"


def _assessment_rows(rows: list[Any], context: Any, url: _Urls) -> str:
    """web/rows/assessments_to_sign.html."""
    out = []
    for x in rows:
        out.append(
            "<tr>\n"
            f"  <td>Assessment, draft {_t(x.version)}</td>\n"
            f"  <td>{_name(x.patient)}</td><td>{_day(x.visit_on)}</td>\n"
            f'  <td><a href="{url("care-assessment-detail", x.patient_id, x.version)}">'
            "Read and sign</a></td>\n"
            "</tr>"
        )
    return "".join(out) + "\n"


def sign_table_html(sessions: list[Any], assessments: list[Any], context: Any) -> SafeString:
    """web/rows/sign_table.html."""
    url = _Urls()
    body = _to_sign_rows(sessions, context, url) if sessions else ""
    more = _assessment_rows(assessments, context, url) if assessments else ""
    heads = ("Record", "Patient", "Of", _ACTION)
    rows = [f"{body}\n{more}\n"]
    return mark_safe(_table(heads, rows))  # noqa: S308 - every value above is escaped (template_text)


def _screenings_due(rows: list[Any], context: Any, url: _Urls) -> str:
    heads = ("Session", "Patient", "Procedure", "Why", _ACTION)
    out: list[str] = []
    for d in rows:
        a = d.appointment
        out.append(
            "<tr>\n"
            f"  <td>{_when(a.starts_at)}</td>\n"
            f"  <td>{_name(a.patient)}</td>\n"
            f"  <td>{_t(d.procedure_label)}</td><td>{_t(d.reason)}</td>\n"
            f'  <td><a href="{url("care-screening-create", a.patient_id)}?procedure='
            f'{_urlencode(a.procedure)}">Screen</a></td>\n'
            "</tr>"
        )
    return _table(heads, out)


def _follow_ups(rows: list[Any], context: Any, url: _Urls) -> str:
    heads = ("Patient", "Last measured", "Due since", _ACTION)
    out: list[str] = []
    for f in rows:
        out.append(
            "<tr>\n"
            f"  <td>{_name(f.patient)}</td><td>{_day(f.last_measured_on)}</td>"
            f"<td>{_day(f.due_on)}</td>\n"
            f'  <td><a href="{url("outcomes-measurement-create", f.patient.pk)}">'
            "Record measurements</a></td>\n"
            "</tr>"
        )
    return _table(heads, out)


def _recalls(rows: list[Any], context: Any, url: _Urls) -> str:
    today = context.get("today")
    heads = ("Patient", "Plan", "Due", _ACTION)
    out: list[str] = []
    for r in rows:
        overdue = " <strong>overdue</strong>" if today is not None and r.due_until < today else ""
        out.append(
            "<tr>\n"
            f"  <td>{_name(r.patient)}</td><td>{_t(r.plan.protocol_name)}</td>\n"
            f"  <td>{_day(r.due_from)} – {_day(r.due_until)}{overdue}</td>\n"
            f'  <td><a href="{url("appointment-new", r.patient_id)}?kind=maintenance&amp;'
            f'procedure={_urlencode(r.plan.procedure)}">Book the recall</a></td>\n'
            "</tr>"
        )
    return _table(heads, out)


def _lots(rows: list[Any], context: Any, url: _Urls) -> str:
    today = context.get("today")
    heads = ("Product", "Lot", "Expires", "Left", _ACTION)
    out: list[str] = []
    inventory = url("procedures-inventory")
    for lot in rows:
        expired = (
            " <strong>expired</strong>" if today is not None and lot.expires_on < today else ""
        )
        out.append(
            "<tr>\n"
            f"  <td>{_t(lot.product.name)}</td><td>{_t(lot.lot_number)}</td>\n"
            f"  <td>{_day(lot.expires_on)}{expired}</td><td>{_t(lot.left)}</td>\n"
            f'  <td><a href="{inventory}">Inventory</a></td>\n'
            "</tr>"
        )
    return _table(heads, out)


_RENDERERS: dict[str, Callable[[list[Any], Any, _Urls], str]] = {
    "arrivals": _arrivals,
    "waiting": _waiting,
    "in_progress": _in_progress,
    "screenings_due": _screenings_due,
    "follow_ups": _follow_ups,
    "recalls": _recalls,
    "lots": _lots,
}


def rows_html(name: str, rows: list[Any], context: Any) -> SafeString:
    """What ``{% include "web/rows/<name>.html" with rows=rows %}`` writes in ``context`` (a
    template Context or a dict: ``csrf_token``, ``actor``, ``today``, ``back``)."""
    if name in ("to_sign", "assessments_to_sign"):
        raise ValueError("records to sign are written as one table: sign_table_html")
    return mark_safe(_RENDERERS[name](rows, context, _Urls()))  # noqa: S308 - escaped above
