"""The PRP preparation: measured values in, the kernel's labels and warnings stored beside them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from anagen.accounts.access import Actor
from anagen.clinical import (
    ACTIVATION_AGENTS,
    ANTICOAGULANT_AGENTS,
    prp_evaluate,
    rcf_report,
)
from anagen.clinical import ValidationError as KernelValidationError
from anagen.procedures.labels import field_label
from anagen.procedures.models import Preparation, TreatmentSession
from anagen.procedures.services._common import KERNEL_VERSION, _amending, _record_change

PREP_FIELDS = (
    "blood_volume_ml",
    "tubes",
    "anticoagulant_agent",
    "anticoagulant_volume_ml",
    "operator",
    "wb_platelets_per_ul",
    "wb_wbc_per_ul",
    "wb_neutrophils_pct",
    "wb_rbc_per_ul",
    "spins",
    "prp_volume_ml",
    "prp_platelets_per_ul",
    "prp_wbc_per_ul",
    "prp_neutrophils_pct",
    "prp_rbc_per_ul",
    "activation_agent",
    "activation_volume_ml",
    "injected_volume_ml",
)
# Kernel input paths → this app's field names, so kernel errors land on the right form field.
_KERNEL_FIELD = {
    "blood_volume_mL": "blood_volume_ml",
    "anticoagulant.agent": "anticoagulant_agent",
    "anticoagulant.volume_mL": "anticoagulant_volume_ml",
    "platelets_per_uL": "wb_platelets_per_ul",
    "wbc_per_uL": "wb_wbc_per_ul",
    "neutrophils_pct": "wb_neutrophils_pct",
    "rbc_per_uL": "wb_rbc_per_ul",
    "prp.volume_mL": "prp_volume_ml",
    "prp.platelets_per_uL": "prp_platelets_per_ul",
    "prp.wbc_per_uL": "prp_wbc_per_ul",
    "prp.neutrophils_pct": "prp_neutrophils_pct",
    "prp.rbc_per_uL": "prp_rbc_per_ul",
    "activation.agent": "activation_agent",
    "activation.volume_mL": "activation_volume_ml",
    "injected_volume_mL": "injected_volume_ml",
}


def _num(value: Any) -> float | int | None:
    if value is None or value == "":
        return None
    f = float(value)
    return int(f) if f.is_integer() else f


def _clean_spins(raw: Any, radius: Decimal | None) -> list[dict[str, Any]]:
    """Each spin as {g, minutes} or {rpm, radius_cm, minutes}; rpm without a radius takes the
    session's centrifuge radius (rpm alone cannot be converted to g)."""
    if raw in (None, ""):
        return []
    if not isinstance(raw, list):
        raise ValidationError({"spins": "Give the spins as a list."})
    out = []
    for i, spin in enumerate(raw, start=1):
        if not isinstance(spin, dict):
            raise ValidationError({"spins": f"Spin {i}: give g or rpm, and minutes."})
        clean = {k: _num(v) for k, v in spin.items() if v not in (None, "")}
        unknown = set(clean) - {"g", "rpm", "radius_cm", "minutes"}
        if unknown:
            raise ValidationError(
                {"spins": f"Spin {i}: give g or rpm (with the radius), and minutes."}
            )
        if "rpm" in clean and "radius_cm" not in clean:
            if radius is None:
                raise ValidationError(
                    {
                        "spins": f"Spin {i}: give the rotor radius (cm) with rpm, "
                        "or the g-force; rpm alone cannot be converted to g."
                    }
                )
            clean["radius_cm"] = _num(radius)
        if "minutes" not in clean:
            raise ValidationError({"spins": f"Spin {i}: give the minutes."})
        if "g" not in clean and "rpm" not in clean:
            raise ValidationError({"spins": f"Spin {i}: give the g-force or the rpm."})
        out.append(clean)
    return out


def _kernel_error(exc: KernelValidationError) -> ValidationError:
    path = exc.field
    field = _KERNEL_FIELD.get(path) or _KERNEL_FIELD.get(path.removeprefix("whole_blood."))
    if field is None and path.startswith("spins"):
        field = "spins"
    label = field_label(field) if field and field != "spins" else "Spins"
    if field is None:
        label = "The preparation"
    return ValidationError({field or "__all__": f"{label}: {exc.message}."})


def preparation_document(data: dict[str, Any]) -> dict[str, Any]:
    """The kernel's input document for the stored values (see docs/clinical-cli.md, prp)."""
    doc: dict[str, Any] = {
        "blood_volume_mL": _num(data.get("blood_volume_ml")),
        "spins": data.get("spins") or [],
    }
    if data.get("anticoagulant_agent"):
        doc["anticoagulant"] = {
            "agent": data["anticoagulant_agent"],
            "volume_mL": _num(data.get("anticoagulant_volume_ml")) or 0,
        }
    wb = {
        "platelets_per_uL": _num(data.get("wb_platelets_per_ul")),
        "wbc_per_uL": _num(data.get("wb_wbc_per_ul")),
        "neutrophils_pct": _num(data.get("wb_neutrophils_pct")),
        "rbc_per_uL": _num(data.get("wb_rbc_per_ul")),
    }
    doc["whole_blood"] = {k: v for k, v in wb.items() if v is not None}
    prp = {
        "platelets_per_uL": _num(data.get("prp_platelets_per_ul")),
        "wbc_per_uL": _num(data.get("prp_wbc_per_ul")),
        "neutrophils_pct": _num(data.get("prp_neutrophils_pct")),
        "rbc_per_uL": _num(data.get("prp_rbc_per_ul")),
        "volume_mL": _num(data.get("prp_volume_ml")),
    }
    doc["prp"] = {k: v for k, v in prp.items() if v is not None}
    agent = data.get("activation_agent") or "none"
    doc["activation"] = {"agent": agent}
    if agent != "none" and data.get("activation_volume_ml") not in (None, ""):
        doc["activation"]["volume_mL"] = _num(data["activation_volume_ml"])
    doc["injected_volume_mL"] = _num(data.get("injected_volume_ml"))
    return doc


MISSING_FOR_LABELS = {
    "wb_platelets_per_ul": "baseline platelets",
    "wb_wbc_per_ul": "baseline WBC",
    "prp_platelets_per_ul": "PRP platelets",
    "prp_wbc_per_ul": "PRP WBC",
    "prp_volume_ml": "PRP volume",
    "injected_volume_ml": "injected volume",
}


def _refuse_impossible(computed: dict[str, Any]) -> None:
    """A count the kernel finds impossible (no grade, a warning naming it) is refused on the
    record, on its own field: the clinic re-measures or corrects the typing."""
    errors: dict[str, list[str]] = {}
    for w in computed.get("warnings") or []:
        if w.get("code") == "impossible_value":
            path = str(w.get("field") or "")
            field = _KERNEL_FIELD.get(path.removeprefix("whole_blood."), "__all__")
            errors.setdefault(field, []).append(str(w["message"]))
    if errors:
        raise ValidationError(errors)


def preparation_compute(data: dict[str, Any]) -> dict[str, Any]:
    """The kernel's evaluation when the counts are there; otherwise each spin's g only.

    Baseline and PRP counts are optional in the room (no analyser everywhere): without them
    the labels cannot be derived, and the record says which values are missing.
    """
    missing = [label for f, label in MISSING_FOR_LABELS.items() if data.get(f) in (None, "")]
    doc = preparation_document(data)
    try:
        if not missing:
            computed = prp_evaluate(doc)
            _refuse_impossible(computed)
            return computed
        spins = []
        for n, s in enumerate(doc["spins"], start=1):
            if "rpm" in s:
                report = rcf_report(s["radius_cm"], rpm=s["rpm"])
            elif "radius_cm" in s:
                report = rcf_report(s["radius_cm"], g=s["g"])
            else:
                report = {"rcf_g": round(float(s["g"]))}
            spins.append(
                {
                    "n": n,
                    "rcf_g": report["rcf_g"],
                    "rpm": report.get("rpm"),
                    "radius_cm": s.get("radius_cm"),
                    "minutes": s["minutes"],
                }
            )
        return {"spins": spins, "missing": missing, "warnings": []}
    except KernelValidationError as exc:
        raise _kernel_error(exc) from exc


def _prep_snapshot(prep: Preparation | None) -> dict[str, Any]:
    if prep is None:
        return {}
    return {f: getattr(prep, f) for f in PREP_FIELDS}


def preparation_record(
    *,
    actor: Actor,
    session: TreatmentSession,
    data: dict[str, Any],
    reason: str = "",
) -> Preparation:
    """Store the measured preparation and the kernel's labels for it (create or replace)."""
    with transaction.atomic():
        session = TreatmentSession.objects.select_for_update().get(pk=session.pk)
        amending = _amending(actor, session, reason)
        if not session.is_prp:
            raise ValidationError({"__all__": "Only PRP sessions have a preparation."})
        unknown = set(data) - set(PREP_FIELDS)
        if unknown:
            raise ValidationError(
                {"__all__": "Some of the given values are not preparation fields."}
            )
        clean = dict(data)
        if clean.get("blood_volume_ml") in (None, ""):
            raise ValidationError({"blood_volume_ml": "Give the volume of blood drawn (mL)."})
        agent = clean.get("anticoagulant_agent") or ""
        if agent and agent not in ANTICOAGULANT_AGENTS:
            raise ValidationError({"anticoagulant_agent": "Choose an anticoagulant from the list."})
        act = clean.get("activation_agent") or "none"
        if act not in ACTIVATION_AGENTS:
            raise ValidationError({"activation_agent": "Choose an activation agent from the list."})
        clean["activation_agent"] = act
        clean["anticoagulant_agent"] = agent
        operator = clean.get("operator")
        if (
            operator is not None
            and not operator.memberships.filter(clinic=session.clinic, is_active=True).exists()
        ):
            raise ValidationError({"operator": "The operator must be a member of this clinic."})
        clean["spins"] = _clean_spins(clean.get("spins"), session.rotor_radius_cm)
        computed = preparation_compute(clean)
        prep = Preparation.objects.filter(session=session).first()
        before = _prep_snapshot(prep)
        if prep is None:
            prep = Preparation(session=session, recorded_by=actor.user)
        for f in PREP_FIELDS:
            if f in clean:
                setattr(prep, f, clean[f])
        prep.computed = computed
        prep.kernel_version = KERNEL_VERSION
        prep.recorded_by = actor.user
        prep.save()
        _record_change(
            actor=actor,
            session=session,
            section="preparation",
            amending=amending,
            reason=reason,
            before=before,
            after=_prep_snapshot(prep),
            obj=prep,
        )
    return prep
