"""One page of the patient search (issue 15): the shown columns only, the count in the page's
own query where that costs nothing, and SQL compiled once per shape of search.

The search's definition stays ``selectors.search_terms`` + ``selectors.search_filter`` (what
``patient_search`` returns). This module runs the same filter:

- **Shown columns only.** The page shows name, record number, birth date, sex and phone: the
  rows are read as ``SearchRow`` tuples (``values_list``), not whole ``Patient`` instances.
- **Compiled once.** Building and compiling the queryset cost more than a selective query takes
  to run. The SQL of each shape of search (kind, number of words and record spellings, clinic,
  counted or not) is compiled once, with stand-in values, and kept per thread and connection;
  each request puts its own values in the parameters the stand-ins held (escaped for LIKE as
  Django escapes them). ``tests/test_search_page.py`` compares the SQL and parameters with a
  fresh compilation on random queries.
- **The count in the page's query** for a name search whose every word can use the trigram
  index (three characters or more): the database reads every match to sort them anyway, so
  ``COUNT(*) OVER ()`` costs nothing more. Other searches (nothing typed, a short word, a date,
  a phone) read the first page, and count (bounded, ``CappedPaginator``) only when it is full;
  a phone or record number is one query.

The page is a Django ``Page`` of a ``CappedPaginator`` whose count is set: the same numbers,
bounds and "more than 1,000" as ``paginator.get_page(number)`` gives the queryset.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.core.paginator import Page
from django.db import connections
from django.db.models import Count, Window
from django.utils.dateparse import parse_date

from anagen.accounts.access import Actor, patients_for
from anagen.accounts.permissions import Perm
from anagen.audit.reads import note_list
from anagen.patients.models import Patient
from anagen.patients.selectors import SearchTerms, search_filter, search_terms
from anagen.patients.vocab import Sex
from anagen.web.paging import CappedPaginator

_SEX = {value: str(label) for value, label in Sex.choices}


class SearchRow(NamedTuple):
    """What the search page shows of a patient."""

    pk: int
    record_number: str
    given_name: str
    family_name: str
    birth_date: Any
    sex: str
    phone: str

    def get_sex_display(self) -> str:
        return _SEX.get(self.sex, self.sex)


SHOWN = ("pk", "record_number", "given_name", "family_name", "birth_date", "sex", "phone")
_TOTAL = "anagen_search_total"
TRIGRAM = 3  # the shortest word the trigram index answers


def counted_in_page(terms: SearchTerms) -> bool:
    """Whether the page's query carries the count (every match is read to sort them anyway)."""
    if terms.kind not in ("names", "names_or_record") or not terms.words:
        return False
    return all(len(w) >= TRIGRAM for w in terms.words)


# --- compiled SQL --------------------------------------------------------------------------


@dataclass
class _Compiled:
    sql: str  # "" when the filter can match nothing
    params: tuple[Any, ...]
    # (position, stand-in, escaped) for each parameter a request's value goes into
    holes: tuple[tuple[int, str, bool], ...]


def _stand_in(kind: str, i: int) -> str:
    return f"\ue000{kind}{i}\ue001"  # private-use characters: never typed, nothing to escape


def _stand_in_terms(terms: SearchTerms) -> SearchTerms:
    return replace(
        terms,
        words=tuple(_stand_in("w", i) for i in range(len(terms.words))),
        records=tuple(_stand_in("r", i) for i in range(len(terms.records))),
        phone_reversed=_stand_in("p", 0) if terms.phone_reversed else "",
    )


def _values(terms: SearchTerms) -> dict[str, str]:
    out = {_stand_in("w", i): w for i, w in enumerate(terms.words)}
    out.update({_stand_in("r", i): r for i, r in enumerate(terms.records)})
    if terms.phone_reversed:
        out[_stand_in("p", 0)] = terms.phone_reversed
    return out


def _compile(qs: Any) -> _Compiled:
    try:
        sql, params = qs.query.get_compiler(using=qs.db).as_sql()
    except EmptyResultSet:
        return _Compiled("", (), ())
    holes = []
    for position, param in enumerate(params):
        if isinstance(param, str) and "\ue000" in param:
            token = param[param.index("\ue000") : param.index("\ue001") + 1]
            holes.append((position, token, param != token))
    return _Compiled(sql, tuple(params), tuple(holes))


_compiled = threading.local()
_KEPT = 256


def _shape_key(actor: Actor, terms: SearchTerms, what: str) -> tuple[Any, ...]:
    alias = Patient.objects.db
    return (
        alias,
        id(connections[alias]),
        actor.clinic.pk,
        what,
        terms.kind,
        len(terms.words),
        len(terms.records),
        bool(terms.phone_reversed),
    )


def _query(actor: Actor, terms: SearchTerms, what: str) -> tuple[str, list[Any]]:
    """The SQL and parameters of the rows ("rows"), the rows counted ("counted") or the
    bounded count's inner query ("ids") for these terms."""
    if terms.kind == "birth":  # a date parameter: compiled each time (one cheap shape)
        return _sql_of(_queryset(actor, terms, what))
    key = _shape_key(actor, terms, what)
    cache: dict[Any, _Compiled] | None = getattr(_compiled, "cache", None)
    if cache is None:
        cache = _compiled.cache = {}
    compiled = cache.get(key)
    if compiled is None:
        compiled = _compile(_queryset(actor, _stand_in_terms(terms), what))
        if len(cache) >= _KEPT:
            cache.clear()
        cache[key] = compiled
    if not compiled.sql:
        return "", []
    params = list(compiled.params)
    values = _values(terms)
    ops = connections[Patient.objects.db].ops
    for position, token, escaped in compiled.holes:
        value = values[token]
        params[position] = params[position].replace(
            token, ops.prep_for_like_query(value) if escaped else value
        )
    return compiled.sql, params


def _queryset(actor: Actor, terms: SearchTerms, what: str) -> Any:
    qs = search_filter(patients_for(actor), terms)
    if what == "ids":
        return qs.order_by().values("pk")
    if what == "counted":
        return qs.annotate(**{_TOTAL: Window(Count("*"))}).values_list(*SHOWN, _TOTAL)
    return qs.values_list(*SHOWN)


def _sql_of(qs: Any) -> tuple[str, list[Any]]:
    try:
        sql, params = qs.query.get_compiler(using=qs.db).as_sql()
    except EmptyResultSet:
        return "", []
    return sql, list(params)


def _run(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    if not sql:
        return []
    with connections[Patient.objects.db].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _rows(
    actor: Actor, terms: SearchTerms, counted: bool, offset: int, limit: int
) -> tuple[list[SearchRow], int]:
    """Rows ``offset`` to ``offset + limit`` in the list's order and (counted) how many match."""
    sql, params = _query(actor, terms, "counted" if counted else "rows")
    if not sql:
        return [], 0
    fetched = _run(f"{sql} LIMIT {int(limit)} OFFSET {int(offset)}", params)
    total = int(fetched[0][-1]) if counted and fetched else 0
    rows = []
    for r in fetched:
        birth = r[4]
        if isinstance(birth, str):  # SQLite hands some dates back as text
            birth = parse_date(birth)
        rows.append(SearchRow(r[0], r[1], r[2], r[3], birth, r[5], r[6]))
    return rows, total


def _bounded_count(actor: Actor, terms: SearchTerms, cap: int) -> int:
    """What ``CappedPaginator.count`` answers: the matches, counted no further than cap + 1."""
    sql, params = _query(actor, terms, "ids")
    if not sql:
        return 0
    fetched = _run(
        f"SELECT COUNT(*) FROM ({sql} LIMIT {int(cap) + 1}) anagen_search_ids",  # noqa: S608
        params,
    )
    return int(fetched[0][0])


# --- the page --------------------------------------------------------------------------------


def _requested(number: str | None) -> int | None:
    """The page asked for as ``Paginator.get_page`` reads it: not a whole number is page 1;
    None means the last page (a number below 1, or one past the end, once the count is known)."""
    if number in (None, "", "1"):
        return 1
    try:
        wanted = int(number)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 1
    return wanted if wanted >= 1 else None


def patient_search_page(
    *, actor: Actor, query: str, number: str | None, per_page: int | None = None
) -> Page:
    """The page of the patient search the list shows for ``query`` and ``?page=number``:
    the rows of ``patient_search(actor, query)`` in its order, and its bounded count, exactly
    as ``CappedPaginator(patient_search(...), per_page).get_page(number)`` (audited the same
    way: one list read with the search's words)."""
    actor.require(Perm.PATIENT_VIEW)  # as patients_for (a compiled query skips building it)
    query = query.strip()
    note_list(actor, what="Patient search", query=query)  # audited (anagen/audit/reads.py)
    per = int(per_page or settings.PATIENT_PAGE_SIZE)
    paginator = CappedPaginator([], per)
    cap = paginator.cap
    terms = search_terms(query)
    counted = counted_in_page(terms)
    last_possible = math.ceil((cap + 1) / per)  # the count never exceeds cap + 1
    wanted = _requested(number)

    count: int | None = None
    rows: list[SearchRow] = []
    if wanted is not None and wanted <= last_possible:
        if counted:
            rows, total = _rows(actor, terms, True, (wanted - 1) * per, per)
            if rows:
                count = min(total, cap + 1)
            elif wanted == 1:
                count = 0
        elif wanted == 1:
            rows, _ = _rows(actor, terms, False, 0, per)
            if len(rows) < per:
                count = len(rows)  # the whole result is on this page
    if count is None:  # a full first page, a later page or one past the end: count (bounded)
        count = _bounded_count(actor, terms, cap)
    paginator.__dict__["count"] = count
    asked = wanted or 0
    number_shown = asked if 1 <= asked <= paginator.num_pages else paginator.num_pages
    if count and (number_shown != asked or not rows):
        rows, _ = _rows(actor, terms, False, (number_shown - 1) * per, per)
    bottom = (number_shown - 1) * per
    top = count if bottom + per >= count else bottom + per  # as Paginator.page (no orphans)
    return Page(rows[: max(0, top - bottom)], number_shown, paginator)
