"""Consultation pages: assessment, screening, consent, consent texts (form → service → page)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import Form
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from anagen.accounts.access import ClinicRequest, patient_for
from anagen.accounts.decorators import clinic_view
from anagen.accounts.permissions import Perm
from anagen.care import consent_list_html, selectors, services
from anagen.care.forms import (
    AssessmentForm,
    ConsentSignForm,
    OverrideForm,
    SaltForm,
    ScreeningForm,
    TemplatePublishForm,
    WithdrawForm,
)
from anagen.care.models import ConsentKind
from anagen.clinical import ValidationError as KernelValidationError
from anagen.clinical import salt_score
from anagen.web.confirm import unconfirmed
from anagen.web.forms import attach_errors
from anagen.web.versions import page_version, refusal

# Service field names that the assessment form shows under another field.
_ASSESSMENT_FIELD = {"scale_id": "scale", "scale_value": "scale"}


def _attach(form: Form, exc: ValidationError, rename: dict[str, str] | None = None) -> None:
    if hasattr(exc, "error_dict") and rename:
        exc = ValidationError(
            {rename.get(field, field): errors for field, errors in exc.message_dict.items()}
        )
    attach_errors(form, exc)


def _status(request: ClinicRequest) -> int:
    return 400 if request.method == "POST" else 200


# --- assessments ---------------------------------------------------------------------------


@clinic_view(Perm.ASSESS)
def assessment_create(request: ClinicRequest, patient_id: int) -> HttpResponse:
    patient = patient_for(request.actor, patient_id)
    form = AssessmentForm(
        request.POST or None, initial=AssessmentForm.initial_from(None, request.actor.today())
    )
    if request.method == "POST" and form.is_valid():
        try:
            assessment = services.assessment_create(
                actor=request.actor, patient=patient, data=form.to_data()
            )
        except ValidationError as exc:
            _attach(form, exc, _ASSESSMENT_FIELD)
        else:
            messages.success(request, f"Assessment version {assessment.version} saved as a draft.")
            return redirect("care-assessment-detail", patient.pk, assessment.version)
    return render(
        request,
        "care/assessment_form.html",
        {"patient": patient, "form": form},
        status=_status(request),
    )


def _assessment(request: ClinicRequest, patient_id: int, version: int) -> Any:
    patient = patient_for(request.actor, patient_id)
    assessment = selectors.assessment_get(actor=request.actor, patient=patient, version=version)
    if assessment is None:
        raise Http404("No such assessment.")
    return patient, assessment


@clinic_view(Perm.ASSESS)
def assessment_edit(request: ClinicRequest, patient_id: int, version: int) -> HttpResponse:
    patient, assessment = _assessment(request, patient_id, version)
    if assessment.is_signed:
        messages.error(request, services.SIGNED_LOCKED)
        return redirect("care-assessment-detail", patient.pk, version)
    form = AssessmentForm(request.POST or None, initial=AssessmentForm.initial_from(assessment))
    # No lost updates: a form loaded from an older version of the draft saves nothing.
    stale = refusal(request, assessment, what="this draft assessment")
    if request.method == "POST" and form.is_valid() and not stale:
        try:
            services.assessment_update(
                actor=request.actor, assessment=assessment, data=form.to_data()
            )
        except ValidationError as exc:
            _attach(form, exc, _ASSESSMENT_FIELD)
        else:
            messages.success(request, "Draft saved.")
            return redirect("care-assessment-detail", patient.pk, version)
    return render(
        request,
        "care/assessment_form.html",
        {
            "patient": patient,
            "form": form,
            "assessment": assessment,
            "stale": stale,
            "record_version": page_version(assessment),
        },
        status=409 if stale else _status(request),
    )


@clinic_view(Perm.CLINICAL_VIEW)
def assessment_detail(request: ClinicRequest, patient_id: int, version: int) -> HttpResponse:
    patient, assessment = _assessment(request, patient_id, version)
    services.care_record_read(
        actor=request.actor, patient=patient, what="assessment", obj=assessment
    )
    versions = selectors.assessment_list(actor=request.actor, patient=patient)[:50]
    return render(
        request,
        "care/assessment_detail.html",
        {
            "patient": patient,
            "assessment": assessment,
            "versions": versions,
            "record_version": page_version(assessment),
        },
    )


@require_POST
@clinic_view(Perm.ASSESSMENT_SIGN)
def assessment_sign(request: ClinicRequest, patient_id: int, version: int) -> HttpResponse:
    patient, assessment = _assessment(request, patient_id, version)
    stale = refusal(request, assessment, what="this assessment", retry="sign it")
    if stale:  # changed since the page was loaded: signing would sign what nobody read
        messages.error(request, stale)
        return redirect("care-assessment-detail", patient.pk, version)
    asked = unconfirmed(
        request,
        question=f"Sign assessment version {version} of {patient.full_name}?",
        detail="A signed assessment is locked; a correction is a new version.",
        action="Yes, sign the assessment",
        back=reverse("care-assessment-detail", args=[patient.pk, version]),
        danger=False,
    )
    if asked is not None:
        return asked
    try:
        services.assessment_sign(actor=request.actor, assessment=assessment)
    except PermissionDenied as exc:
        return render(request, "403.html", {"reason": str(exc)}, status=403)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Assessment version {version} signed.")
    return redirect("care-assessment-detail", patient.pk, version)


@require_POST
@clinic_view(Perm.ASSESS)
def salt_preview(request: ClinicRequest) -> HttpResponse:
    """The live SALT score under the four inputs (htmx fragment), computed by the kernel."""
    form = SaltForm(request.POST)
    context: dict[str, Any] = {}
    if not form.is_valid():
        filled = [request.POST.get(f, "").strip() for f in form.fields]
        context["message"] = (
            "Enter the % hair loss of all four areas (0-100)."
            if not all(filled)
            else "Each area is a % between 0 and 100."
        )
    else:
        try:
            context["score"] = salt_score(*(float(v) for v in form.cleaned_data.values()))
        except KernelValidationError as exc:
            context["message"] = f"{exc.field}: {exc.message}"
    return render(request, "care/_salt_result.html", context)


# --- screening -----------------------------------------------------------------------------


@clinic_view(Perm.SCREEN)
def screening_create(request: ClinicRequest, patient_id: int) -> HttpResponse:
    patient = patient_for(request.actor, patient_id)
    form = ScreeningForm(
        request.POST or None,
        initial={"planned_on": request.actor.today(), "procedure": request.GET.get("procedure")},
    )
    if request.method == "POST" and form.is_valid():
        try:
            record = services.screening_run(
                actor=request.actor, patient=patient, **form.cleaned_data
            )
        except ValidationError as exc:
            _attach(form, exc)
        else:
            return redirect("care-screening-detail", patient.pk, record.pk)
    return render(
        request,
        "care/screening_form.html",
        {"patient": patient, "form": form},
        status=_status(request),
    )


def _screening(request: ClinicRequest, patient_id: int, screening_id: int) -> Any:
    patient = patient_for(request.actor, patient_id)
    record = selectors.screening_get(
        actor=request.actor, patient=patient, screening_id=screening_id
    )
    if record is None:
        raise Http404("No such screening.")
    return patient, record


def _screening_page(
    request: ClinicRequest, patient: Any, record: Any, form: OverrideForm, status: int = 200
) -> HttpResponse:
    earlier = (
        selectors.screening_list(actor=request.actor, patient=patient)
        .filter(procedure=record.procedure)
        .exclude(pk=record.pk)[:10]
    )
    return render(
        request,
        "care/screening_detail.html",
        {
            "patient": patient,
            "record": record,
            "form": form,
            "earlier": earlier,
            "refusal": services.NOT_OVERRIDABLE.get(record.decision, ""),
        },
        status=status,
    )


@clinic_view(Perm.CLINICAL_VIEW)
def screening_detail(request: ClinicRequest, patient_id: int, screening_id: int) -> HttpResponse:
    patient, record = _screening(request, patient_id, screening_id)
    services.care_record_read(actor=request.actor, patient=patient, what="screening", obj=record)
    return _screening_page(request, patient, record, OverrideForm())


@require_POST
@clinic_view(Perm.SCREENING_OVERRIDE)
def screening_override(request: ClinicRequest, patient_id: int, screening_id: int) -> HttpResponse:
    patient, record = _screening(request, patient_id, screening_id)
    form = OverrideForm(request.POST)
    if form.is_valid():
        try:
            services.screening_override(
                actor=request.actor, screening=record, reason=form.cleaned_data["reason"]
            )
        except PermissionDenied as exc:
            return render(request, "403.html", {"reason": str(exc)}, status=403)
        except ValidationError as exc:
            _attach(form, exc)
        else:
            messages.success(request, "Override recorded: the screening counts as eligible.")
            return redirect("care-screening-detail", patient.pk, record.pk)
    return _screening_page(request, patient, record, form, status=400)


# --- consent -------------------------------------------------------------------------------


@clinic_view(Perm.CONSENT_STATUS_VIEW)
def consent_list(request: ClinicRequest, patient_id: int) -> HttpResponse:
    """Consent status per kind. Front desk sees it (booking needs it) but cannot sign."""
    actor = request.actor
    patient = patient_for(actor, patient_id)
    # One query; the rows are written in Python as care/_consent_rows.html would (issue 15).
    page = selectors.consent_page(actor=actor, patient=patient, limit=50)
    return render(
        request,
        "care/consent_list.html",
        {
            "patient": patient,
            "history": page.history,
            "status_rows": consent_list_html.status_rows(page.statuses, patient, actor),
            "history_items": consent_list_html.history_items(page.history, patient),
        },
    )


@clinic_view(Perm.CONSENT_RECORD)
def consent_sign(request: ClinicRequest, patient_id: int, kind: str) -> HttpResponse:
    patient = patient_for(request.actor, patient_id)
    if kind not in ConsentKind.values:
        raise Http404("No such consent kind.")
    template = selectors.consent_template_current(patient.clinic_id, kind)
    if template is None:
        raise Http404("No consent text for this kind.")
    form = ConsentSignForm(request.POST or None, initial={"template_version": template.version})
    # No lost updates: someone else recording this kind of consent meanwhile is said, not
    # silently doubled (the page carries the version of the patient's latest consent of it).
    latest = selectors.consent_latest(patient, kind)
    stale = refusal(request, latest, what=f"this patient's consent ({ConsentKind(kind).label})")
    if request.method == "POST" and form.is_valid() and not stale:
        try:
            consent = services.consent_sign(
                actor=request.actor,
                patient=patient,
                kind=kind,
                signed_name=form.cleaned_data["signed_name"],
                agreed=form.cleaned_data["agreed"],
                template_version=form.cleaned_data["template_version"],
                signature=form.cleaned_data["signature"],
            )
        except ValidationError as exc:
            _attach(form, exc)
        else:
            messages.success(request, f"Consent signed: {consent.get_kind_display()}.")
            return redirect("care-consent-detail", patient.pk, consent.pk)
    document = services.consent_document_html(template=template, patient=patient)
    return render(
        request,
        "care/consent_sign.html",
        {
            "patient": patient,
            "form": form,
            "template": template,
            "document": document,
            "kind_label": ConsentKind(kind).label,
            "stale": stale,
            "record_version": page_version(latest),
        },
        status=409 if stale else _status(request),
    )


def _consent(request: ClinicRequest, patient_id: int, consent_id: int) -> Any:
    patient = patient_for(request.actor, patient_id)
    consent = selectors.consent_get(actor=request.actor, patient=patient, consent_id=consent_id)
    if consent is None:
        raise Http404("No such consent.")
    return patient, consent


def _consent_page(
    request: ClinicRequest,
    patient: Any,
    consent: Any,
    form: WithdrawForm,
    status: int = 200,
    stale: str = "",
) -> HttpResponse:
    valid = selectors.consent_valid_for(patient, consent.kind)
    return render(
        request,
        "care/consent_detail.html",
        {
            "patient": patient,
            "consent": consent,
            "form": form,
            "is_current": valid is not None and valid.pk == consent.pk,
            # Recomputed on every view: a changed snapshot would no longer match its hash.
            "hash_ok": services.sha256_of(consent.snapshot_html) == consent.sha256,
            "stale": stale,
            "record_version": page_version(consent),
        },
        status=status,
    )


@clinic_view(Perm.CLINICAL_VIEW)
def consent_detail(request: ClinicRequest, patient_id: int, consent_id: int) -> HttpResponse:
    patient, consent = _consent(request, patient_id, consent_id)
    services.care_record_read(actor=request.actor, patient=patient, what="consent", obj=consent)
    return _consent_page(request, patient, consent, WithdrawForm())


@require_POST
@clinic_view(Perm.CONSENT_RECORD)
def consent_withdraw(request: ClinicRequest, patient_id: int, consent_id: int) -> HttpResponse:
    patient, consent = _consent(request, patient_id, consent_id)
    form = WithdrawForm(request.POST)
    # No lost updates: refused when the consent changed since the page was loaded.
    stale = refusal(request, consent, what="this consent")
    if stale:
        return _consent_page(request, patient, consent, form, status=409, stale=stale)
    if form.is_valid():
        asked = unconfirmed(
            request,
            question=f"Withdraw this consent of {patient.full_name}?",
            detail="Sessions that need it cannot start until a new consent is signed.",
            action="Yes, withdraw the consent",
            back=reverse("care-consent-detail", args=[patient.pk, consent.pk]),
        )
        if asked is not None:
            return asked
        try:
            services.consent_withdraw(
                actor=request.actor, consent=consent, reason=form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            _attach(form, exc)
        else:
            messages.success(request, "Consent withdrawn.")
            return redirect("care-consent-detail", patient.pk, consent.pk)
    return _consent_page(request, patient, consent, form, status=400)


# --- consent texts -------------------------------------------------------------------------


@clinic_view(Perm.CONSENT_PUBLISH)
def consent_templates(request: ClinicRequest) -> HttpResponse:
    current = selectors.consent_templates_current(request.actor.clinic)
    rows = [(kind, label, current.get(kind)) for kind, label in ConsentKind.choices]
    return render(request, "care/consent_templates.html", {"rows": rows})


@clinic_view(Perm.CONSENT_PUBLISH)
def consent_template_publish(request: ClinicRequest, kind: str) -> HttpResponse:
    if kind not in ConsentKind.values:
        raise Http404("No such consent kind.")
    current = selectors.consent_template_current(request.actor.clinic, kind)
    initial = {"kind": kind}
    if current is not None:
        initial.update(title=current.title, body=current.body)
    form = TemplatePublishForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            template = services.consent_template_publish(
                actor=request.actor,
                kind=kind,
                title=form.cleaned_data["title"],
                body=form.cleaned_data["body"],
            )
        except ValidationError as exc:
            _attach(form, exc)
        else:
            messages.success(
                request,
                f"Published version {template.version} of {template.get_kind_display()}; "
                "patients who signed an earlier version will be asked to consent again.",
            )
            return redirect("care-consent-templates")
    versions = selectors.consent_template_versions(request.actor.clinic, kind)[:20]
    return render(
        request,
        "care/consent_template_form.html",
        {
            "form": form,
            "kind_label": ConsentKind(kind).label,
            "current": current,
            "versions": versions,
        },
        status=_status(request),
    )
