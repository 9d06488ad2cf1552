"""The time grid's rows as HTML, built in one pass (issue 15: the week with ~2,000 appointments
within 3 × a bare page).

The template engine costs ~0.5 ms per hundred variable lookups; a week has ~240 cells, each with
a URL and four date formats, plus every appointment's box. Here every string that repeats is
built once (URLs from a prefix and a query string, a row's time and a column's day label once)
and each cell is one f-string. Everything a person or the page's script reads is the same as the
template wrote: free slots link to booking (or "Move here" while moving), booked appointments
carry the drag data attributes and a Move link, labels are escaped, times are clinic-local.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import zlib
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import caches
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import dateformat, translation
from django.utils.safestring import SafeString, mark_safe

from anagen.accounts.access import Actor
from anagen.accounts.permissions import Perm
from anagen.scheduling import calendar_version, selectors
from anagen.scheduling.grid import (
    Grid,
    GridAppointment,
    ResourceRow,
    calendar_grid,
    compact_week_default,
)
from anagen.scheduling.models import Appointment, Resource, ResourceKind

_SENTINEL = 987654321


def _url_parts(name: str) -> tuple[str, str]:
    """A URL with one integer argument as (before, after) the argument, reversed once."""
    url = escape(reverse(name, args=[_SENTINEL]))
    before, _, after = url.partition(str(_SENTINEL))
    return before, after


@dataclass(frozen=True)
class GridLinks:
    """What the links of the grid depend on besides the grid itself."""

    can_book: bool
    moving_id: int | None  # the appointment being moved, if any
    page_query: str  # the page's own query string (for each appointment's Move link)
    page_path: str


def grid_rows_html(grid: Grid, links: GridLinks) -> SafeString:
    """The <tr> rows of the grid's <tbody>."""
    by_room = grid.by == "room"
    moving = links.moving_id is not None
    drag = links.can_book and not moving
    detail = _url_parts("appointment-detail")
    move = _url_parts("appointment-move")
    move_here = ""
    if moving:
        move_here = f"{move[0]}{links.moving_id}{move[1]}?date="
    slot = escape(reverse("calendar-slot")) + "?date="
    slot_param = "room" if by_room else "practitioner"
    move_link = escape(f"{links.page_path}?{links.page_query}") + "&amp;move="
    day_iso: dict[dt.date, str] = {}
    day_label: dict[dt.date, str] = {}
    for d in grid.days:
        day_iso[d] = d.isoformat()
        day_label[d] = escape(dateformat.format(d, "D j M"))

    def appointment(a: GridAppointment) -> str:
        draggable = drag and a.status == "booked"
        attrs = ""
        if draggable:
            column = a.room_id if by_room else a.practitioner_id
            attrs = (
                f' draggable="true" data-move-url="{move[0]}{a.pk}{move[1]}" data-column="{column}"'
            )
        family, given = escape(a.family_name), escape(a.given_name)
        seq = f" {a.sequence}" if a.plan_id else ""
        other = escape(a.practitioner_name if by_room else a.room_name)
        box = (
            f'<a class="appt-box status-{escape(a.status)}" href="{detail[0]}{a.pk}{detail[1]}"'
            f'{attrs}><span class="when">{a.starts_at:%H:%M}–{a.ends_at:%H:%M}</span> '
            f'{family}, {given} <span class="muted">{escape(a.kind_label)}{seq} · {other} · '
            f"{escape(a.status_label)}</span></a>"
        )
        if draggable:
            box += (
                f'<a class="small-link" href="{move_link}{a.pk}" aria-label="Move {given} '
                f'{family} to another time">Move</a>'
            )
        return box

    out: list[str] = []
    for row in grid.rows:
        hhmm = f"{row.at:%H:%M}"
        out.append(f'<tr><th scope="row" class="t">{hhmm}</th>')
        for cell in row.cells:
            kind = cell.kind
            if kind == "skip":
                continue
            if kind == "appt":
                boxes = "".join(appointment(a) for a in cell.appointments)
                out.append(f'<td rowspan="{cell.rowspan}" class="appt">{boxes}</td>')
            elif kind == "free":
                day = cell.start.date()
                if day not in day_iso:
                    day_iso[day] = day.isoformat()
                    day_label[day] = escape(dateformat.format(day, "D j M"))
                iso, label = day_iso[day], day_label[day]
                data = ""
                if drag:
                    data = f' data-date="{iso}" data-time="{hhmm}" data-column="{cell.resource_id}"'
                if moving:
                    inner = (
                        f'<a href="{move_here}{iso}&amp;time={hhmm}" class="slot-link" '
                        f'aria-label="Move here: {label} {hhmm}">{hhmm}</a>'
                    )
                elif links.can_book:
                    inner = (
                        f'<a href="{slot}{iso}&amp;time={hhmm}&amp;{slot_param}='
                        f'{cell.resource_id}" class="slot-link" aria-label="Book {label} '
                        f'{hhmm}">{hhmm}</a>'
                    )
                else:
                    inner = '<span class="sr">Free</span>'
                out.append(f'<td class="free"{data}>{inner}</td>')
            elif kind == "blocked":
                reason = escape(cell.reason)
                out.append(
                    f'<td class="blocked" title="{reason}"><span class="sr">{reason}</span></td>'
                )
            else:
                out.append(f'<td class="{kind}"><span class="sr">{escape(cell.reason)}</span></td>')
        out.append("</tr>\n")
    return mark_safe("".join(out))  # noqa: S308 — every interpolated text is escaped above


# --- The calendar page's content, cached per calendar version (issue 15) -------------------

# A cached body is kept at most this long even if nothing said it changed: it bounds the harm of
# a change written without a signal and without ``calendar_version.bump`` (a bug elsewhere).
BODY_SECONDS = 15 * 60
# The project's cache of rendered page parts (settings CACHES["rendered"]).
cache = caches["rendered"]
# Bodies larger than this are kept compressed (a week of every column with ~2,000 appointments is
# ~1 MB of HTML, ~100 KB compressed; decompressing costs ~1 ms): the cache holds up to a few
# hundred bodies per worker.
COMPRESS_OVER = 256 * 1024


@dataclass(frozen=True)
class CalendarQuery:
    """What the page was asked for (already read from the query string)."""

    view: str  # day | week
    day: dt.date
    by: str  # practitioner | room
    practitioner: int | None
    room: int | None
    all_columns: bool  # the filter asked for every column ("All"): no compact default


@dataclass(frozen=True)
class CalendarBody:
    html: SafeString
    drag_script: bool  # the page loads the drag-and-drop script (per request: it has a nonce)


def _resources(actor: Actor, token: int | None) -> list[ResourceRow]:
    """The clinic's active resources, cached with the calendar version (resources bump it)."""
    key = f"calendar-resources:{settings.DATABASE_TAG}:{actor.clinic.pk}"
    if token is not None:
        hit = cache.get(key)
        if hit is not None and hit[0] == token:
            return [ResourceRow(*row) for row in hit[1]]
    rows = [
        ResourceRow(r.pk, r.kind, r.name, r.membership_id, r.clinic_id)
        for r in selectors.calendar_resources(actor)
    ]
    if token is not None:
        cache.set(key, (token, [tuple(r) for r in rows]), BODY_SECONDS)
    return rows


def calendar_body(
    actor: Actor, q: CalendarQuery, moving: Appointment | None = None
) -> CalendarBody:
    """The calendar page's content (headings, filters, the grid), rendered once per calendar
    version and kept in the project's cache.

    The cache key holds everything the content depends on: database, clinic, the calendar
    version (``calendar_version.current``), the view, day, columns and filter, the appointment
    being moved, the person's permissions (what the grid offers: booking links, drag, the
    closures link), the clinic's zone, the language and the clinic's today. The clock matters
    only for which slots are past: a body is reused while no free slot it shows has begun.
    A warm view costs one query (the version) and two cache reads."""
    actor.require(Perm.PATIENT_VIEW)
    token = calendar_version.current(actor.clinic.pk)
    today = actor.today()
    resources = _resources(actor, token)
    practitioner, room, by = q.practitioner, q.room, q.by
    if q.view == "week" and not room and not practitioner and not q.all_columns:
        # A big clinic's week opens on one column per day (issue 15); "All" shows everyone.
        chosen = compact_week_default(actor, by, resources)
        practitioner, room = (None, chosen) if by == "room" else (chosen, None)
    parts: tuple[Any, ...] = (
        q.view,
        q.day.isoformat(),
        by,
        practitioner,
        room,
        moving.pk if moving is not None else None,
        sorted(p.name for p in actor.perm_set),
        str(actor.tz),
        translation.get_language(),
        today.isoformat(),
    )
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:32]
    key = f"calendar-body:{settings.DATABASE_TAG}:{actor.clinic.pk}:{digest}"
    if token is not None:
        hit = cache.get(key)
        if hit is not None:
            hit_token, true_until, html, drag = hit
            if hit_token == token and (true_until is None or dt.datetime.now(dt.UTC) <= true_until):
                if isinstance(html, bytes):
                    html = zlib.decompress(html).decode()
                return CalendarBody(mark_safe(html), drag)  # noqa: S308 — rendered by us below
    body, true_until = _render(actor, q, today, resources, practitioner, room, moving)
    if token is not None:
        html = str(body.html)
        kept: str | bytes = zlib.compress(html.encode(), 1) if len(html) > COMPRESS_OVER else html
        cache.set(key, (token, true_until, kept, body.drag_script), BODY_SECONDS)
    return body


def _render(
    actor: Actor,
    q: CalendarQuery,
    today: dt.date,
    rows: list[ResourceRow],
    practitioner: int | None,
    room: int | None,
    moving: Appointment | None,
) -> tuple[CalendarBody, dt.datetime | None]:
    view, day, by = q.view, q.day, q.by
    resources = [
        Resource(
            pk=r.pk, clinic_id=r.clinic_id, kind=r.kind, name=r.name, membership_id=r.membership_id
        )
        for r in rows
    ]
    start = day if view == "day" else day - dt.timedelta(days=day.weekday())
    length = 1 if view == "day" else 7
    grid = calendar_grid(
        actor=actor,
        start=start,
        days=length,
        by=by,
        resource_id=room if by == "room" else practitioner,
        resources=resources,
    )
    base: dict[str, str] = {"view": view, "by": by}
    if practitioner and by == "practitioner":
        base["practitioner"] = str(practitioner)
    if room:
        base["room"] = str(room)
    calendar_url = reverse("calendar")

    def link(**kw: Any) -> str:
        return calendar_url + "?" + urlencode({**base, **kw})

    page_query = urlencode({**base, "date": day.isoformat()})
    if moving is not None:
        base["move"] = str(moving.pk)
    step = dt.timedelta(days=length)
    can_book = actor.can(Perm.BOOK)
    html = render_to_string(
        "scheduling/_calendar_body.html",
        {
            "actor": actor,
            "grid": grid,
            "grid_rows": grid_rows_html(
                grid,
                GridLinks(
                    can_book=can_book,
                    moving_id=moving.pk if moving is not None else None,
                    page_query=page_query,
                    page_path=calendar_url,
                ),
            ),
            "moving": moving,
            "move_cancel_url": calendar_url
            + "?"
            + urlencode(
                {k: v for k, v in {**base, "date": day.isoformat()}.items() if k != "move"}
            ),
            "view": view,
            "by": by,
            "day": day,
            "today": today,
            "practitioners": [r for r in resources if r.kind == ResourceKind.PRACTITIONER],
            "rooms": [r for r in resources if r.kind == ResourceKind.ROOM],
            "practitioner": practitioner,
            "room": room,
            "prev_url": link(date=(start - step).isoformat()),
            "next_url": link(date=(start + step).isoformat()),
            "today_url": link(date=today.isoformat()),
            "day_url": link(view="day", date=day.isoformat()),
            "week_url": link(view="week", date=day.isoformat()),
            "by_room_url": link(by="room", date=day.isoformat()),
            "by_practitioner_url": calendar_url
            + "?"
            + urlencode({"view": view, "date": day.isoformat()}),
        },
    )
    drag = can_book and moving is None and bool(grid.resources) and bool(grid.rows)
    return CalendarBody(mark_safe(html), drag), grid.true_until  # noqa: S308 — a template's output
