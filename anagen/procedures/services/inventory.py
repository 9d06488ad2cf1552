"""Inventory: products, lots received into stock, and the lot used in a session."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.accounts.clinic_time import human_date
from anagen.accounts.permissions import Perm
from anagen.audit.services import audit_record
from anagen.clinical import procedure_rules as rules
from anagen.clinical.procedure_rules import Finding
from anagen.patients.selectors import patient_alerts
from anagen.procedures.models import (
    FormulationIngredient,
    Lot,
    LotUse,
    Product,
    ProductCategory,
    TreatmentSession,
)
from anagen.procedures.services._common import MIN_REASON, _amending, _record_change, _today
from anagen.procedures.services.delivery import _zone_codes


def _require_inventory(actor: Actor) -> None:
    actor.require(Perm.INVENTORY_MANAGE)


def product_create(*, actor: Actor, data: dict[str, Any]) -> Product:
    _require_inventory(actor)
    name = " ".join((data.get("name") or "").split())
    errors = {}
    if not name:
        errors["name"] = "Name the product."
    elif Product.objects.filter(clinic=actor.clinic, name__iexact=name).exists():
        errors["name"] = "A product with this name exists."
    if data.get("category") not in ProductCategory.values:
        errors["category"] = "Choose a category."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        product = Product.objects.create(
            clinic=actor.clinic,
            name=name,
            category=data["category"],
            manufacturer=(data.get("manufacturer") or "").strip(),
        )
        audit_record(
            action="procedures.product.create",
            actor=actor,
            obj=product,
            changes={"name": name, "category": product.category},
        )
    return product


def lot_receive(*, actor: Actor, product: Product, data: dict[str, Any]) -> Lot:
    """Receive a lot of a product into stock."""
    _require_inventory(actor)
    if product.clinic_id != actor.clinic.pk:
        raise Http404("No such product.")
    errors = {}
    number = (data.get("lot_number") or "").strip()
    if not number:
        errors["lot_number"] = "Give the lot number printed on the box."
    elif Lot.objects.filter(product=product, lot_number__iexact=number).exists():
        errors["lot_number"] = f"Lot {number} of {product} is already in stock."
    expires_on: Any = data.get("expires_on")
    received_on: dt.date = data.get("received_on") or _today(actor)
    if expires_on is None:
        errors["expires_on"] = "Give the expiry date."
    elif expires_on < received_on:
        errors["expires_on"] = f"This lot expired on {human_date(expires_on)}; do not receive it."
    quantity: Any = data.get("quantity")
    if quantity is None or not (1 <= int(quantity) <= 100000):
        errors["quantity"] = "Quantity: 1 to 100000."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        lot = Lot.objects.create(
            product=product,
            lot_number=number,
            expires_on=expires_on,
            received_on=received_on,
            quantity=int(quantity),
            received_by=actor.user,
        )
        audit_record(
            action="procedures.lot.receive",
            actor=actor,
            obj=lot,
            changes={
                "product": product.name,
                "lot_number": number,
                "expires_on": expires_on,
                "quantity": int(quantity),
            },
        )
    return lot


def lot_recall(*, actor: Actor, lot: Lot, reason: str) -> Lot:
    """Recall a lot: from now on it cannot be chosen for a session. Who, when and why are kept
    on the lot (a check constraint keeps them together) and in the audit trail. A recall is not
    undone here: a lot recalled by mistake is a new audit story, not a silent edit."""
    _require_inventory(actor)
    reason = " ".join((reason or "").split())
    if len(reason) < MIN_REASON:
        raise ValidationError(
            {"reason": "Say why this lot is recalled (the supplier's notice or what was found)."}
        )
    with transaction.atomic():
        lot = Lot.objects.select_for_update().select_related("product").get(pk=lot.pk)
        if lot.product.clinic_id != actor.clinic.pk:
            raise Http404("No such lot.")
        if lot.recalled_at is not None:
            raise ValidationError(
                {
                    "reason": f"Lot {lot.lot_number} of {lot.product.name} was already recalled "
                    f"on {human_date(lot.recalled_at, actor.tz)}."
                }
            )
        lot.recalled_at = timezone.now()
        lot.recalled_by = actor.user
        lot.recall_reason = reason
        lot.save(update_fields=["recalled_at", "recalled_by", "recall_reason"])
        audit_record(
            action="procedures.lot.recall",
            actor=actor,
            obj=lot,
            changes={"product": lot.product.name, "lot_number": lot.lot_number, "reason": reason},
        )
    return lot


def lot_recalled_message(lot: Lot, actor: Actor | None = None) -> str:
    on = human_date(lot.recalled_at, actor.tz if actor is not None else None)
    return f"Lot {lot.lot_number} of {lot.product.name} was recalled on {on}: choose another lot."


def lot_expired_message(lot: Lot) -> str:
    return (
        f"Lot {lot.lot_number} of {lot.product.name} expired on "
        f"{human_date(lot.expires_on)}; choose another lot."
    )


def lot_use_record(
    *,
    actor: Actor,
    session: TreatmentSession,
    lot: Lot,
    quantity: int = 1,
    zone: str = "",
    reason: str = "",
    allergy_override_reason: str = "",
) -> LotUse:
    """The lot used, chosen at the moment of use. A recalled or expired lot is refused; another
    clinic's lot does not exist (404). A lot of a product the patient is allergic to (latest
    intake) is refused; a physician may record it with ``allergy_override_reason`` (kept on the
    row and audited)."""
    with transaction.atomic():
        amending = _amending(actor, session, reason)
        lot = Lot.objects.select_for_update().select_related("product").get(pk=lot.pk)
        if lot.product.clinic_id != session.clinic_id:
            raise Http404("No such lot.")
        if lot.is_recalled:
            raise ValidationError({"lot": lot_recalled_message(lot, actor)})
        if lot.is_expired(_today(actor)):
            raise ValidationError({"lot": lot_expired_message(lot)})
        if quantity is None or not (1 <= int(quantity) <= 1000):
            raise ValidationError({"quantity": "Quantity: 1 to 1000."})
        if zone and zone not in _zone_codes(session):
            raise ValidationError({"zone": "Choose a zone of this site."})
        left = lot.quantity - lot.used  # the row is locked: the kept level is current
        if int(quantity) > left:
            raise ValidationError(
                {"quantity": f"Only {left} left of lot {lot.lot_number}; choose another lot."}
            )
        matches = lot_allergy_findings(actor, session, lot)
        override = (allergy_override_reason or "").strip()
        if matches:
            if not override:
                raise ValidationError({"lot": [f.message for f in matches]})
            if not actor.can(Perm.SESSION_SIGN):
                raise ValidationError({"allergy_override_reason": ALLERGY_OVERRIDE_PHYSICIAN_ONLY})
            if len(override) < MIN_REASON:
                raise ValidationError(
                    {"allergy_override_reason": "Give the reason for recording this lot."}
                )
        use = LotUse.objects.create(
            session=session,
            lot=lot,
            quantity=int(quantity),
            zone=zone,
            used_at=timezone.now(),
            used_by=actor.user,
            allergy_matches=[f.as_dict() for f in matches],
            allergy_override_by=actor.user if matches else None,
            allergy_override_reason=override if matches else "",
        )
        Lot.objects.filter(pk=lot.pk).update(used=F("used") + int(quantity))
        lot.used += int(quantity)
        if matches:
            audit_record(
                action="procedures.lot.allergy_override",
                actor=actor,
                patient=session.patient,
                obj=use,
                changes={
                    "lot": lot.lot_number,
                    "product": lot.product.name,
                    "allergies": [f.message for f in matches],
                    "reason": override,
                },
            )
        _record_change(
            actor=actor,
            session=session,
            section="lots",
            amending=amending,
            reason=reason,
            before={},
            after={"lot": lot.lot_number, "product": lot.product.name, "quantity": int(quantity)},
            obj=use,
        )
    return use


ALLERGY_OVERRIDE_PHYSICIAN_ONLY = (
    "Only a physician may record a lot of a product the patient is allergic to."
)


def lot_allergy_findings(actor: Actor, session: TreatmentSession, lot: Lot) -> list[Finding]:
    """Stops for this lot given the patient's recorded allergies (latest intake, read through
    the patients app's selector)."""
    alerts = patient_alerts(actor=actor, patient=session.patient)
    allergies = [(a.substance, a.reaction) for a in (alerts.allergies if alerts else [])]
    if not allergies:
        return []
    # A product stocked as a named formulation carries that formulation's ingredients.
    ingredients = list(
        FormulationIngredient.objects.filter(
            formulation__clinic_id=session.clinic_id,
            formulation__name__iexact=lot.product.name,
        ).values_list("name", flat=True)
    )
    return rules.lot_allergy_matches(
        product=lot.product.name,
        category=lot.product.category,
        lot=lot.lot_number,
        allergies=allergies,
        ingredients=ingredients,
    )


def lot_recall_read(*, actor: Actor, lot: Lot, exposures: list[Any]) -> None:
    """Audit the opening of a lot's recall list (who saw which patients were exposed)."""
    actor.require(Perm.CLINICAL_VIEW)
    audit_record(
        action="procedures.lot.recall_read",
        actor=actor,
        obj=lot,
        changes={"patients": len({e.patient.pk for e in exposures})},
    )


def lots_recount(lots: QuerySet[Lot] | None = None) -> int:
    """Rebuild the kept stock level (Lot.used) from the lot uses: after bulk loads (demo data,
    the scale generator) that write uses without the service. Returns the lots updated."""
    qs = Lot.objects.all() if lots is None else lots
    total = (
        LotUse.objects.filter(lot=OuterRef("pk"))
        .order_by()
        .values("lot")
        .annotate(n=Sum("quantity"))
        .values("n")
    )
    return qs.update(used=Coalesce(Subquery(total), Value(0)))
