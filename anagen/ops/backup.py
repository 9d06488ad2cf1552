"""Backup and restore of the database and the media files together.

A backup is a folder (or the same folder packed as a `.tar.gz`) holding:

- `data.jsonl`: every row of every model of every installed app, one JSON object a line, in
  dependency order, primary keys kept (Django's generic serialiser, so every column travels,
  including ones added later such as the audit chain's hashes);
- `media/`: a copy of every file in the media storage (photos, thumbnails, reports);
- `manifest.json`: the format, when and from which database it was taken, the applied
  migrations, the row count of each model, and the size and SHA-256 of `data.jsonl` and of
  every media file.

The rows are read inside one transaction (a snapshot: repeatable read on PostgreSQL, the write
lock on SQLite), so the dump is consistent with itself. Media files are copied after the rows
are read; files are only ever added, so every file the rows name is in the copy.

Restore checks every hash first, refuses a database that holds data or a media folder that is
not empty, then loads everything in one transaction and resets the id sequences.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core import serializers
from django.core.files import File
from django.core.files.storage import Storage, default_storage
from django.core.management.color import no_style
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder

FORMAT = "anagen-backup"
VERSION = 1
DATA_FILE = "data.jsonl"
MANIFEST_FILE = "manifest.json"
MEDIA_DIR = "media"
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz")
# The models whose rows `anagen migrate` creates by itself in a new database (content types,
# permissions, the shared default consent templates of care/0002): a database holding only
# these is empty, and restore replaces them with the backup's. A new data migration that seeds
# another table adds it here (test_backup checks the list against a freshly migrated database).
MIGRATE_CREATED = frozenset({"contenttypes.contenttype", "auth.permission", "care.consenttemplate"})
CHUNK = 1 << 20


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message is one line for the operator."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    rows: int
    media_files: int


def is_archive(path: Path) -> bool:
    return path.name.endswith(ARCHIVE_SUFFIXES)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def dumped_models() -> list[type[models.Model]]:
    """Every concrete, managed model of every installed app, parents before children."""
    app_list: dict[Any, None] = {config: None for config in apps.get_app_configs()}
    ordered = serializers.sort_dependencies(app_list.items(), allow_cycles=True)
    return [m for m in ordered if m._meta.managed and not m._meta.proxy]


def _label(model: type[models.Model]) -> str:
    return model._meta.label_lower


def _rows(model: type[models.Model], using: str) -> Any:
    # The base manager: soft-deleted patients and every other filtered-out row travel too.
    return model._base_manager.using(using).order_by(model._meta.pk.name)


# --- media ----------------------------------------------------------------------------------


def _walk(storage: Storage, folder: str = "") -> Iterator[str]:
    try:
        dirs, files = storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in sorted(files):
        yield f"{folder}/{name}" if folder else name
    for sub in sorted(dirs):
        yield from _walk(storage, f"{folder}/{sub}" if folder else sub)


def media_files(storage: Storage | None = None) -> list[str]:
    return list(_walk(storage or default_storage))


# --- backup ---------------------------------------------------------------------------------


@contextmanager
def _snapshot(using: str) -> Iterator[None]:
    connection = connections[using]
    outermost = not connection.in_atomic_block
    with transaction.atomic(using=using):
        if outermost and connection.vendor == "postgresql":
            # One snapshot for every table (the default, read committed, would see each table
            # as of the moment it is read).
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield


class PreciseEncoder(DjangoJSONEncoder):
    """Django's encoder cuts datetimes to milliseconds; a backup keeps every microsecond (the
    audit chain's hashes cover the exact instants)."""

    def default(self, o: Any) -> Any:
        if isinstance(o, dt.datetime | dt.time):
            return o.isoformat()
        return super().default(o)


class _Counted:
    """An iterator that counts what it hands out."""

    def __init__(self, items: Iterator[Any]) -> None:
        self.items = items
        self.n = 0

    def __iter__(self) -> Iterator[Any]:
        for item in self.items:
            self.n += 1
            yield item


def _applied_migrations(using: str) -> list[list[str]]:
    applied = MigrationRecorder(connections[using]).applied_migrations()
    return sorted([app, name] for app, name in applied)


def _write_backup(folder: Path, using: str, storage: Storage) -> tuple[int, int]:
    counts: dict[str, int] = {}
    data_path = folder / DATA_FILE
    with _snapshot(using):
        migrations = _applied_migrations(using)
        with data_path.open("w", encoding="utf-8") as out:
            for model in dumped_models():
                counted = _Counted(_rows(model, using).iterator(chunk_size=2000))
                serializers.serialize("jsonl", counted, stream=out, cls=PreciseEncoder)
                counts[_label(model)] = counted.n
    media: list[dict[str, Any]] = []
    media_root = folder / MEDIA_DIR
    media_root.mkdir()
    for name in media_files(storage):
        target = media_root / PurePosixPath(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        with storage.open(name, "rb") as src, target.open("wb") as dst:
            while block := src.read(CHUNK):
                digest.update(block)
                size += len(block)
                dst.write(block)
        media.append({"name": name, "size": size, "sha256": digest.hexdigest()})
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "database": connections[using].vendor,
        "migrations": migrations,
        "models": counts,
        "data": {
            "file": DATA_FILE,
            "rows": sum(counts.values()),
            "size": data_path.stat().st_size,
            "sha256": sha256_file(data_path),
        },
        "media": media,
    }
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return sum(counts.values()), len(media)


def create_backup(
    path: Path | str, *, using: str = DEFAULT_DB_ALIAS, storage: Storage | None = None
) -> BackupResult:
    """Write a backup of the database `using` and the media storage to `path`.

    `path` ending in .tar.gz (or .tgz) is written as one archive; any other path is a folder,
    which must not exist yet or be empty.
    """
    path = Path(path)
    storage = storage or default_storage
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise BackupError(f"{path} already exists: name a new folder or archive.")
    if not path.parent.is_dir():
        raise BackupError(f"the folder {path.parent} does not exist.")
    if is_archive(path):
        with tempfile.TemporaryDirectory(dir=path.parent, prefix=".anagen-backup-") as tmp:
            rows, files = _write_backup(Path(tmp), using, storage)
            partial = path.with_name(path.name + ".partial")
            with tarfile.open(partial, "w:gz") as tar:
                for item in sorted(Path(tmp).iterdir()):
                    tar.add(item, arcname=item.name)
            partial.rename(path)
    else:
        path.mkdir(exist_ok=True)
        rows, files = _write_backup(path, using, storage)
    return BackupResult(path=path, rows=rows, media_files=files)


# --- restore --------------------------------------------------------------------------------


def _safe_member(member: tarfile.TarInfo) -> bool:
    name = PurePosixPath(member.name)
    return not name.is_absolute() and ".." not in name.parts and (member.isfile() or member.isdir())


@contextmanager
def _opened(path: Path) -> Iterator[Path]:
    """The backup's folder: `path` itself, or the archive unpacked into a temporary folder."""
    if path.is_dir():
        yield path
        return
    if not path.is_file():
        raise BackupError(f"{path} does not exist.")
    if not is_archive(path) and not tarfile.is_tarfile(path):
        raise BackupError(f"{path} is neither a backup folder nor a .tar.gz backup archive.")
    with tempfile.TemporaryDirectory(prefix="anagen-restore-") as tmp:
        try:
            with tarfile.open(path, "r:*") as tar:
                members = tar.getmembers()
                if not all(_safe_member(m) for m in members):
                    raise BackupError(f"{path} holds paths outside the backup: refused.")
                tar.extractall(tmp, members=members, filter="data")
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise BackupError(f"{path} is not a readable .tar.gz backup archive.") from exc
        yield Path(tmp)


def read_manifest(folder: Path) -> dict[str, Any]:
    manifest_path = folder / MANIFEST_FILE
    if not manifest_path.is_file():
        raise BackupError(f"no {MANIFEST_FILE} in the backup: not an Anagen backup.")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BackupError(f"{MANIFEST_FILE} is not valid JSON.") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{MANIFEST_FILE} is not an Anagen backup manifest.")
    if manifest.get("version") != VERSION:
        raise BackupError(f"backup format version {manifest.get('version')} is not supported.")
    return manifest


def verify(folder: Path, manifest: dict[str, Any]) -> None:
    """Every file is present and its hash is the one the manifest names."""
    data = manifest["data"]
    data_path = folder / DATA_FILE
    if not data_path.is_file() or sha256_file(data_path) != data["sha256"]:
        raise BackupError(f"{DATA_FILE} is missing or does not match the manifest's hash.")
    for entry in manifest["media"]:
        name = PurePosixPath(entry["name"])
        if name.is_absolute() or ".." in name.parts:
            raise BackupError(f"media file name {entry['name']!r} is outside the media folder.")
        file_path = folder / MEDIA_DIR / name
        if not file_path.is_file() or sha256_file(file_path) != entry["sha256"]:
            raise BackupError(f"media file {entry['name']} is missing or does not match its hash.")


def database_is_empty(using: str = DEFAULT_DB_ALIAS) -> bool:
    """No rows but the ones `migrate` creates itself (see MIGRATE_CREATED)."""
    for model in dumped_models():
        if _label(model) in MIGRATE_CREATED:
            continue
        if _rows(model, using).exists():
            return False
    return True


def _check_migrations(manifest: dict[str, Any], using: str) -> None:
    connection = connections[using]
    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        raise BackupError("the database has unapplied migrations: run `anagen migrate` first.")
    applied = set(MigrationRecorder(connection).applied_migrations())
    missing = sorted(
        f"{app}.{name}" for app, name in manifest["migrations"] if (app, name) not in applied
    )
    if missing:
        raise BackupError(
            f"the backup comes from a newer version ({len(missing)} migrations this one lacks, "
            f"first {missing[0]}): restore it with that version."
        )


def _load_rows(folder: Path, manifest: dict[str, Any], using: str) -> dict[str, int]:
    connection = connections[using]
    counts: dict[str, int] = {}
    loaded_models: set[type[models.Model]] = set()
    with transaction.atomic(using=using):
        for seeded in reversed(dumped_models()):
            if _label(seeded) in MIGRATE_CREATED:
                # without signals: a history row for each deleted seed would be new data
                seeded._base_manager.using(using).all()._raw_delete(using)
        with (
            connection.constraint_checks_disabled(),
            (folder / DATA_FILE).open(encoding="utf-8") as fh,
        ):
            for obj in serializers.deserialize("jsonl", fh, using=using):
                obj.save(using=using)
                model = type(obj.object)
                loaded_models.add(model)
                counts[_label(model)] = counts.get(_label(model), 0) + 1
        connection.check_constraints(table_names=[m._meta.db_table for m in loaded_models])
        sequence_sql = connection.ops.sequence_reset_sql(no_style(), list(loaded_models))
        if sequence_sql:
            with connection.cursor() as cursor:
                for sql in sequence_sql:
                    cursor.execute(sql)
        expected = {k: v for k, v in manifest["models"].items() if v}
        if counts != expected:
            raise BackupError(
                "the rows loaded differ from the manifest's counts: nothing restored."
            )
    ContentType.objects.clear_cache()
    return counts


def _restore_media(folder: Path, manifest: dict[str, Any], storage: Storage) -> None:
    for entry in manifest["media"]:
        with (folder / MEDIA_DIR / PurePosixPath(entry["name"])).open("rb") as fh:
            saved = storage.save(entry["name"], File(fh, name=entry["name"]))
        if saved != entry["name"]:
            raise BackupError(f"media file {entry['name']} was stored as {saved}.")


def restore_backup(
    path: Path | str, *, using: str = DEFAULT_DB_ALIAS, storage: Storage | None = None
) -> dict[str, Any]:
    """Restore a backup into an empty, migrated database and an empty media storage."""
    path = Path(path)
    storage = storage or default_storage
    with _opened(path) as folder:
        manifest = read_manifest(folder)
        verify(folder, manifest)
        _check_migrations(manifest, using)
        if not database_is_empty(using):
            raise BackupError(
                "the database already holds data: restore only into a new, migrated database."
            )
        present = media_files(storage)
        if present:
            raise BackupError(
                f"the media folder already holds {len(present)} files: restore only into an "
                "empty one."
            )
        try:
            _restore_media(folder, manifest, storage)
            _load_rows(folder, manifest, using)
        except Exception:
            for entry in manifest["media"]:  # leave the media folder as empty as we found it
                storage.delete(entry["name"])
            raise
    return manifest
