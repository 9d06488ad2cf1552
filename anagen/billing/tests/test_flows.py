"""Money across the flow: a package quote sells the package, every document kind is emailed,
a transferred package is credited by its holder, and reading a PDF is audited."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from django.core import mail

from anagen.audit.models import AuditEvent
from anagen.billing import selectors, services
from anagen.billing.models import Invoice, PackageConsumption, PackageSale
from anagen.billing.tests.helpers import issued, package, prices
from anagen.patients.models import Patient
from anagen.scheduling.models import TreatmentPlan

pytestmark = pytest.mark.django_db


def _plan(staff, patient, protocol_id: str = "prp-aga-monthly-3") -> TreatmentPlan:
    return TreatmentPlan.objects.create(
        clinic=staff.clinic, patient=patient, protocol_id=protocol_id,
        protocol_name="PRP AGA", procedure="prp_scalp", start_on=dt.date(2026, 1, 5),
        created_by=staff.physician,
    )  # fmt: skip


def _signed(staff, patient):
    from anagen.procedures import services as procedures
    from anagen.procedures.tests.helpers import complete_prp, start

    session = complete_prp(staff, start(staff, patient))
    return procedures.session_sign(actor=staff.actor(staff.physician), session=session)


def test_accepting_a_package_quote_sells_the_package_invoiced_by_the_final_invoice(
    clinic_a, patient_a
):
    from anagen.procedures.tests.helpers import ready_patient

    prices(clinic_a)
    package(clinic_a, "2400")
    desk, admin = clinic_a.actor(clinic_a.front_desk), clinic_a.actor(clinic_a.admin)
    quote = services.quote_from_plan(actor=desk, plan=_plan(clinic_a, patient_a))
    assert not PackageSale.objects.filter(patient=patient_a).exists()
    quote = services.quote_accept(actor=desk, quote=quote)
    sale = PackageSale.objects.get(patient=patient_a)
    assert (sale.sessions_total, sale.price, sale.sold_on) == (3, D(2400), desk.today())
    assert quote.lines.get().package_sale == sale
    assert AuditEvent.objects.filter(action="billing.package.sell", patient=patient_a).exists()
    page = clinic_a.client(clinic_a.front_desk).get(f"/billing/quotes/{quote.pk}/")
    assert "Package sold: " in page.content.decode()
    # Only the deposit is invoiced so far; the package's sessions are the patient's already.
    status = selectors.patient_packages(actor=clinic_a.actor(clinic_a.nurse), patient=patient_a)
    assert [(s.used, s.left) for s in status] == [(0, 3)]
    ready_patient(clinic_a, patient_a)
    session = _signed(clinic_a, patient_a)
    assert PackageConsumption.objects.get(session=session).package_sale == sale
    # Nothing to credit before the package is invoiced.
    with pytest.raises(Exception, match="no issued invoice"):
        services.package_refund_unused(actor=admin, sale=sale, sessions=1, reason="Moving away")
    services.payment_record(
        actor=desk, patient=patient_a, invoice=quote.deposit_invoice, amount="480", method="card"
    )
    final = services.quote_invoice(actor=desk, quote=quote)
    assert final.lines.get().package_sale == sale
    assert (final.total_gross, final.deposit_applied) == (D(2400), D(480))
    assert Invoice.objects.filter(lines__package_sale=sale).count() == 1  # billed once
    note = services.package_refund_unused(actor=admin, sale=sale, sessions=1, reason="Moving")
    assert note.corrects == final and note.total_gross == D(800)
    status = selectors.patient_packages(actor=admin, patient=patient_a)
    assert [(s.used, s.left) for s in status] == [(1, 1)]
    # invoiced 480 + 2400, deposit carried 480, credited 800, paid 480: owes 1120
    assert selectors.patient_balance(actor=desk, patient=patient_a).balance == D(1120)


def test_a_quote_without_a_package_sells_none(clinic_a, patient_a):
    prices(clinic_a)
    desk = clinic_a.actor(clinic_a.front_desk)
    quote = services.quote_from_plan(actor=desk, plan=_plan(clinic_a, patient_a))
    services.quote_accept(actor=desk, quote=quote)
    assert not PackageSale.objects.filter(patient=patient_a).exists()


@pytest.fixture
def email_on(settings, patient_a):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    Patient.objects.filter(pk=patient_a.pk).update(email="pat@example.org", email_reminders=True)
    patient_a.refresh_from_db()


def test_every_document_kind_is_emailed_when_the_patient_consented(
    clinic_a, patient_a, email_on, django_capture_on_commit_callbacks
):
    prices(clinic_a)
    pkg = package(clinic_a, "2400")
    desk, admin = clinic_a.actor(clinic_a.front_desk), clinic_a.actor(clinic_a.admin)
    with django_capture_on_commit_callbacks(execute=True):
        sale = services.package_sell(actor=desk, patient=patient_a, package=pkg)
    with django_capture_on_commit_callbacks(execute=True):
        note = services.package_refund_unused(actor=admin, sale=sale, sessions=1, reason="Moving")
    with django_capture_on_commit_callbacks(execute=True):
        quote = services.quote_from_plan(actor=desk, plan=_plan(clinic_a, patient_a))
        quote = services.quote_accept(actor=desk, quote=quote)
    with django_capture_on_commit_callbacks(execute=True):
        final = services.quote_invoice(actor=desk, quote=quote)
    consult = issued(clinic_a, patient_a, "consultation")  # callbacks not run: no mail
    assert len(mail.outbox) == 4
    with django_capture_on_commit_callbacks(execute=True):
        line = consult.lines.get()
        services.credit_note_issue(
            actor=admin, invoice=consult, line_ids=[line.pk], reason="Waived for a friend"
        )
    package_invoice = Invoice.objects.get(lines__package_sale=sale, kind="invoice")
    deposit = quote.deposit_invoice
    assert deposit is not None
    subjects = [m.subject for m in mail.outbox]
    assert [s.split(": ", 1)[1] for s in subjects] == [
        f"Invoice {package_invoice.display_number}",
        f"Credit note {note.display_number}",
        f"Invoice {deposit.display_number}",
        f"Invoice {final.display_number}",
        f"Credit note {consult.credit_notes.get().display_number}",
    ]
    for message in mail.outbox:
        assert message.to == ["pat@example.org"]
        [(name, content, mimetype)] = message.attachments
        assert mimetype == "application/pdf" and content[:5] == b"%PDF-"
        assert name.endswith(".pdf") and ("INV-" in name or "CN-" in name)
    assert AuditEvent.objects.filter(action="billing.invoice.email").count() == 5


def test_no_document_is_emailed_without_consent(
    clinic_a, patient_a, django_capture_on_commit_callbacks, settings
):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    Patient.objects.filter(pk=patient_a.pk).update(email="pat@example.org", email_reminders=False)
    patient_a.refresh_from_db()
    prices(clinic_a)
    desk, admin = clinic_a.actor(clinic_a.front_desk), clinic_a.actor(clinic_a.admin)
    with django_capture_on_commit_callbacks(execute=True):
        sale = services.package_sell(actor=desk, patient=patient_a, package=package(clinic_a))
        services.package_refund_unused(actor=admin, sale=sale, sessions=1, reason="Moving")
    assert mail.outbox == []


def test_a_transferred_package_is_credited_by_its_new_holder(clinic_a, patient_a):
    from anagen.procedures.tests.helpers import ready_patient
    from conftest import make_patient

    desk, admin = clinic_a.actor(clinic_a.front_desk), clinic_a.actor(clinic_a.admin)
    ready_patient(clinic_a, patient_a)
    sale = services.package_sell(actor=desk, patient=patient_a, package=package(clinic_a))
    bought = Invoice.objects.get(lines__package_sale=sale, kind="invoice")
    payment = services.payment_record(
        actor=desk, patient=patient_a, invoice=bought, amount="2400", method="card"
    )
    _signed(clinic_a, patient_a)
    holder = make_patient(clinic_a)
    moved = services.package_transfer(actor=desk, sale=sale, patient=holder, reason="Gift to son")
    assert moved.sessions_total == 2
    # the front desk may not; the clinic admin credits one of the holder's two sessions
    with pytest.raises(Exception, match="Your role cannot"):
        services.package_refund_unused(actor=desk, sale=moved, sessions=1, reason="Not needed")
    note = services.package_refund_unused(actor=admin, sale=moved, sessions=1, reason="Not needed")
    assert note.kind == "credit_note" and note.corrects == bought
    assert note.patient == patient_a  # the credit note corrects the buyer's invoice
    assert note.total_gross == D(800)
    assert holder.full_name in note.lines.get().description
    status = selectors.patient_packages(actor=admin, patient=holder)
    assert [(s.used, s.left, s.sale.sessions_refunded) for s in status] == [(0, 1, 1)]
    original = selectors.patient_packages(actor=admin, patient=patient_a)
    assert [(s.used, s.left) for s in original] == [(1, 0)]
    # The buyer paid in full: the credit is on their account until refunded against the payment.
    assert selectors.patient_balance(actor=admin, patient=patient_a).balance == D(-800)
    services.refund_record(actor=admin, payment=payment, amount="800", reason="Unused session")
    assert selectors.patient_balance(actor=admin, patient=patient_a).balance == D(0)
    assert selectors.patient_balance(actor=admin, patient=holder).balance == D(0)
    events = AuditEvent.objects.filter(action="billing.package.refund")
    assert {e.patient_id for e in events} == {holder.pk, patient_a.pk}
    # the rest can be credited too, but no more than is left
    with pytest.raises(Exception, match="Between 1 and 1"):
        services.package_refund_unused(actor=admin, sale=moved, sessions=2, reason="Not needed")
    # and through the holder's account page
    client = clinic_a.client(clinic_a.admin)
    response = client.post(
        f"/billing/packages/{moved.pk}/refund/",
        {f"sale{moved.pk}-sessions": "1", f"sale{moved.pk}-reason": "Not needed either"},
        follow=True,
    )
    assert f"issued to {patient_a.full_name}, who bought the package" in response.content.decode()
    assert PackageSale.objects.get(pk=moved.pk).sessions_refunded == 2


def test_reading_an_invoice_pdf_is_audited(clinic_a, patient_a):
    prices(clinic_a)
    invoice = issued(clinic_a, patient_a, "consultation")
    client = clinic_a.client(clinic_a.front_desk)
    response = client.get(f"/billing/invoices/{invoice.pk}/pdf/")
    assert response.status_code == 200 and response.content[:5] == b"%PDF-"
    event = AuditEvent.objects.get(action="billing.invoice.pdf")
    assert event.patient_id == patient_a.pk and event.actor == clinic_a.front_desk
    draft = services.invoice_create(actor=clinic_a.actor(clinic_a.front_desk), patient=patient_a)
    assert client.get(f"/billing/invoices/{draft.pk}/pdf/").status_code == 302
    assert AuditEvent.objects.filter(action="billing.invoice.pdf").count() == 1


def test_package_sessions_left_are_shown_where_sessions_are_booked(clinic_a, patient_a):
    from django.urls import reverse

    plan = _plan(clinic_a, patient_a)
    pages = [
        reverse("appointment-new", args=[patient_a.pk]),
        reverse("plan-new", args=[patient_a.pk]),
        reverse("plan-detail", args=[plan.pk]),
    ]
    users = (clinic_a.front_desk, clinic_a.physician)

    def shown(*expected: str) -> set[str]:
        seen = set()
        for user in users:
            client = clinic_a.client(user)
            for url in pages:
                response = client.get(url)
                if response.status_code == 403:  # the role may not book there
                    continue
                text = response.content.decode()
                assert 'id="booking-packages"' in text, (user, url)
                assert all(e in text for e in expected), (user, url)
                seen.add(url)
        return seen

    assert shown("No package") == set(pages)
    desk = clinic_a.actor(clinic_a.front_desk)
    sale = services.package_sell(actor=desk, patient=patient_a, package=package(clinic_a))
    assert shown("3 of 3 sessions left") == set(pages)
    services.package_freeze(actor=desk, sale=sale, reason="Away for a month")
    assert shown("frozen since", "3 of 3 sessions left") == set(pages)
