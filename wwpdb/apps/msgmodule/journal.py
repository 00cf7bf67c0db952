"""Durable local records: the journal of failed second writes, and other JSON-lines logs.

The journal lives in the state directory, outside both backends, so a
failure of either one can be recorded. Each append is fsynced under a file
lock; `msgmodule reconcile` replays and clears entries.
"""

from __future__ import annotations

import calendar
import contextlib
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

    def rewrite(self, transform: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]) -> int:
        """Replace the records with `transform(records)`, all under the lock; returns how many went."""
        with self._lock:
            records = self.read()
            keep = transform(records)
            tmp = self.path.with_name(f".{self.path.name}.tmp")
            with open(tmp, "w", encoding="utf-8") as handle:
                handle.writelines(
                    json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in keep if "unreadable_line" not in r
                )
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
            return len(records) - len(keep)

    def remove(self, done: Callable[[dict[str, Any]], bool]) -> int:
        """Drop the records for which `done` is true (others, and any appended meanwhile, stay)."""
        return self.rewrite(lambda records: [r for r in records if not done(r)])


@dataclass(frozen=True)
class JournalEntry:
    """A document whose second write may be missing: `failed` must be re-copied from the other backend."""

    deposition_id: str
    content_type: str
    failed: str  # backend name: "cif" or "db"
    error: str
    time: str
    id: str
    kind: str = "failure"  # or "intent": recorded before a dual write, marked done after it

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.deposition_id, self.content_type, self.failed)

    def age(self) -> float:
        return time.time() - calendar.timegm(time.strptime(self.time, "%Y-%m-%d %H:%M:%S"))


class Journal:
    """Second writes of the dual-mode store that may not have happened, awaiting `reconcile`.

    An intent is recorded before the authoritative write (`begin`) and marked done once
    the second write succeeded (`finish`), so a process killed between the two writes
    leaves an entry too; intents younger than INTENT_GRACE belong to writes that may
    still be running and are left alone. A failed second write is recorded with its
    error. A line torn by a crash mid-append is skipped: the intent written before it
    still stands for the write it belonged to.
    """

    INTENT_GRACE = 600.0  # seconds; longer than any write can take (lock waits, retries)
    COMPACT_ABOVE = 256 * 1024  # bytes before done marks are compacted away

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.lines = JsonLines(path)
        self._compact_above = self.COMPACT_ABOVE

    @property
    def path(self) -> Path:
        return self.lines.path

    def record(self, deposition_id: str, content_type: str, failed: str, error: str, kind: str = "failure") -> str:
        entry = JournalEntry(deposition_id, content_type, failed, error, _now(), uuid.uuid4().hex, kind)
        self.lines.append(asdict(entry))
        return entry.id

    def begin(self, deposition_id: str, content_type: str, target: str) -> str:
        """Record that `target` is about to be brought up to date; returns the entry's id."""
        return self.record(deposition_id, content_type, target,
                           "not confirmed: the process stopped before the second write finished", kind="intent")

    def finish(self, entry_id: str) -> None:
        """Mark a `begin` entry done (the second write happened, or nothing was written)."""
        self.lines.append({"done": entry_id})
        try:
            large = self.path.stat().st_size > self._compact_above
        except OSError:
            large = False
        if large:
            self.lines.rewrite(_without_done)
            with contextlib.suppress(OSError):
                # Still large: real failures pile up (an outage); compact again only at twice the size.
                self._compact_above = max(self.COMPACT_ABOVE, 2 * self.path.stat().st_size)

    def entries(self, include_recent_intents: bool = False) -> list[JournalEntry]:
        records = self.lines.read()
        done = {r["done"] for r in records if "done" in r}
        found = []
        for record in records:
            if "unreadable_line" in record or "done" in record or record.get("id") in done:
                continue
            entry = JournalEntry(**record)
            if entry.kind == "intent" and not include_recent_intents and entry.age() < self.INTENT_GRACE:
                continue
            found.append(entry)
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


def _without_done(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records less done marks, the entries they mark, and torn lines (decided under the lock)."""
    done = {r["done"] for r in records if "done" in r}
    return [r for r in records if "done" not in r and "unreadable_line" not in r and r.get("id") not in done]
