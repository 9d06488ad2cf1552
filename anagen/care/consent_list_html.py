"""The consents page's rows written in Python, byte for byte as ``care/_consent_rows.html``.

Through the template, each of the 50 history lines cost a ``{% url %}`` reversal, a clinic-time
format and a dozen variable lookups: most of the page's time (issue 15). ``status_rows`` and
``history_items`` write the same strings the reference template does (same whitespace, same
escaping, same clinic-time words through ``anagen.web.worklist_html``); URLs are reversed once per
page with a stand-in number. The template stays the reference: ``tests/test_consent_page_fast.py``
renders both on random consents and requires the same bytes.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.utils import translation
from django.utils.safestring import SafeString, mark_safe

from anagen.care.selectors import ConsentLine, ConsentStatus
from anagen.web.fast_widgets import template_text as _t
from anagen.web.worklist_html import _day, _Urls, _when


@lru_cache(maxsize=256)
def _version(version: int, language: str | None) -> str:
    # ``{{ version }}`` is localised: ``language`` is part of the key.
    return _t(version)


def status_rows(statuses: list[ConsentStatus], patient: Any, actor: Any) -> SafeString:
    """The status table's rows (the ``{% for s in statuses %}`` loop)."""
    url = _Urls()
    may_view = bool(actor.perms.clinical_view)
    may_record = bool(actor.perms.consent_record)
    language = translation.get_language()
    out = []
    for s in statuses:
        c = s.consent
        label = _t(s.label)
        cell = ""
        if may_view:
            view = f'<a href="{url("care-consent-detail", patient.pk, c.pk)}">View</a>' if c else ""
            cell += f"\n          {view}\n          "
        if may_record:
            sign = ""
            if s.status != "valid":
                word = "Sign" if s.status == "none" else "Sign again"
                href = url("care-consent-sign", patient.pk, s.kind)
                sign = (
                    f'<a class="button small" href="{href}">'
                    f'{word}<span class="sr"> {label}</span></a>'
                )
            cell += f"\n          {sign}\n        "
        version = "v" + _version(s.template.version, language) if s.template else "—"
        out.append(
            f'\n      <tr id="consent-{_t(s.kind)}">\n'
            f"        <td>{label}</td>\n"
            f'        <td class="consent-{_t(s.status)}">{_t(s.status_label)}</td>\n'
            f"        <td>{_day(c.signed_at) if c else '—'}</td>\n"
            f"        <td>{version}</td>\n"
            f"        <td>{cell}</td>\n"
            "      </tr>\n    "
        )
    return mark_safe("".join(out))  # noqa: S308 - every value escaped above


def history_items(history: list[ConsentLine], patient: Any) -> SafeString:
    """The ``<li>`` of every signed consent listed (the ``{% for c in history %}`` loop)."""
    url = _Urls()
    language = translation.get_language()
    out = []
    for c in history:
        withdrawn = ""
        if c.withdrawn_at is not None:
            withdrawn = f"; <strong>withdrawn</strong> {_day(c.withdrawn_at)}"
        out.append(
            f'<li><a href="{url("care-consent-detail", patient.pk, c.pk)}">'
            f"{_t(c.kind_label)}, v{_version(c.version, language)}</a>"
            f" — signed {_when(c.signed_at)}, witness {_t(c.witness)}{withdrawn}</li>"
        )
    return mark_safe("".join(out))  # noqa: S308 - every value escaped above
