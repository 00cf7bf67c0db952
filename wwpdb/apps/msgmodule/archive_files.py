"""Writing files in the archive root: never through a link, and with the mode and group the site gave.

One rule for every writer below the root (message files and their snapshots,
lock files, the site folder `.msgmodule` and its record, history, locks and
journal): an entry where a file or folder is written must be that file or
folder itself. A symbolic link (dangling or not), a FIFO or a device there
raises ArchiveEntryError naming the path, and nothing is written through it,
so no write lands outside the root or in another deposition's files.

OneDep sites share the archive between service accounts through group
permissions, so a file that replaces another keeps its mode and group, and a
new file takes them from its predecessor or, failing one, from its folder
(without the folder's execute and special bits). When the writer is root the
owner is kept too: a file an operator rewrites stays its owner's.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from filelock import FileLock

from .cifformat import describe_entry
from .errors import ArchiveEntryError, StorageError

NOT_FOLLOWED = "symbolic links below the archive root are not followed; nothing was written through it"
NOT_READ = "symbolic links below the archive root are not followed; not read"
_NOFOLLOW = os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a FIFO planted where a file belongs opens at once (and is refused) instead of blocking.
_OPEN_EXISTING = _NOFOLLOW | os.O_NONBLOCK


def refused(path: str | os.PathLike[str], wanted: str) -> ArchiveEntryError:
    """The error for an entry that is not the `wanted` kind ("a regular file", "a folder")."""
    link = os.path.islink(path)
    return ArchiveEntryError(
        str(path), f"is {describe_entry(path)}, not {wanted}; " + (NOT_FOLLOWED if link else "nothing was written")
    )


def real_folder(path: str | os.PathLike[str], create: bool = True, what: str = "a folder") -> bool:
    """Check that `path` is a real folder, never a link; create it when missing (and `create`) with its
    parent's mode and group. Returns whether it exists now."""
    try:
        status = os.lstat(path)
    except FileNotFoundError:
        if not create:
            return False
        try:
            os.mkdir(path, 0o700)  # no wider than needed until it has its parent's mode
        except FileExistsError:
            return real_folder(path, False, what)  # made meanwhile by another writer: check it
        except OSError as exc:
            raise StorageError(f"cannot create {path}: {exc.strerror or exc}") from exc
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW)
        try:
            take_attributes(fd, path, os.stat(Path(path).parent), folder=True, keep_exec=True)
        except BaseException:
            with contextlib.suppress(OSError):
                os.rmdir(path)  # made empty just now: not left behind with a mode no other account can use
            raise
        finally:
            os.close(fd)
        return True
    if not stat.S_ISDIR(status.st_mode):
        raise refused(path, what)
    return True


def take_attributes(
    fd: int, path: str | os.PathLike[str], source: os.stat_result, folder: bool = False, keep_exec: bool = False
) -> None:
    """Give the new file open as `fd` the mode and group of `source`: the file it replaces or follows,
    or (`folder`) the folder it is made in, less execute and special bits unless `keep_exec` (a new folder).
    What takes a folder's mode is never writable by others: a world-writable folder (sticky, as /tmp) is
    no reason to let every account rewrite a message file, a breaker or the counters."""
    mode = stat.S_IMODE(source.st_mode)
    if folder and not keep_exec:
        mode &= 0o664
    elif keep_exec:
        mode &= 0o2775  # a new folder keeps set-group-id (new files then get the group) but not sticky/setuid
    uid = source.st_uid if os.geteuid() == 0 else -1
    try:
        mine = os.fstat(fd)
        if (uid != -1 and mine.st_uid != uid) or mine.st_gid != source.st_gid:
            os.fchown(fd, uid, source.st_gid)  # before fchmod: a chown clears the set-group-id bit
        os.fchmod(fd, mode)
    except OSError as exc:
        raise StorageError(
            f"cannot give {path} the mode {mode:o} and group {source.st_gid} the site uses there: "
            f"{exc.strerror or exc}; run the writer under an account in that group"
        ) from exc


def open_file(path: str | os.PathLike[str], flags: int, like: os.stat_result | None = None) -> int:
    """Open a regular file without following a link; a missing one is created (O_CREAT is implied) with
    the mode and group of `like`, or else of its folder. Anything but a regular file raises
    ArchiveEntryError naming the path; other failures raise OSError for the caller to name."""
    flags &= ~(os.O_CREAT | os.O_EXCL | os.O_TRUNC)
    for _ in range(5):  # a file removed or made between the two opens: look again
        try:
            fd = os.open(path, flags | _OPEN_EXISTING)
        except FileNotFoundError:
            try:
                fd = os.open(path, flags | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600)
            except FileExistsError:
                continue
            return _finish_new_file(fd, path, like)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.EISDIR, errno.ENXIO):  # a link, a folder, a FIFO without reader
                raise refused(path, "a regular file") from None
            raise
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise refused(path, "a regular file")
        return fd
    raise StorageError(f"cannot open {path}: it keeps appearing and disappearing")


def create_fresh(path: str | os.PathLike[str], like: os.stat_result | None = None) -> int:
    """Create `path` for writing afresh (a temporary file with a fixed name): a regular file left there by
    a crash is removed first; a link or anything else raises ArchiveEntryError naming it."""
    try:
        status = os.lstat(path)
    except FileNotFoundError:
        pass
    else:
        if not stat.S_ISREG(status.st_mode):
            raise refused(path, "a regular file (a temporary file left by an earlier write)")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600)
    except FileExistsError:
        raise refused(path, "a regular file (made by another writer meanwhile)") from None
    return _finish_new_file(fd, path, like)


def _finish_new_file(fd: int, path: str | os.PathLike[str], like: os.stat_result | None) -> int:
    """`fd`, of a file just made at `path` (O_EXCL), given the mode and group of `like`, or else of its
    folder; if that fails, the file is closed and removed again (it is empty and ours) and the error raised."""
    try:
        if like is None:
            take_attributes(fd, path, os.stat(Path(path).parent), folder=True)
        else:
            take_attributes(fd, path, like)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    return fd


def existing_status(path: str | os.PathLike[str]) -> os.stat_result | None:
    """The status of a regular file at `path` (not followed), None when there is none; anything else refused."""
    try:
        status = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(status.st_mode):
        raise refused(path, "a regular file")
    return status


def replace_regular(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace the file at `path` with `data` in one step: readers see the old file or the new one.

    The entry at `path`, if any, must be a regular file (it keeps its mode and group; a new one takes its
    folder's); the temporary file beside it, named for this process and thread, is made afresh. A link
    at either raises ArchiveEntryError naming that path, and nothing is written through it; other
    failures raise OSError, and leave no temporary file behind.
    """
    path = Path(path)
    like = existing_status(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = create_fresh(tmp, like=like)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)  # a link planted at `path` since the check is replaced, never followed
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)  # made afresh above: ours, never a link
        raise


@contextlib.contextmanager
def lock_file(path: str | os.PathLike[str], timeout: float) -> Iterator[None]:
    """Hold FileLock's lock on `path`; a link there is refused as ArchiveEntryError naming it, not followed."""
    try:
        handle = FileLock(str(path), timeout=timeout)
        handle.acquire()
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # FileLock opens with O_NOFOLLOW
            raise refused(path, "a regular file (a lock file)") from None
        raise
    try:
        yield
    finally:
        handle.release()


def lock(fd: int, mode: int, timeout: float) -> bool:
    """flock `fd` (LOCK_EX or LOCK_SH), waiting up to `timeout` seconds; False when it stays held."""
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(delay)
            delay = min(delay * 2, 0.05)


def open_regular(path: str | os.PathLike[str]) -> int | None:
    """The regular file at `path` opened for reading, never through a link; None when there is none.
    A link or anything else raises ArchiveEntryError naming the path; other failures raise OSError."""
    try:
        fd = os.open(path, os.O_RDONLY | _OPEN_EXISTING)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ArchiveEntryError(str(path), f"is {describe_entry(path)}; {NOT_READ}") from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ArchiveEntryError(str(path), f"is {describe_entry(path)}, not a regular file; not read")
    return fd


def read_regular(path: str | os.PathLike[str]) -> bytes | None:
    """The bytes of the regular file at `path`, never through a link; None when there is none.
    A link or anything else raises ArchiveEntryError naming the path; other failures raise OSError."""
    fd = open_regular(path)
    if fd is None:
        return None
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def fsync_entry(path: str | os.PathLike[str], flags: int = 0, unopenable_ok: bool = False) -> None:
    """fsync the file or folder at `path`, opened read-only with `flags` added. OSError as raised, except
    that with `unopenable_ok` an entry that cannot be opened is passed over (some file systems do not
    open folders; a rename in them is still atomic)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | flags)
    except OSError:
        if unopenable_ok:
            return
        raise
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_file_system(folder: str | os.PathLike[str], written: list[str] | None = None) -> None:
    """Make every write made so far in the file system holding `folder` durable, in one call.

    Bulk writers (export, a stage rollback) write a batch of files without syncing
    each, then call this once: Linux's syncfs commits them all together. Where
    it is missing, each of `written` and its folder is synced one by one.
    """
    fd = os.open(folder, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _syncfs is not None:
            if _syncfs(fd) == 0:
                return
            error = ctypes.get_errno()
            raise StorageError(f"cannot sync the file system of {folder}: {os.strerror(error)}")
        for path in written or ():
            for target in (path, os.path.dirname(path)):
                with contextlib.suppress(FileNotFoundError):
                    fsync_entry(target)
    except OSError as exc:
        raise StorageError(f"cannot sync the file system of {folder}: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)


def _find_syncfs() -> Any:
    try:
        function = ctypes.CDLL(None, use_errno=True).syncfs
    except (AttributeError, OSError):
        return None
    function.argtypes = [ctypes.c_int]
    function.restype = ctypes.c_int
    return function


_syncfs = _find_syncfs()
