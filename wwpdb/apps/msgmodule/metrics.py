"""Per-backend counters and latencies, in-process and merged into a stats file for `backend-info`.

Besides the backends ("cif", "db"), the site's writes are counted by the stage
they ran in, under the name `STAGE_WRITES` with the stage as the operation.
"""

from __future__ import annotations

import atexit
import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .archive_files import lock_file, read_regular, replace_regular
from .errors import ArchiveEntryError, StorageError

log = logging.getLogger(__name__)

FLUSH_EVERY = 60.0  # seconds between merges into the stats file
STAGE_WRITES = "stage-writes"  # counted like a backend: the operation is the stage a site's write ran in


def _empty() -> dict[str, float]:
    return {"calls": 0, "errors": 0, "total_ms": 0.0, "max_ms": 0.0}


class Metrics:
    """Counts, errors and latency per (backend, operation)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals: dict[str, dict[str, dict[str, float]]] = {}
        self._unflushed: dict[str, dict[str, dict[str, float]]] = {}
        self._stats_path: Path | None = None
        self._last_flush = time.monotonic()

    @contextmanager
    def measure(self, backend: str, operation: str) -> Iterator[None]:
        start = time.perf_counter()
        failed = False
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            elapsed = (time.perf_counter() - start) * 1000.0
            self.add(backend, operation, elapsed, failed)

    def add(self, backend: str, operation: str, elapsed_ms: float, failed: bool = False) -> None:
        with self._lock:
            for table in (self._totals, self._unflushed):
                entry = table.setdefault(backend, {}).setdefault(operation, _empty())
                entry["calls"] += 1
                entry["errors"] += int(failed)
                entry["total_ms"] += elapsed_ms
                entry["max_ms"] = max(entry["max_ms"], elapsed_ms)
        if self._stats_path is not None and time.monotonic() - self._last_flush > FLUSH_EVERY:
            self.flush()

    def snapshot(self) -> dict[str, dict[str, dict[str, float]]]:
        with self._lock:
            return _with_means(json.loads(json.dumps(self._totals)))

    def persist_to(self, path: Path) -> None:
        """Merge this process's figures into `path` now and then, and at exit."""
        first = self._stats_path is None
        self._stats_path = path
        if first:
            atexit.register(self.flush)

    def flush(self) -> None:
        path = self._stats_path
        if path is None:
            return
        with self._lock:
            delta, self._unflushed = self._unflushed, {}
            self._last_flush = time.monotonic()
        if not delta:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with lock_file(str(path) + ".lock", timeout=10):
                merged = _read_stats(path)
                merge(merged, delta)
                replace_regular(path, json.dumps(merged, indent=1, sort_keys=True).encode())
        except (OSError, StorageError) as exc:
            # Figures are advisory: never fail a caller over them. Kept for the next flush, and said.
            with self._lock:
                merge(self._unflushed, delta)
            log.warning("counters not saved: %s", exc if isinstance(exc, ArchiveEntryError) else f"{path}: {exc}")


def merge(into: dict[str, Any], delta: dict[str, Any]) -> None:
    for backend, operations in delta.items():
        for operation, figures in operations.items():
            entry = into.setdefault(backend, {}).setdefault(operation, _empty())
            entry["calls"] += figures["calls"]
            entry["errors"] += figures["errors"]
            entry["total_ms"] += figures["total_ms"]
            entry["max_ms"] = max(entry["max_ms"], figures["max_ms"])


def read_stats(path: Path) -> dict[str, Any]:
    """The figures saved in `path`; none when it is missing or unreadable (a link there is said, not followed)."""
    try:
        return _read_stats(path)
    except StorageError as exc:
        log.warning("counters in %s not read: %s", path, exc)
        return {}


def _read_stats(path: Path) -> dict[str, Any]:
    """As `read_stats`, but a link or other non-file at `path` raises ArchiveEntryError naming it."""
    try:
        data = json.loads(read_regular(path) or b"{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _with_means(data: dict[str, Any]) -> dict[str, Any]:
    for operations in data.values():
        for figures in operations.values():
            figures["mean_ms"] = figures["total_ms"] / figures["calls"] if figures["calls"] else 0.0
    return data


def combined(path: Path, live: Metrics) -> dict[str, Any]:
    """Figures persisted by earlier processes plus this one's unflushed ones."""
    data = read_stats(path)
    with live._lock:
        merge(data, json.loads(json.dumps(live._unflushed)))
    return _with_means(data)


def by_stage(data: dict[str, Any]) -> dict[str, dict[str, float]]:
    """The per-stage write figures of `combined` (stage -> calls, errors, total_ms, ...)."""
    return dict(data.get(STAGE_WRITES, {}))


def by_backend(data: dict[str, Any]) -> dict[str, Any]:
    """The per-backend figures of `combined`, without the per-stage ones."""
    return {name: operations for name, operations in data.items() if name != STAGE_WRITES}


METRICS = Metrics()
