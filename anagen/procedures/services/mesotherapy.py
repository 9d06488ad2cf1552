"""Mesotherapy: named formulations and their delivery, checked against the label limits."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.accounts.permissions import Perm
from anagen.audit.services import audit_record
from anagen.clinical import procedure_rules as rules
from anagen.patients.selectors import patient_alerts
from anagen.procedures.models import (
    ConcentrationUnit,
    FormulationIngredient,
    Indication,
    MesoDevice,
    MesoTechnique,
    MesotherapyDelivery,
    MesotherapyFormulation,
    TreatmentSession,
    VialType,
)
from anagen.procedures.selectors import session_doses
from anagen.procedures.services._common import (
    MIN_REASON,
    _amending,
    _check_session,
    _record_change,
)
from anagen.procedures.services.delivery import _zone_codes


def formulation_create(
    *,
    actor: Actor,
    name: str,
    vial: str,
    indications: list[str],
    ingredients: list[dict[str, Any]],
    notes: str = "",
) -> MesotherapyFormulation:
    """A named cocktail with its ingredients, concentrations and units."""
    actor.require(Perm.INVENTORY_MANAGE)
    errors: dict[str, str] = {}
    name = " ".join((name or "").split())
    if not name:
        errors["name"] = "Name the formulation."
    elif MesotherapyFormulation.objects.filter(clinic=actor.clinic, name__iexact=name).exists():
        errors["name"] = "A formulation with this name exists."
    if vial not in VialType.values:
        errors["vial"] = "Choose single- or multi-dose vial."
    if not indications or set(indications) - set(Indication.values):
        errors["indications"] = "Choose at least one indication."
    known = set(rules.rules()["mesotherapy"]["ingredients"])
    rows = []
    for i, ing in enumerate(ingredients, start=1):
        ing_name = (ing.get("name") or "").strip()
        if not ing_name:
            continue
        code = ing.get("code") or ""
        if code and code not in known:
            errors["ingredients"] = f"Ingredient {i}: choose a rule from the list."
        conc = ing.get("concentration")
        unit = ing.get("unit") or ""
        if conc is not None and (Decimal(conc) <= 0 or unit not in ConcentrationUnit.values):
            errors["ingredients"] = f"{ing_name}: a concentration above 0 needs a unit."
        rows.append(
            FormulationIngredient(
                name=ing_name,
                code=code,
                concentration=Decimal(conc) if conc is not None else None,
                unit=unit if conc is not None else "",
            )
        )
    if not rows and "ingredients" not in errors:
        errors["ingredients"] = "List at least one ingredient."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        formulation = MesotherapyFormulation.objects.create(
            clinic=actor.clinic, name=name, vial=vial, indications=indications, notes=notes
        )
        for row in rows:
            row.formulation = formulation
        FormulationIngredient.objects.bulk_create(rows)
        audit_record(
            action="procedures.formulation.create",
            actor=actor,
            obj=formulation,
            changes={"name": name, "vial": vial, "ingredients": [str(r) for r in rows]},
        )
    return formulation


def _meso_ingredients(formulation: MesotherapyFormulation) -> list[rules.Ingredient]:
    return [
        rules.Ingredient(code=i.code, name=i.name, concentration=i.concentration, unit=i.unit)
        for i in formulation.ingredients.all()
    ]


def meso_check(
    *,
    session: TreatmentSession,
    formulation: MesotherapyFormulation,
    zone: str,
    points: int,
    volume_per_point_ml: Decimal,
    area_cm2: Decimal | None,
    tz: dt.tzinfo | None = None,
) -> list[rules.Finding]:
    """The data-file rules for this delivery added to the session's earlier deliveries, with the
    patient's earlier sessions (dates are clinic-local: ``tz`` is the clinic's zone, the active
    zone when not given)."""
    ingredients = _meso_ingredients(formulation)
    codes = {i.code for i in ingredients if i.code}
    others = (
        MesotherapyDelivery.objects.filter(session__patient=session.patient)
        .exclude(session=session)
        .values_list("ingredient_codes", "formulation_id", "session__started_at")
    )
    earlier = sorted(
        {timezone.localtime(at, tz).date() for c, _, at in others if codes & set(c or [])}
    )
    same_formulation = sorted(
        {timezone.localtime(at, tz).date() for _, f, at in others if f == formulation.pk}
    )
    return rules.mesotherapy_check(
        ingredients=ingredients,
        vial=formulation.vial,
        points=points,
        volume_per_point_ml=volume_per_point_ml,
        area_cm2=area_cm2,
        area_code=zone,
        on=timezone.localtime(session.started_at, tz).date(),
        earlier_sessions_on=earlier,
        session_so_far=session_doses(session),
        formulation=str(formulation.pk),
        earlier_formulation_sessions_on=same_formulation,
    )


def _allergy_hits(name: str, substance: str, reaction: str) -> list[rules.Finding]:
    return rules.lot_allergy_matches(
        product=name, category="", lot="", allergies=[(substance, reaction)]
    )


MESO_ALLERGY_OVERRIDE_PHYSICIAN_ONLY = (
    "Only a physician may record a formulation with an ingredient the patient is allergic to."
)


def meso_allergy_findings(
    actor: Actor, session: TreatmentSession, formulation: MesotherapyFormulation
) -> list[rules.Finding]:
    """Stops for this formulation given the patient's recorded allergies (latest intake, read
    through the patients app's selector, as for a lot): one per allergy that matches an
    ingredient or the formulation's name. The matching is the lot stop's
    (``rules.lot_allergy_matches``), asked name by name so the message can say which one."""
    alerts = patient_alerts(actor=actor, patient=session.patient)
    allergies = [(a.substance, a.reaction) for a in (alerts.allergies if alerts else [])]
    if not allergies:
        return []
    ingredients = [i.name for i in formulation.ingredients.all()]
    out: list[rules.Finding] = []
    for substance, reaction in allergies:
        named = [
            (n, found) for n in ingredients if (found := _allergy_hits(n, substance, reaction))
        ]
        by_name = _allergy_hits(formulation.name, substance, reaction) if not named else []
        if not named and not by_name:
            continue
        first = (named[0][1] if named else by_name)[0]
        allergy = " ".join(substance.split())
        shown = f"Allergy to {allergy}" + (f" ({reaction.strip()})" if reaction.strip() else "")
        what = (
            f"contains {' and '.join(n for n, _ in named)}" if named else f"is named for {allergy}"
        )
        out.append(
            rules.Finding(
                first.rule,
                "stop",
                f"{shown} recorded: formulation {formulation.name} {what}. "
                "A physician may record it with a reason.",
                first.source,
            )
        )
    return out


@transaction.atomic
def meso_delivery_add(
    *,
    actor: Actor,
    session: TreatmentSession,
    formulation: MesotherapyFormulation,
    data: dict[str, Any],
    reason: str = "",
    allergy_override_reason: str = "",
) -> MesotherapyDelivery:
    """One formulation delivered to one area; label limits are hard stops, the rest warnings.
    A formulation with an ingredient the patient is allergic to (latest intake) is refused; a
    physician may record it with ``allergy_override_reason`` (kept on the row and audited)."""
    amending = _amending(actor, session, reason)
    if session.kind != "mesotherapy":
        raise ValidationError({"__all__": "Only mesotherapy sessions record formulations."})
    if formulation.clinic_id != session.clinic_id:
        raise Http404("No such formulation.")
    errors: dict[str, str] = {}
    zone = data.get("zone") or ""
    if zone not in _zone_codes(session):
        errors["zone"] = "Choose an area of this site."
    if data.get("technique") not in MesoTechnique.values:
        errors["technique"] = "Choose a technique."
    if data.get("device") not in MesoDevice.values:
        errors["device"] = "Choose needle or gun."
    points: Any = data.get("injection_points")
    if points is None or not (1 <= int(points) <= 1000):
        errors["injection_points"] = "Injection points: 1 to 1000."
    vpp: Any = data.get("volume_per_point_ml")
    if vpp is None or not (Decimal("0") < Decimal(vpp) <= Decimal("5")):
        errors["volume_per_point_ml"] = "Volume per point: above 0, at most 5 mL."
    area: Any = data.get("area_cm2")
    if area is not None and Decimal(area) <= 0:
        errors["area_cm2"] = "The area is above 0 cm²."
    if errors:
        raise ValidationError(errors)
    allergies = meso_allergy_findings(actor, session, formulation)
    override = " ".join((allergy_override_reason or "").split())
    if allergies:
        if not override:
            raise ValidationError({"formulation": [f.message for f in allergies]})
        if not actor.can(Perm.SESSION_SIGN):
            raise ValidationError({"allergy_override_reason": MESO_ALLERGY_OVERRIDE_PHYSICIAN_ONLY})
        if len(override) < MIN_REASON:
            raise ValidationError(
                {"allergy_override_reason": "Give the reason for recording this formulation."}
            )
    findings = meso_check(
        session=session,
        formulation=formulation,
        zone=zone,
        points=int(points),
        volume_per_point_ml=Decimal(vpp),
        area_cm2=Decimal(area) if area is not None else None,
        tz=actor.tz,
    )
    stops = [f.message for f in findings if f.level == "stop"]
    if stops:
        raise ValidationError({"__all__": stops})
    delivery = MesotherapyDelivery.objects.create(
        session=session,
        formulation=formulation,
        zone=zone,
        technique=data["technique"],
        device=data["device"],
        injection_points=int(points),
        volume_per_point_ml=Decimal(vpp),
        area_cm2=Decimal(area) if area is not None else None,
        ingredient_codes=sorted({i.code for i in _meso_ingredients(formulation) if i.code}),
        findings=[f.as_dict() for f in findings],
        rules_version=rules.RULES_VERSION,
        allergy_matches=[f.as_dict() for f in allergies],
        allergy_override_by=actor.user if allergies else None,
        allergy_override_reason=override if allergies else "",
    )
    _record_change(
        actor=actor,
        session=session,
        section="meso_delivery",
        amending=amending,
        reason=reason,
        before={},
        after={
            "formulation": formulation.name,
            "zone": zone,
            "points": int(points),
            "volume_per_point_ml": vpp,
            **(
                {
                    "allergies": [f.message for f in allergies],
                    "allergy_override_reason": override,
                }
                if allergies
                else {}
            ),
        },
        obj=delivery,
    )
    return delivery


REMOVE_SIGNED = (
    "This session is signed: a delivery cannot be removed. Record a correction as an amendment."
)


@transaction.atomic
def meso_delivery_remove(*, actor: Actor, delivery: MesotherapyDelivery) -> None:
    """Remove a delivery recorded by mistake, before the session is signed (audited)."""
    session = TreatmentSession.objects.select_for_update().get(pk=delivery.session_id)
    _check_session(actor, session)
    if session.is_signed:
        raise ValidationError({"__all__": REMOVE_SIGNED})
    snapshot = {
        "formulation": delivery.formulation.name,
        "zone": delivery.zone,
        "points": delivery.injection_points,
        "volume_per_point_ml": str(delivery.volume_per_point_ml),
        "area_cm2": str(delivery.area_cm2) if delivery.area_cm2 is not None else None,
    }
    audit_record(
        action="procedures.meso_delivery.remove",
        actor=actor,
        patient=session.patient,
        obj=delivery,
        changes={"removed": snapshot},
    )
    delivery.delete()
