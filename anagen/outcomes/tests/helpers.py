"""Builders shared by this app's tests."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from PIL import Image

from anagen.care import services as care_services
from anagen.outcomes import services
from anagen.outcomes.models import MeasurementSet


def record(
    staff,
    patient,
    on: dt.date,
    label: str,
    density: float | None = None,
    method: str = "phototrichogram",
    site: str = "Vertex tattoo dot",
    **visit: Any,
) -> MeasurementSet:
    sites = []
    if density is not None:
        sites.append(services.SiteValues(site_name=site, density=density))
    return services.measurement_set_record(
        actor=staff.actor(staff.nurse),
        patient=patient,
        values=services.VisitValues(
            measured_on=on, visit_label=label, method=method, sites=sites, **visit
        ),
    )


def photo_consent(staff, patient, kind: str = "photo_clinical") -> None:
    care_services.consent_sign(
        actor=staff.actor(staff.nurse),
        patient=patient,
        kind=kind,
        signed_name=patient.full_name,
        agreed=True,
    )


def jpeg(color: str = "red", size: tuple[int, int] = (64, 48), exif: bool = True) -> bytes:
    img = Image.new("RGB", size, color)
    out = io.BytesIO()
    if exif:
        data = Image.Exif()
        data[0x010F] = "SecretCam"  # Make
        data[0x0112] = 6  # Orientation: rotate 90° CW to display
        data[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0)}  # GPS IFD
        img.save(out, format="JPEG", exif=data.tobytes())
    else:
        img.save(out, format="JPEG")
    return out.getvalue()
