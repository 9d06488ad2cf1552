"""Outcome arithmetic (clinical-facts.md 5.1, 6, 10 T1-T9; hair-imaging.md MDC)."""

from __future__ import annotations

import pytest

from anagen.clinical import (
    Density,
    HairCount,
    ValidationError,
    category_percentages,
    change,
    count_change,
    density_change,
    is_detectable,
    is_responder,
    mdc95,
    per_cm2_to_per_inch2,
    per_inch2_to_per_cm2,
    percent_change,
    reduction_pct,
    sem_from_icc,
    sem_from_retest_differences,
)


def test_t1_georgescu_change_from_baseline() -> None:
    result = density_change(Density(141.9), Density(177.5))
    assert result.absolute == 35.6
    assert result.percent == 25.09


def test_t2_hausauer_percent_change() -> None:
    assert percent_change(100, 129.6) == 29.6
    assert change(100, 107.2).percent == 7.2


def test_t3_t4_count_and_density_stay_apart() -> None:
    # Gentile 2015: +33.6 hairs in the target area and +45.9 hairs/cm2 are different measures.
    before, after = HairCount(100, area_cm2=0.73), HairCount(133.6, area_cm2=0.73)
    assert count_change(before, after).absolute == 33.6
    assert round(after.density_per_cm2, 1) == 183.0
    assert isinstance(after.density, Density)
    with pytest.raises(ValidationError):
        count_change(before, HairCount(120, area_cm2=1.0))
    with pytest.raises(ValidationError):
        density_change(before, after)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        count_change(Density(1), Density(2))  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        HairCount(10, area_cm2=0)


def test_t6_kumar_inch2_to_cm2() -> None:
    assert per_inch2_to_per_cm2(12.52) == 1.94
    assert per_inch2_to_per_cm2(1.89) == 0.29
    assert per_cm2_to_per_inch2(1) == 6.45
    assert Density.from_per_inch2(6.4516).per_cm2 == pytest.approx(1.0)
    assert Density(1).per_inch2 == pytest.approx(6.4516)


def test_t8_kelleci_salt_reduction() -> None:
    assert reduction_pct(6.82, 4.35) == 36.2
    assert not is_responder("salt50", 6.82, 4.35)
    assert is_responder("salt_at_most_20", 6.82, 4.35)


def test_t9_yepuri_tallies() -> None:
    tallies = {"excellent": 2, "very_good": 26, "good": 21, "fair": 7, "none": 4}
    assert category_percentages(tallies) == {
        "excellent": 3.3,
        "very_good": 43.3,
        "good": 35.0,
        "fair": 11.7,
        "none": 6.7,
    }
    with pytest.raises(ValidationError):
        category_percentages({"a": -1})


def test_percent_change_needs_a_baseline() -> None:
    with pytest.raises(ValidationError) as caught:
        percent_change(0, 10)
    assert caught.value.field == "baseline"


def test_mdc() -> None:
    assert mdc95(1) == pytest.approx(2.772, abs=1e-3)
    assert round(mdc95(5)) == 14  # hair-imaging.md: 5 % test-retest CV -> MDC about 14 %
    assert sem_from_icc(10, 0.91) == pytest.approx(3.0)
    assert sem_from_retest_differences(2**0.5) == pytest.approx(1.0)
    assert is_detectable(15, mdc95(5)) and not is_detectable(-10, mdc95(5))
    with pytest.raises(ValidationError):
        sem_from_icc(10, 1.5)


def test_responder_rules() -> None:
    assert is_responder("global_photo_plus1", 0, 1)
    assert not is_responder("global_photo_plus2", 0, 1)
    assert is_responder("salt90", 50, 5)
    assert is_responder("density_increase_10pct", 150, 165)
    assert not is_responder("density_increase_10pct", 150, 164.9)
    with pytest.raises(ValidationError):
        is_responder("miracle", 1, 2)
