"""The patient search's results written in Python, byte for byte as
``patients/_results.html`` (issue 15).

Through the template, 25 rows cost a ``{% url %}`` reversal, a date format and a dozen variable
lookups each: most of the page's rendering. ``results_html`` writes the same string (same
whitespace, escaping and localisation, through ``fast_widgets.template_text``); the detail URL
is reversed once per page with a stand-in number. The template stays the reference:
``tests/test_search_page.py`` renders both on random pages and requires the same bytes.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from django.core.paginator import Page
from django.urls import reverse
from django.utils import translation
from django.utils.safestring import SafeString, mark_safe

from anagen.accounts.clinic_time import human_date
from anagen.web.fast_widgets import template_text as _t

_STAND_IN = 9081726354


@lru_cache(maxsize=8192)
def _date(value: dt.date, language: str | None) -> str:
    # ``language`` is part of the key: the month's name depends on it.
    return _t(human_date(value))


def _day(value: Any) -> str:
    """``{{ value|day }}``."""
    if isinstance(value, dt.datetime):
        return _t(human_date(value))  # the clinic's zone decides the date: not kept
    if isinstance(value, dt.date):
        return _date(value, translation.get_language())
    return _t("" if value is None else str(value))


def _urlencode(value: Any) -> str:
    """``{{ value|urlencode }}``."""
    return _t(quote(str(value), safe="/"))


def results_html(page: Page, query: str, actor: Any) -> SafeString:
    """``patients/_results.html`` for ``page`` (of ``anagen.patients.search``), ``query`` as
    typed and the signed-in ``actor``."""
    rows = page.object_list
    if not rows:
        return mark_safe(_empty(query, actor))  # noqa: S308 - every value escaped above
    paginator: Any = page.paginator
    capped = paginator.capped
    if capped:
        head = f"More than {_t(paginator.cap_label)} patients"
    else:
        count = paginator.count
        head = f"{_t(count)} patient{'' if count == 1 else 's'}"
    if query:
        head += f" matching “{_t(query)}”"
    before, _, after = str(_t(reverse("patient-detail", args=[_STAND_IN]))).partition(
        str(_STAND_IN)
    )
    out = [
        f'\n<p class="count">{head}</p>\n<table class="list">\n'
        "  <thead><tr><th>Name</th><th>Record</th><th>Date of birth</th><th>Sex</th>"
        "<th>Phone</th></tr></thead>\n  <tbody>\n  "
    ]
    for p in rows:
        out.append(
            f'\n    <tr><td><a href="{before}{_t(p.pk)}{after}">{_t(p.family_name)}, '
            f"{_t(p.given_name)}</a></td><td>{_t(p.record_number)}</td>"
            f"<td>{_day(p.birth_date)}</td><td>{_t(p.get_sex_display())}</td>"
            f"<td>{_t(p.phone)}</td></tr>\n  "
        )
    out.append("\n  </tbody>\n</table>\n")
    if page.has_other_pages():
        q = _urlencode(query)
        previous = (
            f'<a href="?q={q}&amp;page={_t(page.previous_page_number())}" rel="prev">← Previous</a>'
            if page.has_previous()
            else ""
        )
        following = (
            f'<a href="?q={q}&amp;page={_t(page.next_page_number())}" rel="next">Next →</a>'
            if page.has_next()
            else ""
        )
        if capped:
            of = (
                ""
                if page.has_next()
                else f" (the first {_t(paginator.cap_label)}: narrow the search to see more)"
            )
        else:
            of = f" of {_t(paginator.num_pages)}"
        out.append(
            f'\n<nav class="pager" aria-label="Pages">\n  {previous}\n'
            f"  <span>Page {_t(page.number)}{of}</span>\n  {following}\n</nav>\n"
        )
    out.append("\n\n")
    return mark_safe("".join(out))  # noqa: S308 - every value escaped above


def _empty(query: str, actor: Any) -> str:
    if query:
        said = (
            f"<p>No patient matches “{_t(query)}”. Check the spelling, try the date of birth "
            "(e.g. 1984-05-02) or phone number.</p>\n  "
        )
    else:
        said = "<p>No patients yet.</p>"
    register = ""
    if actor is not None and actor.perms.patient_register:
        register = f'<p><a href="{_t(reverse("patient-create"))}">Register a new patient</a></p>'
    return f'\n<div class="empty">\n  {said}\n  {register}\n</div>\n\n'
