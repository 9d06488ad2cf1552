"""Outcome pages: measurements, device import, photos, comparison, progress, report, analytics,
blinded rating. Thin: form → one service/selector → render."""

from __future__ import annotations

import csv
import io
import secrets
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Page, Paginator
from django.db import transaction
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render

from anagen.accounts.access import ClinicRequest, patient_for, patients_for
from anagen.accounts.clinic_time import human_datetime
from anagen.accounts.decorators import clinic_view
from anagen.accounts.permissions import Perm
from anagen.audit.services import audit_record
from anagen.clinical import RESPONDER_RULES, UNCONTROLLED_NOTE, rule_text
from anagen.clinical.cohort_stats import t_table_reference
from anagen.clinical.outcomes import uncontrolled_references
from anagen.clinical.references import format_reference
from anagen.outcomes import charts, report, selectors, services
from anagen.outcomes.forms import (
    AnalyticsForm,
    ImportForm,
    MeasurementForm,
    PanelForm,
    PhotoSetForm,
    PhotoUploadForm,
    RatingForm,
)
from anagen.outcomes.imaging import alert_missing_file, max_bytes
from anagen.outcomes.models import Method, PhotoView
from anagen.web.forms import attach_errors


def _file_missing(request: ClinicRequest, what: str, patient: Any = None) -> HttpResponse:
    """A clear 404 page for a record whose stored file is gone (the operator alert is logged)."""
    return render(
        request,
        "outcomes/file_missing.html",
        {"what": what, "patient": patient, "retake": what.endswith("photo")},
        status=404,
    )


def _status(request: ClinicRequest, ok: bool = False) -> int:
    return 400 if request.method == "POST" and not ok else 200


def _int(value: str | None) -> int | None:
    try:
        number = int(value or "")
    except ValueError:
        return None
    return number if 0 < number < 2**63 else None


# Visits and photo sets per page: a ten-year history is paged, never drawn whole (issue 15).
HISTORY_PAGE_SIZE = 20


def _page(rows: list[Any], number: int, count: int) -> Page:
    """One page of a patient's history for the pager (oldest first within the page; the latest
    page unless the request names one), from rows read with their count in one query: the same
    queries for any history."""
    return Page(rows, number, Paginator(range(count), HISTORY_PAGE_SIZE))


# --- measurements ------------------------------------------------------------------------------


@clinic_view(Perm.CLINICAL_VIEW)
def measurement_list(request: ClinicRequest, patient_id: int) -> HttpResponse:
    patient = patient_for(request.actor, patient_id)
    # The page's sets and their number in one query, their measurements in one more (issue 15).
    sets, count, number = selectors.history_page(
        selectors.measurement_sets(actor=request.actor, patient=patient),
        _page_wanted(request),
        HISTORY_PAGE_SIZE,
    )
    page = _page(sets, number, count)
    # One statement on PostgreSQL (its own transaction): no BEGIN/COMMIT round trips of ours.
    audit_record(action="measurement.read", actor=request.actor, patient=patient)
    return render(
        request,
        "outcomes/measurements.html",
        {"patient": patient, "sets": page.object_list, "page": page},
    )


@clinic_view(Perm.OUTCOMES_RECORD)
def measurement_create(request: ClinicRequest, patient_id: int) -> HttpResponse:
    patient = patient_for(request.actor, patient_id)
    site = selectors.sites_for(patient).first()
    initial = {
        "measured_on": request.actor.today(),
        "visit_label": "follow_up" if selectors.has_baseline(patient) else "baseline",
        "site_name": site.name if site else "Vertex tattoo dot",
        "location": site.location if site else "vertex",
        "area": 1,
    }
    form = MeasurementForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            mset = services.measurement_set_record(
                actor=request.actor, patient=patient, values=form.to_values()
            )
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, f"{mset} recorded.")
            return redirect("outcomes-measurements", patient.pk)
    return render(
        request,
        "outcomes/measurement_form.html",
        {"patient": patient, "form": form, "sites": selectors.sites_for(patient)},
        status=_status(request),
    )


@clinic_view(Perm.OUTCOMES_RECORD)
def import_upload(request: ClinicRequest, patient_id: int) -> HttpResponse:
    patient = patient_for(request.actor, patient_id)
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            batch = services.import_preview(
                actor=request.actor,
                patient=patient,
                filename=upload.name,
                content=upload.read(services.MAX_IMPORT_BYTES + 1),
                mapping=form.mapping(),
                density_unit=form.cleaned_data["density_unit"],
                device=form.cleaned_data["device"],
            )
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            return redirect("outcomes-import-preview", patient.pk, batch.pk)
    return render(
        request,
        "outcomes/import_form.html",
        {"patient": patient, "form": form},
        status=_status(request),
    )


@clinic_view(Perm.OUTCOMES_RECORD)
def import_preview(request: ClinicRequest, patient_id: int, batch_id: int) -> HttpResponse:
    patient = patient_for(request.actor, patient_id)
    batch = selectors.import_get(actor=request.actor, patient=patient, batch_id=batch_id)
    if batch is None:
        raise Http404("No such import.")
    error = ""
    if request.method == "POST":
        try:
            created = services.import_commit(actor=request.actor, batch=batch)
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            messages.success(
                request,
                f"Imported {len(created)} visit{'' if len(created) == 1 else 's'} "
                "from the device file.",
            )
            return redirect("outcomes-measurements", patient.pk)
    return render(
        request,
        "outcomes/import_preview.html",
        {"patient": patient, "batch": batch, "error": error},
        status=400 if error else 200,
    )


# --- progress ----------------------------------------------------------------------------------


@clinic_view(Perm.CLINICAL_VIEW)
def progress(request: ClinicRequest, patient_id: int) -> HttpResponse:
    patient = patient_for(request.actor, patient_id)
    series, visits_measured = selectors.progress_for(actor=request.actor, patient=patient)
    # Session dates and the blinded rating in one query (issue 15).
    sessions, blinded = selectors.progress_extras(patient)
    audit_record(action="outcome_progress.read", actor=request.actor, patient=patient)
    return render(
        request,
        "outcomes/progress.html",
        {
            "patient": patient,
            "series": [
                (
                    s,
                    charts.series_chart_query(patient.pk, s, sessions)
                    if len(s.points) >= 2
                    else "",
                )
                for s in series
            ],
            "visits_measured": visits_measured,
            "latest_visits": selectors.LATEST_VISITS,
            "sessions": sessions,
            "blinded": blinded,
        },
    )


@clinic_view(Perm.CLINICAL_VIEW)
def progress_chart(request: ClinicRequest, patient_id: int) -> HttpResponse:
    patient = patient_for(request.actor, patient_id)
    key = request.GET.get("series", "")
    # The progress page's link names the stored picture: read it, no series recomputed.
    svg = charts.signed_series_svg(
        patient.pk, key, request.GET.get("v", ""), request.GET.get("sig", "")
    )
    if svg is None:
        found = [
            s for s in selectors.series_for(actor=request.actor, patient=patient) if s.key == key
        ]
        if not found:
            raise Http404("No such series.")
        svg = charts.series_svg(found[0], selectors.session_dates(patient))
    response = HttpResponse(svg, content_type="image/svg+xml")
    response["Cache-Control"] = "private, no-store"
    return response


@clinic_view(Perm.CLINICAL_VIEW)
def report_pdf(request: ClinicRequest, patient_id: int) -> HttpResponse:
    patient = patient_for(request.actor, patient_id)
    if request.GET.get("format") == "html":
        # The same template the PDF uses, for a quick look in the browser.
        return HttpResponse(
            report.report_html(actor=request.actor, patient=patient, request=request)
        )
    pdf = report.report_pdf(actor=request.actor, patient=patient)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="outcomes-{patient.record_number}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response


@clinic_view(Perm.CLINICAL_VIEW)
def report_jobs(request: ClinicRequest) -> HttpResponse:
    if request.method == "POST":
        request.actor.require(Perm.OUTCOMES_RECORD)
        ids = {i for i in (_int(v) for v in request.POST.getlist("patients")) if i}
        if request.POST.get("all_measured"):
            ids |= selectors.measured_patient_ids(request.actor)
        patients = list(patients_for(request.actor).filter(pk__in=ids))
        try:
            job = services.report_job_start(actor=request.actor, patients=patients)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            return redirect("outcomes-report-job", job.pk)
    jobs = selectors.report_jobs_for(request.actor)
    return render(request, "outcomes/report_jobs.html", {"jobs": jobs})


@clinic_view(Perm.CLINICAL_VIEW)
def report_job(request: ClinicRequest, job_id: int) -> HttpResponse:
    job = selectors.report_job_get(actor=request.actor, job_id=job_id)
    if job is None:
        raise Http404("No such report batch.")
    files = selectors.report_files(job)
    template = "outcomes/_report_job.html" if request.htmx else "outcomes/report_job.html"  # type: ignore[attr-defined]
    return render(request, template, {"job": job, "files": files})


@clinic_view(Perm.CLINICAL_VIEW)
def report_file(request: ClinicRequest, job_id: int, file_id: int) -> HttpResponse | FileResponse:
    job = selectors.report_job_get(actor=request.actor, job_id=job_id)
    stored = selectors.report_file_get(actor=request.actor, job=job, file_id=file_id)
    if stored is None:
        raise Http404("No such report.")
    patient = patient_for(request.actor, stored.patient_id)
    try:
        handle = stored.file.open("rb")
    except (FileNotFoundError, ValueError):
        alert_missing_file("report", stored.pk, stored.file.name)
        return _file_missing(request, "The file of this report")
    with transaction.atomic():
        audit_record(action="outcome_report.read", actor=request.actor, patient=patient, obj=stored)
    return FileResponse(
        handle,
        as_attachment=True,
        filename=f"outcomes-{patient.record_number}.pdf",
        content_type="application/pdf",
    )


# --- photos ------------------------------------------------------------------------------------


def _consent_ok(patient: Any) -> bool:
    return selectors.photo_consent_valid(patient, "photo_clinical")


def _page_wanted(request: ClinicRequest) -> int | None:
    """The page a history view asked for, as ``Paginator.get_page`` reads it: none (or one out
    of range) is the latest, one that is not a number is the first."""
    raw = request.GET.get("page")
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        return 1


@clinic_view(Perm.CLINICAL_VIEW)
def photo_sets(request: ClinicRequest, patient_id: int) -> HttpResponse:
    patient = patient_for(request.actor, patient_id)
    form = PhotoSetForm(request.POST or None, initial={"taken_on": request.actor.today()})
    if request.method == "POST":
        request.actor.require(Perm.OUTCOMES_RECORD)
        if form.is_valid():
            try:
                photo_set = services.photo_set_create(
                    actor=request.actor, patient=patient, **form.cleaned_data
                )
            except ValidationError as exc:
                attach_errors(form, exc)
            except PermissionDenied as exc:
                form.add_error(None, str(exc))
            else:
                return redirect("outcomes-photo-capture", patient.pk, photo_set.pk)
    consent = _consent_ok(patient)
    page = None
    if consent:
        # The page's sets, their photos and the count in one query (issue 15).
        sets, count, number = selectors.photo_sets_page(
            actor=request.actor,
            patient=patient,
            page=_page_wanted(request),
            per_page=HISTORY_PAGE_SIZE,
        )
        page = _page(sets, number, count)
    return render(
        request,
        "outcomes/photo_sets.html",
        {
            "patient": patient,
            "form": form,
            "sets": page.object_list if page is not None else [],
            "page": page,
            "consent": consent,
            "views": PhotoView.choices,
        },
        status=_status(request),
    )


@clinic_view(Perm.OUTCOMES_RECORD)
def photo_capture(request: ClinicRequest, patient_id: int, set_id: int) -> HttpResponse:
    patient = patient_for(request.actor, patient_id)
    photo_set = selectors.photo_set_get(actor=request.actor, patient=patient, set_id=set_id)
    if photo_set is None:
        raise Http404("No such photo set.")
    view = request.POST.get("view") or request.GET.get("view") or "vertex"
    if view not in PhotoView.values:
        view = "vertex"
    form = PhotoUploadForm(request.POST or None, request.FILES or None, initial={"view": view})
    if request.method == "POST" and form.is_valid():
        try:
            photo = services.photo_add(
                actor=request.actor,
                photo_set=photo_set,
                view=form.cleaned_data["view"],
                content=form.cleaned_data["file"].read(max_bytes() + 1),
            )
        except ValidationError as exc:
            attach_errors(form, exc)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"{photo.get_view_display()} photo saved.")
            taken = set(selectors.photo_set_photos(photo_set))
            remaining = [v for v in PhotoView.values if v not in taken]
            if remaining:
                return redirect(f"{request.path}?view={remaining[0]}")
            return redirect("outcomes-photos", patient.pk)
    by_view = selectors.photo_set_photos(photo_set)
    return render(
        request,
        "outcomes/photo_capture.html",
        {
            "patient": patient,
            "photo_set": photo_set,
            "form": form,
            "view": view,
            "view_label": PhotoView(view).label,
            "ghost": selectors.previous_view(photo_set=photo_set, view=view),
            "views": [(v, label, by_view.get(v)) for v, label in PhotoView.choices],
        },
        status=_status(request),
    )


@clinic_view(Perm.CLINICAL_VIEW)
def photo_file(request: ClinicRequest, patient_id: int, photo_id: int) -> HttpResponse:
    patient = patient_for(request.actor, patient_id)
    photo = selectors.photo_get(actor=request.actor, patient=patient, photo_id=photo_id)
    if photo is None:
        raise Http404("No such photo.")
    try:
        data = services.photo_read(
            actor=request.actor,
            photo=photo,
            purpose=request.GET.get("purpose", "clinical"),
            thumb=request.GET.get("thumb") == "1",
        )
    except ValidationError as exc:
        return HttpResponse(" ".join(exc.messages), status=400, content_type="text/plain")
    except services.PhotoFileMissing:
        return _file_missing(request, "The file of this photo", patient=patient)
    response = HttpResponse(data, content_type="image/jpeg")
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@clinic_view(Perm.CLINICAL_VIEW)
def photo_compare(request: ClinicRequest, patient_id: int) -> HttpResponse:
    patient = patient_for(request.actor, patient_id)
    view = request.GET.get("view", "vertex")
    if view not in PhotoView.values:
        view = "vertex"
    consent = _consent_ok(patient)
    photos = (
        selectors.photos_of_view(actor=request.actor, patient=patient, view=view) if consent else []
    )
    by_id = {p.pk: p for p in photos}
    before = by_id.get(_int(request.GET.get("a")) or 0) or (photos[0] if photos else None)
    after = by_id.get(_int(request.GET.get("b")) or 0) or (photos[-1] if photos else None)
    return render(
        request,
        "outcomes/photo_compare.html",
        {
            "patient": patient,
            "view": view,
            "views": PhotoView.choices,
            "photos": photos,
            "before": before,
            "after": after,
            "consent": consent,
            "view_label": PhotoView(view).label,
            "mode": "slider" if request.GET.get("mode") == "slider" else "side",
        },
    )


# --- analytics ---------------------------------------------------------------------------------


def _analytics(
    request: ClinicRequest,
) -> tuple[AnalyticsForm, list[Any], list[Any], dict[str, Any]]:
    selectors.require_analytics(request.actor)
    data = request.GET if request.GET else None
    measure = request.GET.get("measure") or "density_per_cm2"
    if measure not in selectors.ANALYTIC_MEASURES:
        measure = "density_per_cm2"
    rule = request.GET.get("rule") or selectors.DEFAULT_RULE
    if rule not in RESPONDER_RULES:
        rule = selectors.DEFAULT_RULE
    outcomes = selectors.patient_outcomes(clinic=request.actor.clinic, measure=measure, rule=rule)
    form = AnalyticsForm(
        data,
        options=selectors.group_options(outcomes),
        initial={"measure": measure, "rule": rule},
    )
    group_by, filters = None, {}
    if form.is_valid():
        group_by = form.cleaned_data["group_by"] or None
        filters = form.filters()
    groups = selectors.cohorts(outcomes, group_by, filters)
    chosen = [o for o in outcomes if all(o.groups.get(k) == v for k, v in filters.items() if v)]
    meta = {
        "measure": selectors.MEASURES[measure],
        "rule": RESPONDER_RULES[rule],
        "rule_text": rule_text(rule),
        "rule_reference": format_reference(RESPONDER_RULES[rule].get("reference")),
        "follow_up_reference": format_reference(RESPONDER_RULES[rule].get("follow_up_reference")),
        "uncontrolled_note": UNCONTROLLED_NOTE,
        "uncontrolled_references": [format_reference(r) for r in uncontrolled_references()],
        "group_by": group_by,
        "group_by_label": selectors.DIMENSIONS.get(group_by or "", ""),
    }
    return form, groups, chosen, meta


def _disclosed(request: ClinicRequest, groups: list[Any], chosen: list[Any]) -> Any:
    return selectors.cohorts_disclosed(actor=request.actor, cohorts=groups, n=len(chosen))


@clinic_view(Perm.ANALYTICS_VIEW)
def analytics(request: ClinicRequest) -> HttpResponse:
    form, groups, chosen, meta = _analytics(request)
    shown = _disclosed(request, groups, chosen)
    return render(
        request,
        "outcomes/analytics.html",
        {
            "form": form,
            "cohorts": shown.cohorts,
            "suppressed": shown.suppressed,
            "fewer": shown.fewer,
            "min_cell": selectors.min_cell(),
            "patient_rows": shown.patient_rows,
            "n": shown.n,
            "query": request.GET.urlencode(),
            "t_reference": t_table_reference(),
            **meta,
        },
        status=200 if form.is_bound is False or form.is_valid() else 400,
    )


@clinic_view(Perm.ANALYTICS_VIEW)
def analytics_chart(request: ClinicRequest) -> HttpResponse:
    _form, groups, chosen, meta = _analytics(request)
    shown = _disclosed(request, groups, chosen)
    svg = charts.cohorts_svg(shown.cohorts, f"{meta['measure'].label}: change from baseline")
    response = HttpResponse(svg, content_type="image/svg+xml")
    response["Cache-Control"] = "private, no-store"
    return response


def _csv_response(text: str, filename: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


def _cohort_csv(request: ClinicRequest, shown: Any, meta: dict[str, Any]) -> str:
    """Aggregates only, as the reader may see them (small cells as "fewer than 5")."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "cohort",
            "cohort_code",
            "patients",
            "measure",
            "unit",
            "mean_baseline",
            "mean_follow_up",
            "mean_change",
            "mean_change_ci_low",
            "mean_change_ci_high",
            "mean_percent_change",
            "median_change",
            "responders",
            "responders_judged",
            "responder_rule",
            "comparison",
            "exported_at",
        ]
    )
    exported_at = human_datetime(request.actor.now())
    common = [meta["rule_text"], "uncontrolled before/after within the patient", exported_at]
    for c in shown.cohorts:
        r = c.responders
        writer.writerow(
            [
                c.label,
                c.code,
                c.n,
                meta["measure"].label,
                meta["measure"].unit,
                round(c.mean_baseline, 2),
                round(c.mean_follow_up, 2),
                round(c.absolute.mean, 2),
                "" if c.absolute.low is None else round(c.absolute.low, 2),
                "" if c.absolute.high is None else round(c.absolute.high, 2),
                round(c.percent.mean, 2),
                round(c.absolute_median.median, 2),
                r.k if r else c.responders_note,
                r.n if r else "",
                *common,
            ]
        )
    for label in shown.suppressed:
        blank = [""] * 10  # unit, the statistics and the responder counts: withheld
        writer.writerow([label, "", shown.fewer, meta["measure"].label, *blank, *common])
    return out.getvalue()


@clinic_view(Perm.ANALYTICS_VIEW)
def analytics_export(request: ClinicRequest) -> HttpResponse:
    """A reader allowed per-patient rows (ANALYTICS_PATIENT_ROWS) gets the de-identified CSV: a
    random study id per patient per export, age band instead of birth date, days from baseline
    instead of dates; no names or record numbers. Each group carries its label and, in a
    ``_code`` column, its stable code; the export time is clinic time. Anyone else (a clinic
    admin) gets the cohort aggregates with small cells suppressed (issue 13)."""
    _form, groups, chosen, meta = _analytics(request)
    shown = _disclosed(request, groups, chosen)
    if not shown.patient_rows:
        text = _cohort_csv(request, shown, meta)
        with transaction.atomic():
            audit_record(
                action="analytics.export",
                actor=request.actor,
                changes={
                    "rows": 0,
                    "cohorts": len(shown.cohorts),
                    "suppressed": len(shown.suppressed),
                    "measure": meta["measure"].id,
                    "query": request.GET.urlencode()[:500],
                },
            )
        return _csv_response(text, "outcomes-cohorts.csv")
    out = io.StringIO()
    writer = csv.writer(out)
    dims = list(selectors.DIMENSIONS)
    exported_at = human_datetime(request.actor.now())
    writer.writerow(
        [
            "study_id",
            *[c for d in dims for c in (d, f"{d}_code")],
            "measure",
            "measure_code",
            "unit",
            "method",
            "method_code",
            "baseline",
            "follow_up",
            "days_from_baseline",
            "change_absolute",
            "change_percent",
            "responder",
            "responder_rule",
            "responder_rule_code",
            "comparison",
            "exported_at",
        ]
    )
    ids = {o.patient_id: secrets.token_hex(4) for o in chosen}
    rows = sorted(chosen, key=lambda o: ids[o.patient_id])  # order must not reveal the record
    for o in rows:
        labels = o.group_labels()
        writer.writerow(
            [
                ids[o.patient_id],
                *[c for d in dims for c in (labels.get(d, ""), o.groups.get(d, ""))],
                meta["measure"].label,
                meta["measure"].id,
                meta["measure"].unit,
                Method(o.method).label,
                o.method,
                round(o.baseline, 2),
                round(o.follow_up, 2),
                (o.follow_up_on - o.baseline_on).days,
                o.change.absolute,
                o.change.percent,
                "" if o.responder is None else ("yes" if o.responder else "no"),
                meta["rule_text"],
                meta["rule"]["id"],
                "uncontrolled before/after within the patient (no control group)",
                exported_at,
            ]
        )
    with transaction.atomic():
        audit_record(
            action="analytics.export",
            actor=request.actor,
            changes={
                "rows": len(rows),
                "measure": meta["measure"].id,
                "query": request.GET.urlencode()[:500],
            },
        )
    return _csv_response(out.getvalue(), "outcomes-deidentified.csv")


# --- blinded rating ----------------------------------------------------------------------------


@clinic_view(Perm.CLINICAL_VIEW)
def panels(request: ClinicRequest) -> HttpResponse:
    choices = selectors.rater_choices(request.actor)
    form = PanelForm(request.POST or None, rater_choices=choices)
    if request.method == "POST" and form.is_valid():
        try:
            panel = services.rating_panel_create(
                actor=request.actor,
                name=form.cleaned_data["name"],
                view=form.cleaned_data["view"],
                rater_ids=[int(r) for r in form.cleaned_data["raters"]],
            )
        except ValidationError as exc:
            attach_errors(form, exc)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request, f"Panel “{panel.name}” created with {panel.pairs.count()} pairs."
            )
            return redirect("outcomes-panels")
    return render(
        request,
        "outcomes/panels.html",
        {
            "form": form,
            "panels": selectors.panels_for(request.actor),
        },
        status=_status(request),
    )


def _panel(request: ClinicRequest, panel_id: int) -> Any:
    panel = selectors.panel_get(request.actor, panel_id)
    if panel is None:
        raise Http404("No such panel.")
    return panel


@clinic_view(Perm.CLINICAL_VIEW)
def panel_rate(request: ClinicRequest, panel_id: int) -> HttpResponse:
    panel = _panel(request, panel_id)
    form = RatingForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        pair = selectors.pair_by_code(actor=request.actor, code=request.POST.get("pair", ""))
        if pair is None or pair.panel_id != panel.pk:
            raise Http404("No such pair.")
        try:
            services.rating_submit(actor=request.actor, pair=pair, score=form.cleaned_data["score"])
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            return redirect("outcomes-panel-rate", panel.pk)
    pending = selectors.pairs_to_rate(actor=request.actor, panel=panel)
    return render(
        request,
        "outcomes/panel_rate.html",
        {
            "panel": panel,
            "pair": pending[0] if pending else None,
            "left_count": len(pending),
            "form": form,
        },
        status=_status(request),
    )


@clinic_view(Perm.CLINICAL_VIEW)
def panel_image(request: ClinicRequest, panel_id: int, code: str, side: str) -> HttpResponse:
    panel = _panel(request, panel_id)
    pair = selectors.pair_by_code(actor=request.actor, code=code)
    if pair is None or pair.panel_id != panel.pk or side not in ("left", "right"):
        raise Http404("No such image.")
    if not selectors.is_rater(actor=request.actor, panel=panel):
        raise PermissionDenied("You are not a rater on this panel.")
    photo = pair.before if (side == "left") == pair.before_on_left else pair.after
    try:
        data = services.photo_read(actor=request.actor, photo=photo, purpose="clinical")
    except services.PhotoFileMissing:
        return _file_missing(request, "The file of this photo")
    response = HttpResponse(data, content_type="image/jpeg")
    response["Cache-Control"] = "private, no-store"
    return response


@clinic_view(Perm.CLINICAL_VIEW)
def panel_results(request: ClinicRequest, panel_id: int) -> HttpResponse:
    panel = _panel(request, panel_id)
    return render(
        request,
        "outcomes/panel_results.html",
        {"panel": panel, "rows": selectors.panel_summary(panel)},
    )
