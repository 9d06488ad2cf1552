"""Parts of the patient chart rendered once per content (issue 15: a chart view must not cost
more with a longer history, nor redo work that did not change).

The latest intake's summary: an intake version never changes once recorded (a change is a new
version, anagen/patients/models.py `Intake`), so its rendered summary is addressed by the
version's identity (row, patient, version number and the moment it was recorded) and by the
zone and language it is shown in. Its medication, allergy, lab and history lines are read only
when that rendering is not cached yet.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from django.core.cache import caches
from django.db.models import prefetch_related_objects
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from anagen.patients.models import Intake

INTAKE_SUMMARY_TEMPLATE = "patients/_intake_summary.html"
INTAKE_LINES = ("medications", "allergies", "labs", "prior_treatments", "prior_procedures")
CHART_CACHE_SECONDS = 24 * 3600

# The project's cache of rendered page parts (settings CACHES["rendered"]), not the default one.
chart_cache = caches["rendered"]


def chart_key(kind: str, *parts: object) -> str:
    """A content address: a hash of `parts` and of the zone and language shown in."""
    digest = hashlib.sha256(repr(parts).encode())
    digest.update(f"|{timezone.get_current_timezone_name()}|{get_language()}".encode())
    return f"chart-{kind}:{digest.hexdigest()}"


def intake_summary_html(
    intake: Intake, full: Callable[[], Intake | None] | None = None
) -> SafeString:
    """The summary of one intake version (patients/_intake_summary.html), rendered once.
    ``full`` reads the whole version when ``intake`` holds only its head (the chart)."""
    key = chart_key(
        "intake",
        INTAKE_SUMMARY_TEMPLATE,
        intake.pk,
        intake.patient_id,
        intake.version,
        intake.recorded_at.timestamp(),
    )
    html = chart_cache.get(key)
    if html is None:
        whole = full() if full is not None else intake
        intake = whole if whole is not None else intake
        prefetch_related_objects([intake], *INTAKE_LINES)
        html = render_to_string(INTAKE_SUMMARY_TEMPLATE, {"intake": intake})
        chart_cache.set(key, html, CHART_CACHE_SECONDS)
    return mark_safe(html)  # noqa: S308 - our own template's output, escaped there
