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


MEDIAN_CI_REFERENCE = (
    "Conover WJ (1999). Practical Nonparametric Statistics, 3rd ed., section 3.2 (confidence "
    "interval for a quantile). Wiley; Campbell MJ, Gardner MJ (1988). Calculating confidence "
    "intervals for some non-parametric analyses. BMJ 296:1454–1456"
)

# Below this n the binomial tail is summed in exact integers (cheap); above it in floating point
# from log-probabilities, with an exact recount only when the tail lies within ``_TIE`` of 2.5 %.
_EXACT_UP_TO = 1000
_TIE = 1e-7


def _tail_exact(n: int, m: int) -> tuple[int, int]:
    """P(Binomial(n, ½) ≤ m) as the exact fraction (numerator, 2ⁿ)."""
    total = 0
    term = 1  # C(n, 0)
    for j in range(m + 1):
        total += term
        term = term * (n - j) // (j + 1)
    return total, 1 << n


def _tail_float(n: int, m: int) -> float:
    """P(Binomial(n, ½) ≤ m), summed from j = m downwards until the terms no longer count."""
    if m < 0:
        return 0.0
    if m >= n:
        return 1.0
    log_term = math.lgamma(n + 1) - math.lgamma(m + 1) - math.lgamma(n - m + 1) - n * math.log(2)
    term = math.exp(log_term)
    total = 0.0
    j = m
    while j >= 0 and term > 0.0:
        total += term
        if term < total * 1e-17:
            break
        term *= j / (n - j + 1)  # C(n, j-1) = C(n, j) × j / (n - j + 1)
        j -= 1
    return total


def _tail_at_most_2_5_pct(n: int, m: int) -> bool:
    """Whether P(Binomial(n, ½) ≤ m) ≤ 2.5 % (= 1/40), decided exactly."""
    if m < 0:
        return True
    if n > _EXACT_UP_TO:
        p = _tail_float(n, m)
        if abs(p - 0.025) > _TIE * 0.025:
            return p <= 0.025
    num, den = _tail_exact(n, m)  # small n, or too close to call in floating point
    return num * 40 <= den


def median_ci_rank(n: int) -> int:
    """The rank k of the distribution-free 95 % CI (x₍ₖ₎, x₍ₙ₋ₖ₊₁₎) of a median of n values.

    k is the largest rank with P(Binomial(n, ½) ≤ k-1) ≤ 2.5 %, so the interval covers the
    median with probability 1 - 2 P(B ≤ k-1) ≥ 95 %; 0 when even k = 1 does not reach it
    (n < 6). The rank starts at the normal approximation n/2 - 1.96 √n / 2 and moves by one
    until the exact binomial tail decides: a handful of tail sums of O(√n) terms each, instead
    of the O(n) big-integer terms of the whole tail the first version summed (~n^2.8 in all).
    Worked example: n = 10, P(B ≤ 1) = 11/1024 = 1.07 % ≤ 2.5 % < P(B ≤ 2) = 56/1024 = 5.47 %,
    so k = 2 and the CI is (x₍₂₎, x₍₉₎) (Conover 1999, section 3.2).
    """
    if n < 1:
        raise ValueError("need at least one value")
    k = max(0, int(n / 2 - 1.959964 * math.sqrt(n) / 2))
    # k is valid when the tail up to k-1 is small enough; then try k+1, else step down.
    while k > 0 and not _tail_at_most_2_5_pct(n, k - 1):
        k -= 1
    while k < n and _tail_at_most_2_5_pct(n, k):
        k += 1
    return k


def median_ci(values: Sequence[float]) -> MedianCI:
    """Median with a distribution-free 95 % CI from order statistics.

    The interval (x₍ₖ₎, x₍ₙ₋ₖ₊₁₎) uses the largest k with P(Binomial(n, ½) ≤ k-1) ≤ 0.025, so its
    coverage is at least 95 % (``median_ci_rank``; Conover 1999, section 3.2; Campbell and
    Gardner 1988). Fewer than 6 values cannot reach 95 % coverage: no interval. One sort, so
    O(n log n) in all.
    """
    n = len(values)
    if n == 0:
        raise ValueError("no values")
    ordered = sorted(values)
    median = statistics.median(ordered)
    k = median_ci_rank(n)
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
