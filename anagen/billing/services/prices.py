"""The clinic's price list (versioned by date) and its package definitions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from anagen.accounts.access import Actor
from anagen.accounts.permissions import Perm
from anagen.audit.services import audit_record
from anagen.billing.models import ItemKind, PackageDefinition, PriceItem
from anagen.billing.services._common import money_in
from anagen.clinical import PROCEDURES, PROTOCOLS


def _tax_rate(value: Any) -> Decimal:
    try:
        rate = Decimal(str(value))
    except Exception:
        raise ValidationError({"tax_rate": "Enter a tax rate in per cent, e.g. 20."}) from None
    if not rate.is_finite() or not 0 <= rate <= 100:
        raise ValidationError({"tax_rate": "A tax rate is between 0 and 100 %."})
    return rate


@transaction.atomic
def price_set(
    *,
    actor: Actor,
    code: str,
    kind: str,
    name: str,
    unit_price: Any,
    valid_from: dt.date,
    tax_rate: Any = 0,
    tax_inclusive: bool = False,
    procedure: str = "",
) -> PriceItem:
    """Set the price of an item from a date on. Issued documents keep the prices they copied.

    A new date makes a new version; the same date corrects that version (audited old/new).
    """
    actor.require(Perm.PRICE_LIST_MANAGE)
    currency = actor.clinic.currency
    if kind not in ItemKind.values:
        raise ValidationError({"kind": "Choose consultation, procedure or product."})
    if kind == ItemKind.PROCEDURE:
        if procedure not in PROCEDURES:
            raise ValidationError({"procedure": "Choose a procedure."})
        code = procedure
        name = name or str(PROCEDURES[procedure]["label"])
    code = slugify(code or name)[:60]
    if not code or not name.strip():
        raise ValidationError({"name": "Give the item a name."})
    values = {
        "kind": kind,
        "procedure": procedure if kind == ItemKind.PROCEDURE else "",
        "name": name.strip()[:200],
        "unit_price": money_in(unit_price, currency, field="unit_price", allow_zero=True),
        "currency": currency,
        "tax_rate": _tax_rate(tax_rate),
        "tax_inclusive": bool(tax_inclusive),
        "is_active": True,
    }
    item = PriceItem.objects.filter(clinic=actor.clinic, code=code, valid_from=valid_from).first()
    before: dict[str, Any] = {}
    if item is None:
        item = PriceItem.objects.create(
            clinic=actor.clinic, code=code, valid_from=valid_from, created_by=actor.user, **values
        )
    else:
        before = {k: getattr(item, k) for k in values}
        for k, v in values.items():
            setattr(item, k, v)
        item.save()
    audit_record(
        action="billing.price.set",
        actor=actor,
        obj=item,
        changes={k: [before.get(k), v] for k, v in values.items() if before.get(k) != v}
        | {"code": code, "valid_from": valid_from},
    )
    return item


@transaction.atomic
def package_define(
    *,
    actor: Actor,
    protocol_id: str,
    price: Any,
    name: str = "",
    validity_days: int = 365,
    tax_rate: Any = 0,
    tax_inclusive: bool = False,
) -> PackageDefinition:
    """A package built from a protocol: its sessions at one package price, valid N days."""
    actor.require(Perm.PRICE_LIST_MANAGE)
    protocol = PROTOCOLS.get(protocol_id)
    if protocol is None:
        raise ValidationError({"protocol_id": "Choose a protocol."})
    if not 1 <= int(validity_days) <= 3650:
        raise ValidationError({"validity_days": "Validity is between 1 day and 10 years."})
    currency = actor.clinic.currency
    package = PackageDefinition.objects.create(
        clinic=actor.clinic,
        name=(name.strip() or protocol.name)[:200],
        protocol_id=protocol.id,
        procedure=str(protocol.data.get("procedure", "")),
        sessions=len(protocol.sessions),
        price=money_in(price, currency, field="price"),
        currency=currency,
        tax_rate=_tax_rate(tax_rate),
        tax_inclusive=bool(tax_inclusive),
        validity_days=int(validity_days),
    )
    audit_record(
        action="billing.package.define",
        actor=actor,
        obj=package,
        changes={
            "name": package.name,
            "sessions": package.sessions,
            "price": package.price,
            "currency": currency,
        },
    )
    return package
