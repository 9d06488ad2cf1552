#!/usr/bin/env python
"""Django's command-line utility; `anagen` (the installed console command) is the same thing."""

import sys

from anagen.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
