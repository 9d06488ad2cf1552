"""Printed documents: the consent as signed, the session record, the intake summary, the quote,
the aftercare sheet and the what-to-expect page, as PDFs (WeasyPrint) from templates.

Each document is one template under ``care/print/``; the stylesheet is inlined (WeasyPrint
fetches nothing) and images travel as data URIs. Dates and times read in the clinic's zone
whoever renders them. Every PDF made is audited (the patient's, with the patient named).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import Http404
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from anagen.accounts.access import Actor
from anagen.accounts.logo import logo_data_uri
from anagen.accounts.permissions import Perm
from anagen.audit.models import AuditAction
from anagen.audit.services import audit_record
from anagen.clinical import patient_texts
from anagen.patients.models import Patient


def print_css() -> SafeString:
    """The document stylesheet, read from the static file (our own file, safe to inline)."""
    from django.contrib.staticfiles import finders

    path = finders.find("care/print_document.css")
    with open(str(path), encoding="utf-8") as fh:
        return mark_safe(fh.read())  # noqa: S308 - our own static file


def document_html(*, actor: Actor, template: str, context: dict[str, Any]) -> str:
    """One printed document as a standalone HTML page (stylesheet inlined), in clinic time."""
    with timezone.override(actor.tz):
        full = {
            "clinic": actor.clinic,
            "clinic_logo": logo_data_uri(actor.clinic),  # "" without a logo: no image
            "printed_at": actor.now(),
            "print_css": print_css(),
            **context,
        }
        return render_to_string(template, full)


def pdf_from_html(html: str) -> bytes:
    from weasyprint import HTML

    return bytes(HTML(string=html, base_url=None).write_pdf())


def _audited_pdf(
    *,
    actor: Actor,
    template: str,
    context: dict[str, Any],
    action: AuditAction,
    patient: Patient | None = None,
    obj: Any = None,
) -> bytes:
    pdf = pdf_from_html(document_html(actor=actor, template=template, context=context))
    with transaction.atomic():
        audit_record(action=action, actor=actor, patient=patient, obj=obj)
    return pdf


# --- texts for patients (no patient data) ---------------------------------------------------


def aftercare_text(procedure: str) -> patient_texts.PatientText:
    text = patient_texts.aftercare(procedure)
    if text is None:
        raise Http404("No aftercare sheet for this procedure.")
    return text


def what_to_expect_text(procedure: str) -> patient_texts.PatientText:
    text = patient_texts.what_to_expect(procedure)
    if text is None:
        raise Http404("No what-to-expect page for this procedure.")
    return text


def aftercare_pdf(*, actor: Actor, procedure: str) -> bytes:
    text = aftercare_text(procedure)
    return _audited_pdf(
        actor=actor,
        template="care/print/aftercare.html",
        context={"text": text},
        action=AuditAction.AFTERCARE_PDF,
    )


def what_to_expect_pdf(*, actor: Actor, procedure: str) -> bytes:
    text = what_to_expect_text(procedure)
    return _audited_pdf(
        actor=actor,
        template="care/print/what_to_expect.html",
        context={"text": text},
        action=AuditAction.WHAT_TO_EXPECT_PDF,
    )


# --- a patient's records ---------------------------------------------------------------------


def consent_context(*, consent: Any) -> dict[str, Any]:
    from anagen.care import services

    return {
        "consent": consent,
        "patient": consent.patient,
        "hash_ok": services.sha256_of(consent.snapshot_html) == consent.sha256,
    }


def consent_pdf(*, actor: Actor, patient: Patient, consent: Any) -> bytes:
    actor.require(Perm.CLINICAL_VIEW)
    return _audited_pdf(
        actor=actor,
        template="care/print/consent.html",
        context=consent_context(consent=consent),
        action=AuditAction.CONSENT_PDF,
        patient=patient,
        obj=consent,
    )


def session_context(*, session: Any) -> dict[str, Any]:
    from anagen.clinical.procedure_rules import zone_label
    from anagen.procedures import selectors as proc
    from anagen.procedures.models import PHASES

    prep = proc.preparation_of(session)
    return {
        "session": session,
        "patient": session.patient,
        "procedure_label": procedure_label(session.procedure),
        "prep": prep,
        "phases": [
            {"label": label, "at": getattr(session, fld)}
            for fld, label in PHASES
            if fld in session.phase_fields and getattr(session, fld)
        ],
        "zones": [
            {"label": zone_label(z.zone), "volume_ml": z.volume_ml, "depth_mm": z.depth_mm}
            for z in session.zones.all()
        ],
        "meso": list(session.meso_deliveries.select_related("formulation")),
        "lot_uses": list(session.lot_uses.select_related("lot", "lot__product")),
        "events": list(proc.adverse_events_of(session)),
        "amendments": proc.amendments_of(session),
        "has_aftercare": patient_texts.aftercare(session.procedure) is not None,
    }


def session_pdf(*, actor: Actor, session: Any) -> bytes:
    actor.require(Perm.CLINICAL_VIEW)
    return _audited_pdf(
        actor=actor,
        template="care/print/session.html",
        context=session_context(session=session),
        action=AuditAction.PROCEDURES_SESSION_PDF,
        patient=session.patient,
        obj=session,
    )


def intake_pdf(*, actor: Actor, patient: Patient, intake: Any) -> bytes:
    actor.require(Perm.CLINICAL_VIEW)
    return _audited_pdf(
        actor=actor,
        template="care/print/intake.html",
        context={"patient": patient, "intake": intake},
        action=AuditAction.INTAKE_PDF,
        patient=patient,
        obj=intake,
    )


def quote_context(*, actor: Actor, quote: Any) -> dict[str, Any]:
    """The quote as the billing page shows it (lines, state, deposit), for paper."""
    from decimal import Decimal

    from anagen.billing import selectors as billing
    from anagen.billing import services as billing_services

    legal = billing.billing_settings(actor.clinic)
    percent = legal.deposit_percent if legal else Decimal(20)
    if quote.deposit_percent is not None:
        percent = quote.deposit_percent
    return {
        "quote": quote,
        "patient": quote.patient,
        "lines": billing.quote_lines(quote),
        "state": billing_services.quote_state(quote, actor.today()),
        "legal": legal,
        "deposit_percent": percent,
        "deposit": billing_services.deposit_amount(quote.total_gross, percent, quote.currency),
    }


def quote_pdf(*, actor: Actor, quote: Any) -> bytes:
    actor.require(Perm.BILLING)
    return _audited_pdf(
        actor=actor,
        template="care/print/quote.html",
        context=quote_context(actor=actor, quote=quote),
        action=AuditAction.BILLING_QUOTE_PDF,
        patient=quote.patient,
        obj=quote,
    )


def procedure_label(code: str) -> str:
    """The procedure's words (``prp_scalp`` -> "PRP, scalp")."""
    from anagen.clinical.vocabularies import PROCEDURES

    entry = PROCEDURES.get(code)
    return str(entry["label"]) if entry else code.replace("_", " ").capitalize()
