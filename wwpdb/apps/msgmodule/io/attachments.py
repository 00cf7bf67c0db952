"""Attachment files: OneDep's file tokens, the archive's file naming, milestone copies, session copies.

An annotator attaches files to a message by token (`model`, `sf`,
`val-report`, `aux-file1`, ...). OneDep makes an `-annotate` milestone copy
of each in the deposition's archive folder and records it as a file-reference
row; the message table later offers the referenced files for download by
copying them into the user's session directory.

`AttachmentResolver` is the interface; `ArchiveAttachments` is the default,
which works on the archive's OneDep file naming
`<root>/<DEPID>/<DEPID>_<content-type>_P<part>.<ext>.V<version>`. Sites that
also publish `-review` copies (OneDep strips internal items from models and
chemical shifts with its own tools) override `review_copies`.
"""

from __future__ import annotations

import contextlib
import filecmp
import logging
import os
import re
import shutil
import stat
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..archive_files import create_fresh, real_folder
from ..errors import ArchiveEntryError, MessagingError
from ..model import validate_deposition_id

log = logging.getLogger(__name__)

# File formats and their extensions in archive file names (OneDep's FILE_FORMAT_EXTENSION_DICTIONARY).
FORMAT_EXTENSIONS: dict[str, str] = {
    "pdbx": "cif",
    "pdb": "pdb",
    "cifeps": "cifeps",
    "pdbml": "xml",
    "nmr-star": "str",
    "gz": "gz",
    "tgz": "tgz",
    "mtz": "mtz",
    "html": "html",
    "jpg": "jpg",
    "png": "png",
    "svg": "svg",
    "gif": "gif",
    "tif": "tif",
    "tiff": "tiff",
    "sdf": "sdf",
    "ccp4": "ccp4",
    "mrc2000": "mrc",
    "pic": "pic",
    "txt": "txt",
    "xml": "xml",
    "pdf": "pdf",
    "map": "map",
    "bcif": "bcif",
    "amber": "amber",
    "amber-aux": "amber-aux",
    "cns": "cns",
    "cyana": "cyana",
    "xplor": "xplor",
    "xplor-nih": "xplor-nih",
    "pdb-mr": "mr",
    "mr": "mr",
    "json": "json",
    "fsa": "fsa",
    "fasta": "fasta",
    "any": "dat",
    "mdl": "mdl",
    "tar": "tar",
}
# The tokens OneDep offers as attachments, in the order it offers them: (content type, format).
TOKEN_FILES: dict[str, tuple[str, str]] = {
    "model": ("model", "pdbx"),
    "model_pdb": ("model", "pdb"),
    "sf": ("structure-factors", "pdbx"),
    "val-report": ("validation-report", "pdf"),
    "val-report-full": ("validation-report-full", "pdf"),
    "val-data": ("validation-data", "xml"),
    "val-data-cif": ("validation-data", "pdbx"),
    "val-report-slider": ("validation-report-slider", "png"),
    "val-report-wwpdb-2fo-fc-edmap-coef": ("validation-report-2fo-map-coef", "pdbx"),
    "val-report-wwpdb-fo-fc-edmap-coef": ("validation-report-fo-map-coef", "pdbx"),
    "mr": ("nmr-restraints", "any"),
    "cs": ("nmr-chemical-shifts", "pdbx"),
    "nmr-data-str": ("nmr-data-str", "pdbx"),
    "em-volume": ("em-volume", "map"),
    "em-mask-volume": ("em-mask-volume", "map"),
    "em-volume-header": ("em-volume-header", "xml"),
}
# "val-report-batch" stands for these, the ones available, in this order.
VALIDATION_BATCH = (
    "val-report",
    "val-report-full",
    "val-data",
    "val-data-cif",
    "val-report-wwpdb-2fo-fc-edmap-coef",
    "val-report-wwpdb-fo-fc-edmap-coef",
)
AUXILIARY_CONTENT_TYPE = "auxiliary-file"
_CONTENT_TYPE = re.compile(r"[a-z0-9][a-z0-9-]*")  # never a path: stored rows are data
_VERSIONED = re.compile(r"(?P<stem>.+)_P(?P<part>\d+)\.(?P<ext>[^.]+)\.V(?P<version>\d+)")


class AttachmentError(MessagingError):
    """A file could not be attached; `token` is what OneDep reports back as failed."""

    def __init__(self, token: str, detail: str) -> None:
        self.token = token
        super().__init__(f"cannot attach {token!r}: {detail}")


@dataclass(frozen=True)
class Session:
    """Where files are copied for the user's browser: a directory and its URL path."""

    path: Path
    url_path: str

    @classmethod
    def of_request(cls, req_obj: Any) -> Session | None:
        """The session of a OneDep request object (`newSessionObj()`), if it has one."""
        new_session = getattr(req_obj, "newSessionObj", None)
        if not callable(new_session):
            return None
        session = new_session()
        return cls(Path(session.getPath()), str(session.getRelativePath()))

    @classmethod
    def temporary(cls) -> Session:
        path = Path(tempfile.mkdtemp(prefix="msgmodule-session-"))
        return cls(path, f"/sessions/{path.name}")


class AttachmentResolver(ABC):
    """The archive files a message can attach and refer to."""

    @abstractmethod
    def available(self, deposition_id: str) -> list[str]:
        """The tokens (TOKEN_FILES order) whose file the deposition has."""

    @abstractmethod
    def attach(
        self,
        deposition_id: str,
        content_type: str,
        content_format: str,
        source: Path | None = None,
        partition: int | None = None,
        upload_file_name: str | None = None,
    ) -> dict[str, str | None]:
        """Make the `-annotate` milestone of a file and return its file-reference row.

        `source` None: the deposition's current archive file of that content
        type and format. Raises AttachmentError when there is no such file.
        """

    def review_copies(
        self, deposition_id: str, token: str, annotated: Mapping[str, Any]
    ) -> list[dict[str, str | None]]:
        """Rows of any `-review` copies made for depositors; none by default (they need the site's tools)."""
        return []

    @abstractmethod
    def referenced_file(self, deposition_id: str, reference: Mapping[str, Any]) -> Path | None:
        """The archive file a stored file-reference row points to, if it exists."""

    @abstractmethod
    def latest(self, deposition_id: str, content_type: str, content_format: str) -> Path | None:
        """The deposition's current archive file of a content type and format, if any."""


class ArchiveAttachments(AttachmentResolver):
    """Attachments in an archive laid out with OneDep's file names (the default)."""

    def __init__(self, root: str | os.PathLike[str] | None) -> None:
        self.root = Path(root) if root is not None else None

    def _folder(self, deposition_id: str) -> Path | None:
        if self.root is None:
            return None
        return self.root / validate_deposition_id(deposition_id)

    @staticmethod
    def extension(content_format: str) -> str | None:
        return FORMAT_EXTENSIONS.get(content_format)

    def versions(self, deposition_id: str, content_type: str, content_format: str, partition: int = 1) -> list[int]:
        """Version numbers present of one file, ascending (`.PREV*` and stray names are not versions)."""
        folder = self._folder(deposition_id)
        extension = self.extension(content_format)
        if folder is None or extension is None or not _CONTENT_TYPE.fullmatch(content_type) or not folder.is_dir():
            return []
        prefix = f"{deposition_id}_{content_type}_P{partition}.{extension}.V"
        found = []
        for name in os.listdir(folder):
            if name.startswith(prefix) and name[len(prefix) :].isdigit():
                found.append(int(name[len(prefix) :]))
        return sorted(found)

    def path(
        self, deposition_id: str, content_type: str, content_format: str, version: int, partition: int = 1
    ) -> Path:
        folder = self._folder(deposition_id)
        extension = self.extension(content_format)
        if folder is None or extension is None or not _CONTENT_TYPE.fullmatch(content_type):
            raise AttachmentError(content_type, f"no archive file name for {content_type!r} in {content_format!r}")
        return folder / f"{deposition_id}_{content_type}_P{partition}.{extension}.V{version}"

    def latest(self, deposition_id: str, content_type: str, content_format: str) -> Path | None:
        versions = self.versions(deposition_id, content_type, content_format)
        if not versions:
            return None
        return self.path(deposition_id, content_type, content_format, versions[-1])

    def available(self, deposition_id: str) -> list[str]:
        return [
            token
            for token, (content_type, content_format) in TOKEN_FILES.items()
            if self.latest(deposition_id, content_type, content_format) is not None
        ]

    def attach(
        self,
        deposition_id: str,
        content_type: str,
        content_format: str,
        source: Path | None = None,
        partition: int | None = None,
        upload_file_name: str | None = None,
    ) -> dict[str, str | None]:
        if source is None:
            source = self.latest(deposition_id, content_type, content_format)
            if source is None:
                raise AttachmentError(content_type, f"{deposition_id} has no {content_type} file in {content_format}")
        if not source.is_file():
            raise AttachmentError(content_type, f"{source} is not a readable file")
        milestone = f"{content_type}-annotate"
        part = partition or 1
        if self.extension(content_format) is None:
            raise AttachmentError(content_type, f"unknown file format {content_format!r}")
        versions = self.versions(deposition_id, milestone, content_format, part)
        current = self.path(deposition_id, milestone, content_format, versions[-1], part) if versions else None
        # Several messages may attach the same file: an identical milestone is referred to, not copied again.
        if current is not None and filecmp.cmp(source, current, shallow=False):
            target = current
        else:
            target = self.path(deposition_id, milestone, content_format, (versions[-1] + 1) if versions else 1, part)
            try:
                _copy_into_archive(source, target, current)
            except ArchiveEntryError as exc:  # a link where the copy goes: refused, the token reported failed
                raise AttachmentError(content_type, str(exc)) from None
        match = _VERSIONED.fullmatch(target.name)
        assert match is not None
        return {
            "deposition_data_set_id": deposition_id,
            "content_type": milestone,
            "content_format": content_format,
            "partition_number": match["part"],
            "version_id": match["version"],
            "storage_type": "archive",
            "upload_file_name": upload_file_name,
        }

    def referenced_file(self, deposition_id: str, reference: Mapping[str, Any]) -> Path | None:
        content_type, content_format = reference.get("content_type"), reference.get("content_format")
        version, partition = str(reference.get("version_id") or ""), str(reference.get("partition_number") or "1")
        if not content_type or not content_format or not version.isdigit() or not partition.isdigit():
            return None
        try:
            path = self.path(deposition_id, str(content_type), str(content_format), int(version), int(partition))
        except AttachmentError:
            return None
        return path if path.is_file() else None


def _copy_into_archive(source: Path, target: Path, predecessor: Path | None) -> None:
    """Copy `source` to the new version `target`, never writing through a link; it takes the mode and
    group of its `predecessor` (the milestone's previous version), else of its folder."""
    target.parent.parent.mkdir(parents=True, exist_ok=True)  # the archive root (which may be a link)
    real_folder(target.parent, what="a deposition folder")
    temporary = target.with_name(f".{target.name}.tmp")
    previous = os.lstat(predecessor) if predecessor is not None else None
    fd = create_fresh(temporary, like=previous if previous is not None and stat.S_ISREG(previous.st_mode) else None)
    try:
        with os.fdopen(fd, "wb") as copy, open(source, "rb") as original:
            shutil.copyfileobj(original, copy)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)  # made afresh above: ours, never a link
        raise
