"""Builders shared by billing's tests."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from anagen.billing import services
from anagen.billing.models import Invoice, PackageDefinition


def prices(staff, *, on: dt.date | None = None) -> None:
    """A small USD-style price list: consultation, PRP scalp, a taxed product."""
    admin = staff.actor(staff.admin)
    on = on or dt.date(2020, 1, 1)
    services.price_set(
        actor=admin, code="consultation", kind="consultation", name="Consultation",
        unit_price="250", valid_from=on,
    )  # fmt: skip
    services.price_set(
        actor=admin, code="", kind="procedure", name="", procedure="prp_scalp",
        unit_price="900", valid_from=on,
    )  # fmt: skip
    services.price_set(
        actor=admin, code="minoxidil", kind="product", name="Minoxidil 5 % foam",
        unit_price="45.50", tax_rate="8.875", tax_inclusive=False, valid_from=on,
    )  # fmt: skip


def issued(staff, patient, *codes: str) -> Invoice:
    desk = staff.actor(staff.front_desk)
    invoice = services.invoice_create(actor=desk, patient=patient)
    for code in codes or ("consultation",):
        services.invoice_add_line(actor=desk, invoice=invoice, code=code)
    return services.invoice_issue(actor=desk, invoice=invoice)


def package(staff, price: str = "2400") -> PackageDefinition:
    return services.package_define(
        actor=staff.actor(staff.admin), protocol_id="prp-aga-monthly-3", price=Decimal(price)
    )
