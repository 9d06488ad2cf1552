"""Scales as typed values (clinical-facts.md 5.2-5.5, 10 T5)."""

from __future__ import annotations

import pytest

from anagen.clinical import SCALES, ValidationError, list_scales, parse_scale, scales_for_diagnosis


def test_norwood_hamilton_values() -> None:
    assert SCALES["norwood_hamilton"].codes == (
        "I",
        "II",
        "IIa",
        "III",
        "IIIa",
        "III vertex",
        "IV",
        "IVa",
        "V",
        "Va",
        "VI",
        "VII",
    )


@pytest.mark.parametrize("text", ["III vertex", "iii-vertex", "III_Vertex", "  III  vertex "])
def test_norwood_spellings(text: str) -> None:
    value = parse_scale("norwood_hamilton", text)
    assert value.code == "III vertex"
    assert value.display == "Type III vertex"
    assert "vertex" in value.description


def test_other_scales() -> None:
    assert SCALES["ludwig"].codes == ("I", "II", "III")
    assert SCALES["sinclair"].codes == ("1", "2", "3", "4", "5")
    assert len(SCALES["savin"].codes) == 9
    assert parse_scale("sinclair", 3).code == "3"
    assert parse_scale("savin", "II-2").label == "Savin II-2"
    assert parse_scale("ludwig", "ii").code == "II"


@pytest.mark.parametrize(
    ("raw", "code"),
    [(2, "+2"), ("+2", "+2"), ("2", "+2"), (-3, "-3"), ("-3", "-3"), (0, "0"), ("+3", "+3")],
)
def test_t5_global_photo_scale(raw: object, code: str) -> None:
    value = parse_scale("global_photo_7", raw)
    assert value.code == code
    assert value.label.startswith(code)


def test_photo_scale_order_and_labels() -> None:
    values = [parse_scale("global_photo_7", n) for n in range(-3, 4)]
    assert values == sorted(values)
    assert values[0].label == "-3 greatly decreased"
    assert values[-1].label == "+3 greatly increased"


@pytest.mark.parametrize(
    ("scale", "value"),
    [
        ("norwood_hamilton", "VIII"),
        ("global_photo_7", 4),
        ("sinclair", 0),
        ("ludwig", True),
        ("ludwig", None),
        ("savin", "I-5"),
        ("nope", "I"),
    ],
)
def test_invalid_scale_values(scale: str, value: object) -> None:
    with pytest.raises(ValidationError):
        parse_scale(scale, value)


def test_scales_for_diagnosis() -> None:
    assert "norwood_hamilton" in scales_for_diagnosis("androgenetic_alopecia")
    assert {"ludwig", "sinclair", "savin"} <= set(scales_for_diagnosis("female_pattern_hair_loss"))
    assert scales_for_diagnosis("alopecia_areata")[0] == "salt"
    with pytest.raises(ValidationError):
        scales_for_diagnosis("baldness")


def test_list_scales_has_sources() -> None:
    scales = list_scales()
    assert {s["id"] for s in scales} == {*SCALES, "salt"}
    assert all(s["source"] for s in scales)
