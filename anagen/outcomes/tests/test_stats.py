"""Worked examples for the cohort statistics (hand-computed)."""

import math

import pytest

from anagen.outcomes import stats


def test_t_table_values_and_interpolation():
    assert stats.t_critical_95(1) == 12.706
    assert stats.t_critical_95(2) == 4.303
    assert stats.t_critical_95(30) == 2.042
    # 35 df lies between 30 (2.042) and 40 (2.021), interpolated in 1/df:
    # frac = (1/30 - 1/35) / (1/30 - 1/40) = 0.5714…; 2.042 - 0.021 × 0.5714 = 2.0300
    assert stats.t_critical_95(35) == pytest.approx(2.0300, abs=1e-4)
    assert stats.t_critical_95(10_000) == pytest.approx(1.960, abs=0.001)
    with pytest.raises(ValueError):
        stats.t_critical_95(0)


def test_mean_ci_worked_example():
    # 10, 20, 30: mean 20, SD 10, t(2) = 4.303, half-width 4.303 × 10 / √3 = 24.843
    ci = stats.mean_ci([10, 20, 30])
    assert ci.mean == 20 and ci.sd == 10
    assert ci.low == pytest.approx(-4.843, abs=1e-3)
    assert ci.high == pytest.approx(44.843, abs=1e-3)
    single = stats.mean_ci([5])
    assert single.low is None and single.sd is None


def test_median_ci_order_statistics():
    # n = 10: P(Bin(10, ½) ≤ 1) = 11/1024 ≤ 0.025 < P(≤ 2): the CI is (x₂, x₉).
    values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    ci = stats.median_ci(values)
    assert (ci.median, ci.low, ci.high) == (5.5, 2, 9)
    assert stats.median_ci([1, 2, 3, 4, 5]).low is None  # n < 6 cannot reach 95 %


def test_wilson_interval_worked_example():
    # 8 of 10: centre (0.8 + 1.9208/10) / 1.38416 = 0.71674, half-width 0.22658
    p = stats.wilson_ci(8, 10)
    assert p.rate == 0.8
    assert p.low == pytest.approx(0.4902, abs=1e-4)
    assert p.high == pytest.approx(0.9433, abs=1e-4)
    assert stats.wilson_ci(0, 5).low == 0.0
    with pytest.raises(ValueError):
        stats.wilson_ci(3, 2)


def test_rms():
    assert stats.rms([3, -4]) == pytest.approx(math.sqrt(12.5))
