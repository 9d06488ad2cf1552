"""Packages sold to a patient and the sessions they pay for.

A package session is used when its session record is SIGNED, not at checkout: exactly once
(one consumption per session, enforced by a unique constraint), so signing again, amending,
or a retried call consumes nothing more.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.accounts.permissions import Perm
from anagen.audit.services import audit_record
from anagen.billing.models import (
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    PackageConsumption,
    PackageDefinition,
    PackageSale,
)
from anagen.billing.money import round_money
from anagen.billing.services.invoices import _add_line, _counter, _stamp
from anagen.patients.models import Patient
from anagen.procedures.models import TreatmentSession
from anagen.serialised_writes import serialised


def new_sale(
    *,
    actor: Actor,
    patient: Patient,
    package: PackageDefinition,
    sold_on: dt.date,
    price: Decimal | None = None,
) -> PackageSale:
    """The sale row alone (sessions, price and validity copied); the caller invoices it."""
    return PackageSale.objects.create(
        clinic=actor.clinic,
        patient=patient,
        package=package,
        name=package.name,
        procedure=package.procedure,
        sessions_total=package.sessions,
        price=package.price if price is None else price,
        currency=package.currency,
        sold_on=sold_on,
        expires_on=sold_on + dt.timedelta(days=package.validity_days),
        sold_by=actor.user,
    )


@serialised
def package_sell(
    *, actor: Actor, patient: Patient, package: PackageDefinition, sold_on: dt.date | None = None
) -> PackageSale:
    """Sell a package: the sale (sessions, price and validity copied) and its issued invoice."""
    actor.require(Perm.BILLING)
    if patient.clinic_id != actor.clinic.pk or package.clinic_id != actor.clinic.pk:
        raise ValidationError("This patient or package belongs to another clinic.")
    if not package.is_active:
        raise ValidationError({"package": "This package is no longer sold."})
    sold_on = sold_on or actor.today()
    _counter(actor.clinic)
    with transaction.atomic():
        sale = new_sale(actor=actor, patient=patient, package=package, sold_on=sold_on)
        invoice = Invoice.objects.create(
            clinic=actor.clinic, patient=patient, currency=package.currency, created_by=actor.user
        )
        _add_line(
            invoice,
            description=f"{package.name} — {package.sessions} sessions",
            quantity=Decimal(1),
            unit_price=package.price,
            tax_rate=package.tax_rate,
            tax_inclusive=package.tax_inclusive,
            package_sale=sale,
            procedure=package.procedure,
        )
        invoice = _stamp(actor, invoice)
        audit_record(
            action="billing.package.sell",
            actor=actor,
            patient=patient,
            obj=sale,
            changes={
                "package": sale.name,
                "sessions": sale.sessions_total,
                "price": sale.price,
                "currency": sale.currency,
                "expires_on": sale.expires_on,
                "invoice": invoice.display_number,
            },
        )
        audit_record(
            action="billing.invoice.issue",
            actor=actor,
            patient=patient,
            obj=invoice,
            changes={"number": invoice.display_number, "total_gross": invoice.total_gross},
        )
    return sale


def _session_day(session: TreatmentSession, actor: Actor) -> dt.date:
    return timezone.localtime(session.started_at, actor.tz).date()


@transaction.atomic
def package_consume_for_session(
    *, actor: Actor, session: TreatmentSession
) -> PackageConsumption | None:
    """Use one session of the patient's package for this signed session record; idempotent.

    Nothing happens for an unsigned session or one without a matching package (valid on the
    session's date, same procedure, sessions left). The oldest package is used first. A second
    call for the same session returns the first consumption.
    """
    existing = PackageConsumption.objects.filter(session=session).first()
    if existing is not None or not session.is_signed:
        return existing
    day = _session_day(session, actor)
    candidates = (
        PackageSale.objects.filter(
            clinic_id=session.clinic_id,
            patient_id=session.patient_id,
            procedure=session.procedure,
            expires_on__gte=day,
            frozen_on__isnull=True,
        )
        .annotate(used=Count("consumptions"))
        .order_by("expires_on", "id")
    )
    for candidate in candidates:
        if candidate.used >= candidate.sessions_open:
            continue
        # Lock the sale, then count again: two signings at once cannot both take the last one.
        sale = PackageSale.objects.select_for_update().get(pk=candidate.pk)
        if sale.frozen_on is not None:
            continue
        if sale.consumptions.count() >= sale.sessions_open:
            continue
        try:
            with transaction.atomic():
                use = PackageConsumption.objects.create(
                    package_sale=sale, session=session, consumed_at=timezone.now()
                )
        except IntegrityError:  # the same session consumed concurrently: that one counts
            return PackageConsumption.objects.filter(session=session).first()
        audit_record(
            action="billing.package.consume",
            actor=actor,
            patient=session.patient,
            obj=use,
            changes={
                "package": sale.name,
                "session": session.pk,
                "left": sale.sessions_open - sale.consumptions.count(),
            },
        )
        return use
    return None


@serialised
def package_refund_unused(
    *, actor: Actor, sale: PackageSale, sessions: int, reason: str
) -> Invoice:
    """Credit unused sessions of a package (clinic admin): they can no longer be used, and a
    credit note against the package's invoice takes back their value.

    A transferred package is credited by its holder too: the credit note corrects the invoice
    the sessions were bought on, so it goes to the buyer who paid it (a credit note always
    corrects an invoice to its own addressee), and the money goes back against that payment.

    The clinic's rule is pro rata: each session is worth the package price divided by its
    sessions (rounded to the minor unit). The money itself goes back as a refund against the
    payment it returns (``refund_record``), if it was paid.
    """
    actor.require(Perm.BILLING_APPROVE)
    if sale.clinic_id != actor.clinic.pk:
        raise ValidationError("This package belongs to another clinic.")
    reason = (reason or "").strip()
    if len(reason) < 5:
        raise ValidationError({"reason": "Give a reason for the refund."})
    _counter(actor.clinic)
    with transaction.atomic():
        sale = PackageSale.objects.select_for_update().get(pk=sale.pk)
        left = sale.sessions_open - sale.consumptions.count()
        if not 1 <= int(sessions) <= left:
            raise ValidationError(
                {"sessions": f"Between 1 and {left} unused sessions can be credited."}
                if left
                else {"sessions": "This package has no unused sessions left."}
            )
        bought = _bought(sale)
        line = (
            InvoiceLine.objects.select_related("invoice", "invoice__patient", "invoice__clinic")
            .filter(
                package_sale=bought,
                invoice__kind=InvoiceKind.INVOICE,
                invoice__status=InvoiceStatus.ISSUED,
            )
            .first()
        )
        if line is None:
            raise ValidationError("This package has no issued invoice to credit yet.")
        invoice = line.invoice
        per_session = round_money(line.unit_price / bought.sessions_total, invoice.currency)
        note = Invoice.objects.create(
            clinic=invoice.clinic,
            patient=invoice.patient,
            kind=InvoiceKind.CREDIT_NOTE,
            corrects=invoice,
            reason=reason[:2000],
            currency=invoice.currency,
            created_by=actor.user,
        )
        held = f", held by {sale.patient.full_name} ({sale.patient.record_number})"
        _add_line(
            note,
            description=(
                f"{sale.name}: unused sessions ({sessions} of {sale.sessions_total}"
                f"{held if bought.pk != sale.pk else ''})"
            ),
            quantity=Decimal(int(sessions)),
            unit_price=per_session,
            tax_rate=line.tax_rate,
            tax_inclusive=line.tax_inclusive,
            package_sale=sale,
            procedure=line.procedure,
            credits_line=line,
        )
        note = _stamp(actor, note)
        sale.sessions_refunded += int(sessions)
        sale.save(update_fields=["sessions_refunded"])
        audit_record(
            action="billing.package.refund",
            actor=actor,
            patient=sale.patient,
            obj=sale,
            changes={
                "sessions": int(sessions),
                "credit_note": note.display_number,
                "total_gross": note.total_gross,
                "reason": reason,
            },
        )
        if invoice.patient_id != sale.patient_id:  # the buyer's record says so too
            audit_record(
                action="billing.package.refund",
                actor=actor,
                patient=invoice.patient,
                obj=note,
                changes={
                    "sessions": int(sessions),
                    "credit_note": note.display_number,
                    "held_by": sale.patient.record_number,
                    "reason": reason,
                },
            )
    return note


def _bought(sale: PackageSale) -> PackageSale:
    """The package as it was bought: a transferred package's sessions were paid for on the
    first buyer's invoice (transfers can chain: follow them back)."""
    seen = {sale.pk}
    while sale.transferred_from_id is not None and sale.transferred_from_id not in seen:
        seen.add(sale.transferred_from_id)
        sale = PackageSale.objects.get(pk=sale.transferred_from_id)
    return sale


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if len(reason) < 5:
        raise ValidationError({"reason": "Give a reason."})
    return reason[:2000]


@transaction.atomic
def package_freeze(*, actor: Actor, sale: PackageSale, reason: str) -> PackageSale:
    """Pause a package (illness, travel): no session is used while it is frozen."""
    actor.require(Perm.BILLING)
    reason = _reason(reason)
    sale = PackageSale.objects.select_for_update().get(pk=sale.pk, clinic=actor.clinic)
    if sale.frozen_on is not None:
        raise ValidationError("This package is already frozen.")
    sale.frozen_on = actor.today()
    sale.save(update_fields=["frozen_on"])
    audit_record(
        action="billing.package.freeze",
        actor=actor,
        patient=sale.patient,
        obj=sale,
        changes={"frozen_on": sale.frozen_on, "reason": reason},
    )
    return sale


@transaction.atomic
def package_unfreeze(*, actor: Actor, sale: PackageSale, reason: str) -> PackageSale:
    """Resume a frozen package; its expiry moves on by the days it was frozen."""
    actor.require(Perm.BILLING)
    reason = _reason(reason)
    sale = PackageSale.objects.select_for_update().get(pk=sale.pk, clinic=actor.clinic)
    if sale.frozen_on is None:
        raise ValidationError("This package is not frozen.")
    days = max((actor.today() - sale.frozen_on).days, 0)
    old_expiry = sale.expires_on
    sale.expires_on = old_expiry + dt.timedelta(days=days)
    sale.frozen_on = None
    sale.save(update_fields=["frozen_on", "expires_on"])
    audit_record(
        action="billing.package.unfreeze",
        actor=actor,
        patient=sale.patient,
        obj=sale,
        changes={"expires_on": [old_expiry, sale.expires_on], "days": days, "reason": reason},
    )
    return sale


@transaction.atomic
def package_transfer(
    *, actor: Actor, sale: PackageSale, patient: Patient, reason: str
) -> PackageSale:
    """Move a package's remaining sessions to another patient of the same clinic.

    Used sessions stay on the original package; the receiving patient gets a new package
    (``transferred_from``) with the remaining sessions, the same expiry and their pro-rata
    share of the price, so the package liability is unchanged. No invoice is issued for it.
    """
    actor.require(Perm.BILLING)
    reason = _reason(reason)
    sale = PackageSale.objects.select_for_update().get(pk=sale.pk, clinic=actor.clinic)
    if patient.clinic_id != actor.clinic.pk:
        raise ValidationError("That patient belongs to another clinic.")
    if patient.pk == sale.patient_id:
        raise ValidationError({"patient": "Choose another patient."})
    if sale.frozen_on is not None:
        raise ValidationError("Resume the package before transferring it.")
    if sale.expires_on < actor.today():
        raise ValidationError("This package has expired.")
    left = sale.sessions_open - sale.consumptions.count()
    if left <= 0:
        raise ValidationError("This package has no sessions left to transfer.")
    per_session = round_money(sale.price / sale.sessions_total, sale.currency)
    moved = PackageSale.objects.create(
        clinic=sale.clinic,
        patient=patient,
        package=sale.package,
        name=sale.name,
        procedure=sale.procedure,
        sessions_total=left,
        price=per_session * left,
        currency=sale.currency,
        sold_on=actor.today(),
        expires_on=sale.expires_on,
        sold_by=actor.user,
        transferred_from=sale,
    )
    sale.sessions_transferred += left
    sale.save(update_fields=["sessions_transferred"])
    changes = {"sessions": left, "reason": reason}
    audit_record(
        action="billing.package.transfer",
        actor=actor,
        patient=sale.patient,
        obj=sale,
        changes={**changes, "to": patient.record_number},
    )
    audit_record(
        action="billing.package.transfer",
        actor=actor,
        patient=patient,
        obj=moved,
        changes={**changes, "from": sale.patient.record_number},
    )
    return moved
