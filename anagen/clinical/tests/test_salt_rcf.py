"""SALT and RCF worked examples (clinical-facts.md 2.4, 5.4, 10 T15-T16)."""

from __future__ import annotations

import pytest

from anagen.clinical import ValidationError, rcf_from_rpm, rcf_report, rpm_from_rcf, salt_score


def test_t15_salt_worked_example() -> None:
    assert salt_score(vertex=50, posterior=100, right=20, left=0) == {"salt": 47.6, "band": "S2"}


@pytest.mark.parametrize(
    ("losses", "salt", "band"),
    [
        ((0, 0, 0, 0), 0.0, "S0"),
        ((0, 0, 0, 1), 0.2, "S1"),
        ((0, 0, 0, 100), 18.0, "S1"),
        ((62.5, 0, 0, 0), 25.0, "S2"),
        ((100, 0, 0, 55.6), 50.0, "S3"),
        ((100, 100, 0, 61.2), 75.0, "S4"),
        ((100, 100, 100, 99), 99.8, "S4"),
        ((100, 100, 100, 100), 100.0, "S5"),
    ],
)
def test_salt_bands(losses: tuple[float, float, float, float], salt: float, band: str) -> None:
    assert salt_score(*losses) == {"salt": salt, "band": band}


def test_t8_salt_inputs_are_percentages() -> None:
    with pytest.raises(ValidationError) as caught:
        salt_score(50, 100.5, 0, 0)
    assert caught.value.field == "posterior"
    with pytest.raises(ValidationError):
        salt_score(-1, 0, 0, 0)
    with pytest.raises(ValidationError):
        salt_score(True, 0, 0, 0)


@pytest.mark.parametrize(
    ("radius", "rpm", "g"),
    [(10, 3000, 1006), (15, 3000, 1509), (8, 1500, 201), (8, 2500, 559)],
)
def test_t16_rcf_from_rpm(radius: float, rpm: float, g: int) -> None:
    assert round(rcf_from_rpm(radius, rpm)) == g
    assert rcf_report(radius, rpm=rpm) == {"rcf_g": g, "rpm": rpm}


@pytest.mark.parametrize(
    ("radius", "g", "rpm"), [(10, 100, 946), (10, 1600, 3783), (15, 1600, 3089)]
)
def test_t16_rpm_from_rcf(radius: float, g: float, rpm: int) -> None:
    assert round(rpm_from_rcf(radius, g)) == rpm
    assert rcf_report(radius, g=g) == {"rcf_g": g, "rpm": rpm}


def test_rcf_rejects_impossible_values() -> None:
    with pytest.raises(ValidationError) as caught:
        rcf_from_rpm(0, 3000)
    assert caught.value.field == "radius_cm"
    with pytest.raises(ValidationError):
        rpm_from_rcf(10, -5)
    with pytest.raises(ValidationError):
        rcf_report(10)
