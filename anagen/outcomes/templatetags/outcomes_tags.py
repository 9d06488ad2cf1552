"""The chart's Outcomes card and small display filters."""

from __future__ import annotations

import datetime as dt
import html
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django import template
from django.template.base import render_value_in_context
from django.template.defaultfilters import default_if_none, floatformat, stringformat
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from anagen.accounts.access import Actor
from anagen.accounts.clinic_time import human_date
from anagen.accounts.permissions import Perm
from anagen.outcomes import selectors
from anagen.patients.models import Patient
from anagen.web.templatetags.human import day

register = template.Library()


@register.filter
def measured(value: Any, places: Any) -> str:
    """``floatformat`` at a fixed number of places (half-up on the value's decimal text, no
    "-0"), without the locale lookups it makes per call: the progress page shows ~170 values
    (issue 15). Anything unusual goes to ``floatformat`` itself."""
    try:
        number, digits = Decimal(str(value)), int(places)
    except (InvalidOperation, TypeError, ValueError):
        return str(floatformat(value, places))
    if digits < 0 or not number.is_finite():
        return str(floatformat(value, places))
    rounded = number.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    return f"{abs(rounded) if rounded == 0 else rounded:f}"


@register.filter
def pct(value: float | None) -> str:
    """0.4567 → "45.7 %"."""
    if value is None:
        return "—"
    return f"{value * 100:.1f} %"


@register.filter
def isodate(value: str | None) -> str:
    """A date stored as text ("2025-01-10", e.g. in an import preview) → "10 Jan 2025"."""
    if not value:
        return "—"
    try:
        return human_date(dt.date.fromisoformat(str(value)))
    except ValueError:
        return str(value)


# ``|day`` of a plain date, escaped, per language: a progress page shows ~40 distinct dates
# ~200 times (issue 15). A date's text depends on nothing else ("j M Y": the day, the month's
# name in the active language, the year); instants (zone-dependent) are never kept.
_DAY_TEXT: dict[tuple[str | None, dt.date], str] = {}


def _day(value: Any, language: str | None) -> str:
    """``|day`` of the value, escaped (``language``: the active one, asked once per table)."""
    if type(value) is not dt.date:
        return html.escape(str(day(value)))
    key = (language, value)
    text = _DAY_TEXT.get(key)
    if text is None:
        if len(_DAY_TEXT) > 20_000:
            _DAY_TEXT.clear()
        text = _DAY_TEXT[key] = html.escape(str(day(value)))
    return text


_BEYOND = '<span class="detectable">beyond measurement error</span>'
_WITHIN = '<span class="within">within measurement error</span>'


@register.simple_tag
def progress_rows(series: Any) -> SafeString:
    """A progress table's rows: the same markup as a ``{% for %}`` over ``series.points`` with
    ``|day``, ``|measured`` and ``|stringformat:"+.2f"``, built in Python (the page draws ~170
    rows; issue 15)."""
    decimals = series.measure.decimals
    language = get_language()
    labels: dict[str, str] = {}
    out = []
    for p in series.points:
        change = p.change
        absolute = percent = ""
        if change:
            absolute = html.escape(stringformat(change.absolute, "+.2f"))
            percent = html.escape(stringformat(change.percent, "+.2f")) + " %"
        verdict = _BEYOND if p.detectable is True else _WITHIN if p.detectable is False else ""
        label = labels.get(p.visit_label)
        if label is None:
            label = labels[p.visit_label] = html.escape(str(p.visit_label_display))
        out.append(
            "<tr>\n"
            f"      <td>{_day(p.on, language)}</td><td>{label}</td>"
            f"<td>{html.escape(measured(p.value, decimals))}</td>\n"
            f"      <td>{absolute}</td>\n"
            f"      <td>{percent}</td>\n"
            f"      <td>{verdict}</td>\n"
            "    </tr>"
        )
    return mark_safe("".join(out))  # noqa: S308 - every value above is escaped


@register.simple_tag
def session_days(dates: Any) -> SafeString:
    """``<time>`` per session date, comma-separated, or "none recorded" (as the template's
    loop drew them)."""
    if not dates:
        return mark_safe('<span class="muted">none recorded</span>')
    language = get_language()
    return mark_safe(", ".join(f"<time>{_day(d, language)}</time>" for d in dates))  # noqa: S308


def _visit_measures(s: Any, show: Any) -> str:
    """outcomes/_visit_measures.html for one set (with the file's closing newline)."""
    text = ""
    if s.salt is not None:
        text += f"SALT {show(s.salt)} "
    if s.pull_test_pulled is not None:
        text += f"Pull {show(s.pull_test_shed)}/{show(s.pull_test_pulled)} "
    if s.wash_test_count is not None:
        text += f"Wash {show(s.wash_test_count)} "
    if s.stage_value:
        text += f"{show(s.stage_display)} "
    if s.global_photo_rating is not None:
        text += f"Global {show(stringformat(s.global_photo_rating, '+d'))} "
    if s.satisfaction is not None:
        text += f"Satisfaction {show(s.satisfaction)}/5"
    return text + "\n"


@register.simple_tag(takes_context=True)
def measurement_rows(context: Any, sets: Any) -> SafeString:
    """The measurements table's rows: the markup of the template loop over the sets and their
    measurements it replaces (values localised and escaped as ``{{ }}`` does), built in Python
    (issue 15)."""

    def show(value: Any) -> str:
        return str(render_value_in_context(value, context))

    language = get_language()
    out = []
    for s in sets:
        out.append("\n    ")
        on = _day(s.measured_on, language)
        label = show(s.get_visit_label_display())
        method = show(s.get_method_display())
        visit = _visit_measures(s, show)
        rows = list(s.measurements.all())
        device = f" ({show(s.device)})" if s.device else ""
        for m in rows:
            hair = "—"
            if m.hair_count is not None:
                hair = f"{show(m.hair_count)} in {show(floatformat(m.area_cm2, '-4'))} cm²"
                if m.area_unit_entered == "in2":
                    entered = show(floatformat(m.area_value_entered, "-4"))
                    hair += f' <span class="muted">(entered {entered} inch²)</span>'
            density = show(default_if_none(m.density_per_cm2, "—"))
            if m.density_unit_entered == "in2":
                entered = show(m.density_value_entered)
                density += f' <span class="muted">(entered {entered}/inch²)</span>'
            terminal = "—"
            if m.terminal_pct is not None:
                terminal = f"{show(m.terminal_pct)} / {show(m.vellus_pct)}"
            anagen = "—"
            if m.anagen_pct is not None:
                anagen = f"{show(m.anagen_pct)} / {show(m.telogen_pct)}"
            out.append(
                "\n    <tr>\n"
                f"      <td>{on}</td><td>{label}</td><td>{method}{device}</td>\n"
                f"      <td>{show(m.site.name)}</td>\n"
                f"      <td>{hair}</td>\n"
                f"      <td>{density}</td>\n"
                f"      <td>{show(default_if_none(m.mean_diameter_um, '—'))}</td>\n"
                f"      <td>{terminal}</td>\n"
                f"      <td>{anagen}</td>\n"
                f"      <td>{visit}</td>\n"
                "    </tr>\n    "
            )
        if not rows:
            out.append(
                f"\n    <tr><td>{on}</td><td>{label}</td><td>{method}</td><td>—</td><td>—</td>"
                f"<td>—</td><td>—</td><td>—</td><td>—</td><td>{visit}</td></tr>\n    "
            )
        out.append("\n  ")
    return mark_safe("".join(out))  # noqa: S308 - every value above is escaped


def _photo_urls(context: Any, patient_pk: int) -> tuple[str, Any]:
    """The compare page's address and a maker of photo file addresses for the patient, worked
    out once per page render (a page of photo sets shows ~60 photos; issue 15). The file
    address is the reversed one with the photo's id put in, checked against ``reverse``."""
    from django.urls import reverse

    store = context.render_context
    key = ("outcomes-photo-urls", patient_pk)
    if key not in store:
        compare = reverse("outcomes-photo-compare", args=[patient_pk])
        sample = reverse("outcomes-photo-file", args=[patient_pk, 1])
        head, _, tail = sample.rpartition("/1/")

        def file_url(pk: int) -> str:
            return f"{head}/{pk}/{tail}"

        if file_url(2) != reverse("outcomes-photo-file", args=[patient_pk, 2]):

            def file_url(pk: int) -> str:  # an unusual address: reverse each
                return reverse("outcomes-photo-file", args=[patient_pk, pk])

        store[key] = (compare, file_url)
    return store[key]  # type: ignore[no-any-return]


@register.simple_tag(takes_context=True)
def photo_thumbs(context: Any, photo_set: Any, patient: Any) -> SafeString:
    """A photo set's thumbnails (``<li>`` each, or "No photos in this set."), as the template
    loop drew them, built in Python."""
    compare, file_url = _photo_urls(context, patient.pk)
    taken = None
    out = []
    photos = photo_set.photos  # a list (selectors.PhotoSetRow) or the related manager
    for ph in photos if isinstance(photos, list) else photos.all():
        view = conditional_escape(ph.get_view_display())
        if ph.file_missing:
            out.append(
                f'<li><span class="photo-missing" role="img" aria-label="{view}: file missing">'
                f"File missing</span><br><small>{view} · the stored file is missing; take this "
                "view again in a new set</small></li>"
            )
            continue
        if taken is None:
            taken = _day(photo_set.taken_on, get_language())
        out.append(
            f'<li><a href="{conditional_escape(compare)}?view={conditional_escape(ph.view)}">'
            f'<img src="{conditional_escape(file_url(ph.pk))}?thumb=1" alt="{view} {taken}"></a>'
            f"<br><small>{view}</small></li>"
        )
    if not out:
        return mark_safe('<li class="empty">No photos in this set.</li>')
    return mark_safe("".join(out))  # noqa: S308 - every value above is escaped


@register.inclusion_tag("outcomes/_panel.html")
def outcomes_panel(patient: Patient, actor: Actor) -> dict[str, Any]:
    # Three small queries whatever the history: counts and the latest set.
    return {
        "patient": patient,
        **selectors.outcomes_summary(patient),
        "can_record": actor.can(Perm.OUTCOMES_RECORD),
    }
