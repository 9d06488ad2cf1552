"""Delivery of PRP: the per-zone injection map or a topical application with microneedling."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from anagen.accounts.access import Actor
from anagen.clinical import procedure_rules as rules
from anagen.procedures.models import (
    DeliveryMode,
    DeliveryZone,
    TopicalApplication,
    TreatmentSession,
)
from anagen.procedures.services._common import _amending, _record_change


def _zone_codes(session: TreatmentSession) -> set[str]:
    return {z["code"] for z in rules.zones_for(session.site)}


@transaction.atomic
def delivery_record(
    *,
    actor: Actor,
    session: TreatmentSession,
    zones: Iterable[dict[str, Any]],
    reason: str = "",
) -> list[DeliveryZone]:
    """Replace the per-zone injection map (zone, volume, depth, technique, needle gauge)."""
    amending = _amending(actor, session, reason)
    if not session.is_prp:
        raise ValidationError({"__all__": "Mesotherapy is recorded per formulation delivery."})
    valid = _zone_codes(session)
    techniques = rules.rules()["prp_techniques"]
    rows: list[DeliveryZone] = []
    seen: set[str] = set()
    for z in zones:
        code = z.get("zone", "")
        if code not in valid:
            raise ValidationError({"zones": "Choose zones of this site."})
        if code in seen:
            raise ValidationError({"zones": f"Zone {rules.zone_label(code)} is given twice."})
        seen.add(code)
        volume = z.get("volume_ml")
        if volume is None or Decimal(volume) <= 0:
            raise ValidationError({"zones": f"{rules.zone_label(code)}: give a volume above 0 mL."})
        if z.get("technique") not in techniques:
            raise ValidationError({"zones": f"{rules.zone_label(code)}: choose a technique."})
        depth = z.get("depth_mm")
        if depth is not None and not (Decimal("0") < Decimal(depth) <= Decimal("12")):
            raise ValidationError({"zones": f"{rules.zone_label(code)}: depth is 0–12 mm."})
        gauge = z.get("needle_gauge")
        if gauge is not None and not (18 <= int(gauge) <= 34):
            raise ValidationError({"zones": f"{rules.zone_label(code)}: needle gauge 18–34 G."})
        rows.append(
            DeliveryZone(
                session=session,
                zone=code,
                volume_ml=Decimal(volume),
                depth_mm=Decimal(depth) if depth is not None else None,
                technique=z["technique"],
                needle_gauge=int(gauge) if gauge is not None else None,
            )
        )
    before = {z.zone: [str(z.volume_ml), z.technique] for z in session.zones.all()}
    session.zones.all().delete()
    created = DeliveryZone.objects.bulk_create(rows)
    if session.delivery_mode != DeliveryMode.INJECTION and created:
        session.delivery_mode = DeliveryMode.INJECTION
        session.save(update_fields=["delivery_mode", "updated_at"])
    _record_change(
        actor=actor,
        session=session,
        section="delivery",
        amending=amending,
        reason=reason,
        before=before,
        after={z.zone: [str(z.volume_ml), z.technique] for z in created},
        obj=session,
    )
    return created


@transaction.atomic
def topical_record(
    *,
    actor: Actor,
    session: TreatmentSession,
    data: dict[str, Any],
    reason: str = "",
) -> TopicalApplication:
    """PRP applied topically after microneedling: device, needle depth, passes, volume."""
    amending = _amending(actor, session, reason)
    if not session.is_prp:
        raise ValidationError({"__all__": "Only PRP sessions have a topical application."})
    errors = {}
    if not (data.get("device") or "").strip():
        errors["device"] = "Name the microneedling device."
    depth: Any = data.get("needle_depth_mm")
    if depth is None or not (Decimal("0") < Decimal(depth) <= Decimal("3")):
        errors["needle_depth_mm"] = "Needle depth is above 0 and at most 3 mm."
    passes: Any = data.get("passes")
    if passes is None or not (1 <= int(passes) <= 20):
        errors["passes"] = "Passes: 1 to 20."
    volume: Any = data.get("volume_ml")
    if volume is None or Decimal(volume) <= 0:
        errors["volume_ml"] = "Give the PRP volume applied (mL)."
    if errors:
        raise ValidationError(errors)
    topical = TopicalApplication.objects.filter(session=session).first()
    before = (
        {
            "device": topical.device,
            "needle_depth_mm": topical.needle_depth_mm,
            "passes": topical.passes,
            "volume_ml": topical.volume_ml,
        }
        if topical
        else {}
    )
    topical = topical or TopicalApplication(session=session)
    topical.device = data["device"].strip()
    topical.needle_depth_mm = Decimal(depth)
    topical.passes = int(passes)
    topical.volume_ml = Decimal(volume)
    topical.save()
    if session.delivery_mode != DeliveryMode.TOPICAL:
        session.delivery_mode = DeliveryMode.TOPICAL
        session.save(update_fields=["delivery_mode", "updated_at"])
    _record_change(
        actor=actor,
        session=session,
        section="topical",
        amending=amending,
        reason=reason,
        before=before,
        after={
            "device": topical.device,
            "needle_depth_mm": topical.needle_depth_mm,
            "passes": topical.passes,
            "volume_ml": topical.volume_ml,
        },
        obj=topical,
    )
    return topical
