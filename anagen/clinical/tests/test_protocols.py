"""Protocol library and series planning (issue 3; clinical-facts.md 3.1, 8, 10 T2)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from anagen.clinical import ValidationError, get_protocol, list_protocols, plan_series
from anagen.clinical.dates import add_months

REQUIRED = [
    "prp-aga-monthly-3",
    "prp-aga-2x2m",
    "prp-aa-3x2m",
    "prp-aa-monthly-3",
    "prp-cicatricial-3x2m",
    "prp-aga-monthly-3-booster",
]


def test_required_protocols_are_built_in() -> None:
    ids = [p["id"] for p in list_protocols()]
    assert set(REQUIRED) <= set(ids)
    meso = [p for p in list_protocols() if p["kind"] == "mesotherapy"]
    assert {p["procedure"] for p in meso} >= {"mesotherapy_scalp", "mesotherapy_face"}


@pytest.mark.parametrize("protocol", list_protocols(), ids=lambda p: p["id"])
def test_every_protocol_states_its_terms(protocol: dict) -> None:
    for key in (
        "indications",
        "session_count",
        "interval",
        "tolerance_days",
        "maintenance",
        "session_minutes",
        "anaesthetic_cream_minutes",
        "source",
        "procedure",
    ):
        assert key in protocol, key
    assert protocol["source"]
    assert protocol["session_minutes"] == 75 and protocol["anaesthetic_cream_minutes"] == 45


@pytest.mark.parametrize(
    ("protocol_id", "sessions", "tolerance", "maintenance"),
    [
        ("prp-aga-monthly-3", 3, 7, (3, 6)),
        ("prp-aga-2x2m", 2, 14, (6, 12)),
        ("prp-aa-3x2m", 3, 14, None),
        ("prp-aa-monthly-3", 3, 7, None),
        ("prp-cicatricial-3x2m", 3, 14, None),
        ("prp-aga-monthly-3-booster", 4, 7, (3, 6)),
    ],
)
def test_protocol_terms(
    protocol_id: str, sessions: int, tolerance: int, maintenance: tuple[int, int] | None
) -> None:
    protocol = get_protocol(protocol_id)
    assert protocol["session_count"] == sessions
    assert protocol["tolerance_days"] == tolerance
    got = protocol["maintenance"]
    assert (got["min_months"], got["max_months"]) == maintenance if maintenance else got is None


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2026, 1, 31), 2, date(2026, 3, 31)),
        (date(2026, 11, 30), 3, date(2027, 2, 28)),
        (date(2026, 12, 15), 1, date(2027, 1, 15)),
        (date(2026, 3, 31), -1, date(2026, 2, 28)),
    ],
)
def test_calendar_month_arithmetic(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


def test_monthly_plan_does_not_drift_after_clamping() -> None:
    plan = plan_series("prp-aga-monthly-3", date(2026, 1, 31))
    assert plan["protocol"] == "prp-aga-monthly-3"
    targets = [s["target_on"] for s in plan["sessions"] if s["kind"] == "induction"]
    assert targets == ["2026-01-31", "2026-02-28", "2026-03-31"]  # not 03-28
    second = plan["sessions"][1]
    assert (second["earliest_on"], second["latest_on"]) == ("2026-02-21", "2026-03-07")
    maintenance = plan["sessions"][-1]
    assert maintenance["kind"] == "maintenance"
    assert (maintenance["earliest_on"], maintenance["latest_on"]) == ("2026-06-30", "2026-09-30")


def test_t2_booster_at_month_five() -> None:
    plan = plan_series("prp-aga-monthly-3-booster", date(2026, 11, 21))
    assert [(s["n"], s["kind"], s["target_on"]) for s in plan["sessions"][:4]] == [
        (1, "induction", "2026-11-21"),
        (2, "induction", "2026-12-21"),
        (3, "induction", "2027-01-21"),
        (4, "booster", "2027-04-21"),
    ]


def test_two_monthly_window_is_fourteen_days() -> None:
    plan = plan_series("prp-aga-2x2m", "2026-11-21")
    second = plan["sessions"][1]
    assert second["target_on"] == "2027-01-21"
    assert (second["earliest_on"], second["latest_on"]) == ("2027-01-07", "2027-02-04")
    assert plan["sessions"][2] == {
        "n": 3,
        "kind": "maintenance",
        "target_on": None,
        "earliest_on": "2027-07-21",
        "latest_on": "2028-01-21",
    }


def test_four_weekly_aa_protocol_and_no_maintenance() -> None:
    plan = plan_series("prp-aa-monthly-3", date(2026, 11, 21))
    assert [s["target_on"] for s in plan["sessions"]] == ["2026-11-21", "2026-12-19", "2027-01-16"]


def test_first_session_window_never_before_start() -> None:
    first = plan_series("prp-aga-monthly-3", date(2026, 11, 21))["sessions"][0]
    assert first["earliest_on"] == "2026-11-21" and first["latest_on"] == "2026-11-28"


def test_plan_errors() -> None:
    with pytest.raises(ValidationError) as caught:
        plan_series("prp-unknown", date(2026, 1, 1))
    assert caught.value.field == "protocol"
    with pytest.raises(ValidationError) as caught:
        plan_series("prp-aga-monthly-3", "2026-13-01")
    assert caught.value.field == "start"
    with pytest.raises(ValidationError):
        plan_series("prp-aga-monthly-3", datetime(2026, 1, 1, 12, 0))  # type: ignore[arg-type]
