#!/usr/bin/env python
"""Compare the archive with the database (`msgmodule validate`): see --help."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout too

from wwpdb.apps.msgmodule.tools.console import validate  # noqa: E402

if __name__ == "__main__":
    validate()  # logs the run, as the installed console script does
