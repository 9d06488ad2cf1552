"""SALT (Severity of Alopecia Tool) score and S-band; weights and bands in ``data/scales.json``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

from anagen.clinical import inputs as inp
from anagen.clinical.bands import bands_from_data, grade
from anagen.clinical.datafiles import load
from anagen.clinical.rounding import round_half_up

_SALT = load("scales")["salt"]
AREAS: tuple[str, ...] = ("vertex", "posterior", "right", "left")
WEIGHTS: dict[str, float] = {area: float(_SALT["weights"][area]) for area in AREAS}


class SaltJson(TypedDict):
    salt: float
    band: str


@dataclass(frozen=True)
class SaltScore:
    score: float
    band: str
    band_label: str

    def to_json(self) -> SaltJson:
        return {"salt": self.score, "band": self.band}


def salt(vertex: float, posterior: float, right: float, left: float) -> SaltScore:
    """Weighted % hair loss (each area 0-100), rounded to one decimal, with its S-band."""
    losses = {
        area: inp.as_number(value, area, minimum=0, maximum=100)
        for area, value in zip(AREAS, (vertex, posterior, right, left), strict=True)
    }
    raw = sum(WEIGHTS[area] * losses[area] for area in AREAS)
    score = min(100.0, max(0.0, round_half_up(raw, int(_SALT["decimals"]))))
    band = grade(score, bands_from_data(_SALT["bands"]))
    return SaltScore(score=score, band=band.grade, band_label=band.label)


def salt_score(vertex: float, posterior: float, right: float, left: float) -> SaltJson:
    """``{"salt": 47.6, "band": "S2"}`` as printed by the ``salt`` verb."""
    return salt(vertex, posterior, right, left).to_json()
