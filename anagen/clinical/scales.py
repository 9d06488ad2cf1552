"""Ordinal clinical scales as typed, validated values (Norwood-Hamilton, Ludwig, Sinclair, Savin,
7-point global photographic scale), defined in ``data/scales.json``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from anagen.clinical.datafiles import load
from anagen.clinical.errors import ValidationError
from anagen.clinical.vocabularies import DIAGNOSES

_DATA = load("scales")


@dataclass(frozen=True)
class ScaleDefinition:
    id: str
    label: str
    population: str
    source: str
    codes: tuple[str, ...]
    labels: tuple[str, ...]
    descriptions: tuple[str, ...]


@dataclass(frozen=True, order=True)
class ScaleValue:
    """One rating on one scale. ``rank`` is the position in the scale's list (0-based)."""

    scale: str
    rank: int
    code: str
    label: str
    description: str

    @property
    def display(self) -> str:
        return self.label

    def __str__(self) -> str:
        return self.label


def _definition(scale_id: str, entry: dict[str, Any]) -> ScaleDefinition:
    values = entry["values"]
    return ScaleDefinition(
        id=scale_id,
        label=entry["label"],
        population=entry["population"],
        source=entry["source"],
        codes=tuple(v["code"] for v in values),
        labels=tuple(v["label"] for v in values),
        descriptions=tuple(v["description"] for v in values),
    )


SCALES: dict[str, ScaleDefinition] = {
    scale_id: _definition(scale_id, entry) for scale_id, entry in _DATA["ordinal"].items()
}


def _normalise(text: str) -> str:
    # "III-vertex", "iii vertex" and "III_Vertex" all mean "III vertex".
    return re.sub(r"[\s_\-]+", " ", text.strip()).lower()


def _signed(value: object) -> str | None:
    """Photo-scale ratings: 2, "2" and "+2" are the same rating, written "+2"."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        number = int(value)
    else:
        return None
    return f"{number:+d}" if number else "0"


def parse_scale(scale_id: str, value: object) -> ScaleValue:
    """Validate ``value`` against ``scale_id``; ints are accepted for numeric scales."""
    definition = SCALES.get(scale_id)
    if definition is None:
        raise ValidationError(
            "scale", f"unknown scale {scale_id!r} (expected one of: {', '.join(sorted(SCALES))})"
        )
    expected = f"expected one of: {', '.join(definition.codes)}"
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValidationError(scale_id, f"unknown value {value!r} ({expected})")
    signed = _signed(value)
    for rank, code in enumerate(definition.codes):
        if code == signed or _normalise(code) == _normalise(str(value)):
            return ScaleValue(
                scale=scale_id,
                rank=rank,
                code=code,
                label=definition.labels[rank],
                description=definition.descriptions[rank],
            )
    raise ValidationError(scale_id, f"unknown value {value!r} ({expected})")


def scales_for_diagnosis(diagnosis: str) -> list[str]:
    """Scale ids applicable to a diagnosis code (``salt`` is the computed SALT score)."""
    if diagnosis not in DIAGNOSES:
        raise ValidationError("diagnosis", f"unknown code {diagnosis!r}")
    return list(_DATA["by_diagnosis"].get(diagnosis, []))


def list_scales() -> list[dict[str, Any]]:
    """Every scale with its values, for forms and the API."""
    result: list[dict[str, Any]] = [
        {
            "id": d.id,
            "label": d.label,
            "population": d.population,
            "source": d.source,
            "values": [
                {"code": c, "label": lb, "description": ds}
                for c, lb, ds in zip(d.codes, d.labels, d.descriptions, strict=True)
            ],
        }
        for d in SCALES.values()
    ]
    salt = _DATA["salt"]
    result.append(
        {
            "id": "salt",
            "label": salt["label"],
            "population": "alopecia areata",
            "source": salt["source"],
            "weights": salt["weights"],
            "bands": salt["bands"],
        }
    )
    return result
