"""Durable local records: the journal of failed second writes, and other JSON-lines logs.

The journal lives in the state directory, outside both backends, so a
failure of either one can be recorded. Each append is fsynced under a file
lock; `msgmodule reconcile` replays and clears entries.
"""

from __future__ import annotations

import calendar
import contextlib
import json
import logging
import os
import socket
import stat
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from filelock import lock_descriptor, unlock_descriptor

from .archive_files import create_fresh, existing_status, fsync_entry, open_file, read_regular, real_folder
from .errors import ArchiveEntryError, StorageError

log = logging.getLogger(__name__)


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())


HOST = socket.gethostname()
LOCK_TIMEOUT = 60.0  # seconds a writer waits for a journal's lock
# An appended line is on disk once its data and the file's new size are: what fdatasync writes.
_sync_data = getattr(os, "fdatasync", os.fsync)
_FOLDER_FLAGS = getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)


def process_start(pid: int) -> str | None:
    """When a process started, in clock ticks since boot (Linux), or None when unknown or gone.

    With the pid it names one process for good: a pid reused later has another start time.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
    return stat[stat.rfind(b")") + 2 :].split()[19].decode()


def writer_alive(host: str | None, pid: int | None, started: str | None) -> bool | None:
    """Whether the process that wrote an entry still runs: None when it cannot be told from here."""
    if host != HOST or pid is None:
        return None
    if not os.path.exists("/proc/self/stat"):
        return None
    return process_start(pid) == started


class JsonLines:
    """An append-only JSON-lines file, safe for several processes.

    The file, its lock and its temporary file are never opened through a link (see archive_files);
    with `within` (the archive root, for the site's journal) no folder below it may be a link either.
    A new file takes its folder's mode and group; a rewrite keeps the file's. A `private` one (it holds
    message text) is its owner's alone, 0600 whatever the umask.
    """

    def __init__(
        self, path: str | os.PathLike[str], within: str | os.PathLike[str] | None = None, private: bool = False
    ) -> None:
        self.path = Path(path)
        self.mode = 0o600 if private else None
        self.lock_path = Path(f"{self.path}.lock")
        self.within = Path(within) if within is not None else None
        # Worked out once: path arithmetic would cost more than the lstat calls on every append.
        self._folders: list[str] = []
        if self.within is not None:
            folder = self.within  # the root itself may be a link
            for part in self.path.parent.relative_to(self.within).parts:
                folder = folder / part
                self._folders.append(str(folder))
        self._file = str(self.path)
        self._lock_file = str(self.lock_path)

    def _check_folders(self, create: bool) -> bool:
        """With `within`, each folder below it down to the file's is a real one (made when `create`);
        returns whether they all exist."""
        if self.within is None:
            if create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            return self.path.parent.is_dir()
        return all(real_folder(folder, create) for folder in self._folders)

    def append(self, record: dict[str, Any], durable: bool = True) -> int:
        """Append a record in one write; `durable` waits for it to reach the disk (fsync).

        Returns the file's size after it.
        """
        size, make_durable = self._append(record)
        make_durable(durable)
        return size

    def append_pending(self, record: dict[str, Any]) -> Callable[[], None]:
        """Append a record in one write, leaving the wait for the disk to the returned call.

        The call (made once, from any thread) returns when the record is durable, or raises
        StorageError. Until then the record is in the file but may not survive a crash.
        """
        _, make_durable = self._append(record)
        return lambda: make_durable(True)

    def _append(self, record: dict[str, Any]) -> tuple[int, Callable[[bool], None]]:
        line = (json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
        try:
            try:
                if self.within is not None:
                    self._check_folders(create=False)  # an lstat: the folder may have become a link since
                with self._locked():
                    fd, size = self._write_line(line)
            except FileNotFoundError:  # the first record: the folder is made then
                self._check_folders(create=True)
                with self._locked():
                    fd, size = self._write_line(line)
        except OSError as exc:
            raise StorageError(f"cannot append to {self.path}: {exc.strerror or exc}") from exc

        unsynced = [fd]  # emptied by the first call: a second one does nothing
        taken = threading.Lock()

        def make_durable(durable: bool = True) -> None:
            # Outside the journal's lock: syncing the descriptor of the write covers the line even
            # if a compaction has replaced the file since (it copied the line and synced its copy).
            with taken:
                if not unsynced:
                    return
                descriptor = unsynced.pop()
                try:
                    if durable:
                        _sync_data(descriptor)
                except OSError as exc:
                    raise StorageError(f"cannot append to {self.path}: {exc.strerror or exc}") from exc
                finally:
                    os.close(descriptor)

        return size, make_durable

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """The lock `rewrite` takes too (the same file and primitive), without FileLock's bookkeeping:
        taken on every write of a dual write, it costs microseconds instead of a tenth of a millisecond."""
        fd = open_file(self._lock_file, os.O_RDWR)
        try:
            deadline = time.monotonic() + LOCK_TIMEOUT
            while not lock_descriptor(fd, blocking=False):
                if time.monotonic() > deadline:
                    raise StorageError(
                        f"another process has held {self.lock_path} for more than {LOCK_TIMEOUT:.0f} s; "
                        "look for a stuck process"
                    )
                time.sleep(0.001)
            try:
                yield
            finally:
                unlock_descriptor(fd)
        finally:
            os.close(fd)

    def _sync_folder(self) -> None:
        """Make the file's name durable (its creation, or the rename of a rewrite)."""
        fsync_entry(self.path.parent, _FOLDER_FLAGS, unopenable_ok=True)

    def _write_line(self, line: bytes) -> tuple[int, int]:
        """Append `line` (the caller holds the lock); returns the open descriptor (the caller closes it) and
        the file's new size.

        A file empty before (made for this line, or emptied) has its folder synced here, under the lock:
        its name must be durable before any line in it is said to be, the lines other writers append
        next included (their sync of the file's data does not cover its name).
        """
        fd = open_file(self._file, os.O_RDWR | os.O_APPEND)
        try:
            info = os.fstat(fd)
            size = info.st_size
            # The umask can only take bits away; a file of ours made before this version is closed too.
            if self.mode is not None and stat.S_IMODE(info.st_mode) != self.mode and info.st_uid == os.geteuid():
                os.fchmod(fd, self.mode)
            # A writer killed mid-append leaves a torn last line: start on a line of our own.
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line
            written = os.write(fd, line)
            if written != len(line):
                raise OSError(f"wrote {written} of {len(line)} bytes (is the disk full?)")
            if size == 0:
                self._sync_folder()
        except BaseException:
            os.close(fd)
            raise
        return fd, size + written

    def read(self) -> list[dict[str, Any]]:
        if self.within is not None and not self._check_folders(create=False):
            return []
        data = read_regular(self.path)
        if data is None:
            return []
        records = []
        for number, raw in enumerate(data.split(b"\n"), 1):
            if raw.strip():
                try:
                    records.append(json.loads(raw.decode("utf-8")))
                except (UnicodeDecodeError, json.JSONDecodeError):
                    # A line torn by a crash mid-append: report it, keep the rest.
                    records.append({"unreadable_line": number})
        return records

    def rewrite(self, transform: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]) -> int:
        """Replace the records with `transform(records)`, all under the lock; returns how many went.

        The file keeps its mode and group. Raises StorageError (the file as it was) if it cannot.
        """
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        try:
            if self.within is not None:
                self._check_folders(create=False)
            with self._locked():
                records = self.read()
                keep = transform(records)
                fd = create_fresh(tmp, like=existing_status(self.path))
                try:
                    with os.fdopen(fd, "w", encoding="utf-8") as handle:
                        if self.mode is not None:
                            os.fchmod(handle.fileno(), self.mode)
                        handle.writelines(
                            json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n"
                            for r in keep
                            if "unreadable_line" not in r
                        )
                        handle.flush()
                        os.fsync(handle.fileno())
                    os.replace(tmp, self.path)
                except BaseException:
                    with contextlib.suppress(OSError):
                        os.unlink(tmp)  # made afresh above: ours, never a link
                    raise
                # Entries appended from now on go to the new file: its name must survive a crash of the
                # machine before they are synced, or they would go with it.
                self._sync_folder()
                return len(records) - len(keep)
        except ArchiveEntryError as exc:
            raise ArchiveEntryError(exc.path, f"{exc.reason}; cannot rewrite {self.path}") from None
        except OSError as exc:
            raise StorageError(f"cannot rewrite {self.path}: {exc.strerror or exc}") from exc

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
    host: str | None = None  # who wrote it: host, pid and the process's start time
    pid: int | None = None
    started: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.deposition_id, self.content_type, self.failed)

    def age(self) -> float:
        return time.time() - calendar.timegm(time.strptime(self.time, "%Y-%m-%d %H:%M:%S"))


class Journal:
    """Second writes of the dual-mode store that may not have happened, awaiting `reconcile`.

    An intent is recorded before the authoritative write (`begin`) and marked done once
    the second write succeeded (`finish`), so a process killed between the two writes
    leaves an entry too. An unfinished intent counts as soon as its writer is known to
    be dead: on this host, its pid no longer names the process that wrote it (pid and
    start time); from another host, once it is older than WRITER_BOUND, longer than any
    write can take. A stage move, which holds the site lock that every write holds
    while it runs, counts every unfinished intent at once (`entries(all_intents=True)`).
    A failed second write is recorded with its error. A line torn by a crash
    mid-append is skipped: the intent written before it still stands for its write.
    """

    # Seconds: the longest a write can hold its intent open: the CIF lock timeout (120 s)
    # plus five attempts of a database transaction that each wait out InnoDB's default
    # lock-wait timeout (50 s), with room to spare.
    WRITER_BOUND = 120.0 + 5 * 50.0 + 30.0
    COMPACT_ABOVE = 256 * 1024  # bytes before done marks are compacted away
    #: Whether `begin_pending` leaves a wait for the disk to its returned call (not so in a database).
    SYNCS_LATER = True

    def __init__(self, path: str | os.PathLike[str], within: str | os.PathLike[str] | None = None) -> None:
        self.lines = JsonLines(path, within)
        self._compact_above = self.COMPACT_ABOVE

    @property
    def path(self) -> Path:
        return self.lines.path

    @property
    def where(self) -> str:
        """Where the entries are, to show a person."""
        return str(self.path)

    def record(self, deposition_id: str, content_type: str, failed: str, error: str, kind: str = "failure") -> str:
        entry = new_entry(deposition_id, content_type, failed, error, kind)
        self.lines.append(asdict(entry))
        return entry.id

    def begin(self, deposition_id: str, content_type: str, target: str) -> str:
        """Record that `target` is about to be brought up to date; returns the entry's id."""
        entry_id, make_durable = self.begin_pending(deposition_id, content_type, target)
        make_durable()
        return entry_id

    def begin_pending(self, deposition_id: str, content_type: str, target: str) -> tuple[str, Callable[[], None]]:
        """`begin`, with the wait for the disk left to the returned call (see JsonLines.append_pending).

        The caller makes that call before its first write lands, so the intent can reach
        the disk while the first store reads the document.
        """
        entry = new_entry(deposition_id, content_type, target, INTENT_ERROR, "intent")
        return entry.id, self.lines.append_pending(asdict(entry))

    def finish(self, entry_id: str) -> None:
        """Mark a `begin` entry done (the second write happened, or nothing was written).

        Not fsynced: a mark lost in a crash leaves the intent open, which only
        costs reconcile a needless copy; the intent itself is durable.
        """
        size = self.lines.append({"done": entry_id}, durable=False)
        if size > self._compact_above:
            try:
                self.lines.rewrite(_without_done)
            except StorageError as exc:
                # The mark is in: the write stands (a caller told otherwise would add it again).
                # Only the compaction waits, until the journal has doubled.
                log.warning("cannot compact the journal %s now: %s", self.path, exc)
                self._compact_above = 2 * size
                return
            with contextlib.suppress(OSError):
                # Still large: real failures pile up (an outage); compact again only at twice the size.
                self._compact_above = max(self.COMPACT_ABOVE, 2 * self.path.stat().st_size)

    def entries(self, all_intents: bool = False) -> list[JournalEntry]:
        """Unfinished entries: failures, and intents whose writer is dead (or every intent)."""
        records = self.lines.read()
        done = {r["done"] for r in records if "done" in r}
        found = []
        for record in records:
            if "unreadable_line" in record or "done" in record or record.get("id") in done:
                continue
            known = {name: record[name] for name in JournalEntry.__dataclass_fields__ if name in record}
            entry = JournalEntry(**known)
            if entry.kind == "intent" and not all_intents and self.writer_may_run(entry):
                continue
            found.append(entry)
        return found

    def writer_may_run(self, entry: JournalEntry) -> bool:
        """Whether the process that opened this intent may still be writing."""
        alive = writer_alive(entry.host, entry.pid, entry.started)
        if alive is not None:
            return alive
        return entry.age() < self.WRITER_BOUND

    def pending(self, all_intents: bool = False) -> dict[tuple[str, str, str], list[str]]:
        """Entry ids per (deposition, content type, backend to bring up to date), oldest first."""
        grouped: dict[tuple[str, str, str], list[str]] = {}
        for entry in self.entries(all_intents):
            grouped.setdefault(entry.key, []).append(entry.id)
        return grouped

    def clear(self, entry_ids: Iterable[str]) -> int:
        """Remove these entries (and done marks); entries recorded since they were read stay."""
        done = set(entry_ids)
        return self.lines.remove(lambda r: r.get("id") in done or r.get("done") in done)


_OWN_START: dict[int, str | None] = {}


INTENT_ERROR = "not confirmed: the process stopped before the second write finished"


def new_entry(deposition_id: str, content_type: str, failed: str, error: str, kind: str) -> JournalEntry:
    """An entry written now by this process."""
    return JournalEntry(
        deposition_id, content_type, failed, error, _now(), uuid.uuid4().hex, kind, HOST, os.getpid(), _own_start()
    )


def _own_start() -> str | None:
    pid = os.getpid()  # per pid: a forked child is another process
    if pid not in _OWN_START:
        _OWN_START[pid] = process_start(pid)
    return _OWN_START[pid]


def _without_done(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records less done marks, the entries they mark, and torn lines (decided under the lock)."""
    done = {r["done"] for r in records if "done" in r}
    return [r for r in records if "done" not in r and "unreadable_line" not in r and r.get("id") not in done]
