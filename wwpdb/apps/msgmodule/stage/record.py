"""The site's stage record and the site lock, kept in the archive root.

Every process of a site shares the archive root, so that is where the stage in
force is recorded, in `<MSGCIF_ROOT>/.msgmodule/`:

    stage.json           the stage, its epoch (one more on every move), the archive's
                         id, and how the site got there (when, who, forced, skipped)
    stage-history.jsonl  one line per move
    stage.lock           the site lock: every write holds it shared for as long as it
                         runs (both stores, in a dual write); a move holds it exclusive

A site without `stage.json` is in `cif-only` at epoch 0. Only `lifecycle` writes
the record, under the move lock (and a restore, to mark the site taken the same
way: `site_taken`); everyone else reads it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import stat
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ..archive_files import create_fresh, existing_status, fsync_entry, open_file, read_regular, real_folder, refused
from ..errors import BackendUnavailableError, MessagingError, StorageError
from .policy import STAGES, ConfigurationError

SITE_DIR = ".msgmodule"
START_STAGE = "cif-only"


def seconds_setting(name: str, default: float, highest: float) -> float:
    """A number of seconds from the environment, from 0 to `highest`; anything else names the variable."""
    text = os.environ.get(name, "")
    if not text.strip():
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= highest:
        raise ConfigurationError(f"{name}={text!r} must be a number of seconds from 0 to {highest:g}")
    return value


# Seconds a read may trust the stage it last saw (writes always confirm under the lock); at most 5.
READ_CHECK_SECONDS = seconds_setting("MSGMODULE_STAGE_CHECK_SECONDS", 1.0, 5.0)
# Seconds a write waits for a stage move to finish before giving up.
MOVE_WAIT_SECONDS = seconds_setting("MSGMODULE_STAGE_WAIT_SECONDS", 120.0, 3600.0)


class StageMoveInProgress(MessagingError):
    """The site is moving to another stage; writes wait for it, and gave up waiting."""


def site_dir(cif_root: str | os.PathLike[str]) -> Path:
    return Path(cif_root) / SITE_DIR


def site_folder(cif_root: str | os.PathLike[str], create: bool = True) -> Path:
    """The site folder, checked to be a real folder in the root (never a link: what it holds decides the
    stage of every process of the site); made, like the root, when missing and `create`."""
    require_root(cif_root)
    folder = site_dir(cif_root)
    real_folder(folder, create, what="the site's folder")
    return folder


@dataclass(frozen=True)
class SiteRecord:
    """The stage in force at a site, and how it got there."""

    stage: str = START_STAGE
    epoch: int = 0
    archive_id: str | None = None
    time: str | None = None
    who: str | None = None
    forced: bool = False
    skipped: list[str] = field(default_factory=list)
    moving_to: str | None = None  # set while a move runs: writes wait until it is done

    @classmethod
    def from_json(cls, text: str, path: Path) -> SiteRecord:
        try:
            data = json.loads(text)
            record = cls(**{name: data[name] for name in cls.__dataclass_fields__ if name in data})
        except (ValueError, TypeError) as exc:
            history = path.with_name("stage-history.jsonl")
            raise StorageError(
                f"the site's stage record {path} is unreadable ({exc}); restore it from "
                f"{history} (its last line) or move the stage again"
            ) from exc
        if record.stage not in STAGES:
            raise StorageError(f"the site's stage record {path} names an unknown stage {record.stage!r}")
        return record

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class SiteRecordReader:
    """Reads a site's record, re-parsing it only when the file changed (moves replace it)."""

    _registry: dict[str, SiteRecordReader] = {}
    _registry_mutex = threading.Lock()

    @classmethod
    def of(cls, cif_root: str | os.PathLike[str]) -> SiteRecordReader:
        """The process's one reader of this site's record: routing and the stores' checks share its look."""
        key = os.path.realpath(cif_root)
        with cls._registry_mutex:
            reader = cls._registry.get(key)
            if reader is None:
                reader = cls._registry[key] = cls(cif_root)
            return reader

    @classmethod
    def expire(cls, cif_root: str | os.PathLike[str]) -> None:
        """Make the shared reader of this site look again at its next use (this process just wrote the record)."""
        with cls._registry_mutex:
            reader = cls._registry.get(os.path.realpath(cif_root))
        if reader is not None:
            reader._checked_at = float("-inf")

    def __init__(self, cif_root: str | os.PathLike[str]) -> None:
        self.path = site_dir(cif_root) / "stage.json"
        self._seen: tuple[int, int, int] | None = None
        self._record = SiteRecord()
        self._checked_at = float("-inf")
        self._mutex = threading.Lock()

    def confirm(self) -> SiteRecord:
        """The record as it is now on disk (an open and a stat; parsed again only if replaced)."""
        with self._mutex:
            try:
                real_folder(self.path.parent, create=False)
                fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW)
            except FileNotFoundError:
                require_root(self.path.parent.parent)
                self._seen, self._record = None, SiteRecord()
            except OSError as exc:
                raise StorageError(f"cannot read the site's stage record {self.path}: {exc.strerror or exc}") from exc
            else:
                with os.fdopen(fd, "rb") as handle:
                    status = os.fstat(handle.fileno())
                    key = (status.st_ino, status.st_size, status.st_mtime_ns)
                    if key != self._seen:
                        self._record = SiteRecord.from_json(handle.read().decode("utf-8"), self.path)
                        self._seen = key
            self._checked_at = time.monotonic()
            return self._record

    def current(self, max_age: float = READ_CHECK_SECONDS) -> SiteRecord:
        """The record, confirmed on disk if the last look is older than `max_age` seconds."""
        if time.monotonic() - self._checked_at <= max_age:
            return self._record
        return self.confirm()


def require_root(cif_root: str | os.PathLike[str]) -> None:
    """The archive root must exist: it holds the site's record (a missing one is never created)."""
    if not os.path.isdir(cif_root):
        raise BackendUnavailableError(
            f"the archive root {cif_root} does not exist or is not a folder: it holds the site's stage record, so "
            "no process serves without it (check MSGCIF_ROOT, and that the archive's share is mounted)"
        )


def write_record(cif_root: str | os.PathLike[str], record: SiteRecord) -> None:
    """Replace the record atomically (callers hold the exclusive site lock); it keeps its mode and group."""
    folder = site_folder(cif_root)
    path = folder / "stage.json"
    tmp = folder / f".stage.json.{os.getpid()}.tmp"
    try:
        fd = create_fresh(tmp, like=existing_status(path))
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(record.as_dict(), handle, indent=1, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        SiteRecordReader.expire(cif_root)
        fsync_entry(folder, os.O_NOFOLLOW)
    except OSError as exc:
        with contextlib.suppress(OSError, StorageError):
            if existing_status(tmp) is not None:  # ours: a link there was refused before anything was written
                os.unlink(tmp)
        raise StorageError(f"cannot write the site's stage record {path}: {exc.strerror or exc}") from exc


def read_history(cif_root: str | os.PathLike[str]) -> list[dict[str, Any]]:
    folder = site_dir(cif_root)
    if not real_folder(folder, create=False):
        return []
    path = folder / "stage-history.jsonl"
    try:
        data = read_regular(path)
    except OSError as exc:
        raise StorageError(f"cannot read the site's stage history {path}: {exc.strerror or exc}") from exc
    if data is None:
        return []
    found = []
    for line in data.decode("utf-8", errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            found.append(json.loads(line))
    return found


def append_history(cif_root: str | os.PathLike[str], entry: dict[str, Any]) -> None:
    path = site_folder(cif_root) / "stage-history.jsonl"
    try:
        fd = open_file(path, os.O_WRONLY | os.O_APPEND)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise StorageError(f"cannot append to {path}: {exc.strerror or exc}") from exc


def new_archive_id() -> str:
    return uuid.uuid4().hex


class SiteLock:
    """The site lock: shared by writes (any number, any process), exclusive for a move.

    An flock on `.msgmodule/stage.lock`. Threads of one process share one shared
    hold (flock belongs to the open file, not the thread), counted here; a
    forked child opens its own. A process that dies loses its hold with it.
    """

    _registry: dict[tuple[int, str], SiteLock] = {}
    _registry_mutex = threading.Lock()

    def __init__(self, cif_root: str | os.PathLike[str]) -> None:
        self.root = Path(cif_root)
        self.path = site_dir(cif_root) / "stage.lock"
        self._mutex = threading.Lock()
        self._holders = 0
        self._fd: int | None = None
        self._pid: int | None = None

    @classmethod
    def of(cls, cif_root: str | os.PathLike[str]) -> SiteLock:
        """The process's one shared hold on this site's lock (services come and go; it stays open)."""
        key = (os.getpid(), os.path.realpath(cif_root))
        with cls._registry_mutex:
            lock = cls._registry.get(key)
            if lock is None:
                lock = cls._registry[key] = cls(cif_root)
            return lock

    def _open(self, writable: bool = False) -> int:
        # Shared holds read (so a read-only archive still lets the database side write); a move writes.
        mode = os.O_RDWR if writable else os.O_RDONLY
        try:
            real_folder(self.path.parent, create=False)
            fd = os.open(self.path, mode | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                os.close(fd)
                raise refused(self.path, "a regular file")
            return fd
        except FileNotFoundError:
            pass
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise refused(self.path, "a regular file") from None
            raise StorageError(f"cannot open the site lock {self.path}: {exc.strerror or exc}") from exc
        try:
            return open_file(site_folder(self.root) / self.path.name, os.O_RDWR)
        except OSError as exc:
            raise StorageError(
                f"cannot create the site lock {self.path}: {exc.strerror or exc} (the archive root must be "
                "writable by the site's processes)"
            ) from exc

    @contextlib.contextmanager
    def shared(self, timeout: float = MOVE_WAIT_SECONDS) -> Iterator[None]:
        """Hold the lock shared (as a write does) for the duration of the block."""
        with self._mutex:
            if self._pid != os.getpid():  # a forked child: the inherited open file is the parent's
                self._fd, self._holders, self._pid = None, 0, os.getpid()
            if self._holders == 0:
                if self._fd is None:
                    self._fd = self._open()
                _flock(self._fd, fcntl.LOCK_SH, timeout, self.path)
            self._holders += 1
        try:
            yield
        finally:
            with self._mutex:
                self._holders -= 1
                if self._holders == 0 and self._fd is not None and self._pid == os.getpid():
                    fcntl.flock(self._fd, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def exclusive(self, timeout: float = MOVE_WAIT_SECONDS) -> Iterator[None]:
        """Hold the lock alone (as a move does): waits for running writes, holds off new ones."""
        fd = self._open(writable=True)
        try:
            _flock(fd, fcntl.LOCK_EX, timeout, self.path)
            yield
        finally:
            os.close(fd)  # releases the lock


def _flock(fd: int, mode: int, timeout: float, path: Path) -> None:
    deadline = time.monotonic() + timeout
    delay = 0.002
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                what = "a stage move" if mode == fcntl.LOCK_SH else "running writes"
                raise StageMoveInProgress(
                    f"waited {timeout:.0f}s for {what} to finish ({path} is held); retry later, or see "
                    "`msgmodule stage` for the move in progress"
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        except OSError as exc:
            raise StorageError(f"cannot lock {path}: {exc.strerror or exc}") from exc


@contextlib.contextmanager
def move_lock(cif_root: str | os.PathLike[str]) -> Iterator[None]:
    """One mover at a site at a time; held for the whole move (writes test it to tell a dead mover)."""
    path = site_folder(cif_root) / "move.lock"
    try:
        fd = open_file(path, os.O_RDWR)
    except OSError as exc:
        raise StorageError(f"cannot open the move lock {path}: {exc.strerror or exc}") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StageMoveInProgress(f"another stage move is running at this site ({path} is held)") from None
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def site_taken(cif_root: str | os.PathLike[str], marked: SiteRecord) -> Iterator[None]:
    """Take the site as a move does (the caller holds the move lock): the record marked "moving" first, so
    new writes stand back, then the site lock alone once running writes finish. A block that fails
    unmarks the record; one that succeeds writes the record it leaves (unmarked) itself. The marking is
    inside the guard too: Ctrl-C can land after the marked record is in place but before its write returns."""
    try:
        write_record(cif_root, marked)
        with SiteLock(cif_root).exclusive():
            yield
    except BaseException:
        with contextlib.suppress(MessagingError):
            write_record(cif_root, replace(marked, moving_to=None))
        raise


def mover_alive(cif_root: str | os.PathLike[str]) -> bool:
    """Whether some process holds the move lock (a record left "moving" by a dead mover is not a move)."""
    path = site_dir(cif_root) / "move.lock"
    try:
        real_folder(path.parent, create=False)
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
