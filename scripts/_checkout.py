"""What every script in `scripts/` does first: find the package, and the checkout's environment.

A script run by a Python where the package is not installed (`python scripts/...` with the
system's Python, which lacks its dependencies) runs again under the checkout's own
`.venv/bin/python`, which `make install` creates; without one it says how to get one, instead of
a ModuleNotFoundError somewhere later.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
VENV_PYTHON = CHECKOUT / ".venv" / "bin" / "python"


def _in_checkout_venv() -> bool:
    try:
        return os.path.samefile(sys.prefix, CHECKOUT / ".venv")
    except OSError:
        return False


def entry_point(module: str, name: str) -> Callable[..., object]:
    """`module.name`, imported from this checkout; under .venv/bin/python if this Python lacks the package."""
    try:  # installed for this Python (the checkout's .venv, tox, a site's environment): its dependencies are here
        metadata.distribution("wwpdb.apps.msgmodule")
    except metadata.PackageNotFoundError:
        script = sys.argv[0]
        if VENV_PYTHON.is_file() and not _in_checkout_venv():
            os.execv(VENV_PYTHON, [str(VENV_PYTHON), script, *sys.argv[1:]])  # nosec B606 - the checkout's own Python
        sys.exit(
            f"{script}: wwpdb.apps.msgmodule is not installed for {sys.executable}. In the checkout run make install, "
            f"then . .venv/bin/activate (or run .venv/bin/python {script}); elsewhere: pip install wwpdb.apps.msgmodule"
        )
    sys.path.insert(0, str(CHECKOUT))  # the checkout's own code, whichever version is installed
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]
