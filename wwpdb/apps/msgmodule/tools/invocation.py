"""How to type the `msgmodule` command here, so that the commands it prints run as printed.

In a checkout the command is `.venv/bin/msgmodule` until `. .venv/bin/activate` puts `.venv/bin` on
PATH; installed with pip into an environment on PATH, it is `msgmodule`. The guide and the hints
(`run: msgmodule init-db`) are printed in the form that works in the shell they were printed to.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

# "msgmodule" as a command followed by a subcommand: not part of a longer name (wwpdb.apps.msgmodule,
# .msgmodule, msgmodule.log, msgmodule-init-db) and not already a path (.venv/bin/msgmodule).
_COMMAND = re.compile(r"(?<![\w./-])msgmodule(?= [a-z][a-z-]*)")


def _same_file(a: str | Path, b: str | Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def msgmodule_command() -> str:
    """`msgmodule` when that runs this installation, else a path to its script, else `python -m`."""
    script = Path(sys.executable).parent / "msgmodule"
    if not script.is_file():
        return f"{sys.executable} -m wwpdb.apps.msgmodule"
    on_path = shutil.which("msgmodule")
    if on_path and _same_file(on_path, script):
        return "msgmodule"
    in_checkout = Path(".venv") / "bin" / "msgmodule"  # the form the README uses, from the checkout's folder
    if _same_file(in_checkout, script):
        return str(in_checkout)
    return str(script)


def spelled(text: str, command: str | None = None) -> str:
    """`text` with every `msgmodule SUBCOMMAND` it suggests written as `command` (default: the working form)."""
    command = command or msgmodule_command()
    if command == "msgmodule":
        return text
    return _COMMAND.sub(lambda _: command, text)
