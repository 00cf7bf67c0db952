"""`python -m wwpdb.apps.msgmodule`: the `msgmodule` command."""

from .cli import main

main()
