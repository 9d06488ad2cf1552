from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from anagen.accounts.access import ClinicRequest, patient_for
from anagen.accounts.clinic_time import human_datetime
from anagen.accounts.decorators import clinic_view
from anagen.accounts.permissions import Perm
from anagen.interop.etag import VERSION_FIELD, last_change, stale_edit, version_of
from anagen.patients import selectors, services
from anagen.patients.chart import intake_summary_html
from anagen.patients.chart_html import ChartCards, timeline_html
from anagen.patients.forms import DeleteForm, IntakeForm, PatientForm, intake_formsets
from anagen.patients.intake_pages import IntakeFormParts, body_html, intake_versions_html
from anagen.patients.models import Patient
from anagen.patients.search import patient_search_page
from anagen.patients.search_html import results_html
from anagen.patients.templatetags.anagen_format import plain
from anagen.web.forms import attach_errors


@clinic_view(Perm.PATIENT_VIEW)
def patient_list(request: ClinicRequest) -> HttpResponse:
    query = request.GET.get("q", "")[:100]
    # One page of the search: the shown columns, compiled SQL, the count in the page's own
    # query where that is free, the rows written in Python (anagen/patients/search.py, issue 15).
    page = patient_search_page(actor=request.actor, query=query, number=request.GET.get("page"))
    results = results_html(page, query, request.actor)
    if request.htmx:  # type: ignore[attr-defined]
        return HttpResponse(results)
    context = {"page": page, "query": query, "results_html": results}
    return render(request, "patients/list.html", context)


@clinic_view(Perm.PATIENT_REGISTER)
def patient_create(request: ClinicRequest) -> HttpResponse:
    form = PatientForm(request.POST or None)
    duplicates: list[Patient] = []
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        confirm = data.pop("confirm_duplicate")
        try:
            patient = services.patient_create(
                actor=request.actor, data=data, confirm_duplicate=confirm
            )
        except services.DuplicatePatientError as exc:
            duplicates = exc.duplicates
            form.add_error(None, exc.messages)
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, f"Registered {patient.full_name} as {patient.record_number}.")
            return redirect("patient-detail", patient_id=patient.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "patients/form.html",
        {"form": form, "duplicates": duplicates, "creating": True},
        status=status,
    )


@clinic_view(Perm.PATIENT_REGISTER)
def patient_edit(request: ClinicRequest, patient_id: int) -> HttpResponse:
    patient = patient_for(request.actor, patient_id)
    initial = {f: getattr(patient, f) for f in services.PATIENT_FIELDS}
    form = PatientForm(request.POST or None, initial=initial)
    form.fields.pop("confirm_duplicate")
    # No lost updates: the form carries the version it was loaded with (anagen.interop.etag).
    stale = ""
    if request.method == "POST" and stale_edit(request.POST.get(VERSION_FIELD), patient):
        change = last_change(patient)
        stale = (
            f"{change.who} changed these details"
            + (f" on {human_datetime(change.when)}" if change.when else "")
            + " while you were editing. Nothing was saved. Your entries are kept below: "
            "check them against the record, then save again."
        )
    if request.method == "POST" and not stale and form.is_valid():
        try:
            services.patient_update(actor=request.actor, patient=patient, data=form.cleaned_data)
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, "Patient details saved.")
            return redirect("patient-detail", patient_id=patient.pk)
    status = (409 if stale else 400) if request.method == "POST" else 200
    context = {
        "form": form,
        "patient": patient,
        "stale": stale,
        "record_version": version_of(patient),
    }
    return render(request, "patients/form.html", context, status=status)


@clinic_view(Perm.PATIENT_VIEW)
def patient_detail(request: ClinicRequest, patient_id: int) -> HttpResponse:
    patient = patient_for(request.actor, patient_id)
    clinical = request.actor.can(Perm.CLINICAL_VIEW)
    services.patient_record_read(
        actor=request.actor, patient=patient, what="chart" if clinical else "patient"
    )
    context: dict[str, Any] = {"patient": patient, "clinical": clinical}
    # The cards and the timeline are written in Python, byte for byte as their templates
    # (anagen/patients/chart_html.py); nothing shown is cached between requests.
    cards = ChartCards(request.actor, patient, lambda: get_token(request))
    if clinical:
        # One query: the timeline, the sessions, outcomes and packages cards' rows, the latest
        # intake's head and the alert banner (anagen/patients/chart_html.py).
        context["timeline"] = cards.read()
    context["schedule_html"] = mark_safe(cards.schedule())  # noqa: S308 - escaped there
    context["billing_html"] = mark_safe(cards.billing())  # noqa: S308
    if clinical:
        context["patient_alerts_read"] = (patient.pk, cards.alerts())
        # The latest intake; its summary is rendered once per version (anagen/patients/chart.py).
        intake = context["intake"] = cards.intake()
        if intake is not None:
            context["intake_summary"] = intake_summary_html(
                intake,
                lambda: selectors.intake_get_head(
                    actor=request.actor, patient=patient, version=intake.version
                ),
            )
        context["care_html"] = mark_safe(cards.care())  # noqa: S308
        context["procedures_html"] = mark_safe(cards.procedures())  # noqa: S308
        context["outcomes_html"] = mark_safe(cards.outcomes())  # noqa: S308
        context["timeline_html"] = timeline_html(context["timeline"])
    return render(request, "patients/detail.html", context)


@clinic_view(Perm.PATIENT_DELETE)
def patient_delete(request: ClinicRequest, patient_id: int) -> HttpResponse:
    """Confirm, with a reason, then hide the record everywhere (it can be restored)."""
    patient = patient_for(request.actor, patient_id)
    form = DeleteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.patient_soft_delete(
                actor=request.actor, patient=patient, reason=form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(
                request,
                f"Deleted the record of {patient.full_name} ({patient.record_number}). "
                "It can be restored from Deleted patients.",
            )
            return redirect("patient-list")
    status = 400 if request.method == "POST" else 200
    return render(
        request, "patients/delete.html", {"patient": patient, "form": form}, status=status
    )


@clinic_view(Perm.PATIENT_DELETE)
def patients_deleted(request: ClinicRequest) -> HttpResponse:
    patients = selectors.patients_deleted(actor=request.actor)
    page = Paginator(patients, settings.PATIENT_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "patients/deleted.html", {"page": page})


@require_POST
@clinic_view(Perm.PATIENT_DELETE)
def patient_restore(request: ClinicRequest, patient_id: int) -> HttpResponse:
    patient = selectors.patient_deleted_get(actor=request.actor, patient_id=patient_id)
    try:
        services.patient_restore(actor=request.actor, patient=patient)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("patients-deleted")
    messages.success(request, f"Restored the record of {patient.full_name}.")
    return redirect("patient-detail", patient_id=patient.pk)


@clinic_view(Perm.INTAKE_RECORD)
def intake_create(request: ClinicRequest, patient_id: int) -> HttpResponse:
    patient = patient_for(request.actor, patient_id)
    if request.method != "POST":  # the form of a version is drawn once (intake_pages.py)
        latest = selectors.intake_latest_head(actor=request.actor, patient=patient)
        parts = IntakeFormParts(latest, _intake_forms)
        form, formsets = parts.lazy()
        context = {
            "patient": patient,
            "form": form,
            "formsets": formsets,
            "latest": latest,
            "stale": "",
            "record_version": version_of(latest),
            "has_errors": False,
            "body_html": parts.body_html(),
        }
        return render(request, "patients/intake_form.html", context)
    latest = selectors.intake_latest(actor=request.actor, patient=patient)
    form = IntakeForm(request.POST or None, initial=_intake_initial(latest))
    formsets = intake_formsets(request.POST or None, initial=_intake_rows(latest))
    # No lost updates: the form carries the version it was loaded from (anagen.interop.etag).
    stale = ""
    if request.method == "POST" and stale_edit(request.POST.get(VERSION_FIELD), latest):
        stale = _stale_intake(latest)
    if request.method == "POST":
        valid = form.is_valid() & all([fs.is_valid() for fs in formsets.values()])
        if valid and not stale:
            rows: dict[str, Any] = {name: kept_rows(fs) for name, fs in formsets.items()}
            data = services.IntakeData(**form.cleaned_data, **rows)
            try:
                intake = services.intake_record(
                    actor=request.actor,
                    patient=patient,
                    data=data,
                    based_on=latest.version if latest is not None else 0,
                )
            except ValidationError as exc:
                attach_errors(form, exc)
            else:
                messages.success(request, f"Intake version {intake.version} recorded.")
                return redirect("patient-detail", patient_id=patient.pk)
    status = (409 if stale else 400) if request.method == "POST" else 200
    context = {
        "patient": patient,
        "form": form,
        "formsets": formsets,
        "latest": latest,
        "stale": stale,
        "record_version": version_of(latest),
        "has_errors": bool(form.errors or formsets["medications"].non_form_errors()),
        "body_html": body_html(form, formsets),
    }
    return render(request, "patients/intake_form.html", context, status=status)


def _intake_forms(latest: Any) -> tuple[IntakeForm, dict[str, Any]]:
    """The unbound form and row tables of a new version based on `latest`."""
    return IntakeForm(initial=_intake_initial(latest)), intake_formsets(
        initial=_intake_rows(latest)
    )


def _stale_intake(latest: Any) -> str:
    """Who recorded the version that came in while this form was open, and when."""
    if latest is None:  # pragma: no cover - a version can only disappear by a purge
        return "The intake changed while you were editing. Nothing was saved."
    who = latest.recorded_by.get_full_name() or latest.recorded_by.get_username()
    return (
        f"{who} recorded intake version {latest.version} on "
        f"{human_datetime(latest.recorded_at)} while you were editing. Nothing was saved. "
        f"Your entries are kept below: check them against version {latest.version}, "
        "then save again to record them as the next version."
    )


@clinic_view(Perm.CLINICAL_VIEW)
def intake_detail(request: ClinicRequest, patient_id: int, version: int) -> HttpResponse:
    patient = patient_for(request.actor, patient_id)
    intake = selectors.intake_get_head(actor=request.actor, patient=patient, version=version)
    if intake is None:
        raise Http404("No such intake version.")
    services.patient_record_read(actor=request.actor, patient=patient, what="intake")
    versions = selectors.intake_versions(actor=request.actor, patient=patient)
    return render(
        request,
        "patients/intake_detail.html",
        {
            "patient": patient,
            "intake": intake,
            "versions": versions,
            "versions_html": intake_versions_html(patient.pk, versions, intake.version),
            "summary_html": intake_summary_html(intake),
        },
    )


def kept_rows(formset: Any) -> list[dict[str, Any]]:
    """Rows to save: carried-over rows unless deleted, and new rows that were filled in."""
    rows = []
    for index, form in enumerate(formset.forms):
        carried = index < formset.initial_form_count()
        if form in formset.deleted_forms or not (carried or form.has_changed()):
            continue
        data = {k: v for k, v in form.cleaned_data.items() if k != "DELETE"}
        if data:
            rows.append(data)
    return rows


_INTAKE_SCALARS = (
    "conditions",
    "conditions_note",
    "smoking",
    "pregnant",
    "breastfeeding",
    "hair_loss_onset",
    "hair_loss_pattern",
    "family_history",
    "family_history_note",
    "tight_hairstyles",
    "recent_triggers",
    "notes",
)


def _intake_initial(latest: Any) -> dict[str, Any]:
    """A new intake starts from the last one, so staff only change what changed."""
    if latest is None:
        return {}
    return {f: getattr(latest, f) for f in _INTAKE_SCALARS}


def _intake_rows(latest: Any) -> dict[str, list[dict[str, Any]]]:
    if latest is None:
        return {}
    return {
        "medications": [
            {
                "name": m.name,
                "category": m.category,
                "prescribed": "yes" if m.prescribed else "no",
                "last_dose_on": m.last_dose_on,
                "dose": m.dose,
            }
            for m in latest.medications.all()
        ],
        "allergies": [
            {"substance": a.substance, "reaction": a.reaction} for a in latest.allergies.all()
        ],
        "labs": [
            {
                "analyte": lab.analyte,
                "value": plain(lab.value_entered),
                "unit": lab.unit_entered,
                "taken_on": lab.taken_on,
            }
            for lab in latest.labs.all()
        ],
        "prior_procedures": [
            {"kind": p.kind, "on": p.on, "note": p.note} for p in latest.prior_procedures.all()
        ],
        "prior_treatments": [
            {
                "treatment": t.treatment,
                "started_on": t.started_on,
                "response": t.response,
                "note": t.note,
            }
            for t in latest.prior_treatments.all()
        ],
    }
