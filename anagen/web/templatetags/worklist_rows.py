"""The home page's worklist rows, written in Python (anagen/web/worklist_html.py)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import SafeString

from anagen.web.worklist_html import rows_html, sign_table_html

register = template.Library()


class _With:
    """The context as the row template saw it through ``{% include … with today=… %}``."""

    def __init__(self, context: Any, **extra: Any) -> None:
        self.context, self.extra = context, extra

    def get(self, key: str, default: Any = None) -> Any:
        if key in self.extra:
            return self.extra[key]
        return self.context.get(key, default)


@register.simple_tag(takes_context=True)
def worklist_rows(context: Any, shown: Any, today: Any = None) -> SafeString:
    """``{% include "web/rows/<section>.html" with rows=shown.rows today=today %}``."""
    return rows_html(shown.section.name, shown.rows, _With(context, today=today))


@register.simple_tag(takes_context=True)
def worklist_sign_table(context: Any, sessions: Any, assessments: Any) -> SafeString:
    """``{% include "web/rows/sign_table.html" with sessions=… assessments=… %}``."""
    return sign_table_html(sessions, assessments, context)
