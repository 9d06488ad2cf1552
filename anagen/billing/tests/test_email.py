"""An issued invoice is emailed (PDF attached) by the task worker, only with email consent."""

from __future__ import annotations

import pytest
from django.core import mail

from anagen.audit.models import AuditEvent
from anagen.billing.tests.helpers import issued, prices
from anagen.patients.models import Patient

pytestmark = pytest.mark.django_db
IMMEDIATE = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture(autouse=True)
def _immediate(settings):
    settings.TASKS = IMMEDIATE
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}


def test_issued_invoice_is_emailed_with_its_pdf_when_the_patient_consented(
    clinic_a, patient_a, django_capture_on_commit_callbacks
):
    prices(clinic_a)
    Patient.objects.filter(pk=patient_a.pk).update(email="pat@example.org", email_reminders=True)
    patient_a.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        invoice = issued(clinic_a, patient_a, "consultation")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["pat@example.org"]
    assert invoice.display_number in message.subject
    [(_name, content, mimetype)] = message.attachments
    assert mimetype == "application/pdf" and content[:5] == b"%PDF-"
    event = AuditEvent.objects.get(action="billing.invoice.email")
    assert event.patient_id == patient_a.pk


def test_no_email_without_consent_or_address(
    clinic_a, patient_a, django_capture_on_commit_callbacks
):
    prices(clinic_a)
    Patient.objects.filter(pk=patient_a.pk).update(email="pat@example.org", email_reminders=False)
    patient_a.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        issued(clinic_a, patient_a, "consultation")
    Patient.objects.filter(pk=patient_a.pk).update(email="", email_reminders=True)
    patient_a.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        issued(clinic_a, patient_a, "consultation")
    assert mail.outbox == []
    assert not AuditEvent.objects.filter(action="billing.invoice.email").exists()
