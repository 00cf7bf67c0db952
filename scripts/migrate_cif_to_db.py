#!/usr/bin/env python
"""Copy the archive's message files into the database (`msgmodule migrate`): see --help."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout too

from wwpdb.apps.msgmodule.tools.console import migrate  # noqa: E402

if __name__ == "__main__":
    migrate()  # logs the run, as the installed console script does
