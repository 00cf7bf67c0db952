#!/usr/bin/env python
"""Copy the archive's message files into the database (`msgmodule migrate`): see --help."""

from _checkout import entry_point  # the checkout's package, under its .venv when this Python lacks it

if __name__ == "__main__":
    entry_point("wwpdb.apps.msgmodule.tools.console", "migrate")()  # logs the run, as the console script does
