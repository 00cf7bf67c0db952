#!/usr/bin/env python
"""Write database documents back as archive files (`msgmodule export`): see --help."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout too

from wwpdb.apps.msgmodule.tools.console import export  # noqa: E402

if __name__ == "__main__":
    export()  # logs the run, as the installed console script does
