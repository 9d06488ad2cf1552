"""Relative centrifugal force ↔ rotor speed.

RCF (g) = 1.118e-5 * r (cm) * rpm^2 (clinical-facts.md 2.4). A speed in rpm is only reproducible
with the rotor radius, which is why spins given in rpm require ``radius_cm``.
"""

from __future__ import annotations

import math

from anagen.clinical import inputs as inp
from anagen.clinical.datafiles import load
from anagen.clinical.errors import ValidationError
from anagen.clinical.rounding import round_int

RCF_CONSTANT: float = float(load("prp_classifications")["centrifuge"]["rcf_constant_per_cm"])


def rcf_from_rpm(radius_cm: float, rpm: float) -> float:
    """g-force at ``radius_cm`` spinning at ``rpm`` (unrounded)."""
    radius = inp.as_number(radius_cm, "radius_cm", positive=True)
    speed = inp.as_number(rpm, "rpm", positive=True)
    return RCF_CONSTANT * radius * speed**2


def rpm_from_rcf(radius_cm: float, g: float) -> float:
    """Rotor speed giving ``g`` at ``radius_cm`` (unrounded)."""
    radius = inp.as_number(radius_cm, "radius_cm", positive=True)
    force = inp.as_number(g, "g", positive=True)
    return math.sqrt(force / (RCF_CONSTANT * radius))


def rcf_report(
    radius_cm: float, *, rpm: float | None = None, g: float | None = None
) -> dict[str, int]:
    """The ``rcf`` verb's output: both values rounded to whole numbers."""
    if (rpm is None) == (g is None):
        raise ValidationError("rpm", "give exactly one of rpm or g")
    if rpm is not None:
        return {"rcf_g": round_int(rcf_from_rpm(radius_cm, rpm)), "rpm": round_int(rpm)}
    assert g is not None
    return {"rcf_g": round_int(g), "rpm": round_int(rpm_from_rcf(radius_cm, g))}
