"""Upgrading a database from before the hash chain (audit 0009) to today's schema.

The backfill (audit 0010) hashes the rows with the historical model, whose values are still a
column of the event: the chain code must read them from there. Run in a subprocess on a file
database of its own, as an upgrade runs (`anagen migrate`)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _anagen(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'old.sqlite3'}",
        "ANAGEN_VAR_DIR": str(tmp_path),
    }
    return subprocess.run(  # noqa: S603 - our own interpreter and fixed arguments
        [sys.executable, "-m", "anagen", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_events_written_before_the_chain_upgrade_and_verify(tmp_path):
    old = _anagen(tmp_path, "migrate", "audit", "0009")
    assert old.returncode == 0, old.stderr
    with sqlite3.connect(tmp_path / "old.sqlite3") as db:
        for n, changes in enumerate(['{"name": "Ada"}', "{}", '{"dose": "2.5", "zones": [1, 2]}']):
            db.execute(
                "INSERT INTO audit_auditevent (username, action, object_type, object_id, changes,"
                " via, hash, prev_hash, at) VALUES ('desk', 'patient.view', 'patients.patient',"
                " ?, ?, 'web', '', '', ?)",
                (str(n), changes, f"2026-01-0{n + 1} 09:00:00"),
            )

    upgraded = _anagen(tmp_path, "migrate")
    assert upgraded.returncode == 0, upgraded.stderr
    verified = _anagen(tmp_path, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "3 events" in verified.stdout
