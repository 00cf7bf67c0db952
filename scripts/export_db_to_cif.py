#!/usr/bin/env python
"""Write database documents back as archive files (`msgmodule export`): see --help."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _checkout.py beside it, however the script is run

from _checkout import entry_point  # noqa: E402 - the checkout's package, under its .venv if this Python lacks it

if __name__ == "__main__":
    entry_point("wwpdb.apps.msgmodule.tools.console", "export")()  # logs the run, as the console script does
