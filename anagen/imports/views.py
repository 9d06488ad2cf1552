"""Pages: upload a file, map its columns, preview the check, import with a progress bar."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from anagen.accounts.access import ClinicRequest, patient_for
from anagen.accounts.clinic_time import human_date
from anagen.accounts.decorators import clinic_view
from anagen.accounts.permissions import Perm
from anagen.imports import archive, columns, erasure, export, selectors, services
from anagen.imports.forms import ArchiveForm, ErasureForm, MappingForm, RetentionForm, UploadForm
from anagen.imports.models import ExportStatus, ImportStatus
from anagen.web.forms import attach_errors

PREVIEW_ROWS = 20


@clinic_view(Perm.PATIENT_IMPORT)
def import_list(request: ClinicRequest) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = services.patient_import_upload(
                actor=request.actor, raw=form.cleaned_data["file"].read()
            )
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            return redirect("patient-import", import_id=job.pk)
    imports = selectors.patient_imports(actor=request.actor)[:20]
    status = 400 if request.method == "POST" else 200
    return render(request, "imports/list.html", {"form": form, "imports": imports}, status=status)


@clinic_view(Perm.PATIENT_IMPORT)
def import_detail(request: ClinicRequest, import_id: int) -> HttpResponse:
    """Column mapping and, once checked, the preview; then the run's progress."""
    job = selectors.patient_import_get(actor=request.actor, import_id=import_id)
    if job.status not in (ImportStatus.UPLOADED, ImportStatus.CHECKED):
        return render(request, "imports/run.html", {"job": job})
    initial = {c.key: job.mapping.get(c.key, "") for c in columns.COLUMNS}
    form = MappingForm(request.POST or None, initial=initial, headers=job.headers)
    preview = None
    if request.method == "POST" and form.is_valid():
        try:
            checked = services.patient_import_check(
                actor=request.actor, job=job, mapping=form.mapping()
            )
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            preview = checked.rows[:PREVIEW_ROWS]
    status = 400 if request.method == "POST" and preview is None else 200
    shown = [c for c in columns.COLUMNS if c.key in job.mapping]
    context = {
        "job": job,
        "form": form,
        "preview": preview,
        "shown": shown,
        "preview_rows": [
            (n, [_cell(row, c.key) for c in shown], bool(row.problems)) for n, row in preview or []
        ],
    }
    return render(request, "imports/detail.html", context, status=status)


def _cell(row: columns.Row, key: str) -> str:
    if key == "external_id":
        return row.external_id
    value = row.patient.get(key, row.intake.get(key.removeprefix("intake_"), ""))
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if hasattr(value, "strftime"):
        return human_date(value)
    return str(value)


@require_POST
@clinic_view(Perm.PATIENT_IMPORT)
def import_start(request: ClinicRequest, import_id: int) -> HttpResponse:
    job = selectors.patient_import_get(actor=request.actor, import_id=import_id)
    try:
        services.patient_import_start(actor=request.actor, job=job)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("patient-import", import_id=job.pk)


@clinic_view(Perm.PATIENT_IMPORT)
def import_status(request: ClinicRequest, import_id: int) -> HttpResponse:
    """The progress partial the run page polls."""
    job = selectors.patient_import_get(actor=request.actor, import_id=import_id)
    return render(request, "imports/_status.html", {"job": job})


# --- data out: one patient's record as an archive ---------------------------------------------


@clinic_view(Perm.PATIENT_EXPORT)
def patient_export(request: ClinicRequest, patient_id: int) -> HttpResponse:
    patient = patient_for(request.actor, patient_id)
    if request.method == "POST":
        export.patient_export_start(actor=request.actor, patient=patient)
        messages.success(request, "The archive is being made; this page shows when it is ready.")
        return redirect("patient-export", patient_id=patient.pk)
    exports = selectors.patient_exports(actor=request.actor, patient=patient)[:20]
    running = any(e.is_running for e in exports)
    context = {"patient": patient, "exports": exports, "running": running}
    template = "imports/_exports.html" if request.htmx else "imports/export.html"  # type: ignore[attr-defined]
    return render(request, template, context)


@clinic_view(Perm.PATIENT_EXPORT)
def patient_export_download(request: ClinicRequest, export_id: int) -> HttpResponse:
    job = selectors.patient_export_get(actor=request.actor, export_id=export_id)
    if job.status != ExportStatus.DONE:
        raise Http404("This archive is not ready.")
    data = export.patient_export_download(actor=request.actor, job=job)
    response = HttpResponse(data, content_type="application/zip")
    stamp = job.created_at.strftime("%Y%m%d")
    name = f"record-{job.patient.record_number}-{stamp}.zip"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# --- erasure (GDPR art. 17): restrict now, purge when the retention period ends ---------------


@clinic_view(Perm.PATIENT_ERASE)
def patient_erasure(request: ClinicRequest, patient_id: int) -> HttpResponse:
    """The one page a restricted record still opens on: its state, or the request form."""
    patient = erasure.erasure_patient_get(actor=request.actor, patient_id=patient_id)
    existing = erasure.erasure_request_of(actor=request.actor, patient=patient)
    rule = erasure.retention_rule_get(actor=request.actor)
    form = ErasureForm(request.POST or None, initial={"received_on": request.actor.today()})
    if request.method == "POST" and existing is None and form.is_valid():
        try:
            erasure.erasure_request(
                actor=request.actor,
                patient=patient,
                received_on=form.cleaned_data["received_on"],
            )
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, "The record is restricted from now on.")
            return redirect("patient-erasure", patient_id=patient.pk)
    context = {
        "patient": patient if existing is None else None,
        "patient_id": patient.pk,
        "existing": existing,
        "notice": erasure.restriction_text(existing) if existing else "",
        "rule": rule,
        "form": form,
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "imports/erasure.html", context, status=status)


@clinic_view(Perm.PATIENT_ERASE)
def retention_settings(request: ClinicRequest) -> HttpResponse:
    rules = erasure.known_rules()
    rule = erasure.retention_rule_get(actor=request.actor)
    initial = {"years": rule.years, "basis": rule.basis} if rule else {}
    form = RetentionForm(request.POST or None, initial=initial, rules=rules)
    if request.method == "POST" and form.is_valid():
        try:
            erasure.retention_rule_set(
                actor=request.actor,
                years=form.cleaned_data["years"],
                basis=form.cleaned_data["basis"],
            )
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, "The retention period is saved.")
            return redirect("retention-settings")
    status = 400 if request.method == "POST" else 200
    return render(request, "imports/retention.html", {"form": form, "rule": rule}, status=status)


@clinic_view(Perm.PATIENT_IMPORT)
def archive_import(request: ClinicRequest) -> HttpResponse:
    """Bring one patient's record archive (made by Anagen) into this clinic."""
    form = ArchiveForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["archive"]
        try:
            if upload.size > archive.MAX_ARCHIVE_BYTES:
                raise ValidationError("The archive is larger than 200 MB.")
            patient = archive.patient_archive_import(actor=request.actor, data=upload.read())
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, "The record is imported.")
            return redirect("patient-detail", patient_id=patient.pk)
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "not_carried": archive.NOT_CARRIED_WORDS}
    return render(request, "imports/archive.html", context, status=status)
