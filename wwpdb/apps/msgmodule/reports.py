"""JSON reports of migrate, validate and export: a summary first, then one entry per deposition.

    {"summary": {"command": "migrate", "total": 1000, "statuses": {...}, "duration_s": 12.3,
                 "versions": {"msgmodule": "0.200.0", "python": "3.11.7", ...}, ...},
     "depositions": [{"deposition_id": "D_...", "status": "migrated", ...}, ...]}

The summary is known only at the end, yet comes first: entries are spooled to
a temporary file as they arrive and copied after it, so memory stays flat
however large the archive.
"""

from __future__ import annotations

import json
import platform
import shutil
import tempfile
import time
from collections.abc import Mapping
from importlib import metadata
from typing import Any, TextIO

from . import __version__


def versions() -> dict[str, str]:
    """The versions that decide what a run did: this library, Python, and the parts it reads and writes with."""
    found = {"msgmodule": __version__, "python": platform.python_version()}
    for name in ("gemmi", "SQLAlchemy", "PyMySQL", "alembic"):
        try:
            found[name.lower()] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name.lower()] = "not installed"
    return found


def _utc(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


class RunReport:
    """Collects per-deposition entries, then writes the summary and the entries to `target`."""

    def __init__(self, target: TextIO, command: str, workers: int) -> None:
        self.target = target
        self.command = command
        self.workers = workers
        self.started = time.time()
        self.entries = 0
        self._spool = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 - closed by finish()

    def add(self, entry: Mapping[str, Any]) -> None:
        self._spool.write(("" if not self.entries else ",\n") + json.dumps(entry, ensure_ascii=False))
        self.entries += 1

    def finish(
        self,
        total: int,
        statuses: Mapping[str, int],
        rows: Mapping[str, int],
        failed: int,
        elapsed: float,
        complete: bool = True,
    ) -> None:
        """Write the report: the summary, then every entry added (also when the run stopped early)."""
        summary = {
            "command": self.command,
            "complete": complete,
            "started": _utc(self.started),
            "finished": _utc(time.time()),
            "duration_s": round(elapsed, 3),
            "total": total,
            "reported": self.entries,
            "failed": failed,
            "statuses": dict(sorted(statuses.items())),
            "rows": dict(sorted(rows.items())),
            "workers": self.workers,
            "versions": versions(),
        }
        try:
            self.target.write('{"summary": ' + json.dumps(summary, indent=1, ensure_ascii=False))
            self.target.write(',\n"depositions": [\n')
            self._spool.seek(0)
            shutil.copyfileobj(self._spool, self.target)
            self.target.write("\n]}\n")
            self.target.flush()
        finally:
            self._spool.close()
