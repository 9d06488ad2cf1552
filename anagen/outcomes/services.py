"""Writes for outcomes: measurements, device imports, photos, rating panels, report jobs.

Every write runs in one transaction with its audit event. Unit conversion and count/density
arithmetic go through the clinical kernel (``anagen.clinical``); nothing is converted twice.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import secrets
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.accounts.models import Membership, Role
from anagen.accounts.permissions import Perm
from anagen.audit.services import audit_record
from anagen.clinical import CM2_PER_INCH2, HairCount, parse_scale, per_inch2_to_per_cm2
from anagen.clinical import ValidationError as KernelValidationError
from anagen.outcomes.models import (
    AreaUnit,
    ImportBatch,
    ImportStatus,
    Measurement,
    MeasurementSet,
    MeasurementSite,
    Method,
    Photo,
    PhotoSet,
    PhotoView,
    Rating,
    RatingPair,
    RatingPanel,
    ReportJob,
    VisitLabel,
)
from anagen.patients.models import Patient

# Density given beside a count must agree with count ÷ area within this (rounding of exports).
DENSITY_TOLERANCE = 0.02


def _check_patient(actor: Actor, patient: Patient) -> None:
    if patient.clinic_id != actor.clinic.pk or patient.deleted_at is not None:
        raise PermissionDenied("This patient is not in your clinic.")


def _dec(value: float | Decimal | None, places: int) -> Decimal | None:
    if value is None:
        return None
    return Decimal(str(round(float(value), places)))


# --- sites -----------------------------------------------------------------------------------


def site_create(
    *,
    actor: Actor,
    patient: Patient,
    name: str,
    location: str,
    marked_on: dt.date | None = None,
) -> MeasurementSite:
    actor.require(Perm.INTAKE_RECORD)
    _check_patient(actor, patient)
    name = name.strip()
    if not name:
        raise ValidationError({"site_name": "Give the site a name, e.g. “Vertex tattoo dot”."})
    if MeasurementSite.objects.filter(patient=patient, name__iexact=name).exists():
        raise ValidationError({"site_name": f"This patient already has a site called {name!r}."})
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


def _visit_fields(values: VisitValues) -> dict[str, Any]:
    if values.visit_label not in VisitLabel.values:
        raise ValidationError({"visit_label": "Choose baseline or follow-up."})
    if values.method not in Method.values:
        raise ValidationError({"method": f"Unknown method (expected one of {Method.values})."})
    if values.measured_on > timezone.localdate() + dt.timedelta(days=1):
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
        except KernelValidationError as exc:
            raise ValidationError({"stage_value": exc.message}) from None
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
    actor.require(Perm.INTAKE_RECORD)
    _check_patient(actor, patient)
    visit = _visit_fields(values)
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


# --- device import ---------------------------------------------------------------------------

# TrichoScan-style export headers (the default mapping; a clinic may change each one).
IMPORT_FIELDS: dict[str, str] = {
    "site": "Site",
    "date": "Date",
    "density": "Density [n/cm2]",
    "mean_diameter_um": "Mean diameter [um]",
    "terminal_pct": "Terminal [%]",
    "vellus_pct": "Vellus [%]",
    "anagen_pct": "Anagen [%]",
    "telogen_pct": "Telogen [%]",
}
REQUIRED_IMPORT_FIELDS = ("site", "date", "density")
MAX_IMPORT_BYTES = 1_000_000
MAX_IMPORT_ROWS = 2000
_DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y")


def _parse_date(text: str) -> dt.date:
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
    raise ValueError(f"date {text!r} is not YYYY-MM-DD, DD.MM.YYYY or DD/MM/YYYY")


def _parse_number(text: str, what: str) -> float | None:
    text = text.strip().replace(",", ".")
    if not text:
        return None
    try:
        value = float(Decimal(text))
    except InvalidOperation:
        raise ValueError(f"{what} {text!r} is not a number") from None
    return value


def _check_pair(row: dict[str, Any], a: str, b: str) -> None:
    """T/V and A/T pairs must add up to 100 (± rounding) when both are given."""
    if row.get(a) is not None and row.get(b) is not None and abs(row[a] + row[b] - 100) > 1:
        raise ValueError(f"{a} + {b} = {row[a] + row[b]:g}, expected 100")


def import_parse(
    *,
    content: bytes,
    mapping: dict[str, str],
    density_unit: str = AreaUnit.CM2,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Parse a device CSV into canonical rows and row-level errors (line numbers as in the file).

    Pure: nothing is written. Densities per inch² are converted to cm² here (kernel).
    """
    if len(content) > MAX_IMPORT_BYTES:
        raise ValidationError({"file": "The file is larger than 1 MB."})
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = content.decode("cp1252")
        except UnicodeDecodeError:
            raise ValidationError({"file": "The file is not a text (CSV) file."}) from None
    sample = text[:2048]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    headers = [h.strip() for h in (reader.fieldnames or [])]
    if not headers:
        raise ValidationError({"file": "The file is empty."})
    missing = [
        f"{key} (column “{mapping.get(key, '')}”)"
        for key in REQUIRED_IMPORT_FIELDS
        if mapping.get(key, "").strip() not in headers
    ]
    if missing:
        raise ValidationError(
            {
                "mapping": f"Columns not found in the file: {', '.join(missing)}. "
                f"The file has: {', '.join(headers)}."
            }
        )
    rows: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for index, raw in enumerate(reader):
        line = index + 2  # header is line 1
        if index >= MAX_IMPORT_ROWS:
            raise ValidationError({"file": f"More than {MAX_IMPORT_ROWS} rows."})
        cleaned = {(k or "").strip(): (v or "") for k, v in raw.items() if isinstance(v, str)}
        if not any(v.strip() for v in cleaned.values()):
            continue
        try:
            row: dict[str, Any] = {"line": line}
            site = cleaned.get(mapping["site"], "").strip()
            if not site:
                raise ValueError("site is empty")
            row["site"] = site[:80]
            row["date"] = _parse_date(cleaned.get(mapping["date"], "")).isoformat()
            if dt.date.fromisoformat(row["date"]) > timezone.localdate():
                raise ValueError("date is in the future")
            density = _parse_number(cleaned.get(mapping["density"], ""), "density")
            if density is None or density < 0:
                raise ValueError("density is missing or negative")
            row["density_entered"] = density
            row["density_per_cm2"] = (
                density if density_unit == AreaUnit.CM2 else per_inch2_to_per_cm2(density)
            )
            for key in (
                "mean_diameter_um",
                "terminal_pct",
                "vellus_pct",
                "anagen_pct",
                "telogen_pct",
            ):
                header = mapping.get(key, "").strip()
                value = _parse_number(cleaned.get(header, ""), key) if header else None
                if value is not None and key.endswith("_pct") and not 0 <= value <= 100:
                    raise ValueError(f"{key} {value:g} is not a percentage")
                row[key] = value
            _check_pair(row, "terminal_pct", "vellus_pct")
            _check_pair(row, "anagen_pct", "telogen_pct")
            if row["terminal_pct"] is None and row["vellus_pct"] is not None:
                row["terminal_pct"] = 100 - row["vellus_pct"]
            if row["anagen_pct"] is None and row["telogen_pct"] is not None:
                row["anagen_pct"] = 100 - row["telogen_pct"]
            rows.append(row)
        except ValueError as exc:
            errors.append({"line": line, "message": str(exc)})
    if not rows and not errors:
        raise ValidationError({"file": "The file has a header but no rows."})
    return rows, errors


def import_preview(
    *,
    actor: Actor,
    patient: Patient,
    filename: str,
    content: bytes,
    mapping: dict[str, str],
    density_unit: str = AreaUnit.CM2,
    device: str = "",
) -> ImportBatch:
    actor.require(Perm.INTAKE_RECORD)
    _check_patient(actor, patient)
    rows, errors = import_parse(content=content, mapping=mapping, density_unit=density_unit)
    with transaction.atomic():
        batch = ImportBatch.objects.create(
            patient=patient,
            filename=filename[:200],
            mapping=mapping,
            density_unit=density_unit,
            device=device[:80],
            rows=rows,
            errors=errors,
            uploaded_by=actor.user,
        )
        audit_record(
            action="measurement_import.preview",
            actor=actor,
            patient=patient,
            obj=batch,
            changes={"filename": filename, "rows": len(rows), "errors": len(errors)},
        )
    return batch


def import_commit(*, actor: Actor, batch: ImportBatch) -> list[MeasurementSet]:
    """Import every row or none: one set per date, the first date baseline if none exists yet."""
    actor.require(Perm.INTAKE_RECORD)
    patient = batch.patient
    _check_patient(actor, patient)
    if batch.status != ImportStatus.PREVIEW:
        raise ValidationError({"file": "This import was already handled."})
    if batch.errors:
        raise ValidationError(
            {"file": f"{len(batch.errors)} row(s) have errors: fix the file and upload it again."}
        )
    by_date: dict[str, list[dict[str, Any]]] = {}
    for row in batch.rows:
        by_date.setdefault(row["date"], []).append(row)
    created: list[MeasurementSet] = []
    with transaction.atomic():
        has_baseline = MeasurementSet.objects.filter(
            patient=patient, visit_label=VisitLabel.BASELINE
        ).exists()
        for day in sorted(by_date):
            label = VisitLabel.FOLLOW_UP if has_baseline else VisitLabel.BASELINE
            has_baseline = True
            values = VisitValues(
                measured_on=dt.date.fromisoformat(day),
                visit_label=label,
                method=Method.IMPORTED_DEVICE,
                device=batch.device,
                sites=[
                    SiteValues(
                        site_name=r["site"],
                        location="other",
                        density=r["density_per_cm2"],
                        mean_diameter_um=r.get("mean_diameter_um"),
                        terminal_pct=r.get("terminal_pct"),
                        anagen_pct=r.get("anagen_pct"),
                    )
                    for r in by_date[day]
                ],
            )
            created.append(
                measurement_set_record(
                    actor=actor, patient=patient, values=values, import_batch=batch
                )
            )
        batch.status = ImportStatus.COMMITTED
        batch.committed_at = timezone.now()
        batch.save(update_fields=["status", "committed_at"])
        audit_record(
            action="measurement_import.commit",
            actor=actor,
            patient=patient,
            obj=batch,
            changes={"sets": [s.pk for s in created], "rows": len(batch.rows)},
        )
    return created


# --- photos ----------------------------------------------------------------------------------

MAX_PHOTO_BYTES = 15 * 1024 * 1024
MAX_PHOTO_PIXELS = 40_000_000
MAX_PHOTO_EDGE = 3000
THUMB_EDGE = 320


def _require_photo_consent(patient: Patient, kind: str = "photo_clinical") -> None:
    from anagen.care.selectors import consent_valid_for

    if consent_valid_for(patient, kind) is None:
        label = kind.removeprefix("photo_")
        raise PermissionDenied(f"The patient has no valid consent for {label} photos.")


def _reencode(content: bytes) -> tuple[bytes, bytes, int, int]:
    """Re-encode as JPEG without metadata (orientation applied first) plus a thumbnail."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not content:
        raise ValidationError({"file": "The file is empty."})
    if len(content) > MAX_PHOTO_BYTES:
        raise ValidationError({"file": "The photo is larger than 15 MB."})
    try:
        with Image.open(io.BytesIO(content)) as probe:
            if probe.width * probe.height > MAX_PHOTO_PIXELS:
                raise ValidationError({"file": "The photo has more than 40 megapixels."})
            probe.verify()
        with Image.open(io.BytesIO(content)) as img:
            img.load()
            upright = ImageOps.exif_transpose(img)
            rgb = upright.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError):
        raise ValidationError({"file": "The file is not an image Pillow can read."}) from None
    rgb.thumbnail((MAX_PHOTO_EDGE, MAX_PHOTO_EDGE))
    # A fresh image carries no EXIF/GPS/maker notes: copy pixels only.
    clean = Image.new("RGB", rgb.size)
    clean.paste(rgb)
    out = io.BytesIO()
    clean.save(out, format="JPEG", quality=90)
    thumb = clean.copy()
    thumb.thumbnail((THUMB_EDGE, THUMB_EDGE))
    thumb_out = io.BytesIO()
    thumb.save(thumb_out, format="JPEG", quality=80)
    return out.getvalue(), thumb_out.getvalue(), clean.width, clean.height


def photo_set_create(
    *, actor: Actor, patient: Patient, taken_on: dt.date, notes: str = ""
) -> PhotoSet:
    actor.require(Perm.INTAKE_RECORD)
    _check_patient(actor, patient)
    _require_photo_consent(patient)
    if taken_on > timezone.localdate() + dt.timedelta(days=1):
        raise ValidationError({"taken_on": "Photos cannot be dated in the future."})
    with transaction.atomic():
        photo_set = PhotoSet.objects.create(
            patient=patient, taken_on=taken_on, notes=notes[:200], created_by=actor.user
        )
        audit_record(
            action="photo_set.create",
            actor=actor,
            patient=patient,
            obj=photo_set,
            changes={"taken_on": taken_on},
        )
    return photo_set


def photo_add(
    *, actor: Actor, photo_set: PhotoSet, view: str, content: bytes
) -> Photo:
    actor.require(Perm.INTAKE_RECORD)
    patient = photo_set.patient
    _check_patient(actor, patient)
    _require_photo_consent(patient)
    if view not in PhotoView.values:
        raise ValidationError({"view": "Choose one of the protocol's views."})
    if Photo.objects.filter(photo_set=photo_set, view=view).exists():
        raise ValidationError({"view": "This view is already in the set."})
    image, thumb, width, height = _reencode(content)
    digest = hashlib.sha256(image).hexdigest()
    name = secrets.token_hex(16)
    with transaction.atomic():
        photo = Photo(
            photo_set=photo_set,
            view=view,
            sha256=digest,
            width=width,
            height=height,
            uploaded_by=actor.user,
        )
        photo.file.save(f"{name}.jpg", ContentFile(image), save=False)
        photo.thumbnail.save(f"{name}.jpg", ContentFile(thumb), save=False)
        photo.save()
        audit_record(
            action="photo.create",
            actor=actor,
            patient=patient,
            obj=photo,
            changes={"view": view, "sha256": digest, "width": width, "height": height},
        )
    return photo


PHOTO_PURPOSES = {
    "clinical": "photo_clinical",
    "teaching": "photo_teaching",
    "marketing": "photo_marketing",
}


def photo_read(
    *, actor: Actor, photo: Photo, purpose: str = "clinical", thumb: bool = False
) -> bytes:
    """The stored bytes of a photo, after the consent check for ``purpose``; audited."""
    actor.require(Perm.CLINICAL_VIEW)
    patient = photo.photo_set.patient
    _check_patient(actor, patient)
    kind = PHOTO_PURPOSES.get(purpose)
    if kind is None:
        raise ValidationError({"purpose": "Purpose must be clinical, teaching or marketing."})
    _require_photo_consent(patient, kind)
    stored = photo.thumbnail if thumb else photo.file
    with stored.open("rb") as fh:
        data = fh.read()
    with transaction.atomic():
        audit_record(
            action="photo.read",
            actor=actor,
            patient=patient,
            obj=photo,
            changes={"purpose": purpose, "thumbnail": thumb},
        )
    return data


# --- blinded rating ----------------------------------------------------------------------------


def _require_physician(actor: Actor, what: str) -> None:
    actor.require(Perm.CLINICAL_VIEW)
    if actor.role != Role.PHYSICIAN:
        raise PermissionDenied(f"Only a physician can {what}.")


def rating_panel_create(
    *,
    actor: Actor,
    name: str,
    view: str,
    rater_ids: list[int],
    patients: list[Patient] | None = None,
    seed: int | None = None,
) -> RatingPanel:
    """A panel of before/after pairs (first and latest photo of ``view``) for consenting patients.

    The pairs' order and each pair's left/right sides are randomised and stored, so the raters
    cannot tell before from after and the panel can be re-scored later.
    """
    import random

    _require_physician(actor, "set up a rating panel")
    if not name.strip():
        raise ValidationError({"name": "Name the panel."})
    if view not in PhotoView.values:
        raise ValidationError({"view": "Choose one of the protocol's views."})
    members = Membership.objects.filter(
        clinic=actor.clinic,
        user_id__in=rater_ids,
        is_active=True,
        role__in=[Role.PHYSICIAN, Role.NURSE],
    ).values_list("user_id", flat=True)
    raters = sorted(set(members))
    if not raters or len(raters) != len(set(rater_ids)):
        raise ValidationError(
            {"raters": "Choose raters among this clinic's physicians and nurses."}
        )
    from anagen.outcomes.selectors import before_after_photos

    pairs = before_after_photos(clinic=actor.clinic, view=view, patients=patients)
    if not pairs:
        raise ValidationError(
            {"view": "No patient with consent has two photo sets with this view yet."}
        )
    rng = random.Random(seed) if seed is not None else random.SystemRandom()
    order = list(range(len(pairs)))
    rng.shuffle(order)
    with transaction.atomic():
        panel = RatingPanel.objects.create(
            clinic=actor.clinic, name=name.strip()[:120], view=view, created_by=actor.user
        )
        panel.raters.set(raters)
        for position, index in enumerate(order):
            patient, before, after = pairs[index]
            RatingPair.objects.create(
                panel=panel,
                patient=patient,
                before=before,
                after=after,
                before_on_left=rng.random() < 0.5,
                code=secrets.token_hex(8),
                position=position,
            )
            audit_record(
                action="rating_pair.create",
                actor=actor,
                patient=patient,
                obj=panel,
                changes={"before": before.pk, "after": after.pk},
            )
    return panel


def rating_submit(*, actor: Actor, pair: RatingPair, score: int) -> Rating:
    actor.require(Perm.CLINICAL_VIEW)
    if (
        pair.panel.clinic_id != actor.clinic.pk
        or not pair.panel.raters.filter(pk=actor.user.pk).exists()
    ):
        raise PermissionDenied("You are not a rater on this panel.")
    if not isinstance(score, int) or isinstance(score, bool) or not -3 <= score <= 3:
        raise ValidationError({"score": "Score must be -3 to +3."})
    if Rating.objects.filter(pair=pair, rater=actor.user).exists():
        raise ValidationError({"score": "You already rated this pair."})
    # The rater scored "right compared with left": turn it into after compared with before.
    change = score if pair.before_on_left else -score
    with transaction.atomic():
        rating = Rating.objects.create(pair=pair, rater=actor.user, score=score, change=change)
        audit_record(
            action="rating.create",
            actor=actor,
            patient=pair.patient,
            obj=rating,
            changes={"pair": pair.code, "score": score},
        )
    return rating


# --- report jobs -------------------------------------------------------------------------------

MAX_REPORT_BATCH = 500


def report_job_start(*, actor: Actor, patients: list[Patient]) -> ReportJob:
    """Queue PDF reports for many patients; the task worker renders and stores them."""
    actor.require(Perm.CLINICAL_VIEW)
    if not patients:
        raise ValidationError({"patients": "Choose at least one patient."})
    if len(patients) > MAX_REPORT_BATCH:
        raise ValidationError({"patients": f"At most {MAX_REPORT_BATCH} patients per batch."})
    for p in patients:
        _check_patient(actor, p)
    with transaction.atomic():
        job = ReportJob.objects.create(
            clinic=actor.clinic,
            requested_by=actor.user,
            patient_ids=[p.pk for p in patients],
            total=len(patients),
        )
        audit_record(
            action="report_job.create", actor=actor, obj=job, changes={"patients": job.patient_ids}
        )
        job_id = job.pk
        transaction.on_commit(lambda: _enqueue(job_id))
    return job


def _enqueue(job_id: int) -> None:
    from anagen.outcomes.tasks import generate_reports

    generate_reports.enqueue(job_id)
