"""Property tests for the kernel's invariants (issue 3)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from anagen.clinical import (
    CONDITIONS,
    PROCEDURES,
    PROTOCOLS,
    build_plan,
    rcf_from_rpm,
    rpm_from_rcf,
    salt_score,
    screen,
)
from anagen.clinical.bands import Band, bands_from_data, grade
from anagen.clinical.datafiles import load
from anagen.clinical.screening import _LEVELS, decide

radii = st.floats(min_value=1, max_value=50, allow_nan=False)
speeds = st.floats(min_value=100, max_value=20_000, allow_nan=False)
forces = st.floats(min_value=1, max_value=50_000, allow_nan=False)
percent = st.floats(min_value=0, max_value=100, allow_nan=False)


@given(radii, speeds)
def test_rpm_to_rcf_and_back(radius: float, rpm: float) -> None:
    assert abs(rpm_from_rcf(radius, rcf_from_rpm(radius, rpm)) - rpm) <= 1e-9 * rpm


@given(radii, forces)
def test_rcf_to_rpm_and_back(radius: float, g: float) -> None:
    assert abs(rcf_from_rpm(radius, rpm_from_rcf(radius, g)) - g) <= 1e-9 * g


@given(percent, percent, percent, percent)
def test_salt_in_range(vertex: float, posterior: float, right: float, left: float) -> None:
    result = salt_score(vertex, posterior, right, left)
    assert 0 <= result["salt"] <= 100
    assert result["band"] in {"S0", "S1", "S2", "S3", "S4", "S5"}


@given(st.lists(percent, min_size=4, max_size=4), st.integers(0, 3), percent)
def test_salt_is_monotone(losses: list[float], area: int, other: float) -> None:
    higher = list(losses)
    higher[area] = max(losses[area], other)
    low, high = salt_score(*losses), salt_score(*higher)
    assert low["salt"] <= high["salt"]
    assert low["band"] <= high["band"]  # S0 < S1 < ... sorts as text


# --- classification bands -----------------------------------------------------------------------

DATA = load("prp_classifications")
BAND_SETS: dict[str, tuple[tuple[Band, ...], float, float]] = {
    "depa.dose": (bands_from_data(DATA["depa"]["dose_billion"]), 0, 100),
    "depa.efficiency": (bands_from_data(DATA["depa"]["efficiency_pct"]), 0, 150),
    "depa.purity": (bands_from_data(DATA["depa"]["purity_pct"]), 0, 100),
    "paw.platelets": (bands_from_data(DATA["paw"]["platelets_above_baseline_per_uL"]), 0, 1e8),
    "salt": (bands_from_data(load("scales")["salt"]["bands"]), 0, 100),
}


def _edges(bands: tuple[Band, ...]) -> list[float]:
    edges = [e for b in bands for e in (b.above, b.from_, b.up_to, b.below) if e is not None]
    return [x for e in edges for x in (e, e - 1e-9, e + 1e-9)]


@given(st.data())
def test_bands_are_total_and_non_overlapping(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(BAND_SETS)))
    bands, low, high = BAND_SETS[name]
    value = data.draw(
        st.one_of(
            st.floats(low, high, allow_nan=False),
            st.sampled_from([x for x in _edges(bands) if low <= x <= high]),
        )
    )
    assert sum(band.contains(value) for band in bands) == 1, (name, value)
    assert grade(value, bands) in bands


# --- screening decision precedence ------------------------------------------------------------

DECISION_OF = {level: info["decision"] for level, info in _LEVELS.items()}
RANK = {info["decision"]: info["rank"] for info in _LEVELS.values()}


@given(st.lists(st.sampled_from(sorted(_LEVELS))))
def test_decide_picks_the_most_serious_level(levels: list[str]) -> None:
    decision = decide(levels)
    if not levels:
        assert decision == "eligible"
    else:
        assert decision == min((DECISION_OF[lv] for lv in levels), key=RANK.__getitem__)


dates = st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31))


@st.composite
def screening_docs(draw: st.DrawFn) -> dict[str, Any]:
    planned = draw(dates)
    meds = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "category": st.sampled_from(
                        [
                            "anticoagulant",
                            "antiplatelet",
                            "nsaid",
                            "aspirin",
                            "systemic_corticosteroid",
                            "other",
                        ]
                    ),
                    "prescribed": st.booleans(),
                },
                optional={
                    "last_dose_on": st.integers(0, 30).map(
                        lambda d: (planned - timedelta(days=d)).isoformat()
                    )
                },
            ),
            max_size=3,
        )
    )
    return {
        "procedure": draw(st.sampled_from(sorted(PROCEDURES))),
        "planned_on": planned.isoformat(),
        "patient": {"pregnant": draw(st.booleans()), "smoker": draw(st.booleans())},
        "diagnosis": {
            "code": draw(
                st.sampled_from(
                    ["androgenetic_alopecia", "alopecia_areata", "alopecia_totalis", "other"]
                )
            ),
            "follicles_present": draw(st.booleans()),
        },
        "conditions": draw(st.lists(st.sampled_from(sorted(CONDITIONS)), max_size=4)),
        "medications": meds,
        "labs": {
            "platelets_per_uL": draw(st.integers(1, 400_000)),  # 0 is impossible input
            "hemoglobin_g_dL": draw(st.floats(3, 20)),
        },
    }


@settings(max_examples=200)
@given(screening_docs())
def test_screen_decision_follows_its_findings(document: dict[str, Any]) -> None:
    result = screen(document)
    levels = [f["level"] for f in result["findings"]]
    assert result["decision"] == decide(levels)
    ranks = [_LEVELS[level]["rank"] for level in levels]
    assert ranks == sorted(ranks)  # findings ordered by severity
    absolute = {"platelet_dysfunction", "bleeding_disorder", "hemodynamic_instability", "sepsis"}
    if absolute & set(document["conditions"]):
        assert result["decision"] == "contraindicated"
    deferrals = [f for f in result["findings"] if f["level"] == "defer"]
    if result["earliest_on"] is not None:
        assert deferrals and result["earliest_on"] > document["planned_on"]
    for f in result["findings"]:
        if f["rule"] in {"anticoagulant_therapy", "antiplatelet_therapy"}:
            assert "consult the prescriber" in f["message"]


# --- plans ----------------------------------------------------------------------------------


@given(
    st.sampled_from(sorted(PROTOCOLS)),
    st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31)),
)
def test_plan_dates_inside_windows_and_increasing(protocol_id: str, start: date) -> None:
    plan = build_plan(protocol_id, start)
    sessions = [s for s in plan.sessions if s.kind != "maintenance"]
    assert sessions[0].target_on == start
    previous_latest = None
    for s in sessions:
        assert s.target_on is not None
        assert start <= s.earliest_on <= s.target_on <= s.latest_on
        if previous_latest is not None:
            assert previous_latest < s.earliest_on  # windows do not overlap
        previous_latest = s.latest_on
    targets = [s.target_on for s in sessions if s.target_on is not None]
    assert targets == sorted(set(targets))  # strictly increasing
    maintenance = [s for s in plan.sessions if s.kind == "maintenance"]
    for m in maintenance:
        assert previous_latest is not None and previous_latest < m.earliest_on <= m.latest_on
    assert [s.n for s in plan.sessions] == list(range(1, len(plan.sessions) + 1))
