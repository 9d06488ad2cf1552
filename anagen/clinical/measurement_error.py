"""Measurement error of outcome measures: default test–retest CVs per method and the SEM.

A method's default CV (``data/measurement_error.json``) times the baseline value is the floor of
the SEM: a patient's own baseline repeats (two or more) can widen it, never narrow it — two
identical repeats would otherwise give an MDC of 0, and one pair 150/151 an MDC of 1.96
(clinical-facts.md 13). MDC95 = 1.96 × √2 × SEM (``anagen.clinical.outcomes.mdc95``).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from anagen.clinical import inputs as inp
from anagen.clinical.cohort_stats import rms
from anagen.clinical.datafiles import load
from anagen.clinical.outcomes import mdc95, sem_from_retest_differences
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


@dataclass(frozen=True)
class ErrorEstimate:
    """The SEM used to judge a change, and where it came from.

    ``own`` is the SEM from the patient's baseline repeats (None with fewer than two);
    ``default`` the SEM from the method's default CV (None when the measure has no CV).
    ``sem`` is the larger of the two, so the MDC never falls below the method's error.
    """

    sem: float
    own: float | None
    default: float | None
    error: MethodError | None
    repeats: int

    @property
    def mdc(self) -> float:
        return mdc95(self.sem)

    @property
    def floored(self) -> bool:
        """True when the method's default error, not the patient's repeats, sets the MDC."""
        return self.own is not None and self.default is not None and self.default > self.own


def error_estimate(
    *, method: str, baseline: float, repeats: Sequence[float], relative: bool
) -> ErrorEstimate | None:
    """The SEM for a series: max(SEM from repeats, CV × baseline).

    ``relative`` says whether a method CV applies to the measure (counts, densities,
    diameters). Without a method error, the repeats alone decide; when they are identical
    (SEM 0) nothing can be judged, so None — as with no repeats and no method error.
    """
    own = sem_from_repeats(repeats) if len(repeats) >= 2 else None
    error = method_error(method) if relative else None
    default = sem_from_cv(error.cv_pct, baseline) if error is not None else None
    candidates = [v for v in (own, default) if v is not None]
    if not candidates or max(candidates) <= 0:
        return None
    return ErrorEstimate(
        sem=max(candidates), own=own, default=default, error=error, repeats=len(repeats)
    )
