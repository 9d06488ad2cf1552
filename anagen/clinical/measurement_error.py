"""Measurement error of outcome measures: default test–retest CVs per method and the SEM.

When a patient has two or more baseline repeats of a measure at a site, the SEM comes from their
own test–retest differences; otherwise a method's default CV (``data/measurement_error.json``)
times the baseline value is used. MDC95 = 1.96 × √2 × SEM (``anagen.clinical.outcomes.mdc95``).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from anagen.clinical import inputs as inp
from anagen.clinical.cohort_stats import rms
from anagen.clinical.datafiles import load
from anagen.clinical.outcomes import sem_from_retest_differences
from anagen.clinical.references import format_reference

_DATA = load("measurement_error")


@dataclass(frozen=True)
class MethodError:
    """A method's default test–retest CV (%) and where the figure comes from."""

    method: str
    cv_pct: float
    reference: str


def method_error(method: str) -> MethodError | None:
    """The default CV for ``method`` (e.g. "phototrichogram"), or None when none is known."""
    cv = _DATA["cv_pct"].get(method)
    if cv is None:
        return None
    return MethodError(
        method=method,
        cv_pct=float(cv),
        reference=format_reference(_DATA["references"].get(method)),
    )


def sem_from_cv(cv_pct: float, baseline: float) -> float:
    """SEM = CV × |baseline| (a CV of 5 % at 150 hairs/cm² is an SEM of 7.5 hairs/cm²)."""
    cv = inp.as_number(cv_pct, "cv_pct")
    return cv / 100 * abs(inp.as_number(baseline, "baseline", minimum=None))


def sem_from_repeats(repeats: Sequence[float]) -> float:
    """SEM from repeated baseline measurements: the RMS of successive differences over √2."""
    if len(repeats) < 2:
        raise ValueError("need at least two repeats")
    diffs = [b - a for a, b in itertools.pairwise(repeats)]
    return sem_from_retest_differences(rms(diffs))


def mdc_reference() -> str:
    return format_reference(_DATA["mdc_reference"])
