"""Reports reproduce totals computed by hand (tax-inclusive and tax-exclusive lines)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from django.core.exceptions import PermissionDenied

from anagen.billing import selectors, services
from anagen.billing.models import Invoice
from anagen.billing.tests.helpers import issued, package, prices


@pytest.fixture
def books(clinic_a, patient_a):
    prices(clinic_a)
    admin, desk = clinic_a.actor(clinic_a.admin), clinic_a.actor(clinic_a.front_desk)
    services.price_set(
        actor=admin,
        code="shampoo",
        kind="product",
        name="Shampoo",
        unit_price="9.99",
        tax_rate="20",
        tax_inclusive=True,
        valid_from=dt.date(2020, 1, 1),
    )
    # 3 x 45.50 = 136.50 + 8.875 % (12.11) = 148.61; 9.99 incl. 20 % (net 8.33, VAT 1.66)
    one = issued(clinic_a, patient_a, "shampoo")
    draft = services.invoice_create(actor=desk, patient=patient_a)
    services.invoice_add_line(actor=desk, invoice=draft, code="minoxidil", quantity=3)
    services.invoice_add_line(actor=desk, invoice=draft, code="shampoo")
    two = services.invoice_issue(actor=desk, invoice=draft)
    assert (two.total_net, two.total_tax, two.total_gross) == (
        D("144.83"),
        D("13.77"),
        D("158.60"),
    )
    services.payment_record(actor=desk, patient=patient_a, invoice=two, amount="100", method="card")
    three = issued(clinic_a, patient_a, "consultation")
    cash = services.payment_record(
        actor=desk, patient=patient_a, invoice=three, amount="300", method="cash"
    )
    services.refund_record(actor=admin, payment=cash, amount="50", reason="Change given back")
    old = issued(clinic_a, patient_a, "consultation")
    Invoice.objects.filter(pk=old.pk).update(issue_date=admin.today() - dt.timedelta(days=45))
    sale = services.package_sell(actor=desk, patient=patient_a, package=package(clinic_a))
    services.package_refund_unused(actor=admin, sale=sale, sessions=1, reason="Moving away")
    return {"one": one, "two": two, "three": three, "old": old}


def test_takings_by_method_net_of_refunds(clinic_a, books):
    admin = clinic_a.actor(clinic_a.admin)
    rows = selectors.report_takings(actor=admin, start=admin.today(), end=admin.today())
    by = {r.method: (r.received, r.refunded, r.net) for r in rows}
    assert by == {"card": (D(100), D(0), D(100)), "cash": (D(300), D(50), D(250))}
    yesterday = admin.today() - dt.timedelta(days=1)
    assert selectors.report_takings(actor=admin, start=yesterday, end=yesterday) == []


def test_outstanding_by_age_and_package_liability(clinic_a, books):
    admin = clinic_a.actor(clinic_a.admin)
    rows = selectors.report_outstanding(actor=admin, on=admin.today())
    due = {r.invoice.pk: (r.band, r.due) for r in rows}
    assert due[books["one"].pk] == ("0–30 days", D("9.99"))
    assert due[books["two"].pk] == ("0–30 days", D("58.60"))  # 158.60 - 100
    assert due[books["old"].pk] == ("31–60 days", D(250))
    assert books["three"].pk not in due  # paid in full (the refund came out of the excess)
    package_due = [r.due for r in rows if r.invoice.pk not in {b.pk for b in books.values()}]
    assert package_due == [D(1600)]  # 2400 - 800 credited for one unused session
    liability = selectors.report_package_liability(actor=admin, on=admin.today())
    assert [(r.unused, r.per_session, r.value) for r in liability] == [(2, D(800), D(1600))]


def test_reports_page_and_csv_for_the_admin_only(clinic_a, books):
    admin = clinic_a.client(clinic_a.admin)
    page = admin.get("/billing/reports/").content.decode()
    assert 'id="takings-total">£350.00' in page
    assert 'id="outstanding-total">£1,918.59' in page  # 9.99 + 58.60 + 250 + 1600
    assert 'id="liability-total">£1,600.00' in page
    assert "<td>Cash</td>" in page and "bank_transfer" not in page
    csv = admin.get("/billing/reports/?csv=takings").content.decode()
    assert csv.splitlines()[0] == "date,method,received,refunded,net,currency"
    assert "cash,300" in csv
    assert admin.get("/billing/reports/?start=2026-02-01&end=2025-01-01").status_code == 400
    assert admin.get("/billing/reports/?start=x").status_code == 400
    for user in (clinic_a.front_desk, clinic_a.physician, clinic_a.nurse):
        assert clinic_a.client(user).get("/billing/reports/").status_code == 403
    with pytest.raises(PermissionDenied):
        selectors.report_takings(
            actor=clinic_a.actor(clinic_a.front_desk), start=dt.date.today(), end=dt.date.today()
        )


def test_revenue_by_procedure_and_month_net_of_credit_notes(clinic_a, books):
    admin = clinic_a.actor(clinic_a.admin)
    two = books["two"]
    minoxidil = next(x for x in two.lines.all() if x.price_item.code == "minoxidil")
    services.credit_note_issue(
        actor=admin, invoice=two, line_ids=[minoxidil.pk], reason="Returned unopened"
    )
    today = admin.today()
    start = today - dt.timedelta(days=60)
    rows = selectors.report_revenue(actor=admin, start=start, end=today)
    got = {(r.month, r.label): (r.net, r.tax, r.gross) for r in rows}
    this, old = today.replace(day=1), (today - dt.timedelta(days=45)).replace(day=1)
    assert got == {
        (old, "Consultation"): (D(250), D(0), D(250)),
        (this, "Consultation"): (D(250), D(0), D(250)),
        # shampoo twice (8.33 + 1.66 each); minoxidil 136.50 + 12.11 credited back in full
        (this, "Product"): (D("16.66"), D("3.32"), D("19.98")),
        # package 2400 less 800 credited for one unused session
        (this, "PRP injection, scalp"): (D(1600), D(0), D(1600)),
    }
    # the old invoice falls outside a one-day range; everything else was issued today
    assert selectors.report_revenue(actor=admin, start=today, end=today) == [
        r for r in rows if r.month == this
    ]
    page = clinic_a.client(clinic_a.admin).get(
        f"/billing/reports/?start={start.isoformat()}&end={today.isoformat()}"
    )
    text = page.content.decode()
    assert 'id="revenue-total">£2,116.66' in text  # 250 + 250 + 16.66 + 1600
    # the revenue table is on the page, not inside its <title>
    assert "<title>Billing reports · Anagen</title>" in text
    assert text.index("<main") < text.index('id="revenue-total"')
    csv = clinic_a.client(clinic_a.admin).get(
        f"/billing/reports/?start={start.isoformat()}&end={today.isoformat()}&csv=revenue"
    )
    lines = csv.content.decode().splitlines()
    assert lines[0] == "month,procedure or kind,net,tax,gross,currency"
    assert f"{this:%Y-%m},Product,16.660,3.320,19.980,GBP" in lines
    with pytest.raises(PermissionDenied):
        selectors.report_revenue(actor=clinic_a.actor(clinic_a.front_desk), start=start, end=today)


def test_takings_by_practitioner_follow_the_latest_signed_session(clinic_a, patient_a):
    from anagen.billing.models import Payment
    from anagen.billing.tests.test_packages import _signed
    from anagen.procedures.tests.helpers import ready_patient

    prices(clinic_a)
    ready_patient(clinic_a, patient_a)
    admin, desk = clinic_a.actor(clinic_a.admin), clinic_a.actor(clinic_a.front_desk)
    first = issued(clinic_a, patient_a, "consultation")
    early = services.payment_record(
        actor=desk, patient=patient_a, invoice=first, amount="250", method="cash"
    )
    session = _signed(clinic_a, patient_a)
    # the consultation was paid before any session was signed: no practitioner to credit
    Payment.objects.filter(pk=early.pk).update(
        received_at=session.signed_at - dt.timedelta(minutes=1)
    )
    second = issued(clinic_a, patient_a, "prp_scalp")
    services.payment_record(
        actor=desk, patient=patient_a, invoice=second, amount="900", method="card"
    )
    services.refund_record(actor=admin, payment=early, amount="40", reason="Goodwill refund")
    today = admin.today()
    rows = selectors.report_takings_by_practitioner(
        actor=admin, start=today - dt.timedelta(days=1), end=today
    )
    assert [(r.practitioner, r.received, r.refunded, r.net) for r in rows] == [
        (str(clinic_a.physician), D(900), D(0), D(900)),
        ("Unattributed", D(250), D(40), D(210)),
    ]
    query = f"start={(today - dt.timedelta(days=1)).isoformat()}&end={today.isoformat()}"
    client = clinic_a.client(clinic_a.admin)
    page = client.get(f"/billing/reports/?{query}").content.decode()
    assert 'id="practitioner-total">£1,110.00' in page
    csv = client.get(f"/billing/reports/?{query}&csv=practitioners").content.decode()
    assert csv.splitlines()[0] == "practitioner,received,refunded,net,currency"
    assert "Unattributed,250.000,40.000,210.000,GBP" in csv.splitlines()
    with pytest.raises(PermissionDenied):
        selectors.report_takings_by_practitioner(actor=desk, start=today, end=today)
