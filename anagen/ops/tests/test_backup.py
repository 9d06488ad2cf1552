"""`anagen backup` / `anagen restore`: the demo clinic makes the round trip with 0 mismatches."""

from __future__ import annotations

import hashlib
import importlib
import json
import tarfile
from collections import Counter
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from anagen.demo import seed_demo
from anagen.ops import backup as ops_backup
from anagen.outcomes.models import Photo

pytestmark = pytest.mark.django_db


def _plain(value):
    if isinstance(value, memoryview):
        return bytes(value)
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    return value


def _tables() -> dict[str, Counter]:
    """Every row of every table, as the database holds it."""
    rows: dict[str, Counter] = {}
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names()):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            rows[table] = Counter(tuple(_plain(v) for v in row) for row in cursor.fetchall())
    return rows


def _media(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file()
    }


def _empty_database() -> None:
    # What `anagen migrate` leaves in a new database: the schema, content types, permissions
    # (flush recreates them) and the rows data migrations seed (the default consent templates).
    if connection.vendor == "postgresql":
        # PostgreSQL refuses to TRUNCATE a table with deferred checks pending in the test's
        # transaction: run them now.
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    call_command("flush", interactive=False, verbosity=0)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    seed = importlib.import_module("anagen.care.migrations.0002_default_consent_templates")
    # with the models as the migration sees them (no history rows, like a real `migrate`)
    state = MigrationLoader(connection).project_state(("care", "0002_default_consent_templates"))
    seed.forwards(state.apps, None)


def test_a_freshly_migrated_database_counts_as_empty(db):
    # The test database is freshly migrated: every row in it was seeded by a migration, and
    # MIGRATE_CREATED must name each model holding such rows, or restore would refuse it.
    seeded = {m._meta.label_lower for m in ops_backup.dumped_models() if m._base_manager.exists()}
    assert seeded <= ops_backup.MIGRATE_CREATED
    assert ops_backup.database_is_empty()


@pytest.fixture
def demo(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media-before"
    seed_demo()
    return tmp_path


def test_round_trip_of_the_demo_clinic_has_no_mismatch(demo, settings, capsys):
    tmp, target = demo, "backup.tar.gz"
    assert Photo.objects.exists()  # photos included
    before_rows = _tables()
    before_media = _media(tmp / "media-before")
    assert len(before_media) >= 2 * Photo.objects.count()  # each photo and its thumbnail

    call_command("backup", str(tmp / target))
    assert "Backed up" in capsys.readouterr().out

    _empty_database()
    assert ops_backup.database_is_empty()
    settings.MEDIA_ROOT = tmp / "media-after"
    call_command("restore", str(tmp / target))
    assert "Restored" in capsys.readouterr().out

    after_rows = _tables()
    mismatches = [
        table for table in before_rows if before_rows[table] != after_rows.get(table, Counter())
    ]
    assert set(after_rows) == set(before_rows)
    first = {t: (before_rows[t] - after_rows[t]).most_common(1) for t in mismatches[:1]}
    assert mismatches == [], first
    assert sum(len(c) for c in after_rows.values()) > 1000
    assert _media(tmp / "media-after") == before_media
    # and the application reads them back: every photo's file opens with its recorded bytes
    for photo in Photo.objects.all():
        with photo.file.open("rb") as fh:
            assert fh.read() == (tmp / "media-before" / photo.file.name).read_bytes()


def test_manifest_counts_rows_and_hashes_every_media_file(demo, settings):
    out = demo / "bk"
    result = ops_backup.create_backup(out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == "anagen-backup"
    assert manifest["data"]["rows"] == result.rows == sum(manifest["models"].values())
    assert manifest["models"]["patients.patient"] == 180
    files = {m["name"]: m["sha256"] for m in manifest["media"]}
    assert files == _media(demo / "media-before")
    # the audit trail travels with every column (the hash chain included)
    audit_lines = [
        json.loads(line)
        for line in (out / "data.jsonl").read_text().splitlines()
        if '"model": "audit.auditevent"' in line
    ]
    assert audit_lines and len(audit_lines) == manifest["models"]["audit.auditevent"]


@pytest.fixture
def small(settings, tmp_path, patient_a):
    """A patient (with its audit rows) and one media file: enough for the refusals."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    settings.MEDIA_ROOT = tmp_path / "media-before"
    default_storage.save("outcomes/photos/one.webp", ContentFile(b"RIFF....WEBP"))
    return tmp_path


def test_restore_refuses_a_database_that_holds_data(small, settings, capsys):
    demo = small
    call_command("backup", str(demo / "bk"))
    settings.MEDIA_ROOT = demo / "media-after"
    with pytest.raises(CommandError) as exc:
        call_command("restore", str(demo / "bk"))
    assert exc.value.returncode == 2
    assert "already holds data" in str(exc.value) and "\n" not in str(exc.value)
    assert not (demo / "media-after").exists() or not any((demo / "media-after").iterdir())


def test_restore_refuses_a_media_folder_that_holds_files(small, settings):
    demo = small
    call_command("backup", str(demo / "bk"))
    _empty_database()
    with pytest.raises(CommandError, match="media folder already holds"):
        call_command("restore", str(demo / "bk"))  # MEDIA_ROOT still holds the demo photos


def test_a_tampered_backup_is_refused_before_anything_is_written(small, settings):
    demo = small
    call_command("backup", str(demo / "bk"))
    photo = next((demo / "bk" / "media").rglob("*.webp"), None) or next(
        p for p in (demo / "bk" / "media").rglob("*") if p.is_file()
    )
    photo.write_bytes(photo.read_bytes() + b"x")
    _empty_database()
    settings.MEDIA_ROOT = demo / "media-after"
    with pytest.raises(CommandError, match="does not match its hash") as exc:
        call_command("restore", str(demo / "bk"))
    assert exc.value.returncode == 2
    assert ops_backup.database_is_empty()


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda p: p / "missing.tar.gz", "does not exist"),
        (lambda p: (p / "junk.tar.gz").write_bytes(b"not a tar") and p / "junk.tar.gz", "not a"),
        (lambda p: (p / "empty").mkdir() or p / "empty", "no manifest.json"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(db, tmp_path, make, expected):
    path = make(tmp_path)
    with pytest.raises(CommandError) as exc:
        call_command("restore", str(path))
    assert exc.value.returncode == 2
    assert expected in str(exc.value) and "\n" not in str(exc.value)


def test_backup_refuses_an_existing_target(db, tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("x")
    with pytest.raises(CommandError, match="already exists") as exc:
        call_command("backup", str(tmp_path / "taken"))
    assert exc.value.returncode == 2
    with pytest.raises(CommandError, match="does not exist"):
        call_command("backup", str(tmp_path / "no" / "such" / "b.tar.gz"))


def test_archive_paths_outside_the_backup_are_refused(db, tmp_path):
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        info = tarfile.TarInfo("../outside.txt")
        info.size = 0
        tar.addfile(info)
    with pytest.raises(CommandError, match="outside the backup"):
        call_command("restore", str(evil))
