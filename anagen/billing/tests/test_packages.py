"""A package session is used when its session record is signed: exactly once."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from anagen.audit.models import AuditEvent
from anagen.billing import selectors, services
from anagen.billing.models import Invoice, PackageConsumption
from anagen.billing.tests.helpers import package
from anagen.procedures import services as procedures
from anagen.procedures.tests.helpers import complete_prp, make_lot, ready_patient, start


def _signed(staff, patient, lot=None):
    session = complete_prp(staff, start(staff, patient), lot)
    return procedures.session_sign(actor=staff.actor(staff.physician), session=session)


def test_package_from_a_protocol_is_sold_with_its_invoice(clinic_a, patient_a):
    pkg = package(clinic_a)
    assert pkg.sessions == 3 and pkg.procedure == "prp_scalp"
    with pytest.raises(PermissionDenied):
        services.package_sell(actor=clinic_a.actor(clinic_a.nurse), patient=patient_a, package=pkg)
    sale = services.package_sell(
        actor=clinic_a.actor(clinic_a.front_desk), patient=patient_a, package=pkg
    )
    invoice = Invoice.objects.get(lines__package_sale=sale)
    assert invoice.is_issued and invoice.number == 1 and invoice.total_gross == D(2400)
    status = selectors.patient_packages(actor=clinic_a.actor(clinic_a.nurse), patient=patient_a)
    assert [(s.used, s.left) for s in status] == [(0, 3)]
    assert AuditEvent.objects.filter(action="billing.package.sell").count() == 1


def test_signing_consumes_one_session_once_and_amending_consumes_nothing(clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    sale = services.package_sell(
        actor=clinic_a.actor(clinic_a.front_desk), patient=patient_a, package=package(clinic_a)
    )
    session = _signed(clinic_a, patient_a)
    assert PackageConsumption.objects.get(session=session).package_sale == sale
    physician = clinic_a.actor(clinic_a.physician)
    with pytest.raises(ValidationError, match="already signed"):
        procedures.session_sign(actor=physician, session=session)
    again = services.package_consume_for_session(actor=physician, session=session)
    assert again is not None and again.package_sale == sale
    procedures.session_details_update(
        actor=physician, session=session, data={"notes": "Amended note"}, reason="typo fix"
    )
    assert sale.consumptions.count() == 1
    assert AuditEvent.objects.filter(action="billing.package.consume").count() == 1
    status = selectors.patient_packages(actor=physician, patient=patient_a)
    assert [(s.used, s.left) for s in status] == [(1, 2)]


def test_an_unsigned_session_or_no_package_consumes_nothing(clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    session = start(clinic_a, patient_a)
    physician = clinic_a.actor(clinic_a.physician)
    services.package_sell(
        actor=clinic_a.actor(clinic_a.front_desk), patient=patient_a, package=package(clinic_a)
    )
    assert services.package_consume_for_session(actor=physician, session=session) is None
    assert not PackageConsumption.objects.exists()


def test_a_signed_session_without_a_package_signs_as_before(clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    session = _signed(clinic_a, patient_a)
    assert session.is_signed and not PackageConsumption.objects.exists()


def test_a_full_package_is_not_overdrawn(clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    sale = services.package_sell(
        actor=clinic_a.actor(clinic_a.front_desk), patient=patient_a, package=package(clinic_a)
    )
    lot = make_lot(clinic_a)
    for _ in range(4):
        _signed(clinic_a, patient_a, lot)
    assert sale.consumptions.count() == 3


def test_unused_sessions_are_credited_pro_rata_by_the_admin_and_no_longer_used(clinic_a, patient_a):
    ready_patient(clinic_a, patient_a)
    sale = services.package_sell(
        actor=clinic_a.actor(clinic_a.front_desk), patient=patient_a, package=package(clinic_a)
    )
    lot = make_lot(clinic_a)
    _signed(clinic_a, patient_a, lot)
    with pytest.raises(PermissionDenied):
        services.package_refund_unused(
            actor=clinic_a.actor(clinic_a.front_desk), sale=sale, sessions=1, reason="Moving away"
        )
    admin = clinic_a.actor(clinic_a.admin)
    with pytest.raises(ValidationError, match="Between 1 and 2"):
        services.package_refund_unused(actor=admin, sale=sale, sessions=3, reason="Moving away")
    note = services.package_refund_unused(actor=admin, sale=sale, sessions=1, reason="Moving away")
    assert note.kind == "credit_note" and note.total_gross == D(800)  # 2400 / 3
    invoice = Invoice.objects.get(lines__package_sale=sale, kind="invoice")
    assert selectors.invoice_due(invoice) == D(1600)
    status = selectors.patient_packages(actor=admin, patient=patient_a)
    assert [(s.used, s.left) for s in status] == [(1, 1)]
    _signed(clinic_a, patient_a, lot)
    _signed(clinic_a, patient_a, lot)  # nothing left to use: signs, consumes nothing
    assert sale.consumptions.count() == 2
    with pytest.raises(ValidationError, match="no unused sessions"):
        services.package_refund_unused(actor=admin, sale=sale, sessions=1, reason="Moving away")
    with pytest.raises(ValidationError, match="credited from the package"):
        services.credit_note_issue(
            actor=admin, invoice=invoice, line_ids=[invoice.lines.get().pk], reason="Whole thing"
        )
    assert AuditEvent.objects.filter(action="billing.package.refund").count() == 1


def test_admin_credits_unused_sessions_on_the_account_page(clinic_a, patient_a):
    sale = services.package_sell(
        actor=clinic_a.actor(clinic_a.front_desk), patient=patient_a, package=package(clinic_a)
    )
    client = clinic_a.client(clinic_a.admin)
    url = f"/billing/packages/{sale.pk}/refund/"
    page = client.get(f"/patients/{patient_a.pk}/billing/").content.decode()
    assert url in page
    client.post(url, {f"sale{sale.pk}-sessions": "9", f"sale{sale.pk}-reason": "Moving away"})
    sale.refresh_from_db()
    assert sale.sessions_refunded == 0
    r = client.post(url, {f"sale{sale.pk}-sessions": "3", f"sale{sale.pk}-reason": "Moving away"})
    assert r.status_code == 302
    sale.refresh_from_db()
    assert sale.sessions_refunded == 3
    desk = clinic_a.client(clinic_a.front_desk)
    assert desk.post(url, {}).status_code == 403
    assert (
        "0 of 3 sessions left</strong> (3 credited)"
        in desk.get(f"/patients/{patient_a.pk}/").content.decode()
    )


def test_a_frozen_package_is_not_used_and_unfreezing_extends_it(clinic_a, patient_a):
    import datetime as dt

    from anagen.billing.models import PackageSale

    ready_patient(clinic_a, patient_a)
    desk = clinic_a.actor(clinic_a.front_desk)
    sale = services.package_sell(actor=desk, patient=patient_a, package=package(clinic_a))
    with pytest.raises(ValidationError, match="reason"):
        services.package_freeze(actor=desk, sale=sale, reason="")
    services.package_freeze(actor=desk, sale=sale, reason="Travelling for work")
    with pytest.raises(ValidationError, match="already frozen"):
        services.package_freeze(actor=desk, sale=sale, reason="Travelling for work")
    _signed(clinic_a, patient_a)
    assert sale.consumptions.count() == 0
    page = clinic_a.client(clinic_a.nurse).get(f"/patients/{patient_a.pk}/").content.decode()
    assert "frozen since" in page
    # frozen ten days ago: resuming moves the expiry on by ten days
    PackageSale.objects.filter(pk=sale.pk).update(frozen_on=desk.today() - dt.timedelta(days=10))
    before = PackageSale.objects.get(pk=sale.pk).expires_on
    client = clinic_a.client(clinic_a.front_desk)
    client.post(f"/billing/packages/{sale.pk}/freeze/", {"reason": "Back from travel"})
    sale.refresh_from_db()
    assert sale.frozen_on is None and sale.expires_on == before + dt.timedelta(days=10)
    assert AuditEvent.objects.filter(action="billing.package.unfreeze").count() == 1
    with pytest.raises(PermissionDenied):
        services.package_freeze(
            actor=clinic_a.actor(clinic_a.nurse), sale=sale, reason="Travelling again"
        )


def test_transfer_moves_the_remaining_sessions_to_another_patient(clinic_a, patient_a, patient_b):
    from anagen.billing.models import PackageSale
    from conftest import make_patient

    ready_patient(clinic_a, patient_a)
    desk = clinic_a.actor(clinic_a.front_desk)
    sale = services.package_sell(actor=desk, patient=patient_a, package=package(clinic_a))
    _signed(clinic_a, patient_a)  # one of three used
    sister = make_patient(clinic_a, given_name="Ana", family_name="Silva", sex="female")
    with pytest.raises(ValidationError, match="reason"):
        services.package_transfer(actor=desk, sale=sale, patient=sister, reason="")
    with pytest.raises(PermissionDenied):
        services.package_transfer(
            actor=clinic_a.actor(clinic_a.nurse), sale=sale, patient=sister, reason="Gift to sister"
        )
    with pytest.raises(ValidationError, match="another clinic"):
        services.package_transfer(actor=desk, sale=sale, patient=patient_b, reason="Gift to sister")
    client = clinic_a.client(clinic_a.front_desk)
    url = f"/billing/packages/{sale.pk}/transfer/"
    assert client.post(url, {"patient": patient_b.pk, "reason": "Gift"}).status_code == 404
    client.post(url, {"record_number": sister.record_number, "reason": "Gift to her sister"})
    sale.refresh_from_db()
    moved = PackageSale.objects.get(transferred_from=sale)
    assert (sale.sessions_transferred, sale.consumptions.count()) == (2, 1)
    assert (moved.patient, moved.sessions_total, moved.price) == (sister, 2, D(1600))
    assert moved.expires_on == sale.expires_on
    nurse = clinic_a.actor(clinic_a.nurse)
    mine = selectors.patient_packages(actor=nurse, patient=patient_a)
    theirs = selectors.patient_packages(actor=nurse, patient=sister)
    assert [(s.used, s.left) for s in mine] == [(1, 0)]
    assert [(s.used, s.left) for s in theirs] == [(0, 2)]
    # the liability is unchanged: 2 sessions at 800, now on the sister's package
    liability = selectors.report_package_liability(
        actor=clinic_a.actor(clinic_a.admin), on=desk.today()
    )
    assert [(r.sale.pk, r.unused, r.value) for r in liability] == [(moved.pk, 2, D(1600))]
    events = AuditEvent.objects.filter(action="billing.package.transfer")
    assert {e.patient_id for e in events} == {patient_a.pk, sister.pk}
    with pytest.raises(ValidationError, match="no sessions left"):
        services.package_transfer(actor=desk, sale=sale, patient=sister, reason="Gift again")
    page = client.get(f"/patients/{sister.pk}/billing/").content.decode()
    assert "Transfer to record number" in page
