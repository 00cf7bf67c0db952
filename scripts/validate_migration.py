#!/usr/bin/env python
"""Compare the archive with the database (`msgmodule validate`): see --help."""

from _checkout import entry_point  # the checkout's package, under its .venv when this Python lacks it

if __name__ == "__main__":
    entry_point("wwpdb.apps.msgmodule.tools.console", "validate")()  # logs the run, as the console script does
