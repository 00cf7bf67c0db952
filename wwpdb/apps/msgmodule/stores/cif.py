"""The CIF archive store: OneDep message files under `<root>/<DEPID>/`.

Layout: `<root>/<DEPID>/<DEPID>_<content-type>_P1.cif.V<n>`; the current file
is the highest `n`. Writes keep OneDep's legacy behaviour: the current version
is rewritten in place after rotating snapshots `.PREV0`..`.PREV4` (`V1` is
created when there is no file). Each write is atomic (temporary file, fsync,
rename) and runs under an exclusive lock that spans the read-modify-write.
A rewritten file keeps its mode and group, a new version takes its
predecessor's, a first file its folder's (see archive_files).

No symbolic link below the root is followed (the root itself may be one): a link
can point out of the archive, loop, or name a device, and OneDep writes none. A
deposition folder or current message file that is a link, a FIFO, a device or
otherwise not a plain folder or regular file raises ArchiveEntryError naming
the path; it is never opened (so a FIFO cannot block a reader), and walking the
archive lists such entries as skipped instead of failing.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import stat
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..archive_files import (
    create_fresh,
    existing_status,
    fsync_entry,
    lock,
    open_file,
    real_folder,
    refused,
    take_attributes,
)
from ..cifformat import (
    Columns,
    decode_bytes,
    describe_entry,
    document_of,
    format_document,
    parse_text_columns,
    read_regular_file,
    read_regular_file_status,
)
from ..errors import ArchiveEntryError, BackendUnavailableError, StorageError, StoreLockTimeout
from ..model import (
    CONTENT_TYPES,
    DEPOSITION_ID_PATTERN,
    MAX_DEPOSITION_ID_LENGTH,
    Document,
    MessageStatus,
    copy_rows,
    validate_content_type,
    validate_deposition_id,
)
from .authority import check_archive_write, checks_authority
from .base import FlagLists, MessagePage, MessageStore, first_origcomm, messages_in_order, page_of

if TYPE_CHECKING:
    from ..stage.record import SiteRecordReader

T = TypeVar("T")

PREV_SNAPSHOTS = 5
_FILE_NAME = re.compile(
    rf"(?P<dep>{DEPOSITION_ID_PATTERN})_(?P<ct>"
    + "|".join(map(re.escape, CONTENT_TYPES))
    + r")_P1\.cif\.V(?P<version>[0-9]+)"
)
_DEPOSITION_DIR = re.compile(DEPOSITION_ID_PATTERN)
# Named like a deposition folder; reported when it is not one we can read (a link, a file, too long an id).
_DEPOSITION_LIKE = re.compile(r"[DG]_[0-9]+")
_OPEN_FOLDER_FLAGS = (
    os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
)
_NOT_FOLLOWED = "symbolic links below the archive root are not followed"


@dataclass(frozen=True)
class SkippedEntry:
    """An archive entry that was not read, and why (a link, a FIFO, a device, a bad name)."""

    path: str
    reason: str
    deposition_id: str | None = None  # the folder name, when the entry is named like a deposition

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def file_name(deposition_id: str, content_type: str, version: int) -> str:
    return f"{deposition_id}_{content_type}_P1.cif.V{version}"


# The document locks each thread holds: flock locks are per open file, so a second FileLock on a held
# path would wait for itself.
_HELD = threading.local()


class _Kept:
    """One kept file: its identity, its parse's columns, and the document `shared` hands out, once made."""

    __slots__ = ("identity", "columns", "document")

    def __init__(self, identity: tuple[int, ...], columns: Columns) -> None:
        self.identity = identity
        self.columns = columns
        self.document: Document | None = None


class ParsedFiles:
    """Parsed message files kept across requests, each under the identity of the file it was parsed from.

    A file is only ever served from here while its path still names the same
    file unchanged: same device, inode, size, modification and change times
    (a store write replaces the file, so a new inode; any other writer changes
    the times). A file changed less than `SETTLE_NS` before it was read is not
    kept: a second write within the file system's timestamp tick could leave
    its times as they were. What is kept is the parse's columns (`Columns`, never
    changed): a caller gets a document made from them, its own to change, so
    keeping a file costs a read nothing (a cold read is the parse alone). The one
    document `shared` hands out is made from them at its first use.

    What is made from kept files (the order a page is taken in, the flag
    lists) is kept too, under the identities of every file it was made from
    (`derived`): a page of a long history then costs the page, not the history.
    """

    SETTLE_NS = 2_000_000_000

    def __init__(self, limit: int = 64, derived_limit: int = 256) -> None:
        self.limit = limit
        self.derived_limit = derived_limit
        self._lock = threading.Lock()
        self._files: OrderedDict[str, _Kept] = OrderedDict()
        self._derived: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._derived_of: dict[str, set[tuple[Any, ...]]] = {}  # path -> keys of what was made from it

    @staticmethod
    def identity(status: os.stat_result) -> tuple[int, ...]:
        return (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns)

    def parse(self, path: str, deposition_id: str, content_type: str) -> Document:
        """The file's document, the caller's to change."""
        return self._read(path, deposition_id, content_type, own=True)[0]

    def status_rows(
        self, path: str, deposition_id: str, content_type: str
    ) -> tuple[list[MessageStatus], list[str | None]]:
        """`MessageStore.status_rows` of the file: copies of the status rows, the messages' ids."""
        document, _ = self._read(path, deposition_id, content_type)
        return copy_rows(document.statuses), [message.message_id for message in document.messages]

    def flag_lists(self, path: str, deposition_id: str, content_type: str) -> FlagLists:
        """`MessageStore.flag_lists` of the file, made once per identity of a kept file."""
        document, identity = self._read(path, deposition_id, content_type)
        make = partial(_flag_lists_of, document)
        return make() if identity is None else self.derived("flags", ((path, identity),), make)

    def shared(self, path: str, deposition_id: str, content_type: str) -> tuple[Document, tuple[int, ...] | None]:
        """The file's document, possibly the one kept here: the caller must not change it (nor hand it on);
        and the identity it is kept under (None when it is not kept)."""
        return self._read(path, deposition_id, content_type)

    def derived(self, name: str, sources: tuple[tuple[str, Any], ...], make: Callable[[], T]) -> T:
        """What `make()` makes of kept documents, kept while they are: `sources` names each file it is made
        from with the identity `shared` gave (a changed file is another key, and a file dropped or read
        anew drops what was made from it). The caller must not change what is returned."""
        key = (name, sources)
        with self._lock:
            if key in self._derived:
                self._derived.move_to_end(key)
                return self._derived[key]  # type: ignore[no-any-return]
        made = make()
        with self._lock:
            kept = [path for path, identity in sources if identity is not None]
            if all(
                path in self._files and self._files[path].identity == identity for path, identity in sources if identity
            ):
                self._derived[key] = made
                for path in kept:
                    self._derived_of.setdefault(path, set()).add(key)
                while len(self._derived) > self.derived_limit:
                    self._derived.popitem(last=False)
        return made

    def _drop_derived(self, path: str) -> None:
        """Drop what was made from the file at `path` (caller holds the lock)."""
        for key in self._derived_of.pop(path, ()):
            self._derived.pop(key, None)

    def _read(
        self, path: str, deposition_id: str, content_type: str, own: bool = False
    ) -> tuple[Document, tuple[int, ...] | None]:
        """The document and the identity it is kept under here, when it is the one kept (never to be changed);
        with `own`, always a document of the caller's own (and None)."""
        try:
            now = os.lstat(path)  # never followed: a link here is refused by the read below
        except OSError:
            now = None
        if now is not None and stat.S_ISREG(now.st_mode):
            identity = self.identity(now)
            with self._lock:
                kept = self._files.get(path)
                if kept is not None and kept.identity == identity:
                    self._files.move_to_end(path)
                else:
                    kept = None
            if kept is not None:
                if own:
                    return document_of(deposition_id, content_type, kept.columns), None
                if kept.document is None:
                    made = document_of(deposition_id, content_type, kept.columns)
                    with self._lock:  # the first one made is the one shared
                        if kept.document is None:
                            kept.document = made
                return kept.document, identity
        data, status = read_regular_file_status(path)
        columns = parse_text_columns(decode_bytes(data), source=path)
        settled = time.time_ns() - self.SETTLE_NS
        if status.st_mtime_ns < settled and status.st_ctime_ns < settled:
            with self._lock:
                self._drop_derived(path)
                self._files[path] = _Kept(self.identity(status), columns)
                self._files.move_to_end(path)
                while len(self._files) > self.limit:
                    dropped, _ = self._files.popitem(last=False)
                    self._drop_derived(dropped)
        return document_of(deposition_id, content_type, columns), None

    def forget(self, path: str) -> None:
        with self._lock:
            self._files.pop(path, None)
            self._drop_derived(path)

    def clear(self) -> None:
        with self._lock:
            self._files.clear()
            self._derived.clear()
            self._derived_of.clear()


def _flag_lists_of(document: Document) -> FlagLists:
    return FlagLists.of(document.statuses, [message.message_id for message in document.messages])


# One per process: a web worker's requests share it (each checks the file's identity before using it).
PARSED_FILES = ParsedFiles()

# Called by a write once its new file is written and synced, before anything of it is in place (the
# snapshots rotated, the file renamed): a dual write waits there for its journal entry to reach the
# disk, which it synced meanwhile (see stores.dual). An error it raises fails the write, the archive
# as it was. Set only around one store call.
BEFORE_REPLACE: ContextVar[Callable[[], None] | None] = ContextVar("msgmodule_before_replace", default=None)
# Called by a write once its new file is in place, before the folder is synced: a dual write's
# database transaction commits meanwhile (see stores.dual). Set only around one store call.
AFTER_REPLACE: ContextVar[Callable[[], None] | None] = ContextVar("msgmodule_after_replace", default=None)


class CifMessageStore(MessageStore):
    """Message documents in an archive of OneDep mmCIF files.

    Writes are refused (NotAuthoritativeError) while the site's record at the
    root names a stage that reads the database: write through
    `create_messaging_service` then. `site_writer` is for the site's own layers
    (see stores.authority).
    """

    name = "cif"
    calls_before_replace = True

    def __init__(
        self, root: str | os.PathLike[str], lock_timeout: float = 120.0, *, site_writer: object = None
    ) -> None:
        self.root = Path(root)
        self.lock_timeout = lock_timeout
        self._checks_stage = checks_authority(site_writer)
        self._site_reader: SiteRecordReader | None = None

    def describe(self) -> str:
        return f"cif archive at {self.root}"

    # -- paths -----------------------------------------------------------

    def deposition_dir(self, deposition_id: str) -> Path:
        return self.root / validate_deposition_id(deposition_id)

    def current_files(
        self, deposition_id: str, skipped: list[SkippedEntry] | None = None
    ) -> dict[str, tuple[str, int]]:
        """The current (highest-version) file path and version of each content type the deposition has.

        The deposition folder and each current file must be a real folder and a
        regular file (not a link, FIFO or device): else ArchiveEntryError naming
        the path. Entries named like older versions that are not regular files
        are not data; they are appended to `skipped` when a list is given.

        Paths are plain strings: pathlib interns every path part it parses,
        which over an archive of hundreds of thousands of files is memory
        that is never given back.
        """
        folder = os.path.join(self.root, validate_deposition_id(deposition_id))
        best: dict[str, tuple[os.DirEntry[str], int]] = {}
        odd: list[os.DirEntry[str]] = []
        try:
            fd = os.open(folder, _OPEN_FOLDER_FLAGS)  # never through a link
        except FileNotFoundError:
            return {}
        except OSError as exc:
            if os.path.lexists(folder) and not stat.S_ISDIR(os.lstat(folder).st_mode):
                raise ArchiveEntryError(
                    folder, f"is {describe_entry(folder)}, not a deposition folder; not read ({_NOT_FOLLOWED})"
                ) from None
            raise StorageError(f"cannot list {folder}: {exc.strerror or exc}") from exc
        try:
            with os.scandir(fd) as entries:
                for entry in entries:
                    match = _FILE_NAME.fullmatch(entry.name)
                    if match and match["dep"] == deposition_id:
                        version = int(match["version"])
                        content_type = match["ct"]
                        if content_type not in best or version > best[content_type][1]:
                            best[content_type] = (entry, version)
                        if skipped is not None and not entry.is_file(follow_symlinks=False):
                            odd.append(entry)
        except OSError as exc:
            raise StorageError(f"cannot list {folder}: {exc.strerror or exc}") from exc
        finally:
            os.close(fd)
        found: dict[str, tuple[str, int]] = {}
        for content_type, (entry, version) in best.items():
            path = os.path.join(folder, entry.name)
            if not entry.is_file(follow_symlinks=False):
                raise ArchiveEntryError(
                    path,
                    f"is {describe_entry(path)}, but the current {content_type} file of {deposition_id} must "
                    f"be a regular file; not read ({_NOT_FOLLOWED}). Replace it with the file itself or remove it.",
                )
            found[content_type] = (path, version)
        if skipped is not None:
            for entry in odd:
                path = os.path.join(folder, entry.name)
                skipped.append(
                    SkippedEntry(path, f"is {describe_entry(path)}, not a regular file; skipped", deposition_id)
                )
        return found

    def current_file(self, deposition_id: str, content_type: str) -> Path | None:
        """The highest version of the document's file, or None when there is none."""
        validate_content_type(content_type)
        found = self.current_files(deposition_id).get(content_type)
        return Path(found[0]) if found else None

    def _check_root(self) -> None:
        if not self.root.is_dir():
            raise BackendUnavailableError(
                f"CIF archive root {self.root} does not exist or is not a directory "
                "(set MSGCIF_ROOT to the folder holding the D_* deposition folders)"
            )

    # -- core --------------------------------------------------------------

    def load(self, deposition_id: str, content_type: str) -> Document:
        self._check_root()
        path = self.current_file(deposition_id, content_type)
        if path is None:
            return Document(deposition_id, content_type)
        return PARSED_FILES.parse(str(path), deposition_id, content_type)

    def load_many(self, deposition_id: str, content_types: Iterable[str]) -> dict[str, Document]:
        self._check_root()
        wanted = [validate_content_type(content_type) for content_type in content_types]
        files = self.current_files(deposition_id)
        return {
            content_type: PARSED_FILES.parse(files[content_type][0], deposition_id, content_type)
            if content_type in files
            else Document(deposition_id, content_type)
            for content_type in wanted
        }

    def page_messages(
        self,
        deposition_id: str,
        content_types: Sequence[str],
        send_status: str | None = None,
        archived_only: Collection[str] = (),
        offset: int = 0,
        limit: int | None = None,
        with_origcomm: bool = False,
    ) -> MessagePage:
        """`MessageStore.page_messages` over the kept parses: only the page's rows are copied, and the order
        (and each message's first orig-comm row) is made once per identity of the files."""
        self._check_root()
        wanted = [validate_content_type(content_type) for content_type in content_types]
        files = self.current_files(deposition_id)
        documents: dict[str, Document] = {}
        identities: list[tuple[str, tuple[int, ...] | None]] | None = []
        for content_type in wanted:
            if content_type in files:
                path = files[content_type][0]
                documents[content_type], identity = PARSED_FILES.shared(path, deposition_id, content_type)
                if identity is None:
                    identities = None  # a file not kept: nothing made from it is kept either
                elif identities is not None:
                    identities.append((path, identity))
            else:
                documents[content_type] = Document(deposition_id, content_type)
                if identities is not None:
                    identities.append((f"{deposition_id} {content_type}", None))  # no file: a new one is another key
        ordered, origcomm_of = None, None
        if identities is not None:
            sources = tuple(identities)
            filters = f"order {wanted} {send_status!r} {sorted(archived_only)}"
            ordered = PARSED_FILES.derived(
                filters, sources, partial(messages_in_order, documents, wanted, send_status, archived_only)
            )
            if with_origcomm:
                origcomm_of = PARSED_FILES.derived(
                    f"origcomm {wanted}", sources, partial(first_origcomm, documents, wanted)
                )
        page = page_of(
            documents, wanted, send_status, archived_only, offset, limit, with_origcomm, ordered, origcomm_of
        )
        page.messages = [(content_type, message.copy()) for content_type, message in page.messages]
        page.origcomm = {message_id: row.copy() for message_id, row in page.origcomm.items()}
        return page

    def status_rows(self, deposition_id: str, content_type: str) -> tuple[list[MessageStatus], list[str | None]]:
        self._check_root()
        path = self.current_file(deposition_id, content_type)
        if path is None:
            return [], []
        return PARSED_FILES.status_rows(str(path), deposition_id, content_type)

    def flag_lists(self, deposition_id: str, content_type: str) -> FlagLists:
        self._check_root()
        path = self.current_file(deposition_id, content_type)
        if path is None:
            return FlagLists((), (), (), ())
        return PARSED_FILES.flag_lists(str(path), deposition_id, content_type)

    def save(self, document: Document, sync: bool = True) -> None:
        """Write the document as its current version; `sync` False leaves the disk sync to the caller
        (a bulk writer, which syncs the file system once: see archive_files.sync_file_system)."""
        with self._locked(document.deposition_id, document.content_type):
            self._write(document, sync=sync)

    def save_new_version(self, document: Document, sync: bool = True) -> Path:
        """Write the document as a new version V<n+1> (V1 if none), keeping the old one as it was."""
        with self._locked(document.deposition_id, document.content_type):
            current = self.current_files(document.deposition_id).get(document.content_type)
            version = current[1] + 1 if current else 1
            target = self.deposition_dir(document.deposition_id) / file_name(
                document.deposition_id, document.content_type, version
            )
            self._write(document, target=target, like=current[0] if current else None, sync=sync)
            return target

    def update(self, deposition_id: str, content_type: str, change: Callable[[Document], T]) -> T:
        with self._locked(deposition_id, content_type):
            document = self.load(deposition_id, content_type)
            result = change(document)
            self._write(document)
            return result

    def overwrite(self, deposition_id: str, content_type: str, produce: Callable[[], Document]) -> Document:
        # Never parses the current file, so a corrupt one can be replaced (it is kept as PREV0).
        with self._locked(deposition_id, content_type):
            document = produce()
            self._write(document)
            return document

    def list_depositions(self) -> list[str]:
        """Ids of the deposition folders (real folders only; see `scan_depositions` for what is skipped)."""
        return self.scan_depositions()[0]

    def scan_depositions(self) -> tuple[list[str], list[SkippedEntry]]:
        """The deposition folders under the root, sorted, and the entries named like one that are not read:
        links (never followed), files, FIFOs, devices, and ids longer than the database holds."""
        self._check_root()
        found: list[str] = []
        skipped: list[SkippedEntry] = []
        try:
            with os.scandir(self.root) as entries:
                for entry in entries:
                    name = entry.name
                    if not _DEPOSITION_LIKE.fullmatch(name):
                        continue  # not a deposition: README, lock files, other tools' folders
                    try:
                        is_folder = entry.is_dir(follow_symlinks=False)
                    except OSError as exc:
                        skipped.append(SkippedEntry(entry.path, f"cannot be examined: {exc.strerror or exc}", name))
                        continue
                    if not is_folder:
                        skipped.append(
                            SkippedEntry(
                                entry.path,
                                f"is {describe_entry(entry.path)}, not a deposition folder; skipped"
                                + (f" ({_NOT_FOLLOWED})" if entry.is_symlink() else ""),
                                name,
                            )
                        )
                    elif not _DEPOSITION_DIR.fullmatch(name):
                        skipped.append(
                            SkippedEntry(
                                entry.path,
                                f"the deposition id is {len(name)} characters long, more than the "
                                f"{MAX_DEPOSITION_ID_LENGTH} the database holds; skipped",
                                name,
                            )
                        )
                    else:
                        found.append(name)
        except OSError as exc:
            raise StorageError(f"cannot list {self.root}: {exc.strerror or exc}") from exc
        return sorted(found), sorted(skipped, key=lambda entry: entry.path)

    # -- locking and atomic writes --------------------------------------------

    def document_lock(self, deposition_id: str, content_type: str) -> AbstractContextManager[None]:
        return self._locked(deposition_id, content_type)

    @contextmanager
    def _locked(self, deposition_id: str, content_type: str) -> Iterator[None]:
        """The document's lock file, held; a thread holding it already goes on (a dual write holds it over both)."""
        validate_content_type(content_type)
        key = (str(self.root), deposition_id, content_type)
        held = _HELD.__dict__.setdefault("locks", set())
        if key in held:
            yield
            return
        folder = self.deposition_dir(deposition_id)
        self._check_root()
        if self._checks_stage:
            self._check_stage(deposition_id, content_type)
        try:
            # Never write through a link (out of the archive, or round a loop), nor over a file.
            real_folder(folder, what="a deposition folder")
            lock_path = folder / f".{deposition_id}_{content_type}.lock"
            fd = open_file(lock_path, os.O_RDWR)
        except ArchiveEntryError:
            raise
        except OSError as exc:
            raise StorageError(f"cannot lock {folder}: {exc.strerror or exc}") from exc
        try:
            if not lock(fd, fcntl.LOCK_EX, self.lock_timeout):
                raise StoreLockTimeout(
                    f"another process holds {lock_path} for more than {self.lock_timeout:.0f}s; "
                    "retry later or look for a stuck writer"
                )
        except OSError as exc:
            os.close(fd)
            raise StorageError(f"cannot lock {lock_path}: {exc.strerror or exc}") from exc
        except BaseException:
            os.close(fd)
            raise
        held.add(key)
        try:
            yield
        finally:
            held.discard(key)
            os.close(fd)  # releases the lock

    def _check_stage(self, deposition_id: str, content_type: str) -> None:
        from ..stage.record import SiteRecordReader  # the stage sits above the stores: imported when first needed

        if self._site_reader is None:
            self._site_reader = SiteRecordReader.of(self.root)
        check_archive_write(self.root, deposition_id, content_type, self._site_reader)

    def _write(
        self, document: Document, target: Path | None = None, like: str | None = None, sync: bool = True
    ) -> None:
        """Write the document in place as the current version (or as `target`, a new version following
        the file `like`). Caller holds the lock. The file keeps the mode and group of the one it replaces
        or follows (its folder's when it is the first)."""
        deposition_id, content_type = document.deposition_id, document.content_type
        folder = self.deposition_dir(deposition_id)
        current = None if target is not None else self.current_file(deposition_id, content_type)
        target = target or current or folder / file_name(deposition_id, content_type, 1)
        data = format_document(document).encode("ascii")
        try:
            source = os.stat(current or like or folder, follow_symlinks=False)
            if current is not None:
                _check_snapshots(current)  # before anything is written: a link there refuses the write
            fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
        except OSError as exc:
            raise StorageError(f"cannot write in {folder}: {exc.strerror or exc}") from exc
        try:
            with os.fdopen(fd, "wb") as handle:
                take_attributes(handle.fileno(), target, source, folder=current is None and like is None)
                handle.write(data)
                handle.flush()
                if sync:
                    os.fsync(handle.fileno())
            landing = BEFORE_REPLACE.get()
            if landing is not None:
                landing()
            if current is not None:
                _rotate_snapshots(current, source)
            PARSED_FILES.forget(str(target))  # its own write: never read back from before it
            os.replace(tmp_name, target)
        except OSError as exc:
            _remove_quietly(tmp_name)
            raise StorageError(f"cannot write {target}: {exc.strerror or exc}") from exc
        except BaseException:
            _remove_quietly(tmp_name)
            raise
        in_place = AFTER_REPLACE.get()
        if in_place is not None:
            in_place()
        if sync:
            _fsync_dir(folder)


def _snapshot(current: Path, index: int) -> Path:
    return current.with_name(f"{current.name}.PREV{index}")


def _check_snapshots(current: Path) -> None:
    """Each snapshot name holds a regular file or nothing: rotation moves and writes them."""
    for index in range(PREV_SNAPSHOTS):
        existing_status(_snapshot(current, index))


def _rotate_snapshots(current: Path, status: os.stat_result) -> None:
    """Shift PREV0..PREV3 up one (dropping PREV4) and make PREV0 the current file (whose `status` is given)."""
    for index in range(PREV_SNAPSHOTS - 2, -1, -1):
        older = _snapshot(current, index)
        if existing_status(older) is not None:
            os.replace(older, _snapshot(current, index + 1))
    snapshot = _snapshot(current, 0)
    try:
        # A hard link keeps the old inode (and its mode and group) once the new file is renamed over it.
        os.link(current, snapshot, follow_symlinks=False)
    except FileExistsError:
        raise refused(snapshot, "free after rotation (it was made meanwhile)") from None
    except OSError:
        _copy_snapshot(current, snapshot, status)


def _copy_snapshot(current: Path, snapshot: Path, status: os.stat_result) -> None:
    """A file system without hard links: copy, into a file made afresh (O_EXCL, so never through a link)."""
    data = read_regular_file(current)
    fd = create_fresh(snapshot, like=status)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _remove_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fsync_entry(folder, _OPEN_FOLDER_FLAGS, unopenable_ok=True)
