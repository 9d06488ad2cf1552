"""An issued invoice as a PDF (WeasyPrint), with the clinic's legal details."""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.accounts.logo import logo_data_uri
from anagen.billing import selectors
from anagen.billing.models import Invoice


def invoice_html(*, actor: Actor, invoice: Invoice) -> str:
    with timezone.override(actor.tz):
        context: dict[str, Any] = {
            "invoice": invoice,
            "patient": invoice.patient,
            "lines": list(invoice.lines.all()),
            "legal": selectors.billing_settings(actor.clinic),
            "due": selectors.invoice_due(invoice),
            "clinic_logo": logo_data_uri(actor.clinic),  # "" without a logo: no image
        }
        return render_to_string("billing/invoice_pdf.html", context)


def invoice_pdf_bytes(*, actor: Actor, invoice: Invoice) -> bytes:
    from weasyprint import HTML

    html = invoice_html(actor=actor, invoice=invoice)
    return bytes(HTML(string=html, base_url=None).write_pdf())
