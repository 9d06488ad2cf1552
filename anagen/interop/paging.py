"""Paging for API lists: one query schema and one function, shared by every router."""

from __future__ import annotations

import math
from typing import Any

from django.db.models import QuerySet
from ninja import Field

from anagen.interop.schemas import QueryIn

MAX_PAGE = 100_000  # beyond any real list; bounds the OFFSET the database is asked for


class PageQuery(QueryIn):
    page: int = Field(1, ge=1, le=MAX_PAGE)
    page_size: int = Field(25, ge=1, le=100)


def page_of(qs: QuerySet[Any], page: int, page_size: int) -> dict[str, Any]:
    """{count, page, pages, results} for one page of a queryset."""
    count = qs.count()
    start = (page - 1) * page_size
    return {
        "count": count,
        "page": page,
        "pages": max(1, math.ceil(count / page_size)),
        "results": list(qs[start : start + page_size]),
    }
