"""Parts of the patient's account page written in Python, byte for byte as the template did
(issue 15): the plans a quote can be made for (``<option>`` per plan, the label through a kept
clinic date) and the two forms (``fast_widgets.form_fields`` writes ``_form_fields.html``).
``tests/test_money_page_one_query.py`` compares the page with the template's rendering.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import lru_cache

from django.conf import settings
from django.utils import translation
from django.utils.safestring import SafeString, mark_safe

from anagen.accounts.clinic_time import human_date
from anagen.scheduling.models import TreatmentPlan
from anagen.web.fast_widgets import template_text as _t


@lru_cache(maxsize=4096)
def _from(start_on: dt.date, language: str | None) -> str:
    # ``language`` is part of the key: the month's name depends on it (a date has no zone).
    return human_date(start_on)


def _int(value: int) -> str:
    """``{{ value }}`` of an int: the digits, unless the settings group thousands."""
    return _t(value) if settings.USE_THOUSAND_SEPARATOR else str(value)


def plan_options(plans: Iterable[TreatmentPlan]) -> SafeString:
    """``{% for p in plans %}<option value="{{ p.pk }}">{{ p }}</option>{% endfor %}``."""
    language = translation.get_language()
    out = []
    for p in plans:
        # TreatmentPlan.__str__: "<protocol name> from <start date>".
        label = f"{p.protocol_name} from {_from(p.start_on, language)}"
        out.append(f'<option value="{_int(p.pk)}">{_t(label)}</option>')
    return mark_safe("".join(out))  # noqa: S308 - every value escaped above
