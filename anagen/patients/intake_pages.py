"""Parts of the intake pages drawn in Python rather than by a template loop.

Each writes exactly what the template it replaces wrote (anagen/patients/tests/
test_intake_pages.py compares the two): a patient with years of visits has dozens of intake
versions, and the version list was most of the intake page's render time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.db.models import prefetch_related_objects
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.functional import SimpleLazyObject, cached_property
from django.utils.safestring import SafeString, mark_safe

from anagen.patients.chart import CHART_CACHE_SECONDS, INTAKE_LINES, chart_cache, chart_key
from anagen.web.fast_widgets import template_text
from anagen.web.templatetags.human import when

# What patients/intake_detail.html looped over before (the test renders it for comparison).
VERSIONS_TEMPLATE = (
    "{% for v in versions %}<li>{% if v.version == intake.version %}<strong>Version "
    "{{ v.version }}</strong>{% else %}<a href=\"{% url 'intake-detail' patient.pk v.version %}\">"
    "Version {{ v.version }}</a>{% endif %} — {{ v.recorded_at|when }}, {{ v.recorded_by }}"
    "</li>{% endfor %}"
)


def intake_versions_html(patient_id: int, versions: Iterable[Any], current: int) -> SafeString:
    """The "All versions" list items: the version shown in bold, the others linked.

    Drawn once per list and kept in the rendered-parts cache, addressed by everything it shows
    (each version's number, moment recorded and recorder as written, the version shown, the
    link's address, the zone and language): a renamed recorder or a new version is a new
    address, never a stale list. Formatting 60 recorded times was most of the page's own work."""
    versions = list(versions)
    first = reverse("intake-detail", args=[patient_id, 1])
    shown = tuple((v.version, v.recorded_at.timestamp(), str(v.recorded_by)) for v in versions)
    key = chart_key("intake-versions", first, patient_id, current, shown)
    html = chart_cache.get(key)
    if html is None:
        html = _versions_html(patient_id, versions, current, first)
        chart_cache.set(key, html, CHART_CACHE_SECONDS)
    return mark_safe(html)  # noqa: S308 - escaped by template_text below


def _versions_html(patient_id: int, versions: list[Any], current: int, first: str) -> str:
    prefix = first[:-2] if first.endswith("/1/") else None
    out = []
    for v in versions:
        number = template_text(v.version)
        if v.version == current:
            head = f"<strong>Version {number}</strong>"
        else:
            url = (
                f"{prefix}{v.version}/"
                if prefix is not None
                else reverse("intake-detail", args=[patient_id, v.version])
            )
            head = f'<a href="{template_text(url)}">Version {number}</a>'
        out.append(
            f"<li>{head} — {template_text(when(v.recorded_at))}, "
            f"{template_text(v.recorded_by)}</li>"
        )
    return "".join(out)


INTAKE_FORM_BODY = "patients/_intake_form_body.html"


class IntakeFormParts:
    """The intake form's fields and row tables for a new version based on `latest` (None: a
    first intake), built by `build(latest)` -> (form, formsets) only when they are needed.

    Unbound, they are a function of the latest version alone, and a version never changes once
    recorded (anagen/patients/models.py `Intake`; the chart caches its summary the same way):
    `body_html()` is drawn once per version, addressed by the version's identity (row, patient,
    number, moment recorded) and the zone and language, and the version's lines are read only
    to draw it. A bound form (a refused save) is drawn every time."""

    def __init__(self, latest: Any, build: Callable[[Any], tuple[Any, Any]]) -> None:
        self.latest = latest
        self._build = build

    @cached_property
    def built(self) -> tuple[Any, Any]:
        if self.latest is not None:
            prefetch_related_objects([self.latest], *INTAKE_LINES)
        return self._build(self.latest)

    def lazy(self) -> tuple[Any, Any]:
        """The form and the formsets as the page's context offers them (built if read)."""
        return SimpleLazyObject(lambda: self.built[0]), SimpleLazyObject(lambda: self.built[1])

    def body_html(self) -> SafeString:
        latest = self.latest
        identity = (
            (latest.pk, latest.patient_id, latest.version, latest.recorded_at.timestamp())
            if latest is not None
            else ("first intake",)
        )
        key = chart_key("intake-form", INTAKE_FORM_BODY, *identity)
        html = chart_cache.get(key)
        if html is None:
            form, formsets = self.built
            html = body_html(form, formsets)
            chart_cache.set(key, html, CHART_CACHE_SECONDS)
        return mark_safe(html)  # noqa: S308 - our own template's output, escaped there


def body_html(form: Any, formsets: Any) -> SafeString:
    """The form's fields and row tables (bound or not), drawn now."""
    return mark_safe(  # noqa: S308 - our own template's output, escaped there
        render_to_string(INTAKE_FORM_BODY, {"form": form, "formsets": formsets})
    )
