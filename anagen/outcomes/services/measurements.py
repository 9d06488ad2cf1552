"""Writes: measured sites and one visit's measurements (visit-level values and one row per site).

Unit conversion and count/density arithmetic go through the clinical kernel; nothing is
converted twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from anagen.accounts.access import Actor
from anagen.accounts.permissions import Perm
from anagen.audit.services import audit_record
from anagen.clinical import CM2_PER_INCH2, SCALES, HairCount, parse_scale, per_inch2_to_per_cm2
from anagen.clinical import ValidationError as KernelValidationError
from anagen.outcomes.models import (
    AreaUnit,
    ImportBatch,
    Measurement,
    MeasurementSet,
    MeasurementSite,
    Method,
    VisitLabel,
)
from anagen.outcomes.services._common import _check_patient, _dec
from anagen.patients.models import Patient

# Density given beside a count must agree with count ÷ area within this (rounding of exports).
DENSITY_TOLERANCE = 0.02


# --- sites -----------------------------------------------------------------------------------


def site_create(
    *,
    actor: Actor,
    patient: Patient,
    name: str,
    location: str,
    marked_on: dt.date | None = None,
) -> MeasurementSite:
    actor.require(Perm.OUTCOMES_RECORD)
    _check_patient(actor, patient)
    name = name.strip()
    if not name:
        raise ValidationError({"site_name": "Give the site a name, e.g. “Vertex tattoo dot”."})
    if MeasurementSite.objects.filter(patient=patient, name__iexact=name).exists():
        raise ValidationError({"site_name": f"This patient already has a site called “{name}”."})
    with transaction.atomic():
        site = MeasurementSite.objects.create(
            patient=patient,
            name=name,
            location=location,
            marked_on=marked_on,
            created_by=actor.user,
        )
        audit_record(
            action="outcome_site.create",
            actor=actor,
            patient=patient,
            obj=site,
            changes={"name": name, "location": location},
        )
    return site


def _site_for(actor: Actor, patient: Patient, site_name: str, location: str) -> MeasurementSite:
    site = MeasurementSite.objects.filter(patient=patient, name__iexact=site_name.strip()).first()
    return site or site_create(
        actor=actor, patient=patient, name=site_name, location=location or "other"
    )


# --- measurements ----------------------------------------------------------------------------


@dataclass
class SiteValues:
    """One site's values as entered. Areas/densities may be per inch²; converted here."""

    site_name: str
    location: str = "vertex"
    hair_count: int | None = None
    area: float | None = None
    area_unit: str = AreaUnit.CM2
    density: float | None = None
    density_unit: str = AreaUnit.CM2
    mean_diameter_um: float | None = None
    cumulative_thickness_mm_per_cm2: float | None = None
    terminal_pct: float | None = None
    anagen_pct: float | None = None


@dataclass
class VisitValues:
    measured_on: dt.date
    visit_label: str
    method: str
    device: str = ""
    pull_test_pulled: int | None = None
    pull_test_shed: int | None = None
    wash_test_count: int | None = None
    salt: float | None = None
    stage_scale: str = ""
    stage_value: str = ""
    global_photo_rating: int | None = None
    satisfaction: int | None = None
    notes: str = ""
    sites: list[SiteValues] = field(default_factory=list)


def _pct(value: float | None, name: str) -> Decimal | None:
    if value is None:
        return None
    if not 0 <= value <= 100:
        raise ValidationError({name: "Must be a percentage between 0 and 100."})
    return _dec(value, 1)


def _site_fields(values: SiteValues) -> dict[str, Any]:
    """Canonical fields for one Measurement row: cm² only, the entered unit kept beside it."""
    out: dict[str, Any] = {}
    if values.area_unit not in AreaUnit.values or values.density_unit not in AreaUnit.values:
        raise ValidationError({"area_unit": "Unit must be cm² or inch²."})
    area_cm2: float | None = None
    if values.area is not None:
        if values.area <= 0:
            raise ValidationError({"area": "The target area must be larger than 0."})
        # An area in inch² becomes cm² by multiplying; a *density* per inch² divides (kernel).
        area_cm2 = values.area if values.area_unit == AreaUnit.CM2 else values.area * CM2_PER_INCH2
        out.update(
            area_cm2=_dec(area_cm2, 4),
            area_unit_entered=values.area_unit,
            area_value_entered=_dec(values.area, 4),
        )
    if values.hair_count is not None:
        if values.hair_count < 0:
            raise ValidationError({"hair_count": "A hair count cannot be negative."})
        if area_cm2 is None:
            raise ValidationError({"area": "A hair count needs the target area it was counted in."})
        out["hair_count"] = values.hair_count
    density: float | None = None
    if values.density is not None:
        if values.density < 0:
            raise ValidationError({"density": "A density cannot be negative."})
        density = (
            values.density
            if values.density_unit == AreaUnit.CM2
            else per_inch2_to_per_cm2(values.density, None)
        )
        out.update(
            density_unit_entered=values.density_unit,
            density_value_entered=_dec(values.density, 2),
        )
    if values.hair_count is not None and area_cm2 is not None:
        counted = HairCount(count=values.hair_count, area_cm2=area_cm2).density_per_cm2
        if density is not None and abs(density - counted) > DENSITY_TOLERANCE * max(counted, 1):
            raise ValidationError(
                {
                    "density": (
                        f"Density {density:.1f}/cm² does not match the count ÷ area "
                        f"({counted:.1f}/cm²). Leave density empty to compute it."
                    )
                }
            )
        density = counted if density is None else density
    if density is not None:
        out["density_per_cm2"] = _dec(density, 2)
    if values.mean_diameter_um is not None:
        if not 0 < values.mean_diameter_um <= 300:
            raise ValidationError({"mean_diameter_um": "Mean diameter must be 1–300 µm."})
        out["mean_diameter_um"] = _dec(values.mean_diameter_um, 1)
    if values.cumulative_thickness_mm_per_cm2 is not None:
        if values.cumulative_thickness_mm_per_cm2 < 0:
            raise ValidationError({"cumulative_thickness_mm_per_cm2": "Cannot be negative."})
        out["cumulative_thickness_mm_per_cm2"] = _dec(values.cumulative_thickness_mm_per_cm2, 2)
    terminal = _pct(values.terminal_pct, "terminal_pct")
    if terminal is not None:
        out.update(terminal_pct=terminal, vellus_pct=Decimal(100) - terminal)
    anagen = _pct(values.anagen_pct, "anagen_pct")
    if anagen is not None:
        out.update(anagen_pct=anagen, telogen_pct=Decimal(100) - anagen)
    if not out:
        raise ValidationError({"hair_count": "Enter at least one measurement for the site."})
    return out


def _visit_fields(values: VisitValues, today: dt.date) -> dict[str, Any]:
    if values.visit_label not in VisitLabel.values:
        raise ValidationError({"visit_label": "Choose baseline or follow-up."})
    if values.method not in Method.values:
        raise ValidationError(
            {"method": f"Choose a method: {', '.join(str(label) for label in Method.labels)}."}
        )
    if values.measured_on > today + dt.timedelta(days=1):
        raise ValidationError({"measured_on": "A measurement cannot be dated in the future."})
    out: dict[str, Any] = {
        "measured_on": values.measured_on,
        "visit_label": values.visit_label,
        "method": values.method,
        "device": values.device.strip(),
        "notes": values.notes.strip(),
    }
    if values.pull_test_pulled is not None or values.pull_test_shed is not None:
        if values.pull_test_pulled is None or values.pull_test_shed is None:
            raise ValidationError({"pull_test_shed": "A pull test needs hairs pulled and shed."})
        if values.pull_test_shed > values.pull_test_pulled:
            raise ValidationError({"pull_test_shed": "More hairs shed than were pulled."})
        out.update(pull_test_pulled=values.pull_test_pulled, pull_test_shed=values.pull_test_shed)
    if values.wash_test_count is not None:
        if values.wash_test_count < 0:
            raise ValidationError({"wash_test_count": "Cannot be negative."})
        out["wash_test_count"] = values.wash_test_count
    if values.salt is not None:
        if not 0 <= values.salt <= 100:
            raise ValidationError({"salt": "SALT is 0–100."})
        out["salt"] = _dec(values.salt, 1)
    if values.stage_scale or values.stage_value:
        try:
            scaled = parse_scale(values.stage_scale, values.stage_value)
        except KernelValidationError:
            scale = SCALES.get(values.stage_scale)
            if scale is None:
                raise ValidationError({"stage_scale": "Choose the stage scale."}) from None
            raise ValidationError(
                {
                    "stage_value": f"“{values.stage_value}” is not a stage of the "
                    f"{scale.label} scale (one of {', '.join(scale.codes)})."
                }
            ) from None
        out.update(stage_scale=scaled.scale, stage_value=scaled.code)
    if values.global_photo_rating is not None:
        try:
            parse_scale("global_photo_7", values.global_photo_rating)
        except KernelValidationError:
            raise ValidationError({"global_photo_rating": "Rating must be -3 to +3."}) from None
        out["global_photo_rating"] = values.global_photo_rating
    if values.satisfaction is not None:
        if not 1 <= values.satisfaction <= 5:
            raise ValidationError({"satisfaction": "Satisfaction is 1 (very dissatisfied) to 5."})
        out["satisfaction"] = values.satisfaction
    return out


def measurement_set_record(
    *,
    actor: Actor,
    patient: Patient,
    values: VisitValues,
    import_batch: ImportBatch | None = None,
) -> MeasurementSet:
    """Record one visit's measurements (visit-level values and one row per site)."""
    actor.require(Perm.OUTCOMES_RECORD)
    _check_patient(actor, patient)
    visit = _visit_fields(values, actor.today())
    rows = [(v, _site_fields(v)) for v in values.sites]
    names = [v.site_name.strip().lower() for v in values.sites]
    if len(set(names)) != len(names):
        raise ValidationError({"site_name": "Each site may appear once per visit."})
    if any(not n for n in names):
        raise ValidationError({"site_name": "Name the measured site."})
    visit_level = {k for k in visit if k not in ("measured_on", "visit_label", "method", "device")}
    if not rows and not any(visit[k] not in ("", None) for k in visit_level):
        raise ValidationError({"hair_count": "Nothing to record: enter at least one value."})
    with transaction.atomic():
        mset = MeasurementSet.objects.create(
            patient=patient, recorded_by=actor.user, import_batch=import_batch, **visit
        )
        for site_values, fields in rows:
            site = _site_for(actor, patient, site_values.site_name, site_values.location)
            Measurement.objects.create(measurement_set=mset, site=site, **fields)
        from anagen.outcomes.services.summaries import outcome_summaries_refresh

        outcome_summaries_refresh(clinic=actor.clinic, patient_ids=[patient.pk])
        from anagen.outcomes.services.last_measured import last_measurements_refresh

        last_measurements_refresh(patient_ids=[patient.pk])
        audit_record(
            action="measurement_set.create",
            actor=actor,
            patient=patient,
            obj=mset,
            changes={
                **visit,
                "sites": [{"site": v.site_name, **f} for v, f in rows],
            },
        )
    return mset
