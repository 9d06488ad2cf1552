"""Cohort statistics, measurement error and cohort bands: worked examples (hand-computed)."""

from __future__ import annotations

import datetime as dt
import itertools
import math

import pytest

from anagen.clinical import RESPONDER_RULES, mdc95
from anagen.clinical.cohort_stats import (
    mean_ci,
    median_ci,
    rms,
    t_critical_95,
    t_table_reference,
    wilson_ci,
)
from anagen.clinical.cohorts import (
    DIMENSIONS,
    age_band,
    dimension_reference,
    group_label,
    missing_code,
    preparation_bands,
)
from anagen.clinical.datafiles import load
from anagen.clinical.measurement_error import (
    error_estimate,
    mdc_reference,
    method_error,
    sem_from_cv,
    sem_from_repeats,
)
from anagen.clinical.references import format_reference

# --- t table, mean, median, proportion -----------------------------------------------------------


def test_t_table_values_and_interpolation() -> None:
    assert t_critical_95(1) == 12.706
    assert t_critical_95(2) == 4.303
    assert t_critical_95(30) == 2.042
    assert t_critical_95(120) == 1.980
    # 35 df lies between 30 (2.042) and 40 (2.021), interpolated in 1/df:
    # frac = (1/30 - 1/35) / (1/30 - 1/40) = 0.5714…; 2.042 - 0.021 × 0.5714 = 2.0300
    assert t_critical_95(35) == pytest.approx(2.0300, abs=1e-4)
    # 240 df: 1.960 + (1.980 - 1.960) × 120/240 = 1.970
    assert t_critical_95(240) == pytest.approx(1.970, abs=1e-9)
    assert t_critical_95(10_000) == pytest.approx(1.960, abs=0.001)
    with pytest.raises(ValueError):
        t_critical_95(0)


def test_t_values_fall_as_df_grows() -> None:
    values = [t_critical_95(df) for df in range(1, 300)]
    assert all(a >= b for a, b in itertools.pairwise(values))
    assert values[-1] > 1.96


def test_mean_ci_worked_example() -> None:
    # 10, 20, 30: mean 20, SD 10, t(2) = 4.303, half-width 4.303 × 10 / √3 = 24.843
    ci = mean_ci([10, 20, 30])
    assert ci.mean == 20 and ci.sd == 10
    assert ci.low == pytest.approx(-4.843, abs=1e-3)
    assert ci.high == pytest.approx(44.843, abs=1e-3)
    single = mean_ci([5])
    assert single.low is None and single.sd is None
    with pytest.raises(ValueError):
        mean_ci([])


def test_mean_ci_of_density_changes() -> None:
    # Changes +35.6, +20.0, +14.4 hairs/cm²: mean 23.333, SD √(241.39/2) = 10.986,
    # t(2) 4.303 → half-width 4.303 × 10.986 / √3 = 27.294
    ci = mean_ci([35.6, 20.0, 14.4])
    assert ci.mean == pytest.approx(23.333, abs=1e-3)
    assert ci.sd == pytest.approx(10.986, abs=1e-3)
    assert ci.high is not None
    assert ci.high - ci.mean == pytest.approx(27.294, abs=1e-3)


def test_median_ci_order_statistics() -> None:
    # n = 10: P(Bin(10, ½) ≤ 1) = 11/1024 ≤ 0.025 < P(≤ 2) = 56/1024: the CI is (x₂, x₉).
    values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    ci = median_ci(values)
    assert (ci.median, ci.low, ci.high) == (5.5, 2, 9)
    # n = 6: P(Bin(6, ½) = 0) = 1/64 = 0.0156 ≤ 0.025: the CI is (x₁, x₆), the range.
    assert median_ci([6, 1, 5, 2, 4, 3]) == median_ci([1, 2, 3, 4, 5, 6])
    assert (median_ci([1, 2, 3, 4, 5, 6]).low, median_ci([1, 2, 3, 4, 5, 6]).high) == (1, 6)
    assert median_ci([1, 2, 3, 4, 5]).low is None  # n < 6 cannot reach 95 %


def test_wilson_interval_worked_example() -> None:
    # 8 of 10: centre (0.8 + 1.9208/10) / 1.38416 = 0.71674, half-width 0.22658
    p = wilson_ci(8, 10)
    assert p.rate == 0.8
    assert p.low == pytest.approx(0.4902, abs=1e-4)
    assert p.high == pytest.approx(0.9433, abs=1e-4)
    # 0 of 5 stays inside [0, 1]: upper bound 3.8416/5 / (1 + 3.8416/5) = 0.4345
    zero = wilson_ci(0, 5)
    assert zero.low == 0.0
    assert zero.high == pytest.approx(0.4345, abs=1e-4)
    assert wilson_ci(5, 5).high == 1.0
    with pytest.raises(ValueError):
        wilson_ci(3, 2)
    with pytest.raises(ValueError):
        wilson_ci(0, 0)


def test_rms() -> None:
    assert rms([3, -4]) == pytest.approx(math.sqrt(12.5))
    with pytest.raises(ValueError):
        rms([])


# --- measurement error ---------------------------------------------------------------------------


def test_method_error_defaults_with_references() -> None:
    error = method_error("phototrichogram")
    assert error is not None and error.cv_pct == 5.0
    assert "Yonsei" in error.reference
    device = method_error("imported_device")
    assert device is not None
    assert device.reference.startswith("Hoffmann R (2005). TrichoScan")
    assert method_error("not_a_method") is None
    for method in load("measurement_error")["cv_pct"]:
        found = method_error(method)
        assert found is not None and found.reference
        assert ".md" not in found.reference


def test_sem_and_mdc_from_the_default_cv() -> None:
    # 5 % of 150 hairs/cm² = SEM 7.5; MDC95 = 1.96 × √2 × 7.5 = 20.79
    sem = sem_from_cv(5.0, 150)
    assert sem == pytest.approx(7.5)
    assert mdc95(sem) == pytest.approx(20.789, abs=1e-3)


def test_sem_from_baseline_repeats() -> None:
    # Repeats 150, 156, 153: differences +6, -3; RMS √((36 + 9)/2) = 4.743; SEM = 4.743/√2 = 3.354
    assert sem_from_repeats([150, 156, 153]) == pytest.approx(3.354, abs=1e-3)
    with pytest.raises(ValueError):
        sem_from_repeats([150])


def test_mdc_never_falls_below_the_methods_error() -> None:
    # clinical-facts 13. Two identical baselines (150, 150): own SEM 0 → MDC 0 before; now the
    # phototrichogram default (CV 5 %): SEM 7.5, MDC95 20.79 — "no change" stays within error.
    same = error_estimate(method="phototrichogram", baseline=150, repeats=[150, 150], relative=True)
    assert same is not None and same.own == 0 and same.floored
    assert same.mdc == pytest.approx(20.789, abs=1e-3)
    # One pair 150/151: own SEM = 1/√2, MDC 1.96 — floored at 5 % of 150.5: SEM 7.525, MDC 20.86.
    pair = error_estimate(
        method="phototrichogram", baseline=150.5, repeats=[150, 151], relative=True
    )
    assert pair is not None and pair.own is not None and pair.own == pytest.approx(2**-0.5)
    assert mdc95(pair.own) == pytest.approx(1.96)
    assert pair.mdc == pytest.approx(20.858, abs=1e-3)
    # Repeats that vary more than the method's error widen the MDC: 140, 160 → SEM 14.14, MDC 39.2.
    wide = error_estimate(method="phototrichogram", baseline=150, repeats=[140, 160], relative=True)
    assert wide is not None and not wide.floored and wide.mdc == pytest.approx(39.2)
    # One baseline: the method's default alone.
    one = error_estimate(method="manual_count", baseline=150, repeats=[150], relative=True)
    assert one is not None and one.own is None and one.mdc == pytest.approx(33.26, abs=1e-2)
    # A measure with no method error (SALT): identical repeats judge nothing; none known → None.
    assert (
        error_estimate(method="manual_count", baseline=30, repeats=[30, 30], relative=False) is None
    )
    assert error_estimate(method="manual_count", baseline=30, repeats=[30], relative=False) is None
    salt = error_estimate(method="manual_count", baseline=31, repeats=[30, 32], relative=False)
    assert salt is not None and salt.mdc == pytest.approx(3.92)


def test_mdc_reference() -> None:
    assert mdc_reference().startswith("Weir JP (2005). Quantifying test-retest reliability")


# --- cohorts ---------------------------------------------------------------------------------


def test_age_bands() -> None:
    born = dt.date(1990, 6, 15)
    assert age_band(born, dt.date(2020, 6, 14)) == "under_30"  # 29 the day before
    assert age_band(born, dt.date(2020, 6, 15)) == "30_39"
    assert age_band(born, dt.date(2040, 6, 15)) == "50_59"
    assert age_band(born, dt.date(2050, 6, 15)) == "60_plus"
    assert group_label("age_band", "30_39") == "30–39"
    assert group_label("age_band", "60_plus") == "60 and over"


def test_preparation_bands() -> None:
    assert preparation_bands(
        spins=2, activation_agent="calcium_chloride", depa_dose="B", mishra_concentration="A"
    ) == {
        "spin": "double",
        "activated": "activated",
        "dose_band": "depa_b",
        "fold_band": "fold_5_or_more",
    }
    assert preparation_bands(
        spins=1, activation_agent="none", depa_dose=None, mishra_concentration="B"
    ) == {"spin": "single", "activated": "not_activated", "fold_band": "fold_under_5"}
    assert "spin" not in preparation_bands(
        spins=0, activation_agent="", depa_dose=None, mishra_concentration=None
    )


@pytest.mark.parametrize(
    ("dimension", "code", "label"),
    [
        ("diagnosis", "alopecia_areata", "Alopecia areata"),
        ("diagnosis", "not_assessed", "Not assessed"),
        ("sex", "female", "Female"),
        ("spin", "double", "Double spin (two or more)"),
        ("dose_band", "depa_a", "DEPA dose A: very high (over 5 billion platelets)"),
        ("fold_band", "fold_under_5", "Under 5× baseline (Mishra B)"),
        ("protocol", "no_plan", "No treatment plan"),
        ("protocol", "retired_protocol_x", "Retired protocol x"),
    ],
)
def test_group_labels_are_words(dimension: str, code: str, label: str) -> None:
    assert group_label(dimension, code) == label


def test_every_dimension_has_a_missing_code_and_protocol_labels_are_names() -> None:
    from anagen.clinical import PROTOCOLS

    for dimension in DIMENSIONS:
        assert missing_code(dimension)
    for protocol_id, protocol in PROTOCOLS.items():
        assert group_label("protocol", protocol_id) == protocol.name
    assert dimension_reference("dose_band").startswith("Magalon J et al. (2016). DEPA")


# --- references ---------------------------------------------------------------------------------


def test_format_reference() -> None:
    assert (
        format_reference(
            {
                "authors": "Wilson EB",
                "year": 1927,
                "title": "Probable inference.",
                "published": "JASA",
            }
        )
        == "Wilson EB (1927). Probable inference. JASA."
    )
    assert format_reference({"authors": "Alopecia UK", "year": None, "title": "T"}) == (
        "Alopecia UK. T."
    )
    assert format_reference(None) == ""
    assert t_table_reference().startswith("NIST/SEMATECH (2012)")


def test_every_responder_rule_has_a_reference() -> None:
    for rule in RESPONDER_RULES.values():
        text = format_reference(rule["reference"])
        assert text and ".md" not in text, rule["id"]
