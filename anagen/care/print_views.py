"""Printable pages and their PDFs: consent, session record, intake summary, quote, aftercare
sheet and what-to-expect page. Every PDF is made and audited by ``anagen.care.printing``."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.shortcuts import render

from anagen.accounts.access import ClinicRequest, patient_for
from anagen.accounts.decorators import clinic_view
from anagen.accounts.permissions import Perm
from anagen.care import printing, selectors
from anagen.clinical import patient_texts


def _pdf(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


@clinic_view(Perm.CLINICAL_VIEW)
def consent_pdf(request: ClinicRequest, patient_id: int, consent_id: int) -> HttpResponse:
    patient = patient_for(request.actor, patient_id)
    consent = selectors.consent_get(actor=request.actor, patient=patient, consent_id=consent_id)
    if consent is None:
        raise Http404("No such consent.")
    pdf = printing.consent_pdf(actor=request.actor, patient=patient, consent=consent)
    return _pdf(pdf, f"consent-{patient.record_number}-{consent.pk}.pdf")


@clinic_view(Perm.CLINICAL_VIEW)
def session_pdf(request: ClinicRequest, patient_id: int, session_id: int) -> HttpResponse:
    from anagen.procedures import selectors as proc

    session = proc.session_for_patient(request.actor, patient_id, session_id)
    pdf = printing.session_pdf(actor=request.actor, session=session)
    return _pdf(pdf, f"session-{session.patient.record_number}-{session.pk}.pdf")


@clinic_view(Perm.CLINICAL_VIEW)
def intake_pdf(request: ClinicRequest, patient_id: int, version: int) -> HttpResponse:
    from anagen.patients import selectors as patients

    patient = patient_for(request.actor, patient_id)
    intake = patients.intake_get(actor=request.actor, patient=patient, version=version)
    if intake is None:
        raise Http404("No such intake version.")
    pdf = printing.intake_pdf(actor=request.actor, patient=patient, intake=intake)
    return _pdf(pdf, f"intake-{patient.record_number}-v{intake.version}.pdf")


@clinic_view(Perm.BILLING)
def quote_pdf(request: ClinicRequest, quote_id: int) -> HttpResponse:
    from anagen.billing import selectors as billing

    quote = billing.quote_for(request.actor, quote_id)
    pdf = printing.quote_pdf(actor=request.actor, quote=quote)
    return _pdf(pdf, f"quote-{quote.display_number}.pdf")


# --- texts for patients, per procedure (no patient data) -------------------------------------


@clinic_view(Perm.PATIENT_VIEW)
def patient_texts_index(request: ClinicRequest) -> HttpResponse:
    return render(
        request,
        "care/patient_texts.html",
        {
            "aftercare": patient_texts.procedures("aftercare"),
            "expect": patient_texts.procedures("what_to_expect"),
        },
    )


@clinic_view(Perm.PATIENT_VIEW)
def aftercare_page(request: ClinicRequest, procedure: str) -> HttpResponse:
    text = printing.aftercare_text(procedure)
    return render(request, "care/aftercare.html", {"text": text, "procedure": procedure})


@clinic_view(Perm.PATIENT_VIEW)
def aftercare_pdf(request: ClinicRequest, procedure: str) -> HttpResponse:
    pdf = printing.aftercare_pdf(actor=request.actor, procedure=procedure)
    return _pdf(pdf, f"aftercare-{procedure.replace('_', '-')}.pdf")


@clinic_view(Perm.PATIENT_VIEW)
def what_to_expect_page(request: ClinicRequest, procedure: str) -> HttpResponse:
    text = printing.what_to_expect_text(procedure)
    return render(request, "care/what_to_expect.html", {"text": text, "procedure": procedure})


@clinic_view(Perm.PATIENT_VIEW)
def what_to_expect_pdf(request: ClinicRequest, procedure: str) -> HttpResponse:
    pdf = printing.what_to_expect_pdf(actor=request.actor, procedure=procedure)
    return _pdf(pdf, f"what-to-expect-{procedure.replace('_', '-')}.pdf")
