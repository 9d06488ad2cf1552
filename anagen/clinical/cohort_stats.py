"""Cohort statistics: mean, median and their 95 % confidence intervals, and a responder rate.

The one place outcome *group* statistics are computed (per-patient change arithmetic is in
``anagen.clinical.outcomes``). Pure Python with the ``statistics`` module; scipy is not a
dependency, so the t critical values come from ``data/t_table.json`` (NIST/SEMATECH table).
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from anagen.clinical.datafiles import load
from anagen.clinical.references import format_reference


@cache
def _t_table() -> tuple[list[tuple[int, float]], float]:
    data = load("t_table")
    rows = sorted((int(df), float(v)) for df, v in data["two_sided_95"].items())
    return rows, float(data["infinity"])


def t_table_reference() -> str:
    """The t table's source as a reference (author, year, title)."""
    return format_reference(load("t_table")["reference"])


def t_critical_95(df: int) -> float:
    """Two-sided 95 % critical value of t with ``df`` degrees of freedom.

    Exact table values where tabulated; otherwise linear interpolation in 1/df between the
    neighbouring rows (and towards 1.960 at infinity), the usual way to read a t table.
    """
    if df < 1:
        raise ValueError("degrees of freedom must be at least 1")
    rows, infinity = _t_table()
    for (lo_df, lo_t), (hi_df, hi_t) in itertools.pairwise(rows):
        if df == lo_df:
            return lo_t
        if lo_df < df < hi_df:
            frac = (1 / lo_df - 1 / df) / (1 / lo_df - 1 / hi_df)
            return lo_t + (hi_t - lo_t) * frac
    last_df, last_t = rows[-1]
    if df == last_df:
        return last_t
    return infinity + (last_t - infinity) * (last_df / df)


@dataclass(frozen=True)
class MeanCI:
    n: int
    mean: float
    sd: float | None
    low: float | None
    high: float | None


def mean_ci(values: Sequence[float]) -> MeanCI:
    """Mean with a t-based 95 % CI: mean ± t(n-1) × SD/√n (none for n < 2)."""
    n = len(values)
    if n == 0:
        raise ValueError("no values")
    mean = statistics.fmean(values)
    if n < 2:
        return MeanCI(n=n, mean=mean, sd=None, low=None, high=None)
    sd = statistics.stdev(values)
    half = t_critical_95(n - 1) * sd / math.sqrt(n)
    return MeanCI(n=n, mean=mean, sd=sd, low=mean - half, high=mean + half)


@dataclass(frozen=True)
class MedianCI:
    n: int
    median: float
    low: float | None
    high: float | None


def median_ci(values: Sequence[float]) -> MedianCI:
    """Median with a distribution-free 95 % CI from order statistics.

    The interval (x₍ₖ₎, x₍ₙ₋ₖ₊₁₎) uses the largest k with P(Binomial(n, ½) ≤ k-1) ≤ 0.025, so its
    coverage is at least 95 %. Fewer than 6 values cannot reach 95 % coverage: no interval.
    """
    n = len(values)
    if n == 0:
        raise ValueError("no values")
    ordered = sorted(values)
    median = statistics.median(ordered)
    k = 0
    cumulative = 0.0
    for j in range(n + 1):
        cumulative += math.comb(n, j) / 2**n
        if cumulative > 0.025:
            break
        k = j + 1
    if k < 1:
        return MedianCI(n=n, median=median, low=None, high=None)
    return MedianCI(n=n, median=median, low=ordered[k - 1], high=ordered[n - k])


@dataclass(frozen=True)
class Proportion:
    k: int
    n: int
    rate: float
    low: float
    high: float


def wilson_ci(k: int, n: int, z: float = 1.96) -> Proportion:
    """Share k/n with the Wilson score 95 % interval (behaves at 0 % and 100 %, unlike Wald).

    Source: Wilson EB (1927). Probable inference, the law of succession, and statistical
    inference. J Am Stat Assoc 22:209–212; Newcombe RG (1998). Two-sided confidence intervals
    for the single proportion: comparison of seven methods. Stat Med 17:857–872.
    """
    if n <= 0 or not 0 <= k <= n:
        raise ValueError("need 0 <= k <= n and n > 0")
    p = k / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return Proportion(k=k, n=n, rate=p, low=max(0.0, centre - half), high=min(1.0, centre + half))


def rms(values: Sequence[float]) -> float:
    """Root mean square: the SD of test–retest differences whose expected mean is 0."""
    if not values:
        raise ValueError("no values")
    return math.sqrt(statistics.fmean([v * v for v in values]))
