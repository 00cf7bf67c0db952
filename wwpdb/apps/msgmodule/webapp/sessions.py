"""Session folders: one per browser session under the configured root, served at `/sessions/<id>/`.

New ids are unguessable (`secrets`); a request's `sessionid` must be an id
of that shape (no path characters) naming a folder that exists. Uploads are
saved in the session under their own name, never over another file, within
a size limit; referenced archive files are copied there for download.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidInputError, MessagingError
from ..io.attachments import Session
from .request import Upload

SESSION_ID = re.compile(r"[A-Za-z0-9_-]{16,128}")
DEFAULT_UPLOAD_LIMIT = 100 * 1024 * 1024  # bytes; MSGMODULE_UPLOAD_MAX_BYTES
URL_PREFIX = "/sessions"
_CHUNK = 1024 * 1024


class SessionError(InvalidInputError):
    """A request named a session that is malformed or does not exist."""


class UploadRefused(InvalidInputError):
    """An uploaded file cannot be kept: its name has path characters, or it is larger than the limit."""


class UploadTooLarge(UploadRefused):
    pass


@dataclass(frozen=True)
class WebSession:
    """One session folder and the URL the browser reaches it at."""

    session_id: str
    path: Path

    @property
    def url_path(self) -> str:
        return f"{URL_PREFIX}/{self.session_id}"

    def for_io(self) -> Session:
        """The same folder as MessagingIo's `Session` (where getFilesRfrncd copies files)."""
        return Session(self.path, self.url_path)

    def save_upload(self, upload: Upload, limit: int) -> Path:
        """Keep an uploaded file in the session; refused when its name is a path or it exceeds `limit` bytes.

        A name already taken in the session is kept as `<n>_<name>`, so one
        upload never replaces another. A refused or failed upload leaves nothing.
        """
        name = safe_upload_name(upload.filename)
        target = self.path / name
        counter = 1
        while True:
            try:
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
                break
            except FileExistsError:
                counter += 1
                target = self.path / f"{counter}_{name}"
        written = 0
        try:
            with os.fdopen(fd, "wb") as handle:
                while chunk := upload.stream.read(_CHUNK):
                    written += len(chunk)
                    if written > limit:
                        raise UploadTooLarge(upload_limit_text(upload.filename, limit))
                    handle.write(chunk)
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        return target


def upload_limit_text(filename: str, limit: int) -> str:
    return (
        f"the file {filename!r} is larger than this site's upload limit of {limit} bytes "
        "(MSGMODULE_UPLOAD_MAX_BYTES): nothing was stored"
    )


def safe_upload_name(filename: str) -> str:
    """The browser's file name if it is a plain name; a name with path characters is refused, naming it."""
    name = filename or ""
    if (
        not name
        or "/" in name
        or "\\" in name
        or "\x00" in name
        or name in (".", "..")
        or name.startswith(".")
        or any(ord(c) < 32 for c in name)
        or len(name.encode("utf-8")) > 200
    ):
        raise UploadRefused(
            f"the uploaded file name {filename!r} is not a plain file name (no folders, no leading '.', "
            "no control characters, at most 200 bytes): rename the file and attach it again"
        )
    return name


class SessionFolders:
    """The root holding every session folder (MSGMODULE_SESSIONS_DIR)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def create(self) -> WebSession:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            session_id = secrets.token_hex(20)
            path = self.root / session_id
            path.mkdir(mode=0o755)
        except OSError as exc:
            raise MessagingError(
                f"cannot create a session folder in {self.root} (MSGMODULE_SESSIONS_DIR): {exc}"
            ) from exc
        return WebSession(session_id, path)

    def open(self, session_id: str) -> WebSession:
        """The session `session_id` names; SessionError when it is malformed or unknown."""
        if not SESSION_ID.fullmatch(session_id or ""):
            raise SessionError(
                f"sessionid {session_id!r} is not a session id (16-128 letters, digits, '_' or '-'): "
                "open the messaging page again for a new session"
            )
        path = self.root / session_id
        if not path.is_dir() or path.is_symlink():
            raise SessionError(f"session {session_id} does not exist (expired?): open the messaging page again")
        return WebSession(session_id, path)
