"""The CIF archive store: OneDep message files under `<root>/<DEPID>/`.

Layout: `<root>/<DEPID>/<DEPID>_<content-type>_P1.cif.V<n>`; the current file
is the highest `n`. Writes keep OneDep's legacy behaviour: the current version
is rewritten in place after rotating snapshots `.PREV0`..`.PREV4` (`V1` is
created when there is no file). Each write is atomic (temporary file, fsync,
rename) and runs under an exclusive lock that spans the read-modify-write.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from filelock import FileLock, Timeout

from ..cifformat import format_document, parse_file
from ..errors import BackendUnavailableError, StorageError, StoreLockTimeout
from ..model import CONTENT_TYPES, Document, validate_content_type, validate_deposition_id
from .base import MessageStore

T = TypeVar("T")

PREV_SNAPSHOTS = 5
_FILE_NAME = re.compile(
    r"(?P<dep>[DG]_[0-9]+)_(?P<ct>" + "|".join(map(re.escape, CONTENT_TYPES)) + r")_P1\.cif\.V(?P<version>[0-9]+)"
)
_DEPOSITION_DIR = re.compile(r"[DG]_[0-9]+")


def file_name(deposition_id: str, content_type: str, version: int) -> str:
    return f"{deposition_id}_{content_type}_P1.cif.V{version}"


class CifMessageStore(MessageStore):
    """Message documents in an archive of OneDep mmCIF files."""

    name = "cif"

    def __init__(self, root: str | os.PathLike[str], lock_timeout: float = 120.0) -> None:
        self.root = Path(root)
        self.lock_timeout = lock_timeout

    def describe(self) -> str:
        return f"cif archive at {self.root}"

    # -- paths -----------------------------------------------------------

    def deposition_dir(self, deposition_id: str) -> Path:
        return self.root / validate_deposition_id(deposition_id)

    def current_files(self, deposition_id: str) -> dict[str, tuple[str, int]]:
        """The current (highest-version) file path and version of each content type the deposition has.

        Paths are plain strings: pathlib interns every path part it parses,
        which over an archive of hundreds of thousands of files is memory
        that is never given back.
        """
        folder = self.deposition_dir(deposition_id)
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise StorageError(f"cannot list {folder}: {exc.strerror or exc}") from exc
        best: dict[str, tuple[str, int]] = {}
        for entry in names:
            match = _FILE_NAME.fullmatch(entry)
            if match and match["dep"] == deposition_id:
                version = int(match["version"])
                if match["ct"] not in best or version > best[match["ct"]][1]:
                    best[match["ct"]] = (entry, version)
        base = str(folder)
        return {content_type: (os.path.join(base, entry), version) for content_type, (entry, version) in best.items()}

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
        return parse_file(path, deposition_id, content_type)

    def load_many(self, deposition_id: str, content_types: Iterable[str]) -> dict[str, Document]:
        self._check_root()
        wanted = [validate_content_type(content_type) for content_type in content_types]
        files = self.current_files(deposition_id)
        return {
            content_type: parse_file(files[content_type][0], deposition_id, content_type)
            if content_type in files
            else Document(deposition_id, content_type)
            for content_type in wanted
        }

    def save(self, document: Document) -> None:
        with self._locked(document.deposition_id, document.content_type):
            self._write(document)

    def save_new_version(self, document: Document) -> Path:
        """Write the document as a new version V<n+1> (V1 if none), keeping the old one as it was."""
        with self._locked(document.deposition_id, document.content_type):
            current = self.current_files(document.deposition_id).get(document.content_type)
            version = current[1] + 1 if current else 1
            target = self.deposition_dir(document.deposition_id) / file_name(
                document.deposition_id, document.content_type, version
            )
            self._write(document, target=target)
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
        self._check_root()
        found = []
        with os.scandir(self.root) as entries:
            for entry in entries:
                if _DEPOSITION_DIR.fullmatch(entry.name) and entry.is_dir():
                    found.append(entry.name)
        return sorted(found)

    # -- locking and atomic writes --------------------------------------------

    @contextmanager
    def _locked(self, deposition_id: str, content_type: str) -> Iterator[None]:
        validate_content_type(content_type)
        folder = self.deposition_dir(deposition_id)
        self._check_root()
        try:
            folder.mkdir(exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create {folder}: {exc.strerror or exc}") from exc
        lock_path = folder / f".{deposition_id}_{content_type}.lock"
        lock = FileLock(str(lock_path), timeout=self.lock_timeout)
        try:
            lock.acquire()
        except Timeout as exc:
            raise StoreLockTimeout(
                f"another process holds {lock_path} for more than {self.lock_timeout:.0f}s; "
                "retry later or look for a stuck writer"
            ) from exc
        except OSError as exc:
            raise StorageError(f"cannot lock {lock_path}: {exc.strerror or exc}") from exc
        try:
            yield
        finally:
            lock.release()

    def _write(self, document: Document, target: Path | None = None) -> None:
        """Write the document in place as the current version (or as `target`). Caller holds the lock."""
        deposition_id, content_type = document.deposition_id, document.content_type
        folder = self.deposition_dir(deposition_id)
        current = None if target is not None else self.current_file(deposition_id, content_type)
        target = target or current or folder / file_name(deposition_id, content_type, 1)
        data = format_document(document).encode("ascii")
        try:
            fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
        except OSError as exc:
            raise StorageError(f"cannot write in {folder}: {exc.strerror or exc}") from exc
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp_name, 0o644)
            if current is not None:
                _rotate_snapshots(current)
            os.replace(tmp_name, target)
        except OSError as exc:
            _remove_quietly(tmp_name)
            raise StorageError(f"cannot write {target}: {exc.strerror or exc}") from exc
        except BaseException:
            _remove_quietly(tmp_name)
            raise
        _fsync_dir(folder)


def _rotate_snapshots(current: Path) -> None:
    """Shift PREV0..PREV3 up one (dropping PREV4) and make PREV0 the current file."""
    for index in range(PREV_SNAPSHOTS - 2, -1, -1):
        older = current.with_name(f"{current.name}.PREV{index}")
        if older.exists():
            os.replace(older, current.with_name(f"{current.name}.PREV{index + 1}"))
    snapshot = current.with_name(f"{current.name}.PREV0")
    try:
        # A hard link keeps the old inode once the new file is renamed over it.
        os.link(current, snapshot)
    except OSError:
        shutil.copy2(current, snapshot)


def _remove_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # some file systems do not open directories; the rename is still atomic
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
