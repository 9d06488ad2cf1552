"""Paging for API lists: one query schema and one function, shared by every router.

No exact `COUNT(*)` over a whole clinic (issue 15): the count stops at COUNT_CAP rows (a count
of COUNT_CAP + 1 means "more than COUNT_CAP"), so a clinic-wide list never scans the whole
table, and a page costs the same query for a patient with one record or ten thousand.

A page is one query: its rows, each carrying the bounded count as an uncorrelated scalar
subquery the database computes once (an empty first page counts 0 without asking; only a page
past the end asks for the count on its own). A count found over the cap is remembered by the
worker for OVER_CAP_SECONDS: a list that held more than COUNT_CAP rows a moment ago still does
(counting 10,001 rows again on every page of a clinic-wide list is what made it slow), so its
next pages are one plain slice.

What that memory may get wrong, and what it may not: it is keyed by the list's exact query (the
SQL and parameters of its rows: model, clinic, every filter), so one filter's count is never
another's. A page that ends the list (fewer rows than the page size) counts itself exactly:
it is the last page, so the count is the rows before it plus its own. Only a page in the middle
of a list that shrank from over COUNT_CAP to under it in the last OVER_CAP_SECONDS still says
"more than COUNT_CAP" (count COUNT_CAP + 1) until the memory expires; its rows are always
current. Counting again on every page would cost a scan of COUNT_CAP + 1 rows per request.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

from django.db import DEFAULT_DB_ALIAS
from django.db.models import IntegerField, QuerySet, Subquery
from django.db.models.query import ModelIterable
from ninja import Field

from anagen.interop.schemas import QueryIn

MAX_PAGE = 100_000  # beyond any real list; bounds the OFFSET the database is asked for
COUNT_CAP = 10_000  # counts beyond this are reported as COUNT_CAP + 1 ("more than")
OVER_CAP_SECONDS = 60.0  # how long a list seen over the cap is taken to still be over it
MAX_REMEMBERED = 2000
_TOTAL = "_anagen_page_total"

_lock = threading.Lock()
_over_cap: dict[tuple[Any, ...], float] = {}


class PageQuery(QueryIn):
    page: int = Field(1, ge=1, le=MAX_PAGE)
    page_size: int = Field(25, ge=1, le=100)


def bounded_count(qs: QuerySet[Any], cap: int | None = None) -> int:
    """The number of rows, counted no further than cap + 1 (one bounded subquery)."""
    limit = COUNT_CAP if cap is None else cap
    return qs.order_by()[: limit + 1].count()


class _BoundedCount(Subquery):
    """`(SELECT COUNT(*) FROM (<the rows' ids, at most `limit`>))`: an uncorrelated scalar
    subquery, computed once by the database for the whole page."""

    template = "(SELECT COUNT(*) FROM (%(subquery)s) AS anagen_page_rows)"

    def __init__(self, qs: QuerySet[Any], limit: int) -> None:
        super().__init__(qs.order_by().values("pk")[:limit], output_field=IntegerField())


def _count_key(qs: QuerySet[Any], limit: int) -> tuple[Any, ...]:
    sql, params = qs.order_by().values("pk")[:limit].query.sql_with_params()
    return (qs.db, sql, tuple(params))


def _one_query(qs: QuerySet[Any]) -> bool:
    """Whether the count can ride along as a scalar subquery of the page's query."""
    query = qs.query
    return (
        qs._iterable_class is ModelIterable
        and qs.db == DEFAULT_DB_ALIAS
        and not query.is_sliced
        and not query.combinator
        and query.group_by is None
        and not query.distinct_fields
        and _TOTAL not in query.annotations
    )


def _known_over(key: tuple[Any, ...]) -> bool:
    with _lock:
        seen = _over_cap.get(key)
    return seen is not None and time.monotonic() - seen < OVER_CAP_SECONDS


def _remember_over(key: tuple[Any, ...]) -> None:
    with _lock:
        if len(_over_cap) >= MAX_REMEMBERED:
            _over_cap.clear()
        _over_cap[key] = time.monotonic()


def _forget(key: tuple[Any, ...]) -> None:
    with _lock:
        _over_cap.pop(key, None)


def forget_counts() -> None:
    """Forget every count remembered as over the cap (tests)."""
    with _lock:
        _over_cap.clear()


def page_of(qs: QuerySet[Any], page: int, page_size: int) -> dict[str, Any]:
    """{count, page, pages, results} for one page of a queryset, without a full count."""
    limit = COUNT_CAP + 1
    start = (page - 1) * page_size
    if not _one_query(qs):
        count = bounded_count(qs)
        results = list(qs[start : start + page_size])
    else:
        key = _count_key(qs, limit)
        if _known_over(key):
            results = list(qs[start : start + page_size])
            if 0 < len(results) < page_size:
                # The last page: exact, whatever was remembered (still capped at "more than").
                count = min(start + len(results), limit)
            elif results:
                count = limit  # over the cap a moment ago (see the module's note)
            else:
                count = bounded_count(qs)  # past the end: ask
            if count < limit:
                _forget(key)  # no longer over the cap: the next pages count again
        else:
            counted = qs.annotate(**{_TOTAL: _BoundedCount(qs, limit)})
            results = list(counted[start : start + page_size])
            if results:
                count = getattr(results[0], _TOTAL)
            elif page == 1:
                count = 0
            else:
                count = bounded_count(qs)
            if count >= limit:
                _remember_over(key)
    return {
        "count": count,
        "page": page,
        "pages": max(1, math.ceil(count / page_size)),
        "results": results,
    }
