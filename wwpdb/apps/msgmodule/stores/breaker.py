"""A circuit breaker around a store: stop calling a backend that keeps failing, for a while.

In dual write the second store may be down. Without a breaker every call
waits for its connect timeout before the failure is journaled. `BreakerStore`
wraps that store: after `failure_threshold` consecutive failures of the
backend (`StorageError`s that are not about the data) the breaker opens, and
for `cooldown` seconds every call fails at once with `CircuitOpenError`, so the
dual store journals the document immediately. After the cool-down one call is
let through as a probe (half-open): if it succeeds the breaker closes, if the
backend fails again it opens for another cool-down.

A breaker's state is readable in the process (`snapshot`, `live_breakers`) and,
when it has a `state_file`, by other processes (`read_breaker_states`), which is
how `health`, `status` and the metrics see what the web processes see. The file
describes live processes only: it names the process that wrote it (host, pid,
the process's start time and the boot), so a file left by a process that has
ended reads as stale, not as an outage; and a call that goes through in any
process writes its closed breaker over a file that says otherwise.
`clear_breaker_states` removes the files (`msgmodule breaker reset`).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from ..archive_files import read_regular, replace_regular
from ..errors import ArchiveEntryError, BackendUnavailableError, InvalidInputError, StorageError
from ..journal import HOST, process_start
from ..model import Document, MessageStatus
from .base import FlagLists, MessageStore

T = TypeVar("T")
log = logging.getLogger(__name__)

DEFAULT_FAILURE_THRESHOLD = 5
DEFAULT_COOLDOWN = 30.0  # seconds
STATE_FILE_PREFIX = "breaker-"
# How often, at most, a process whose breaker is closed looks whether the state file says otherwise.
RECHECK_SECONDS = 1.0
_BOOT_ID_FILE = "/proc/sys/kernel/random/boot_id"


class BreakerState(str, Enum):
    """Closed: calls go through. Open: calls fail at once. Half-open: one probe call goes through."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitOpenError(BackendUnavailableError):
    """The breaker of a backend is open: the call was not attempted."""

    def __init__(self, backend: str, retry_in: float, failures: int, last_error: str | None) -> None:
        self.backend = backend
        self.retry_in = retry_in
        super().__init__(
            f"the {backend} backend is not being called for {retry_in:.0f} s more: its circuit breaker opened "
            f"after {failures} consecutive failure(s) (last: {last_error or 'unknown'}). "
            "Bring the backend back; the breaker retries by itself after its cool-down."
        )


def breaker_state_path(state_dir: str | os.PathLike[str], name: str) -> Path:
    """Where the breaker called `name` records its state in a state directory."""
    return Path(state_dir) / f"{STATE_FILE_PREFIX}{name}.json"


_live: weakref.WeakSet[CircuitBreaker] = weakref.WeakSet()


class CircuitBreaker:
    """Counts consecutive backend failures and decides whether the next call may go through.

    `trip_on` are the failures that count; `ignore` are subclasses of them that
    do not (a value too large is the data's fault, not the backend's). Any
    other outcome of a call, success or another error, shows the backend
    answered and resets the count.
    """

    def __init__(
        self,
        name: str,
        failure_threshold: int = DEFAULT_FAILURE_THRESHOLD,
        cooldown: float = DEFAULT_COOLDOWN,
        state_file: str | os.PathLike[str] | None = None,
        trip_on: tuple[type[BaseException], ...] = (StorageError,),
        ignore: tuple[type[BaseException], ...] = (InvalidInputError,),
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if cooldown < 0:
            raise ValueError("cooldown must not be negative")
        self.name = name
        self.failure_threshold = failure_threshold
        self.cooldown = cooldown
        self.state_file = Path(state_file) if state_file is not None else None
        self.trip_on = trip_on
        self.ignore = ignore
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False
        self._last_error: str | None = None
        self._next_look = 0.0  # when a success may next look at the state file
        self._write_lock = threading.Lock()  # one write of the state file at a time, the newest last
        self.opened_total = 0
        self.rejected_total = 0
        _live.add(self)

    # -- state -----------------------------------------------------------------

    @property
    def state(self) -> BreakerState:
        """The state now (an open breaker whose cool-down is over reads as half-open)."""
        with self._lock:
            return self._current()

    def _current(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._remaining() <= 0:
            return BreakerState.HALF_OPEN
        return self._state

    def _remaining(self) -> float:
        return self._opened_at + self.cooldown - time.monotonic()

    def snapshot(self) -> dict[str, Any]:
        """The breaker's figures, for health, status and metrics."""
        with self._lock:
            state = self._current()
            return {
                "name": self.name,
                "state": state.value,
                "consecutive_failures": self._failures,
                "failure_threshold": self.failure_threshold,
                "cooldown_s": self.cooldown,
                "retry_in_s": max(0.0, self._remaining()) if state is BreakerState.OPEN else 0.0,
                "opened_total": self.opened_total,
                "rejected_total": self.rejected_total,
                "last_error": self._last_error,
            }

    # -- calls -----------------------------------------------------------------

    def call(self, function: Callable[[], T]) -> T:
        """Run `function` unless the breaker is open; count how the backend fared."""
        probe = self._admit()
        try:
            result = function()
        except BaseException as exc:
            self._settle(probe, exc)
            raise
        self._settle(probe, None)
        return result

    def _admit(self) -> bool:
        """Let a call through (True when it is the half-open probe) or raise CircuitOpenError."""
        with self._lock:
            state = self._current()
            if state is BreakerState.CLOSED:
                return False
            if state is BreakerState.HALF_OPEN and not self._probing:
                self._probing = True
                self._state = BreakerState.HALF_OPEN
                return True
            self.rejected_total += 1
            retry_in = max(0.0, self._remaining())
            failures, last_error = self._failures, self._last_error
        raise CircuitOpenError(self.name, retry_in, failures, last_error)

    def _settle(self, probe: bool, error: BaseException | None) -> None:
        counts = (
            error is not None
            and isinstance(error, self.trip_on)
            and not isinstance(error, self.ignore)
            and not isinstance(error, CircuitOpenError)
        )
        if error is not None and not counts and not isinstance(error, Exception):
            # Interrupted (KeyboardInterrupt, SystemExit): nothing was learnt about the backend.
            with self._lock:
                if probe:
                    self._probing = False
                    self._state = BreakerState.OPEN
            return
        with self._lock:
            if probe:
                self._probing = False
            before = self._state
            if counts:
                self._failures += 1
                self._last_error = str(error)
                if probe or self._failures >= self.failure_threshold:
                    self._state = BreakerState.OPEN
                    self._opened_at = time.monotonic()
                    if before is not BreakerState.OPEN or probe:
                        self.opened_total += 1
            else:
                self._failures = 0
                self._state = BreakerState.CLOSED
            changed = self._state is not before or (probe and self._state is BreakerState.OPEN)
            look = not changed and self._state is BreakerState.CLOSED and self._due_for_a_look()
        if changed:
            self._record()
        elif look:
            self._overwrite_if_not_closed()

    def _due_for_a_look(self) -> bool:
        if self.state_file is None:
            return False
        now = time.monotonic()
        if now < self._next_look:
            return False
        self._next_look = now + RECHECK_SECONDS
        return True

    def _overwrite_if_not_closed(self) -> None:
        """The backend answered this process: a state file that says the breaker is open (another
        process's, or this one's from before) no longer describes it, so record this closed one over it."""
        assert self.state_file is not None
        try:
            recorded = _read_record(self.state_file)
        except StorageError:
            recorded = None  # a link or other non-file there: said when this breaker next records its state
        if recorded is not None and recorded.get("state") != BreakerState.CLOSED.value:
            self._record()

    def reset(self) -> None:
        """Close the breaker and forget the failures."""
        with self._lock:
            self._state = BreakerState.CLOSED
            self._failures = 0
            self._probing = False
        self._record()

    def _record(self) -> None:
        if self.state_file is None:
            return
        with self._write_lock:  # the snapshot taken and written in turn: a later state never loses to an earlier
            record = self.snapshot()
            pid = os.getpid()
            record.update(
                {
                    "time": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
                    # Who wrote it, so readers can tell a live process from one that has ended.
                    "host": HOST,
                    "pid": pid,
                    "process_start": process_start(pid),
                    "boot_id": boot_id(),
                    # Wall-clock end of the cool-down, meaningful to other processes.
                    "open_until": time.time() + record["retry_in_s"] if record["state"] == "open" else None,
                }
            )
            try:
                self.state_file.parent.mkdir(parents=True, exist_ok=True)
                replace_regular(self.state_file, json.dumps(record, indent=1, sort_keys=True).encode())
            except (OSError, StorageError) as exc:
                # The state file is advisory: the breaker goes on in memory, and a caller's write never fails
                # over it (a link planted there is refused, never followed).
                where = exc if isinstance(exc, ArchiveEntryError) else f"{self.state_file}: {exc}"
                log.warning("circuit breaker %s: state not recorded, kept in memory only: %s", self.name, where)


def boot_id() -> str | None:
    """This boot of the machine (Linux), or None: with a pid and its start time it names one process for good."""
    try:
        with open(_BOOT_ID_FILE, encoding="ascii") as handle:
            return handle.read().strip() or None
    except OSError:
        return None


def writer_alive(record: dict[str, Any]) -> bool | None:
    """Whether the process that wrote a breaker's record still runs; None when it cannot be told from here
    (another host, no /proc, or a record from before processes were named by their start time)."""
    pid = record.get("pid")
    if record.get("host") != HOST or not isinstance(pid, int) or process_start(os.getpid()) is None:
        return None
    recorded_boot = record.get("boot_id")
    if recorded_boot is not None and boot_id() is not None and recorded_boot != boot_id():
        return False  # the machine restarted since
    running_since = process_start(pid)
    if running_since is None:
        return False  # no such process
    recorded_start = record.get("process_start")
    if recorded_start is None:
        return None  # a pid is running, but nothing tells whether it is the writer
    return running_since == recorded_start  # another start time: the pid was reused


def _read_record(path: Path) -> dict[str, Any] | None:
    """The record in `path`, None when missing or unreadable; a link there raises ArchiveEntryError naming it."""
    try:
        record = json.loads(read_regular(path) or b"")
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and "state" in record else None


def live_breakers() -> list[CircuitBreaker]:
    """Every breaker of this process that is still in use."""
    return list(_live)


def read_breaker_states(state_dir: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """The last recorded state of every breaker with a state file in `state_dir`, by name.

    An open breaker whose cool-down has passed reads as half-open. Each record
    also says whether its writer still runs (`writer_alive`: True, False, or
    None when that cannot be told) and whether it is `stale`: not closed, and
    left by a process that has ended, so it describes no running process.
    """
    states: dict[str, dict[str, Any]] = {}
    folder = Path(state_dir)
    if not folder.is_dir():
        return states
    for path in sorted(folder.glob(f"{STATE_FILE_PREFIX}*.json")):
        try:
            record = _read_record(path)
        except StorageError as exc:
            log.warning("circuit breaker state in %s not read: %s", path, exc)
            continue
        if record is None:
            continue
        until = record.get("open_until")
        if record["state"] == BreakerState.OPEN.value and isinstance(until, (int, float)) and until <= time.time():
            record["state"] = BreakerState.HALF_OPEN.value
        record["writer_alive"] = writer_alive(record)
        record["stale"] = record["state"] != BreakerState.CLOSED.value and record["writer_alive"] is False
        record["file"] = str(path)
        states[str(record.get("name") or path.stem.removeprefix(STATE_FILE_PREFIX))] = record
    return states


def describe_breaker(name: str, record: dict[str, Any]) -> str:
    """One line on a breaker's recorded state, for health, status and troubleshoot."""
    state = record.get("state", "unknown")
    line = f"circuit breaker of {name}: {state}"
    if state == BreakerState.CLOSED.value:
        return line
    line += f" after {record.get('consecutive_failures')} failure(s)"
    writer = f"process {record['pid']} on {record.get('host')}" if "pid" in record else None
    if record.get("stale"):
        return (
            f"{line}, recorded by {writer}, which has ended: stale, not counted "
            f"(msgmodule breaker reset {name} removes it)"
        )
    if writer is not None:
        line += f" in {writer}" + (", still running" if record.get("writer_alive") else "")
    return line


def clear_breaker_states(
    state_dir: str | os.PathLike[str], names: Iterable[str] | None = None
) -> dict[str, dict[str, Any]]:
    """Remove the state files of the breakers called `names` (all when None); returns what each recorded.

    A running process's breaker is not changed by this: it is in that process's memory,
    and is written again at its next change (its probe after the cool-down, at the latest).
    """
    recorded = read_breaker_states(state_dir)
    if names is None:  # every file, also one that cannot be read
        names = [
            path.stem.removeprefix(STATE_FILE_PREFIX) for path in Path(state_dir).glob(f"{STATE_FILE_PREFIX}*.json")
        ]
    wanted = set(names)
    removed: dict[str, dict[str, Any]] = {}
    for name in sorted(wanted):
        path = breaker_state_path(state_dir, name)
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        removed[name] = recorded.get(name, {"state": "unreadable", "file": str(path)})
    return removed


class BreakerStore(MessageStore):
    """A store whose calls go through a circuit breaker.

    Wrap the secondary store of a dual write with it:
    `BreakerStore(db_store, CircuitBreaker("db", state_file=breaker_state_path(state_dir, "db")))`.
    """

    def __init__(self, inner: MessageStore, breaker: CircuitBreaker | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.breaker = breaker if breaker is not None else CircuitBreaker(inner.name)

    def describe(self) -> str:
        state = self.breaker.state
        suffix = "" if state is BreakerState.CLOSED else f" (circuit breaker {state.value})"
        return self.inner.describe() + suffix

    def load(self, deposition_id: str, content_type: str) -> Document:
        return self.breaker.call(lambda: self.inner.load(deposition_id, content_type))

    def load_many(self, deposition_id: str, content_types: Iterable[str]) -> dict[str, Document]:
        wanted = list(content_types)
        return self.breaker.call(lambda: self.inner.load_many(deposition_id, wanted))

    def status_rows(self, deposition_id: str, content_type: str) -> tuple[list[MessageStatus], list[str | None]]:
        return self.breaker.call(lambda: self.inner.status_rows(deposition_id, content_type))

    def flag_lists(self, deposition_id: str, content_type: str) -> FlagLists:
        return self.breaker.call(lambda: self.inner.flag_lists(deposition_id, content_type))

    def save(self, document: Document) -> None:
        self.breaker.call(lambda: self.inner.save(document))

    def update(self, deposition_id: str, content_type: str, change: Callable[[Document], T]) -> T:
        return self.breaker.call(lambda: self.inner.update(deposition_id, content_type, change))

    def overwrite(self, deposition_id: str, content_type: str, produce: Callable[[], Document]) -> Document:
        return self.breaker.call(lambda: self.inner.overwrite(deposition_id, content_type, produce))

    def document_lock(self, deposition_id: str, content_type: str) -> AbstractContextManager[None]:
        return self.inner.document_lock(deposition_id, content_type)

    def apply_change(self, deposition_id: str, content_type: str, before: Document | None, after: Document) -> None:
        self.breaker.call(lambda: self.inner.apply_change(deposition_id, content_type, before, after))

    @property
    def overlaps_changes(self) -> bool:  # type: ignore[override]
        return self.inner.overlaps_changes

    @property
    def calls_before_replace(self) -> bool:  # type: ignore[override]
        return self.inner.calls_before_replace

    def apply_change_when(
        self, deposition_id: str, content_type: str, before: Document | None, after: Document, go: Callable[[], bool]
    ) -> bool:
        return self.breaker.call(lambda: self.inner.apply_change_when(deposition_id, content_type, before, after, go))

    def list_depositions(self) -> list[str]:
        return self.breaker.call(self.inner.list_depositions)

    def __getattr__(self, attribute: str) -> Any:
        # Other capabilities of the inner store (ping, document_keys, ...) go through the breaker too.
        value = getattr(self.inner, attribute)
        if not callable(value):
            return value

        def guarded(*args: Any, **kwargs: Any) -> Any:
            return self.breaker.call(lambda: value(*args, **kwargs))

        return guarded
