"""Background billing work (Django Tasks API, run by `anagen db_worker`)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage
from django.tasks import task

from anagen.accounts.access import Actor
from anagen.accounts.clinic_time import clinic_time
from anagen.accounts.models import Membership
from anagen.audit.services import audit_record
from anagen.billing.models import Invoice


@task()
def email_invoice(invoice_id: int, user_id: int) -> bool:
    """Email an issued invoice's PDF to the patient, if they still consent to email."""
    from anagen.billing.pdf import invoice_pdf_bytes

    invoice = Invoice.objects.select_related("clinic", "patient").get(pk=invoice_id)
    patient = invoice.patient
    if not (invoice.is_issued and patient.email and patient.email_reminders):
        return False
    membership = Membership.objects.select_related("user").get(
        user_id=user_id, clinic=invoice.clinic
    )
    actor = Actor(user=membership.user, membership=membership, via="task")
    with clinic_time(invoice.clinic):
        pdf = invoice_pdf_bytes(actor=actor, invoice=invoice)
        message = EmailMessage(
            subject=f"{invoice.clinic.name}: {invoice.get_kind_display()} {invoice.display_number}",
            body=(
                f"Dear {patient.given_name},\n\nPlease find attached "
                f"{invoice.get_kind_display().lower()} {invoice.display_number} from "
                f"{invoice.clinic.name}.\n"
            ),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[patient.email],
        )
        message.attach(f"{invoice.display_number}.pdf", pdf, "application/pdf")
        message.send()
        audit_record(
            action="billing.invoice.email",
            actor=actor,
            patient=patient,
            obj=invoice,
            changes={"number": invoice.display_number, "to": patient.email},
        )
    return True
