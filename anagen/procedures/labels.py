"""Words for the treatment-room record: field labels, human values and the amendment trail.

Staff read "Field: before → after" with labels, units, Yes/No and dates in clinic time; never
codes, raw dicts or ISO stamps.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from anagen.accounts.clinic_time import human_date, human_datetime
from anagen.clinical import ACTIVATION_AGENTS, ANTICOAGULANT_AGENTS
from anagen.clinical import procedure_rules as rules
from anagen.procedures.models import PHASES, DeliveryMode

NONE = "—"
UNITS = ("cm", "mm", "mL", "/µL", "%")

SECTIONS = {
    "phases": "Phases",
    "details": "Session details",
    "preparation": "Preparation",
    "delivery": "Injection map",
    "topical": "Topical application",
    "meso_delivery": "Mesotherapy delivery",
    "lots": "Lots used",
}

# field: (label, unit or kind). Kinds: "bool", "datetime", "date", "anticoagulant",
# "activation", "delivery_mode", "spins", "zone", "technique"; anything else is a unit suffix.
FIELDS: dict[str, tuple[str, str]] = {
    **{f: (label, "datetime") for f, label in PHASES},
    "delivery_mode": ("Delivery", "delivery_mode"),
    "rotor_radius_cm": ("Centrifuge rotor radius", "cm"),
    "baseline_photos_taken": ("Baseline photos taken", "bool"),
    "aftercare_given": ("Aftercare instructions given", "bool"),
    "notes": ("Notes", ""),
    "blood_volume_ml": ("Blood drawn", "mL"),
    "tubes": ("Tubes", ""),
    "anticoagulant_agent": ("Anticoagulant", "anticoagulant"),
    "anticoagulant_volume_ml": ("Anticoagulant volume", "mL"),
    "operator": ("Operator", ""),
    "wb_platelets_per_ul": ("Baseline platelets", "/µL"),
    "wb_wbc_per_ul": ("Baseline WBC", "/µL"),
    "wb_neutrophils_pct": ("Baseline neutrophils", "%"),
    "wb_rbc_per_ul": ("Baseline RBC", "/µL"),
    "spins": ("Spins", "spins"),
    "prp_volume_ml": ("PRP volume", "mL"),
    "prp_platelets_per_ul": ("PRP platelets", "/µL"),
    "prp_wbc_per_ul": ("PRP WBC", "/µL"),
    "prp_neutrophils_pct": ("PRP neutrophils", "%"),
    "prp_rbc_per_ul": ("PRP RBC", "/µL"),
    "activation_agent": ("Activation agent", "activation"),
    "activation_volume_ml": ("Activator volume", "mL"),
    "injected_volume_ml": ("PRP volume injected", "mL"),
    "device": ("Microneedling device", ""),
    "needle_depth_mm": ("Needle depth", "mm"),
    "passes": ("Passes", ""),
    "volume_ml": ("Volume", "mL"),
    "lot": ("Lot", ""),
    "product": ("Product", ""),
    "quantity": ("Quantity", ""),
    "formulation": ("Formulation", ""),
    "zone": ("Area", "zone"),
    "points": ("Injection points", ""),
    "volume_per_point_ml": ("Volume per point", "mL"),
}


def _number(value: Any) -> str:
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    if d == d.to_integral_value():
        return f"{int(d):,}".replace(",", " ") if abs(d) >= 10000 else str(int(d))
    return format(d.normalize(), "f")


def _instant(value: Any) -> str:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, dt.datetime):
        return human_datetime(value)
    if isinstance(value, dt.date):
        return human_date(value)
    return str(value)


def spins_text(spins: Any) -> str:
    parts = []
    for s in spins or []:
        if not isinstance(s, Mapping):
            continue
        if s.get("g") not in (None, ""):
            force = f"{_number(s['g'])} g"
        elif s.get("rpm") not in (None, ""):
            radius = f" at {_number(s['radius_cm'])} cm" if s.get("radius_cm") else ""
            force = f"{_number(s['rpm'])} rpm{radius}"
        else:
            force = "?"
        parts.append(f"{force} × {_number(s.get('minutes'))} min")
    return ", ".join(parts) or NONE


def _technique(code: str) -> str:
    for vocab in (rules.rules()["prp_techniques"], rules.rules()["meso_techniques"]):
        if code in vocab:
            return str(vocab[code]["label"])
    return code.replace("_", " ")


def value_text(field: str, value: Any) -> str:
    """One stored value as staff read it."""
    if value is None or value == "" or value == []:
        return NONE
    kind = FIELDS.get(field, ("", ""))[1]
    if kind == "bool" or isinstance(value, bool):
        return "Yes" if value in (True, "True", "true") else "No"
    if kind in ("datetime", "date"):
        return _instant(value)
    if kind == "anticoagulant":
        return str(ANTICOAGULANT_AGENTS.get(value, {}).get("label", value))
    if kind == "activation":
        return str(ACTIVATION_AGENTS.get(value, {}).get("label", value))
    if kind == "delivery_mode":
        return str(dict(DeliveryMode.choices).get(value, value))
    if kind == "spins":
        return spins_text(value)
    if kind == "zone":
        return rules.zone_label(str(value))
    if kind in UNITS and _is_number(str(value)):
        return f"{_number(value)} {kind}"
    if isinstance(value, int | float | Decimal):
        return _number(value)
    return str(value)


def _is_number(value: str) -> bool:
    try:
        Decimal(value)
    except (InvalidOperation, ValueError):
        return False
    return True


def _zone_entry(value: Any) -> str:
    """A zone of the injection map as stored in a snapshot: [volume, technique]."""
    if not value:
        return "not treated"
    if isinstance(value, list | tuple) and value:
        volume = value_text("volume_ml", value[0])
        return f"{volume}, {_technique(str(value[1])).lower()}" if len(value) > 1 else volume
    return str(value)


def field_label(field: str) -> str:
    return FIELDS.get(field, (field.replace("_", " ").capitalize(), ""))[0]


def change_lines(section: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """'Field: before → after' for each field that changed, in a stable order."""
    before, after = before or {}, after or {}
    keys = list(dict.fromkeys([*after, *before]))
    lines = []
    for key in keys:
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if section == "delivery":
            lines.append(f"{rules.zone_label(key)}: {_zone_entry(old)} → {_zone_entry(new)}")
        else:
            lines.append(f"{field_label(key)}: {value_text(key, old)} → {value_text(key, new)}")
    return lines


def section_label(section: str) -> str:
    return SECTIONS.get(section, section.replace("_", " ").capitalize())
