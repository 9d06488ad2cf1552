"""Writes of the treatment-room record. Every write is audited in the same transaction.

Rules of the record:
- a session starts only through care's ``session_gate`` (screening + consent), whose result is kept;
- preparation labels are the kernel's (``prp_evaluate``), stored with the kernel version;
- a lot is chosen at the moment of use and an expired lot is refused;
- a physician signs once the checklist is complete; a signed session is locked and changes
  afterwards are amendments with a reason (``Amendment`` rows, row history, audit events).
Adverse events are not part of the lock: they are recorded and followed up after signing too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Sum
from django.http import Http404
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.accounts.models import Role, User
from anagen.accounts.permissions import Perm
from anagen.audit.services import audit_record, diff_fields
from anagen.clinical import (
    ACTIVATION_AGENTS,
    ANTICOAGULANT_AGENTS,
    PROCEDURES,
    prp_evaluate,
    rcf_report,
)
from anagen.clinical import ValidationError as KernelValidationError
from anagen.clinical.datafiles import load as kernel_data
from anagen.patients.models import Patient
from anagen.procedures import rules, selectors
from anagen.procedures.models import (
    AdverseEvent,
    AdverseEventFollowUp,
    Amendment,
    ConcentrationUnit,
    DeliveryMode,
    DeliveryZone,
    FormulationIngredient,
    Indication,
    Lot,
    LotUse,
    MesoDevice,
    MesoTechnique,
    MesotherapyDelivery,
    MesotherapyFormulation,
    Preparation,
    Product,
    ProductCategory,
    SessionStatus,
    TopicalApplication,
    TreatmentSession,
    VialType,
)

KERNEL_VERSION = f"prp_classifications@{kernel_data('prp_classifications')['version']}"
LOCKED = "This session is signed and locked; give a reason to amend it."
MIN_REASON = 5
INVENTORY_ROLES = frozenset({Role.PHYSICIAN, Role.NURSE, Role.CLINIC_ADMIN})


class GateRefused(ValidationError):
    """The session cannot start: care's gate said no (reasons are in ``messages``)."""


# --- guards ------------------------------------------------------------------------------------


def _require_clinical(actor: Actor) -> None:
    actor.require(Perm.CLINICAL_VIEW)


def _check_session(actor: Actor, session: TreatmentSession) -> None:
    _require_clinical(actor)
    if session.clinic_id != actor.clinic.pk:
        raise Http404("No such session.")


def _amending(actor: Actor, session: TreatmentSession, reason: str) -> bool:
    """Is this write an amendment of a signed session? Refuses one without a reason."""
    _check_session(actor, session)
    if not session.is_signed:
        return False
    if actor.role != Role.PHYSICIAN:
        raise PermissionDenied("Only a physician can amend a signed session.")
    if len((reason or "").strip()) < MIN_REASON:
        raise ValidationError({"reason": LOCKED})
    return True


def _record_change(
    *,
    actor: Actor,
    session: TreatmentSession,
    section: str,
    amending: bool,
    reason: str,
    before: dict[str, Any],
    after: dict[str, Any],
    obj: Any,
) -> None:
    changes = diff_fields(before, after)
    if amending:
        Amendment.objects.create(
            session=session,
            section=section,
            reason=reason.strip(),
            by=actor.user,
            before=_plain(before),
            after=_plain(after),
        )
    audit_record(
        action=f"procedures.{section}.{'amend' if amending else 'record'}",
        actor=actor,
        patient=session.patient,
        obj=obj,
        changes={**changes, **({"reason": reason.strip()} if amending else {})},
    )


def _plain(value: Any) -> Any:
    """JSON-safe copy (Decimals and dates as strings) for amendment snapshots."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal | dt.date | dt.datetime):
        return str(value)
    if isinstance(value, User):
        return value.get_username()
    return value


def _today(actor: Actor) -> dt.date:
    return timezone.localdate()


# --- session start -----------------------------------------------------------------------------


def session_start(
    *,
    actor: Actor,
    patient: Patient,
    procedure: str,
    appointment: Any = None,
) -> TreatmentSession:
    """Open the session record after care's gate (screening + consent) lets it go ahead."""
    from anagen.care.selectors import consent_valid_for
    from anagen.care.services import session_gate

    _require_clinical(actor)
    if patient.clinic_id != actor.clinic.pk:
        raise Http404("No such patient.")
    if appointment is not None:
        if appointment.clinic_id != actor.clinic.pk or appointment.patient_id != patient.pk:
            raise Http404("No such appointment.")
        if appointment.status != "checked_in":
            raise ValidationError(
                {"appointment": "Check the patient in before starting the session."}
            )
        if TreatmentSession.objects.filter(appointment=appointment).exists():
            raise ValidationError({"appointment": "This appointment already has a session."})
        procedure = procedure or appointment.procedure
    if procedure not in PROCEDURES:
        raise ValidationError(
            {"procedure": f"Unknown procedure {procedure!r}; use one of: {', '.join(PROCEDURES)}."}
        )
    gate = session_gate(actor=actor, patient=patient, procedure=procedure, on=_today(actor))
    if not gate.ok:
        raise GateRefused({"__all__": ["The session cannot start:", *gate.reasons]})
    now = timezone.now()
    radius = None
    if appointment is not None and appointment.centrifuge_id:
        radius = appointment.centrifuge.rotor_radius_cm
    with transaction.atomic():
        session = TreatmentSession.objects.create(
            clinic=actor.clinic,
            patient=patient,
            appointment=appointment,
            procedure=procedure,
            started_at=now,
            started_by=actor.user,
            screening=gate.screening,
            consent=consent_valid_for(patient, procedure),
            checked_in_at=now,
            rotor_radius_cm=radius,
        )
        audit_record(
            action="procedures.session.start",
            actor=actor,
            patient=patient,
            obj=session,
            changes={
                "procedure": procedure,
                "appointment": appointment.pk if appointment is not None else None,
                "screening": session.screening_id,
                "consent": session.consent_id,
            },
        )
    return session


def session_read(*, actor: Actor, session: TreatmentSession) -> None:
    _check_session(actor, session)
    audit_record(
        action="procedures.session.read",
        actor=actor,
        patient=session.patient,
        obj=session,
    )


# --- phases and session details ----------------------------------------------------------------


@transaction.atomic
def session_phase_stamp(
    *,
    actor: Actor,
    session: TreatmentSession,
    phase: str,
    at: dt.datetime | None = None,
    reason: str = "",
) -> TreatmentSession:
    """Time-stamp a phase (now, or a time given when it is recorded afterwards)."""
    amending = _amending(actor, session, reason)
    if phase not in session.phase_fields:
        raise ValidationError({"phase": f"Unknown phase {phase!r} for this procedure."})
    at = at or timezone.now()
    if at > timezone.now() + dt.timedelta(minutes=5):
        raise ValidationError({"at": "A phase cannot be stamped in the future."})
    if at < session.started_at - dt.timedelta(hours=12):
        raise ValidationError({"at": "That is long before the session started."})
    before = {phase: getattr(session, phase)}
    setattr(session, phase, at)
    session.save(update_fields=[phase, "updated_at"])
    _record_change(
        actor=actor,
        session=session,
        section="phases",
        amending=amending,
        reason=reason,
        before=before,
        after={phase: at},
        obj=session,
    )
    return session


DETAIL_FIELDS = (
    "delivery_mode",
    "rotor_radius_cm",
    "baseline_photos_taken",
    "aftercare_given",
    "notes",
)


@transaction.atomic
def session_details_update(
    *,
    actor: Actor,
    session: TreatmentSession,
    data: dict[str, Any],
    reason: str = "",
) -> TreatmentSession:
    """Delivery mode, rotor radius, photo and aftercare ticks, notes."""
    amending = _amending(actor, session, reason)
    unknown = set(data) - set(DETAIL_FIELDS)
    if unknown:
        raise ValidationError({"__all__": f"Unknown fields: {', '.join(sorted(unknown))}."})
    if "delivery_mode" in data and data["delivery_mode"] not in DeliveryMode.values:
        raise ValidationError({"delivery_mode": "Choose injection or topical."})
    radius = data.get("rotor_radius_cm")
    if radius is not None and not (Decimal("1") <= Decimal(radius) <= Decimal("50")):
        raise ValidationError({"rotor_radius_cm": "The rotor radius is in cm, 1 to 50."})
    before = {k: getattr(session, k) for k in data}
    for k, v in data.items():
        setattr(session, k, v)
    session.save(update_fields=[*data, "updated_at"])
    _record_change(
        actor=actor,
        session=session,
        section="details",
        amending=amending,
        reason=reason,
        before=before,
        after=dict(data),
        obj=session,
    )
    return session


# --- PRP preparation ---------------------------------------------------------------------------

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
            raise ValidationError({"spins": f"Spin {i}: unknown {', '.join(sorted(unknown))}."})
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
    label = path.replace("_mL", " mL").replace("_uL", "/µL")
    return ValidationError({field or "__all__": f"{label} {exc.message}."})


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


def preparation_compute(data: dict[str, Any]) -> dict[str, Any]:
    """The kernel's evaluation when the counts are there; otherwise each spin's g only.

    Baseline and PRP counts are optional in the room (no analyser everywhere): without them
    the labels cannot be derived, and the record says which values are missing.
    """
    missing = [label for f, label in MISSING_FOR_LABELS.items() if data.get(f) in (None, "")]
    doc = preparation_document(data)
    try:
        if not missing:
            return prp_evaluate(doc)
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
            raise ValidationError({"__all__": f"Unknown fields: {', '.join(sorted(unknown))}."})
        clean = dict(data)
        if clean.get("blood_volume_ml") in (None, ""):
            raise ValidationError({"blood_volume_ml": "Give the volume of blood drawn (mL)."})
        agent = clean.get("anticoagulant_agent") or ""
        if agent and agent not in ANTICOAGULANT_AGENTS:
            raise ValidationError({"anticoagulant_agent": f"Unknown anticoagulant {agent!r}."})
        act = clean.get("activation_agent") or "none"
        if act not in ACTIVATION_AGENTS:
            raise ValidationError({"activation_agent": f"Unknown activation agent {act!r}."})
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


# --- delivery ----------------------------------------------------------------------------------


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
            raise ValidationError({"zones": f"Unknown zone {code!r} for {session.site}."})
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


# --- mesotherapy -------------------------------------------------------------------------------


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
    _require_clinical(actor)
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
            errors["ingredients"] = f"Ingredient {i}: unknown code {code!r}."
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
) -> list[rules.Finding]:
    """The data-file rules for this delivery, with the patient's earlier sessions."""
    ingredients = _meso_ingredients(formulation)
    codes = {i.code for i in ingredients if i.code}
    earlier: list[dt.date] = []
    if codes:
        others = (
            MesotherapyDelivery.objects.filter(session__patient=session.patient)
            .exclude(session=session)
            .values_list("ingredient_codes", "session__started_at")
        )
        earlier = sorted(
            {timezone.localtime(at).date() for c, at in others if codes & set(c or [])}
        )
    return rules.mesotherapy_check(
        ingredients=ingredients,
        vial=formulation.vial,
        points=points,
        volume_per_point_ml=volume_per_point_ml,
        area_cm2=area_cm2,
        area_code=zone,
        on=timezone.localtime(session.started_at).date(),
        earlier_sessions_on=earlier,
    )


@transaction.atomic
def meso_delivery_add(
    *,
    actor: Actor,
    session: TreatmentSession,
    formulation: MesotherapyFormulation,
    data: dict[str, Any],
    reason: str = "",
) -> MesotherapyDelivery:
    """One formulation delivered to one area; label limits are hard stops, the rest warnings."""
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
    findings = meso_check(
        session=session,
        formulation=formulation,
        zone=zone,
        points=int(points),
        volume_per_point_ml=Decimal(vpp),
        area_cm2=Decimal(area) if area is not None else None,
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
        },
        obj=delivery,
    )
    return delivery


# --- inventory ---------------------------------------------------------------------------------


def _require_inventory(actor: Actor) -> None:
    if actor.role not in INVENTORY_ROLES or not actor.membership.is_active:
        raise PermissionDenied("Your role cannot manage inventory.")


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
        errors["expires_on"] = f"This lot expired on {expires_on:%Y-%m-%d}; do not receive it."
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


def lot_expired_message(lot: Lot) -> str:
    return (
        f"Lot {lot.lot_number} of {lot.product.name} expired on "
        f"{lot.expires_on:%Y-%m-%d}; choose another lot."
    )


def lot_use_record(
    *,
    actor: Actor,
    session: TreatmentSession,
    lot: Lot,
    quantity: int = 1,
    zone: str = "",
    reason: str = "",
) -> LotUse:
    """The lot used, chosen at the moment of use. An expired lot is refused; another clinic's
    lot does not exist (404)."""
    with transaction.atomic():
        amending = _amending(actor, session, reason)
        lot = Lot.objects.select_for_update().select_related("product").get(pk=lot.pk)
        if lot.product.clinic_id != session.clinic_id:
            raise Http404("No such lot.")
        if lot.is_expired(_today(actor)):
            raise ValidationError({"lot": lot_expired_message(lot)})
        if quantity is None or not (1 <= int(quantity) <= 1000):
            raise ValidationError({"quantity": "Quantity: 1 to 1000."})
        if zone and zone not in _zone_codes(session):
            raise ValidationError({"zone": "Choose a zone of this site."})
        used = lot.uses.aggregate(n=Sum("quantity"))["n"] or 0
        left = lot.quantity - used
        if int(quantity) > left:
            raise ValidationError(
                {"quantity": f"Only {left} left of lot {lot.lot_number}; choose another lot."}
            )
        use = LotUse.objects.create(
            session=session,
            lot=lot,
            quantity=int(quantity),
            zone=zone,
            used_at=timezone.now(),
            used_by=actor.user,
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


# --- adverse events ----------------------------------------------------------------------------


def _ae_code(vocab_key: str, value: Any, field: str, what: str) -> str:
    vocab = rules.ae_vocab()[vocab_key]
    if value not in vocab:
        raise ValidationError({field: f"Choose {what} from the list."})
    return str(value)


@transaction.atomic
def adverse_event_record(
    *, actor: Actor, session: TreatmentSession, data: dict[str, Any]
) -> AdverseEvent:
    """An AE linked to the session (and optionally the zone and lot). Allowed after signing:
    events such as infection or shedding appear days or weeks later."""
    _check_session(actor, session)
    term = _ae_code("terms", data.get("term"), "term", "a term")
    term_other = (data.get("term_other") or "").strip()
    if term == "other" and not term_other:
        raise ValidationError({"term_other": "Describe the event when the term is Other."})
    grade: Any = data.get("ctcae_grade")
    if grade is None or str(grade) not in rules.ae_vocab()["ctcae_grades"]:
        raise ValidationError({"ctcae_grade": "CTCAE grade is 1 to 5."})
    relatedness = _ae_code("relatedness", data.get("relatedness"), "relatedness", "relatedness")
    action = _ae_code("actions", data.get("action"), "action", "the action taken")
    outcome = _ae_code("outcomes", data.get("outcome"), "outcome", "an outcome")
    onset = data.get("onset_at")
    if onset is None:
        raise ValidationError({"onset_at": "Give the onset."})
    if onset > timezone.now() + dt.timedelta(minutes=5):
        raise ValidationError({"onset_at": "The onset cannot be in the future."})
    if onset < session.started_at - dt.timedelta(hours=12):
        raise ValidationError({"onset_at": "The onset is before the session."})
    zone = data.get("zone") or ""
    if zone and zone not in _zone_codes(session):
        raise ValidationError({"zone": "Choose a zone of this site."})
    lot = data.get("lot")
    if lot is not None and not LotUse.objects.filter(session=session, lot=lot).exists():
        raise ValidationError({"lot": "Choose a lot used in this session."})
    serious = bool(data.get("serious")) or int(grade) >= int(
        rules.ae_vocab()["serious_from_grade"]["value"]
    )
    resolved_on = data.get("resolved_on")
    if outcome in rules.ae_open_outcomes():
        resolved_on = None
    elif resolved_on is None:
        resolved_on = timezone.localdate()
    event = AdverseEvent.objects.create(
        session=session,
        patient=session.patient,
        term=term,
        term_other=term_other,
        ctcae_grade=int(grade),
        onset_at=onset,
        serious=serious,
        relatedness=relatedness,
        action=action,
        outcome=outcome,
        resolved_on=resolved_on,
        zone=zone,
        lot=lot,
        description=(data.get("description") or "").strip(),
        recorded_by=actor.user,
    )
    audit_record(
        action="procedures.adverse_event.record",
        actor=actor,
        patient=session.patient,
        obj=event,
        changes={
            "session": session.pk,
            "term": term,
            "grade": int(grade),
            "serious": serious,
            "outcome": outcome,
            "lot": lot.pk if lot is not None else None,
        },
    )
    return event


@transaction.atomic
def adverse_event_follow_up(
    *, actor: Actor, event: AdverseEvent, data: dict[str, Any]
) -> AdverseEventFollowUp:
    """A follow-up note; the event's outcome follows the latest one until resolved."""
    _check_session(actor, event.session)
    outcome = _ae_code("outcomes", data.get("outcome"), "outcome", "an outcome")
    on = data.get("on") or timezone.localdate()
    if on > timezone.localdate():
        raise ValidationError({"on": "A follow-up cannot be dated in the future."})
    if on < timezone.localtime(event.onset_at).date():
        raise ValidationError({"on": "A follow-up cannot be before the onset."})
    if not event.is_open:
        raise ValidationError({"__all__": "This event is resolved; record a new event instead."})
    follow = AdverseEventFollowUp.objects.create(
        event=event,
        on=on,
        outcome=outcome,
        note=(data.get("note") or "").strip(),
        recorded_by=actor.user,
    )
    before = {"outcome": event.outcome, "resolved_on": event.resolved_on}
    event.outcome = outcome
    event.resolved_on = None if outcome in rules.ae_open_outcomes() else on
    event.save(update_fields=["outcome", "resolved_on"])
    audit_record(
        action="procedures.adverse_event.follow_up",
        actor=actor,
        patient=event.patient,
        obj=event,
        changes=diff_fields(before, {"outcome": outcome, "resolved_on": event.resolved_on}),
    )
    return follow


# --- close and sign ----------------------------------------------------------------------------


def _checklist_refusal(session: TreatmentSession) -> None:
    missing = [
        i.label + (f" ({i.detail})" if i.detail else "")
        for i in selectors.session_checklist(session)
        if not i.ok
    ]
    if missing:
        raise ValidationError({"__all__": ["The checklist is not complete:", *missing]})


@transaction.atomic
def session_close(*, actor: Actor, session: TreatmentSession) -> TreatmentSession:
    """The room work is done: the checklist must be complete; the physician signs next."""
    _check_session(actor, session)
    session = TreatmentSession.objects.select_for_update().get(pk=session.pk)
    if session.status != SessionStatus.IN_PROGRESS:
        raise ValidationError({"__all__": "Only a session in progress can be closed."})
    _checklist_refusal(session)
    session.status = SessionStatus.READY_TO_SIGN
    if session.completed_at is None:
        session.completed_at = timezone.now()
    session.save(update_fields=["status", "completed_at", "updated_at"])
    audit_record(
        action="procedures.session.close",
        actor=actor,
        patient=session.patient,
        obj=session,
        changes={"status": [SessionStatus.IN_PROGRESS, SessionStatus.READY_TO_SIGN]},
    )
    return session


@transaction.atomic
def session_sign(*, actor: Actor, session: TreatmentSession) -> TreatmentSession:
    """The physician signs; the record is locked from then on (amendments only)."""
    _check_session(actor, session)
    if actor.role != Role.PHYSICIAN:
        raise PermissionDenied("Only a physician can sign a session.")
    session = TreatmentSession.objects.select_for_update().get(pk=session.pk)
    if session.is_signed:
        raise ValidationError({"__all__": "This session is already signed."})
    _checklist_refusal(session)
    old = session.status
    now = timezone.now()
    session.status = SessionStatus.SIGNED
    session.signed_by = actor.user
    session.signed_at = now
    session.completed_at = session.completed_at or now
    session.save(update_fields=["status", "signed_by", "signed_at", "completed_at", "updated_at"])
    audit_record(
        action="procedures.session.sign",
        actor=actor,
        patient=session.patient,
        obj=session,
        changes={"status": [old, SessionStatus.SIGNED]},
    )
    appointment = session.appointment
    if appointment is not None and appointment.status == "checked_in":
        from anagen.scheduling.services import appointment_complete

        appointment_complete(actor=actor, appointment=appointment)
    return session
