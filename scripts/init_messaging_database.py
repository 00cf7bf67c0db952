#!/usr/bin/env python
"""Create, upgrade (--verify-only: check) the message database schema: `msgmodule init-db`."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout too

from wwpdb.apps.msgmodule.tools.console import init_db  # noqa: E402

if __name__ == "__main__":
    init_db()  # logs the run, as the installed console script does
