"""Paging for API lists: one query schema and one function, shared by every router.

No exact `COUNT(*)` over a whole clinic (issue 15): the count stops at COUNT_CAP rows (a count
of COUNT_CAP + 1 means "more than COUNT_CAP"), so a clinic-wide list never scans the whole
table, and a page costs the same two queries (a bounded count and one slice) for a patient
with one record or ten thousand.
"""

from __future__ import annotations

import math
from typing import Any

from django.db.models import QuerySet
from ninja import Field

from anagen.interop.schemas import QueryIn

MAX_PAGE = 100_000  # beyond any real list; bounds the OFFSET the database is asked for
COUNT_CAP = 10_000  # counts beyond this are reported as COUNT_CAP + 1 ("more than")


class PageQuery(QueryIn):
    page: int = Field(1, ge=1, le=MAX_PAGE)
    page_size: int = Field(25, ge=1, le=100)


def bounded_count(qs: QuerySet[Any], cap: int | None = None) -> int:
    """The number of rows, counted no further than cap + 1 (one bounded subquery)."""
    limit = COUNT_CAP if cap is None else cap
    return qs.order_by()[: limit + 1].count()


def page_of(qs: QuerySet[Any], page: int, page_size: int) -> dict[str, Any]:
    """{count, page, pages, results} for one page of a queryset, without a full count."""
    count = bounded_count(qs)
    start = (page - 1) * page_size
    return {
        "count": count,
        "page": page,
        "pages": max(1, math.ceil(count / page_size)),
        "results": list(qs[start : start + page_size]),
    }
