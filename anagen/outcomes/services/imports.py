"""Writes: device CSV imports, parsed into a preview first, then imported all at once or not at
all."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from anagen.accounts.access import Actor
from anagen.accounts.permissions import Perm
from anagen.audit.services import audit_record
from anagen.clinical import per_inch2_to_per_cm2
from anagen.outcomes.models import (
    AreaUnit,
    ImportBatch,
    ImportStatus,
    MeasurementSet,
    Method,
    VisitLabel,
)
from anagen.outcomes.services import measurements
from anagen.outcomes.services._common import _check_patient
from anagen.outcomes.services.measurements import SiteValues, VisitValues
from anagen.patients.models import Patient

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
# What a person reads for each field in a row error.
FIELD_LABELS: dict[str, str] = {
    "site": "Site",
    "date": "Date",
    "density": "Density",
    "mean_diameter_um": "Mean diameter",
    "terminal_pct": "Terminal %",
    "vellus_pct": "Vellus %",
    "anagen_pct": "Anagen %",
    "telogen_pct": "Telogen %",
}


def _parse_date(text: str) -> dt.date:
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
    raise ValueError(
        f"Date “{text.strip()}” is not a date written as 2025-01-31, 31.01.2025 or 31/01/2025"
    )


def _parse_number(text: str, what: str) -> float | None:
    text = text.strip().replace(",", ".")
    if not text:
        return None
    try:
        value = float(Decimal(text))
    except InvalidOperation:
        raise ValueError(f"{FIELD_LABELS.get(what, what)} “{text}” is not a number") from None
    return value


def _check_pair(row: dict[str, Any], a: str, b: str) -> None:
    """T/V and A/T pairs must add up to 100 (± rounding) when both are given."""
    if row.get(a) is not None and row.get(b) is not None and abs(row[a] + row[b] - 100) > 1:
        raise ValueError(
            f"{FIELD_LABELS[a]} + {FIELD_LABELS[b]} = {row[a] + row[b]:g}, expected 100"
        )


def import_parse(
    *,
    content: bytes,
    mapping: dict[str, str],
    density_unit: str = AreaUnit.CM2,
    today: dt.date | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Parse a device CSV into canonical rows and row-level errors (line numbers as in the file).

    Pure: nothing is written. Densities per inch² are converted to cm² here (kernel). A row
    dated after ``today`` (the clinic's date) is an error.
    """
    today = today or timezone.localdate()
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
        f"{FIELD_LABELS[key]} (column “{mapping.get(key, '')}”)"
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
                raise ValueError("The site is empty")
            row["site"] = site[:80]
            row["date"] = _parse_date(cleaned.get(mapping["date"], "")).isoformat()
            if dt.date.fromisoformat(row["date"]) > today:
                raise ValueError("The date is in the future")
            density = _parse_number(cleaned.get(mapping["density"], ""), "density")
            if density is None or density < 0:
                raise ValueError("The density is missing or negative")
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
                    raise ValueError(f"{FIELD_LABELS[key]} {value:g} is not a percentage (0–100)")
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
    actor.require(Perm.OUTCOMES_RECORD)
    _check_patient(actor, patient)
    rows, errors = import_parse(
        content=content, mapping=mapping, density_unit=density_unit, today=actor.today()
    )
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
    actor.require(Perm.OUTCOMES_RECORD)
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
                measurements.measurement_set_record(
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
