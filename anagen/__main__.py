"""The `anagen` console command.

`anagen clinical <verb> ...` runs the pure-Python clinical kernel's command line (no Django set-up,
so it is fast and scriptable); every other sub-command is Django's `manage.py`.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "clinical":
        from anagen.clinical.cli import main as clinical_main

        return clinical_main(args[1:])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "anagen.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["anagen", *args])
    return 0


if __name__ == "__main__":
    sys.exit(main())
