"""`anagen restore PATH`: load a backup into a new, migrated database and an empty media folder.

Every hash in the backup's manifest is checked first; a database that already holds data or a
media folder with files in it is refused. Exit 2 with a one-line reason when nothing can be
restored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.serializers.base import DeserializationError
from django.db import DatabaseError

from anagen.ops.backup import BackupError, restore_backup


class Command(BaseCommand):
    help = "Restore a backup (folder or .tar.gz) into an empty database and media folder."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="a backup folder or .tar.gz archive")
        parser.add_argument("--database", default="default", help="database alias")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            manifest = restore_backup(Path(options["path"]), using=options["database"])
        except (BackupError, OSError, DeserializationError, DatabaseError) as exc:
            raise CommandError(str(exc), returncode=2) from exc
        self.stdout.write(
            f"Restored {manifest['data']['rows']} rows and {len(manifest['media'])} media files "
            f"(backup taken {manifest['created']})."
        )
