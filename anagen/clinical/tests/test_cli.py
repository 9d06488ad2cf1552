"""Every CLI verb through a real subprocess: JSON on stdout and exit 0, or one line and exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from anagen.clinical.cli import main


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed interpreter and module, test-controlled args
        [sys.executable, "-m", "anagen", "clinical", *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )


def ok(*args: str, stdin: str | None = None) -> Any:
    done = run(*args, stdin=stdin)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return json.loads(done.stdout)


def fails(*args: str, stdin: str | None = None) -> str:
    done = run(*args, stdin=stdin)
    assert done.returncode == 2, done.stdout
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


SCREEN = {
    "procedure": "prp_scalp",
    "planned_on": "2026-11-21",
    "medications": [
        {
            "category": "nsaid",
            "name": "ibuprofen",
            "last_dose_on": "2026-11-20",
            "prescribed": False,
        }
    ],
}
PRP = {
    "platelets_per_uL": 200000,
    "wbc_per_uL": 6000,
    "blood_volume_mL": 10,
    "spins": [{"rpm": 3000, "radius_cm": 10, "minutes": 10}],
    "prp": {"platelets_per_uL": 1000000, "wbc_per_uL": 1000, "volume_mL": 2},
    "injected_volume_mL": 2,
}


def test_screen_from_file(tmp_path: Path) -> None:
    path = tmp_path / "screen.json"
    path.write_text(json.dumps(SCREEN))
    result = ok("screen", str(path))
    assert result["decision"] == "defer"
    assert result["earliest_on"] == "2026-11-27"
    assert result["findings"][0]["rule"] == "nsaid_washout"


def test_screen_from_stdin() -> None:
    assert ok("screen", "-", stdin=json.dumps(SCREEN))["ruleset"].startswith(
        "anagen-prp-screening@"
    )


def test_prp_from_stdin() -> None:
    result = ok("prp", "-", stdin=json.dumps(PRP))
    assert result["fold"] == 5.0
    assert result["spins"][0]["rcf_g"] == 1006
    assert result["dose_billion"] == 2.0
    assert result["mishra"]["code"] == "3A"
    assert result["paw"]["code"] == "P3-B"


def test_prp_grades_raw_values_and_withholds_impossible_ones() -> None:
    # 999,000/200,000 = 4.995x: printed as 5 but Mishra B (issue 10, point 6).
    raw = {**PRP, "prp": {**PRP["prp"], "platelets_per_uL": 999000}}  # type: ignore[dict-item]
    result = ok("prp", "-", stdin=json.dumps(raw))
    assert result["fold"] == 5.0 and result["mishra"]["code"] == "3B"
    # An impossible count: exit 0, no grade, a warning naming it.
    result = ok("prp", "-", stdin=json.dumps({**PRP, "platelets_per_uL": 5000000}))
    assert result["paw"]["code"] is None and result["depa"]["dose"] is None
    assert any(
        w["code"] == "impossible_value" and "5 000 000/µL" in w["message"]
        for w in result["warnings"]
    )
    # A negative count is an input error: exit 2, one line naming the field.
    negative = {**PRP, "prp": {**PRP["prp"], "platelets_per_uL": -1}}  # type: ignore[dict-item]
    assert "prp.platelets_per_uL" in fails("prp", "-", stdin=json.dumps(negative))


def test_salt() -> None:
    assert ok("salt", "--vertex", "50", "--posterior", "100", "--right", "20", "--left", "0") == {
        "salt": 47.6,
        "band": "S2",
    }


def test_rcf_both_ways() -> None:
    assert ok("rcf", "--radius-cm", "10", "--rpm", "3000") == {"rcf_g": 1006, "rpm": 3000}
    assert ok("rcf", "--radius-cm", "15", "--g", "1600") == {"rcf_g": 1600, "rpm": 3089}


def test_protocols_and_plan() -> None:
    ids = [p["id"] for p in ok("protocols")["protocols"]]
    assert "prp-aga-monthly-3" in ids
    plan = ok("plan", "--protocol", "prp-aga-monthly-3", "--start", "2026-01-31")
    assert plan["protocol"] == "prp-aga-monthly-3"
    assert [s["target_on"] for s in plan["sessions"][:3]] == [
        "2026-01-31",
        "2026-02-28",
        "2026-03-31",
    ]
    assert plan["sessions"][-1]["kind"] == "maintenance"


def test_installed_console_script_is_the_same_command() -> None:
    script = Path(sys.executable).with_name("anagen")
    if not script.exists():
        pytest.skip("anagen console script not installed in this environment")
    done = subprocess.run(  # noqa: S603
        [str(script), "clinical", "rcf", "--radius-cm", "10", "--rpm", "3000"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and json.loads(done.stdout) == {"rcf_g": 1006, "rpm": 3000}


@pytest.mark.parametrize(
    ("args", "stdin", "expected"),
    [
        (("screen", "-"), '{"procedure": "prp_scalp",', "error: stdin: invalid JSON"),
        (("screen", "-"), '{"procedure": "prp_scalp", "procedure": "prp_face"}', "duplicate key"),
        (
            ("screen", "-"),
            '{"procedure": "prp_scalp", "labs": {"platelets_per_uL": NaN}}',
            "invalid JSON",
        ),
        (
            ("screen", "-"),
            '{"procedure": "prp_scalp", "conditions": ["flu"]}',
            "error: conditions[0]: unknown code 'flu'",
        ),
        (
            ("screen", "-"),
            '{"procedure": "prp_scalp", "medications": [{"category": "statin"}]}',
            "error: medications[0].category: unknown code",
        ),
        (
            ("screen", "-"),
            '{"procedure": "prp_scalp", "planned_on": "2026-11-31"}',
            "error: planned_on: must be a date",
        ),
        (("screen", "/nonexistent/screen.json"), None, "error: /nonexistent/screen.json: cannot"),
        (
            ("prp", "-"),
            json.dumps({**PRP, "spins": [{"rpm": 3000, "minutes": 10}]}),
            "error: spins[0].radius_cm: is required",
        ),
        (
            ("prp", "-"),
            json.dumps({**PRP, "blood_volume_mL": -1}),
            "error: blood_volume_mL: must be greater than 0",
        ),
        (
            ("salt", "--vertex", "50", "--posterior", "101", "--right", "0", "--left", "0"),
            None,
            "error: --posterior: must be at most 100",
        ),
        (
            ("salt", "--vertex", "abc", "--posterior", "1", "--right", "0", "--left", "0"),
            None,
            "error: ",
        ),
        (("salt", "--vertex", "50"), None, "required"),
        (("rcf", "--radius-cm", "10"), None, "one of the arguments --rpm --g is required"),
        (("rcf", "--radius-cm", "10", "--rpm", "1", "--g", "2"), None, "not allowed with"),
        (("rcf", "--radius-cm", "-10", "--rpm", "3000"), None, "error: --radius-cm:"),
        (
            ("plan", "--protocol", "nope", "--start", "2026-01-01"),
            None,
            "error: --protocol: unknown protocol 'nope'",
        ),
        (
            ("plan", "--protocol", "prp-aga-monthly-3", "--start", "01/02/2026"),
            None,
            "error: --start: must be a date",
        ),
        (
            ("plan", "--protocol", "prp-aga-monthly-3", "--start", "2026-W01-1"),
            None,
            "error: --start: must be a date",
        ),
        (("frobnicate",), None, "invalid choice"),
        ((), None, "error: "),
    ],
)
def test_bad_input_exits_2_with_one_line(
    args: tuple[str, ...], stdin: str | None, expected: str
) -> None:
    assert expected in fails(*args, stdin=stdin)


def test_main_returns_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rcf", "--radius-cm", "10", "--rpm", "3000"]) == 0
    assert json.loads(capsys.readouterr().out) == {"rcf_g": 1006, "rpm": 3000}
    assert main(["rcf", "--radius-cm", "0", "--rpm", "3000"]) == 2
    assert capsys.readouterr().err == "error: --radius-cm: must be greater than 0, got 0\n"
    assert main(["--help"]) == 0
