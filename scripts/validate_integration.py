#!/usr/bin/env python
"""Check a configured installation end to end (`msgmodule validate-integration`): see --help."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout too

from wwpdb.apps.msgmodule.cli import run  # noqa: E402

if __name__ == "__main__":
    sys.exit(run(sys.argv[1:], command="validate-integration", prog_name=Path(sys.argv[0]).name))
