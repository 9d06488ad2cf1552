"""Outcome arithmetic (clinical-facts.md 5.1, 6, 10 T1-T9; hair-imaging.md MDC)."""

from __future__ import annotations

import datetime as dt

import pytest

from anagen.clinical import (
    RESPONDER_RULES,
    UNCONTROLLED_NOTE,
    Density,
    HairCount,
    ValidationError,
    category_percentages,
    change,
    count_change,
    density_change,
    follow_up_window,
    is_detectable,
    is_responder,
    mdc95,
    needs_mdc,
    per_cm2_to_per_inch2,
    per_inch2_to_per_cm2,
    percent_change,
    reduction_pct,
    rule_text,
    sem_from_icc,
    sem_from_retest_differences,
)
from anagen.clinical.datafiles import load
from anagen.clinical.measurement_error import sem_from_cv


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


def test_beyond_measurement_error_is_strictly_greater() -> None:
    # clinical-facts 13: "beyond measurement error" only when strictly greater than the MDC.
    assert not is_detectable(0, 0)  # no change against an MDC of 0 is not a change
    assert not is_detectable(19.6, 19.6) and not is_detectable(-19.6, 19.6)
    assert is_detectable(19.61, 19.6) and is_detectable(-19.61, 19.6)


def test_responder_rules() -> None:
    assert is_responder("global_photo_plus1", 0, 1)
    assert not is_responder("global_photo_plus2", 0, 1)
    assert is_responder("salt90", 50, 5)
    with pytest.raises(ValidationError):
        is_responder("miracle", 1, 2)


def test_density_responder_threshold_is_at_or_above_the_mdc() -> None:
    # Phototrichogram default CV 5 % (measurement_error.json) at a baseline of 150 hairs/cm²:
    # SEM 7.5, MDC95 = 1.96 × √2 × 7.5 = 20.79 hairs/cm² = 13.86 % — the rule's 15 % is above it.
    rule = "density_increase_15pct"
    mdc = mdc95(sem_from_cv(5.0, 150))
    assert mdc / 150 * 100 == pytest.approx(13.86, abs=0.01)
    assert float(RESPONDER_RULES[rule]["threshold"]) >= mdc / 150 * 100
    assert needs_mdc(rule)
    assert is_responder(rule, 150, 172.5, mdc=mdc)  # +15.0 %, +22.5 > 20.79
    assert not is_responder(rule, 150, 172.4, mdc=mdc)  # +14.93 %
    # A manual count (CV 8 %): MDC95 = 2.772 × 12 = 33.26 hairs/cm²; +16.7 % is within it.
    manual = mdc95(sem_from_cv(8.0, 150))
    assert manual == pytest.approx(33.26, abs=0.01)
    assert not is_responder(rule, 150, 175, mdc=manual)
    assert is_responder(rule, 150, 183.3, mdc=manual)
    # A fall is never a response, and the rule cannot be applied without the MDC.
    assert not is_responder(rule, 150, 100, mdc=mdc)
    with pytest.raises(ValidationError) as caught:
        is_responder(rule, 150, 180)
    assert caught.value.field == "mdc"


@pytest.mark.parametrize("method", sorted(load("measurement_error")["cv_pct"]))
def test_every_beyond_mdc_rule_clears_each_methods_mdc(method: str) -> None:
    # Whatever the method, the effective threshold is max(threshold, MDC): never below the MDC.
    cv = float(load("measurement_error")["cv_pct"][method])
    mdc = mdc95(sem_from_cv(cv, 100))  # at a baseline of 100, MDC in hairs = MDC in %
    for rule_id, rule in RESPONDER_RULES.items():
        if rule["measure"] == "density_per_cm2":
            assert rule["beyond_mdc"], rule_id
            assert not is_responder(rule_id, 100, 100 + mdc, mdc=mdc)  # equal is not beyond


def test_every_responder_rule_states_its_follow_up_interval() -> None:
    for rule_id, rule in RESPONDER_RULES.items():
        window = follow_up_window(rule_id)
        assert window.earliest_months <= window.months <= window.latest_months, rule_id
        assert rule["follow_up"]["source"] and rule["follow_up_reference"]["title"], rule_id
        assert f"{window.months} months" in rule_text(rule_id)
    # Hausauer & Jones 2018 measured hair count at 6 months (clinical-facts 10 T2).
    density = follow_up_window("density_increase_15pct")
    assert (density.months, density.earliest_months, density.latest_months) == (6, 5, 7)
    base = dt.date(2025, 3, 31)
    assert density.contains(base, dt.date(2025, 9, 30))
    assert density.contains(base, dt.date(2025, 8, 31))  # 5 calendar months (clamped to the 31st)
    assert not density.contains(base, dt.date(2025, 8, 30))
    assert not density.contains(base, dt.date(2025, 11, 1))
    # Dhurat 2013 rated global photographs at week 12 (clinical-facts 10 T5).
    assert follow_up_window("global_photo_plus2").months == 3
    assert rule_text("density_increase_15pct") == (
        "Density up by at least 15 % from baseline and beyond measurement error, "
        "judged at 6 months after the baseline (a follow-up from 5 to 7 months)"
    )


def test_uncontrolled_note_names_the_missing_control_group() -> None:
    assert "no control group" in UNCONTROLLED_NOTE
    assert "14 to 28 hairs/cm²" in UNCONTROLLED_NOTE  # Giordano 2018; Kieling 2024 (facts 6)
