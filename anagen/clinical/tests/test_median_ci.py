"""The median's distribution-free 95 % CI by order statistics (binomial ranks), worked examples.

Method (Conover 1999, section 3.2; Campbell and Gardner 1988): sort the n values; the CI is
(x₍ₖ₎, x₍ₙ₋ₖ₊₁₎) with k the largest rank such that P(Binomial(n, ½) ≤ k-1) ≤ 2.5 %. The rank is
found from the normal approximation and settled by the exact binomial tail, so the figures are
the same as the first version's (which summed the whole tail in big integers) at every n.
"""

from __future__ import annotations

import math

import pytest

from anagen.clinical.cohort_stats import MEDIAN_CI_REFERENCE, median_ci, median_ci_rank


def _rank_by_full_tail(n: int) -> int:
    """The definition, counted in exact integers over the whole tail (the old way)."""
    k, total = 0, 0
    for j in range(n + 1):
        total += math.comb(n, j)
        if total * 40 > 2**n:
            break
        k = j + 1
    return k


def test_worked_example_n_100() -> None:
    # Σ C(100, j) for j ≤ 39 = 22,310,777,467,063,680,597,071,392,880 and 2¹⁰⁰ / 40 =
    # 31,691,265,005,705,735,037,417,580,134: P(B ≤ 39) = 1.76 % ≤ 2.5 %; with j = 40 the sum
    # is 36,057,011,612,866,492,098,338,762,600: P(B ≤ 40) = 2.84 % > 2.5 %. So k = 40 and the
    # CI of 1, 2, …, 100 is (x₍₄₀₎, x₍₆₁₎) = (40, 61), median 50.5.
    assert median_ci_rank(100) == 40
    ci = median_ci(list(range(1, 101)))
    assert (ci.median, ci.low, ci.high) == (50.5, 40, 61)


def test_small_n_ranks() -> None:
    assert [median_ci_rank(n) for n in range(1, 11)] == [0, 0, 0, 0, 0, 1, 1, 1, 2, 2]
    # n = 1001: P(B ≤ 469) = 2.4992 % (just under), P(B ≤ 470) = 2.89 %: k = 470.
    assert median_ci_rank(1001) == 470


@pytest.mark.parametrize("n", [*range(1, 400), 999, 1000, 1001, 1002, 1500, 2048, 3001])
def test_same_rank_as_the_full_tail(n: int) -> None:
    assert median_ci_rank(n) == _rank_by_full_tail(n)


def test_large_cohorts_need_no_full_tail() -> None:
    # 100,000 changes: the normal approximation 50,000 - 0.98 × 316.2 = 49,690.1 and the
    # exact tail agree on k = 49,690; the CI of 1…n is (x₍₄₉₆₉₀₎, x₍₅₀₃₁₁₎).
    assert median_ci_rank(100_000) == 49_690
    ci = median_ci(list(range(1, 100_001)))
    assert (ci.low, ci.high) == (49_690, 50_311)
    assert "Conover WJ (1999)" in MEDIAN_CI_REFERENCE
