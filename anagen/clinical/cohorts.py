"""Cohort dimensions for clinic outcome analytics: codes for grouping and labels for people.

Patients are grouped by stable codes (filters, CSV); pages, charts and PDFs show the labels.
Band definitions live in ``data/cohorts.json``; diagnoses, sexes and protocols come from the
kernel's vocabularies and protocol file.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from anagen.clinical.datafiles import load
from anagen.clinical.protocols import PROTOCOLS
from anagen.clinical.references import format_reference
from anagen.clinical.vocabularies import DIAGNOSES, SEXES

_DATA = load("cohorts")

DIMENSIONS: dict[str, str] = dict(_DATA["dimensions"])
BANDS: dict[str, dict[str, str]] = {k: dict(v) for k, v in _DATA["bands"].items()}
AGE_BANDS: dict[str, dict[str, Any]] = dict(_DATA["age_bands"])


def missing_code(dimension: str) -> str:
    """The code used when a patient has no value for ``dimension`` (e.g. "not_assessed")."""
    return str(_DATA["missing"][dimension]["code"])


def age_in_years(birth_date: dt.date, on: dt.date) -> int:
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))


def age_band(birth_date: dt.date, on: dt.date) -> str:
    """The age band code on ``on``: 29 → "under_30", 30 → "30_39", 60 → "60_plus"."""
    years = age_in_years(birth_date, on)
    for code, band in AGE_BANDS.items():
        if band["below"] is None or years < int(band["below"]):
            return code
    raise RuntimeError("cohorts.json: the last age band must be open-ended")  # pragma: no cover


def preparation_bands(
    *,
    spins: int,
    activation_agent: str,
    depa_dose: str | None,
    mishra_concentration: str | None,
) -> dict[str, str]:
    """Band codes from one PRP preparation.

    Spin: one, or two or more spins. Activation: an exogenous activator other than "none".
    Dose band: the DEPA dose grade (A > 5, B 3–5, C 1–3, D ≤ 1 billion platelets).
    Fold band: Mishra's concentration letter (A at 5× baseline or more, else B).
    """
    bands: dict[str, str] = {}
    if spins:
        bands["spin"] = "double" if spins >= 2 else "single"
    bands["activated"] = (
        "activated" if activation_agent not in ("", "none", None) else "not_activated"
    )
    if depa_dose and f"depa_{depa_dose.lower()}" in BANDS["dose_band"]:
        bands["dose_band"] = f"depa_{depa_dose.lower()}"
    if mishra_concentration:
        bands["fold_band"] = "fold_5_or_more" if mishra_concentration == "A" else "fold_under_5"
    return bands


def group_label(dimension: str, code: str) -> str:
    """What staff read for a group code: "alopecia_areata" → "Alopecia areata"."""
    missing = _DATA["missing"].get(dimension)
    if missing and code == missing["code"]:
        return str(missing["label"])
    if dimension == "diagnosis" and code in DIAGNOSES:
        return str(DIAGNOSES[code]["label"])
    if dimension == "sex" and code in SEXES:
        return str(SEXES[code]["label"])
    if dimension == "protocol" and code in PROTOCOLS:
        return PROTOCOLS[code].name
    if dimension == "age_band" and code in AGE_BANDS:
        return str(AGE_BANDS[code]["label"])
    if code in BANDS.get(dimension, {}):
        return BANDS[dimension][code]
    # An unknown code (e.g. a protocol since removed from the file) reads as words, not a code.
    return code.replace("_", " ").capitalize()


def dimension_reference(dimension: str) -> str:
    return format_reference(_DATA["references"].get(dimension))
