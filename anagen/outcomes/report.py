"""The patient outcome report: one template, rendered to PDF by WeasyPrint.

Images are inlined as data URIs (charts as SVG, photos as JPEG) so WeasyPrint never fetches
anything over the network; photos appear only with the patient's clinical photo consent.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe

from anagen.accounts.access import Actor
from anagen.accounts.logo import logo_data_uri
from anagen.accounts.permissions import Perm
from anagen.audit.services import audit_record
from anagen.outcomes import charts, selectors
from anagen.outcomes.models import PhotoView
from anagen.patients.models import Patient


def _data_uri(content: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(content).decode('ascii')}"


@dataclass
class ComparisonPhotos:
    view: str
    before_on: Any
    after_on: Any
    before: str
    after: str
    missing: bool = False  # a stored file is gone: the report says so instead of failing


def _comparisons(patient: Patient, sets: list[Any]) -> list[ComparisonPhotos]:
    from anagen.care.selectors import consent_valid_for

    if consent_valid_for(patient, "photo_clinical") is None:
        return []
    by_view: dict[str, list[Any]] = {}
    for photo_set in sets:
        for photo in photo_set.photos.all():
            by_view.setdefault(photo.view, []).append(photo)
    out = []
    for view in PhotoView.values:
        photos = by_view.get(view, [])
        if len(photos) < 2:
            continue
        first, last = photos[0], photos[-1]
        entry = ComparisonPhotos(
            view=PhotoView(view).label,
            before_on=first.photo_set.taken_on,
            after_on=last.photo_set.taken_on,
            before="",
            after="",
        )
        try:
            with first.thumbnail.open("rb") as a, last.thumbnail.open("rb") as b:
                entry.before = _data_uri(a.read(), "image/jpeg")
                entry.after = _data_uri(b.read(), "image/jpeg")
        except (FileNotFoundError, ValueError):
            from anagen.outcomes.imaging import alert_missing_file

            alert_missing_file("photo", f"{first.pk}/{last.pk}", "thumbnail")
            entry.missing = True
        out.append(entry)
    return out


# The patient reads the report: measures and methods in everyday words (no codes, no jargon).
PLAIN_MEASURES: dict[str, tuple[str, str]] = {
    "density_per_cm2": ("Hair density", "hairs per cm²"),
    "hair_count": ("Number of hairs in the measured patch", "hairs"),
    "mean_diameter_um": ("Average thickness of a hair", "thousandths of a millimetre"),
    "cumulative_thickness_mm_per_cm2": ("Total thickness of the hairs", "mm per cm²"),
    "terminal_pct": ("Share of thick, fully grown hairs", "%"),
    "anagen_pct": ("Share of hairs that are growing", "%"),
    "salt": ("Share of the scalp with hair loss", "%"),
    "wash_test_count": ("Hairs lost in one hair wash", "hairs"),
    "pull_test_shed": ("Hairs that came out in a gentle pull", "hairs"),
    "global_photo_rating": ("Change seen in your photos", "on a scale from -3 to +3"),
    "satisfaction": ("How satisfied you are", "on a scale from 1 to 5"),
}
LOWER_IS_BETTER = {"salt", "wash_test_count", "pull_test_shed"}
PLAIN_METHODS: dict[str, str] = {
    "phototrichogram": "close-up photos of a small trimmed patch",
    "trichoscopy": "a magnifying scalp camera",
    "manual_count": "counting by hand",
    "imported_device": "a hair-measuring device",
}


@dataclass
class PlainRow:
    """One measurement, said in everyday words."""

    what: str
    how: str
    where: str
    unit: str
    decimals: int
    baseline: float | None
    latest: float | None
    latest_on: Any
    change: float | None
    percent: float | None
    direction: str  # "went up", "went down", "did not change", ""
    verdict: str  # "more", "within", "unknown"
    margin: float | None  # the normal measuring difference, in the measure's unit
    lower_is_better: bool


def plain_rows(series: list[Any]) -> list[PlainRow]:
    rows = []
    for s in series:
        what, unit = PLAIN_MEASURES.get(s.measure.id, (s.measure.label, s.measure.unit))
        latest = s.latest
        change = latest.change.absolute if latest and latest.change else None
        percent = latest.change.percent if latest and latest.change else None
        if change is None:
            direction = ""
        elif change > 0:
            direction = "went up"
        elif change < 0:
            direction = "went down"
        else:
            direction = "did not change"
        verdict = "unknown"
        if latest is not None and latest.detectable is True:
            verdict = "more"
        elif latest is not None and latest.detectable is False:
            verdict = "within"
        rows.append(
            PlainRow(
                what=what,
                how=PLAIN_METHODS.get(s.method, "the clinic's usual method"),
                where=s.site.name if s.site else "",
                unit=unit,
                decimals=s.measure.decimals,
                baseline=s.baseline,
                latest=latest.value if latest else (s.points[-1].value if s.points else None),
                latest_on=latest.on if latest else (s.points[-1].on if s.points else None),
                change=abs(change) if change is not None else None,
                percent=abs(percent) if percent is not None else None,
                direction=direction,
                verdict=verdict,
                margin=s.mdc,
                lower_is_better=s.measure.id in LOWER_IS_BETTER,
            )
        )
    return rows


def report_context(*, actor: Actor, patient: Patient) -> dict[str, Any]:
    from anagen.scheduling.models import TreatmentPlan

    actor.require(Perm.CLINICAL_VIEW)
    series = selectors.series_for(actor=actor, patient=patient)
    sessions = selectors.session_dates(patient)
    plans = list(TreatmentPlan.objects.filter(patient=patient).order_by("-start_on", "-id")[:3])
    charted: list[dict[str, Any]] = []
    for s in series:
        if len(s.points) < 2 or len(charted) >= 6:
            continue
        title = PLAIN_MEASURES.get(s.measure.id, (s.measure.label, ""))[0]
        title += f", {s.site.name}" if s.site else ""
        svg = charts.series_svg(s, sessions, plain_title=title)
        charted.append(
            {"series": s, "title": title, "svg": _data_uri(svg.encode(), "image/svg+xml")}
        )
    return {
        "patient": patient,
        "clinic": actor.clinic,
        "clinic_logo": logo_data_uri(actor.clinic),  # "" without a logo: no image at all
        "generated_at": actor.now(),
        "plans": plans,
        "sessions": sessions,
        "series": series,
        "rows": plain_rows(series),
        "charts": charted,
        "comparisons": _comparisons(patient, selectors.photo_sets(actor=actor, patient=patient)),
        "blinded": selectors.blinded_results(patient),
    }


def _report_css() -> str:
    from django.contrib.staticfiles import finders

    path = finders.find("outcomes/report.css")
    with open(str(path), encoding="utf-8") as fh:
        return fh.read()


def report_html(*, actor: Actor, patient: Patient, request: HttpRequest | None = None) -> str:
    """The report page. For the PDF (no request) the stylesheet is inlined, since WeasyPrint
    fetches nothing; the browser preview links the static file instead (strict CSP)."""
    # Dates and times in the clinic's zone whoever renders it (a request, a task, a command).
    with timezone.override(actor.tz):
        context = report_context(actor=actor, patient=patient)
        if request is None:
            context["report_css"] = mark_safe(_report_css())  # noqa: S308 - our own static file
        return render_to_string("outcomes/report.html", context, request=request)


def render_document(html: str) -> Any:
    from weasyprint import HTML

    return HTML(string=html, base_url=None).render()


def report_pdf(*, actor: Actor, patient: Patient) -> bytes:
    """The PDF bytes for one patient; the read of the record is audited."""
    html = report_html(actor=actor, patient=patient)
    pdf = render_document(html).write_pdf()
    with transaction.atomic():
        audit_record(action="outcome_report.create", actor=actor, patient=patient, obj=patient)
    return bytes(pdf)


def document_text(document: Any) -> str:
    """All text laid out in a rendered WeasyPrint document, page by page (for checks)."""

    def walk(box: Any) -> list[str]:
        text = [box.text] if hasattr(box, "text") and isinstance(box.text, str) else []
        for child in getattr(box, "children", []) or []:
            text.extend(walk(child))
        return text

    return "\n".join(" ".join(walk(page._page_box)) for page in document.pages)
