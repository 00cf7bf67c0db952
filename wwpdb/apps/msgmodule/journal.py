"""Durable local records: the journal of failed second writes, and other JSON-lines logs.

The journal lives in the state directory, outside both backends, so a
failure of either one can be recorded. Each append is fsynced under a file
lock; `msgmodule reconcile` replays and clears entries.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

from .errors import StorageError


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())


class JsonLines:
    """An append-only JSON-lines file, safe for several processes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = FileLock(str(self.path) + ".lock", timeout=60)

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._lock:
                # A writer killed mid-append leaves a torn last line: start on a line of our own.
                if self.path.exists() and self.path.stat().st_size:
                    with open(self.path, "rb") as tail:
                        tail.seek(-1, os.SEEK_END)
                        if tail.read(1) != b"\n":
                            line = "\n" + line
                with open(self.path, "a", encoding="utf-8") as handle:
                    handle.write(line)
                    handle.flush()
                    os.fsync(handle.fileno())
        except OSError as exc:
            raise StorageError(f"cannot append to {self.path}: {exc.strerror or exc}") from exc

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        records = []
        with open(self.path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if line.strip():
                    try:
                        records.append(json.loads(line))
                    except json.JSONDecodeError:
                        # A line torn by a crash mid-append: report it, keep the rest.
                        records.append({"unreadable_line": number})
        return records

    def remove(self, done: Callable[[dict[str, Any]], bool]) -> int:
        """Drop the records for which `done` is true (others, and any appended meanwhile, stay)."""
        with self._lock:
            records = self.read()
            keep = [r for r in records if not done(r)]
            tmp = self.path.with_name(f".{self.path.name}.tmp")
            with open(tmp, "w", encoding="utf-8") as handle:
                handle.writelines(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in keep)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
            return len(records) - len(keep)


@dataclass(frozen=True)
class JournalEntry:
    """A document whose second write failed: `failed` must be re-copied from the other backend."""

    deposition_id: str
    content_type: str
    failed: str  # backend name: "cif" or "db"
    error: str
    time: str
    id: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.deposition_id, self.content_type, self.failed)


class Journal:
    """Second writes of the dual-mode store that may not have happened, awaiting `reconcile`.

    An entry is recorded before the authoritative write (`begin`) and marked done once
    the second write succeeded (`finish`), so a process killed between the two writes
    leaves an entry too. A failed second write is recorded with its error.
    """

    COMPACT_ABOVE = 256 * 1024  # bytes of done entries before the file is rewritten

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.lines = JsonLines(path)

    @property
    def path(self) -> Path:
        return self.lines.path

    def record(self, deposition_id: str, content_type: str, failed: str, error: str) -> str:
        entry = JournalEntry(deposition_id, content_type, failed, error, _now(), uuid.uuid4().hex)
        self.lines.append(asdict(entry))
        return entry.id

    def begin(self, deposition_id: str, content_type: str, target: str) -> str:
        """Record that `target` is about to be brought up to date; returns the entry's id."""
        return self.record(deposition_id, content_type, target,
                           "not confirmed: the process stopped before the second write finished")

    def finish(self, entry_id: str) -> None:
        """Mark a `begin` entry done (the second write happened, or nothing was written)."""
        self.lines.append({"done": entry_id})
        try:
            large = self.path.stat().st_size > self.COMPACT_ABOVE
        except OSError:
            large = False
        if large:
            self._compact()

    def _compact(self) -> None:
        done = {r["done"] for r in self.lines.read() if "done" in r}
        self.lines.remove(lambda r: "done" in r or r.get("id") in done)

    def entries(self) -> list[JournalEntry]:
        records = self.lines.read()
        done = {r["done"] for r in records if "done" in r}
        found = []
        for record in records:
            if "unreadable_line" in record:
                raise StorageError(
                    f"journal {self.path} line {record['unreadable_line']} is unreadable; "
                    "fix or delete that line, then reconcile again"
                )
            if "done" in record or record.get("id") in done:
                continue
            found.append(JournalEntry(**record))
        return found

    def pending(self) -> dict[tuple[str, str, str], list[str]]:
        """Entry ids per (deposition, content type, backend to bring up to date), oldest first."""
        grouped: dict[tuple[str, str, str], list[str]] = {}
        for entry in self.entries():
            grouped.setdefault(entry.key, []).append(entry.id)
        return grouped

    def clear(self, entry_ids: Iterable[str]) -> int:
        """Remove these entries (and done marks); entries recorded since they were read stay."""
        done = set(entry_ids)
        return self.lines.remove(lambda r: r.get("id") in done or r.get("done") in done)

    def is_empty(self) -> bool:
        return not self.entries()
