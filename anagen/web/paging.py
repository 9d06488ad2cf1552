"""A paginator whose count stops early (issue 15): a page of a 100,000-row list costs a bounded
count (at most CAP + 1 rows) and one slice, never two full scans."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.utils.functional import cached_property

CAP = 1000


class CappedPaginator(Paginator):
    """Counts no further than CAP + 1; `capped` says the list goes on beyond what was counted
    (pages show "more than 1,000" and ask for a narrower search instead of a page total)."""

    cap = CAP

    @cached_property
    def count(self) -> int:
        qs: Any = self.object_list
        if hasattr(qs, "order_by"):
            return int(qs.order_by()[: self.cap + 1].count())
        return len(qs)

    @property
    def capped(self) -> bool:
        return self.count > self.cap

    @property
    def cap_label(self) -> str:
        return f"{self.cap:,}"
