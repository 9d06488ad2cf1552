"""Demo money: a price list per clinic in its own currency, packages sold and used by signed
session records, issued invoices, a part payment, an overpayment refunded, a credit note, a
draft.

Northside charges in US dollars with the articles' figures ($700–1,500 per PRP session,
$1,500–3,000 for an initial series; medical services untaxed, products with sales tax added);
Riverside in pounds with 20 % VAT included in its prices. Everything goes through the services
(so it is audited like real work). Idempotent: a clinic that has a price list is left alone.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal
from typing import Any

from anagen.accounts.access import Actor
from anagen.accounts.models import Clinic, Membership
from anagen.billing import services
from anagen.billing.models import PriceItem
from anagen.patients.models import Patient
from anagen.procedures.models import SessionStatus, TreatmentSession

# slug: currency, [(code, kind, name, procedure, price, tax rate, inclusive)], packages
SPECS: dict[str, dict[str, Any]] = {
    "north": {
        "currency": "USD",
        "items": [
            (
                "consultation",
                "consultation",
                "Consultation and scalp assessment",
                "",
                "250",
                "0",
                False,
            ),
            ("", "procedure", "", "prp_scalp", "900", "0", False),
            ("", "procedure", "", "prp_face", "1000", "0", False),
            ("", "procedure", "", "mesotherapy_scalp", "450", "0", False),
            ("", "procedure", "", "mesotherapy_face", "500", "0", False),
            ("", "procedure", "", "mesotherapy_body", "400", "0", False),
            (
                "minoxidil-foam",
                "product",
                "Minoxidil 5 % foam, 3 months",
                "",
                "45.50",
                "8.875",
                False,
            ),
            ("hair-shampoo", "product", "Ketoconazole 2 % shampoo", "", "24", "8.875", False),
        ],
        "raise": ("prp_scalp", "1100"),  # this year's price for a PRP session
        "packages": [
            ("prp-aga-monthly-3", "2400", "0", False),
            ("prp-aga-2x2m", "1500", "0", False),
        ],
        "paid_part": "1000",
    },
    "river": {
        "currency": "GBP",
        "items": [
            (
                "consultation",
                "consultation",
                "Consultation and scalp assessment",
                "",
                "150",
                "20",
                True,
            ),
            ("", "procedure", "", "prp_scalp", "600", "20", True),
            ("", "procedure", "", "prp_face", "650", "20", True),
            ("", "procedure", "", "mesotherapy_scalp", "300", "20", True),
            ("", "procedure", "", "mesotherapy_face", "350", "20", True),
            ("", "procedure", "", "mesotherapy_body", "280", "20", True),
            ("minoxidil-foam", "product", "Minoxidil 5 % foam, 3 months", "", "35", "20", True),
            ("hair-shampoo", "product", "Ketoconazole 2 % shampoo", "", "15.99", "20", True),
        ],
        "raise": ("prp_scalp", "650"),
        "packages": [
            ("prp-aga-monthly-3", "1500", "20", True),
            ("prp-aga-2x2m", "1100", "20", True),
        ],
        "paid_part": "500",
    },
}


def _actor(clinic: Clinic, key: str) -> Actor:
    membership = Membership.objects.select_related("user", "clinic").get(
        clinic=clinic, user__username=f"{clinic.slug}.{key}"
    )
    return Actor(user=membership.user, membership=membership, via="cli")


def seed_billing_demo(today: dt.date) -> None:
    for slug, spec in SPECS.items():
        clinic = Clinic.objects.filter(slug=slug).first()
        if clinic is None or PriceItem.objects.filter(clinic=clinic).exists():
            continue
        if clinic.currency != spec["currency"]:
            clinic.currency = spec["currency"]
            clinic.save(update_fields=["currency"])
        _seed_clinic(clinic, spec, today)


def _seed_clinic(clinic: Clinic, spec: dict[str, Any], today: dt.date) -> None:
    admin, desk = _actor(clinic, "admin"), _actor(clinic, "frontdesk")
    physician = _actor(clinic, "physician")
    since = today - dt.timedelta(days=730)
    for code, kind, name, procedure, price, tax, inclusive in spec["items"]:
        services.price_set(
            actor=admin,
            code=code,
            kind=kind,
            name=name,
            procedure=procedure,
            unit_price=price,
            tax_rate=tax,
            tax_inclusive=inclusive,
            valid_from=since,
        )
    raised_code, raised_price = spec["raise"]
    first = PriceItem.objects.get(clinic=clinic, code=raised_code)
    services.price_set(
        actor=admin,
        code=raised_code,
        kind=first.kind,
        name=first.name,
        procedure=first.procedure,
        unit_price=raised_price,
        tax_rate=first.tax_rate,
        tax_inclusive=first.tax_inclusive,
        valid_from=today - dt.timedelta(days=60),
    )
    packages = [
        services.package_define(
            actor=admin,
            protocol_id=pid,
            price=Decimal(price),
            tax_rate=tax,
            tax_inclusive=inclusive,
        )
        for pid, price, tax, inclusive in spec["packages"]
    ]

    # The package: sold to the patient with the most signed PRP scalp sessions, before the
    # first of them, and used by those signed records (oldest first, at most three).
    signed = TreatmentSession.objects.filter(
        clinic=clinic, procedure="prp_scalp", status=SessionStatus.SIGNED
    )
    counts = Counter(signed.values_list("patient_id", flat=True))
    used_patients: set[int] = set()
    if counts:
        patient_id = min(counts, key=lambda pid: (-counts[pid], pid))
        patient = Patient.objects.get(pk=patient_id)
        sessions = list(signed.filter(patient=patient).order_by("started_at")[:3])
        first_day = sessions[0].started_at.astimezone(admin.tz).date()
        sale = services.package_sell(
            actor=desk,
            patient=patient,
            package=packages[0],
            sold_on=min(first_day - dt.timedelta(days=1), today),
        )
        for session in sessions:
            services.package_consume_for_session(actor=physician, session=session)
        invoice = sale_invoice(sale)
        services.payment_record(
            actor=desk,
            patient=patient,
            invoice=invoice,
            amount=spec["paid_part"],
            method="card",
            reference="Terminal slip 0412",
        )
        used_patients.add(patient.pk)

    others = list(
        Patient.objects.filter(clinic=clinic).exclude(pk__in=used_patients).order_by("pk")[:5]
    )
    if len(others) < 5:
        return
    # Paid in full, then a product returned: credit note and refund against the payment.
    paid = _issue(desk, others[0], "consultation", "minoxidil-foam")
    payment = services.payment_record(
        actor=desk, patient=others[0], invoice=paid, amount=paid.total_gross, method="cash"
    )
    product = paid.lines.get(price_item__code="minoxidil-foam")
    services.credit_note_issue(
        actor=admin, invoice=paid, line_ids=[product.pk], reason="Product returned unopened"
    )
    services.refund_record(
        actor=admin, payment=payment, amount=product.gross, reason="Product returned unopened"
    )
    # Unpaid: a consultation and a PRP session at this year's price.
    _issue(desk, others[1], "consultation", "prp_scalp")
    # Overpaid by bank transfer: the rest stays as credit on the account.
    over = _issue(desk, others[2], "consultation")
    services.payment_record(
        actor=desk,
        patient=others[2],
        invoice=over,
        amount=over.total_gross + Decimal(50),
        method="bank_transfer",
        reference="Transfer 88213",
    )
    # A voucher on account and a draft not yet issued.
    services.payment_record(
        actor=desk, patient=others[3], amount="100", method="voucher", reference="GIFT-2026-07"
    )
    draft = services.invoice_create(actor=desk, patient=others[4])
    services.invoice_add_line(actor=desk, invoice=draft, code="hair-shampoo", quantity=2)
    _seed_quotes(clinic, admin, desk)


def _seed_quotes(clinic: Clinic, admin: Actor, desk: Actor) -> None:
    """Legal details for invoices, and a plan's quote accepted with its deposit paid."""
    from django.core.exceptions import ValidationError

    from anagen.scheduling.models import TreatmentPlan

    services.settings_update(
        actor=admin,
        legal_name=f"{clinic.name} Ltd",
        legal_address="1 High Street",
        tax_id="TAX-0001",
    )
    plan = (
        TreatmentPlan.objects.filter(clinic=clinic, status__in=["planned", "active"])
        .order_by("pk")
        .first()
    )
    if plan is None:
        return
    try:
        quote = services.quote_from_plan(actor=desk, plan=plan)
        quote = services.quote_accept(actor=desk, quote=quote)
    except ValidationError:
        return  # no price for the plan's procedure in this clinic's list
    if quote.deposit_invoice is not None:
        services.payment_record(
            actor=desk,
            patient=quote.patient,
            invoice=quote.deposit_invoice,
            amount=quote.deposit_invoice.total_gross,
            method="card",
        )


def _issue(actor: Actor, patient: Patient, *codes: str) -> Any:
    invoice = services.invoice_create(actor=actor, patient=patient)
    for code in codes:
        services.invoice_add_line(actor=actor, invoice=invoice, code=code)
    return services.invoice_issue(actor=actor, invoice=invoice)


def sale_invoice(sale: Any) -> Any:
    from anagen.billing.models import Invoice

    return Invoice.objects.get(lines__package_sale=sale, kind="invoice")
