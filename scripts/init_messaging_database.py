#!/usr/bin/env python
"""Create, upgrade (--verify-only: check) the message database schema: `msgmodule init-db`."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _checkout.py beside it, however the script is run

from _checkout import entry_point  # noqa: E402 - the checkout's package, under its .venv if this Python lacks it

if __name__ == "__main__":
    entry_point("wwpdb.apps.msgmodule.tools.console", "init_db")()  # logs the run, as the console script does
