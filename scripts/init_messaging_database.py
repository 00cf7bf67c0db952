#!/usr/bin/env python
"""Create, upgrade (--verify-only: check) the message database schema: `msgmodule init-db`."""

from _checkout import entry_point  # the checkout's package, under its .venv when this Python lacks it

if __name__ == "__main__":
    entry_point("wwpdb.apps.msgmodule.tools.console", "init_db")()  # logs the run, as the console script does
