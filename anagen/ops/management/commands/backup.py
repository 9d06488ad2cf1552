"""`anagen backup PATH`: the database and the media files, together and consistent.

PATH ending in .tar.gz (or .tgz) is written as one archive; any other PATH is a new folder.
Exit 2 with a one-line reason when the backup cannot be written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from anagen.ops.backup import BackupError, create_backup


class Command(BaseCommand):
    help = "Back up the database and the media files to a new folder or a .tar.gz archive."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="a new folder, or an archive path ending in .tar.gz")
        parser.add_argument("--database", default="default", help="database alias")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = create_backup(Path(options["path"]), using=options["database"])
        except (BackupError, OSError) as exc:
            raise CommandError(str(exc), returncode=2) from exc
        self.stdout.write(
            f"Backed up {result.rows} rows and {result.media_files} media files to {result.path}."
        )
