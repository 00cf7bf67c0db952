#!/usr/bin/env python
"""Check a configured installation end to end (`msgmodule validate-integration`): see --help."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _checkout.py beside it, however the script is run

from _checkout import entry_point  # noqa: E402 - the checkout's package, under its .venv if this Python lacks it

if __name__ == "__main__":
    run = entry_point("wwpdb.apps.msgmodule.cli", "run")
    sys.exit(run(sys.argv[1:], command="validate-integration", prog_name=Path(sys.argv[0]).name))
