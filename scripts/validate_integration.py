#!/usr/bin/env python
"""Check a configured installation end to end (`msgmodule validate-integration`): see --help."""

import sys
from pathlib import Path

from _checkout import entry_point  # the checkout's package, under its .venv when this Python lacks it

if __name__ == "__main__":
    run = entry_point("wwpdb.apps.msgmodule.cli", "run")
    sys.exit(run(sys.argv[1:], command="validate-integration", prog_name=Path(sys.argv[0]).name))
