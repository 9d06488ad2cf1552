"""Backup and restore of the demo clinic: `uv run python benchmarks/backup_restore.py`.

Figures printed: the size of the demo clinic (rows, media files), the time of `anagen backup` to
a .tar.gz archive, and the time an operator waits to restore it on a new machine: `anagen
migrate` on an empty database, then `anagen restore` (each run as its own command, Django
start-up included), and a check that the restored database backs up to the same rows and files.

Runs on throwaway SQLite databases in a temporary folder, or on the databases named by
BENCH_DATABASE_URL (source) and BENCH_RESTORE_DATABASE_URL (target): empty scratch databases,
this script writes to both. Asserts nothing about speed.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_tmp = Path(tempfile.mkdtemp(prefix="anagen-bench-backup-"))
atexit.register(shutil.rmtree, _tmp, ignore_errors=True)
SOURCE_DB = os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{_tmp}/source.sqlite3")
TARGET_DB = os.environ.get("BENCH_RESTORE_DATABASE_URL", f"sqlite:///{_tmp}/target.sqlite3")
os.environ["DATABASE_URL"] = SOURCE_DB
os.environ["MEDIA_ROOT"] = str(_tmp / "media-source")
os.environ.setdefault("ANAGEN_VAR_DIR", str(_tmp))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "anagen.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402


def _anagen(*args: str, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(  # noqa: S603 - our own command with our own arguments
        [sys.executable, "-m", "anagen", *args], env=env, check=True, stdout=subprocess.DEVNULL
    )
    return time.perf_counter() - t0


def _entries(archive: Path) -> tuple[list[str], dict[str, str]]:
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        data = tar.extractfile("data.jsonl").read().decode().splitlines()  # type: ignore[union-attr]
    return sorted(data), {m["name"]: m["sha256"] for m in manifest["media"]}


def main() -> None:
    from anagen.demo import seed_demo
    from anagen.ops.backup import create_backup

    call_command("migrate", verbosity=0)
    seed_demo(timezone.localdate())

    archive = _tmp / "demo-backup.tar.gz"
    t0 = time.perf_counter()
    result = create_backup(archive)
    backup_s = time.perf_counter() - t0

    env = {
        **os.environ,
        "DATABASE_URL": TARGET_DB,
        "MEDIA_ROOT": str(_tmp / "media-target"),
        "PYTHONPATH": str(ROOT),
    }
    migrate_s = _anagen("migrate", "--noinput", env=env)
    restore_s = _anagen("restore", str(archive), env=env)

    again = _tmp / "again.tar.gz"
    _anagen("backup", str(again), env=env)
    rows_a, media_a = _entries(archive)
    rows_b, media_b = _entries(again)
    row_mismatches = len(set(rows_a) ^ set(rows_b))
    media_mismatches = len(set(media_a.items()) ^ set(media_b.items()))

    print(f"database: {connection.vendor}")
    print(
        f"demo clinic: {result.rows} rows, {result.media_files} media files; "
        f"archive {archive.stat().st_size / 1e6:.1f} MB"
    )
    print(f"anagen backup (to .tar.gz): {backup_s:.2f} s")
    print(
        f"restore on a new database: anagen migrate {migrate_s:.2f} s + anagen restore "
        f"{restore_s:.2f} s = {migrate_s + restore_s:.2f} s"
    )
    print(
        f"restored copy backed up again: {row_mismatches} row mismatches, "
        f"{media_mismatches} media mismatches"
    )


if __name__ == "__main__":
    main()
