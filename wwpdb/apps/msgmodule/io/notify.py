"""What OneDep's messaging page tells the rest of the site, and the site facts it asks for.

- the notify flags (`check_global_msg_status`): a string of `N T R A * B`
  that OneDep writes to its status database (`deposition.notify`) and its
  workflow pages read; `NotifyFlags` is where they go, by default
  `StateFileNotifyFlags`, a small JSON file in the site's state folder that
  `msgmodule status` shows;
- the notes flags: OneDep keeps `NOTES_FLAGGING_STATUS[_BMRB]` files
  ("true"/"false") in the deposition's archive folder; `NotesFlagging`
  reads and writes them there;
- converting an id typed by an annotator (EMDB or PDB id) to a deposition id
  for archiving and forwarding: by default only deposition ids are taken;
- the DepUI password of a deposition: by default not available.
"""

from __future__ import annotations

import json
import os
import re
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from ..archive_files import lock_file, read_regular, replace_regular
from ..errors import InvalidInputError, MessagingError, StorageError
from ..model import validate_deposition_id

NOTIFY_FILE = "notify-flags.json"
NOTES_FLAG_FILE = "NOTES_FLAGGING_STATUS"
_DEPOSITION = re.compile(r"[DG]_\d+")


def notify_flags(
    *,
    all_read: bool,
    all_actioned: bool,
    for_release: bool,
    approval: bool,
    annotator_notes: bool,
    notes_flag_active: bool,
    bmrb_notes: bool,
    bmrb_flag_active: bool,
) -> str:
    """OneDep's flag string, in its order: N(ew) T(odo) R(elease) A(pproval), then * (notes) and B (BMRB notes).

    `*` only while the notes flag is on, `B` only while the BMRB notes flag is on.
    """
    flags = ("" if all_read else "N") + ("" if all_actioned else "T") + ("R" if for_release else "")
    flags += "A" if approval else ""
    if notes_flag_active and annotator_notes:
        flags += "*"
    if bmrb_notes and bmrb_flag_active:
        flags += "B"
    return flags


class NotifyFlags(ABC):
    """Where a deposition's notify flags are recorded (OneDep: `deposition.notify` in its status database)."""

    @abstractmethod
    def record(self, deposition_id: str, flags: str, group_id: str = "") -> None:
        """Record `flags` for the deposition (and, for a group, for the group)."""

    @abstractmethod
    def read(self) -> dict[str, dict[str, Any]]:
        """Every recorded deposition: {id: {"flags": str, "time": GMT text}}."""


class StateFileNotifyFlags(NotifyFlags):
    """The default: `notify-flags.json` in the site's state folder, replaced atomically under a lock."""

    def __init__(self, state_dir: str | os.PathLike[str]) -> None:
        self.path = Path(state_dir) / NOTIFY_FILE

    def read(self) -> dict[str, dict[str, Any]]:
        """Raises StorageError when the file cannot be read; ArchiveEntryError, naming it, when it is a link."""
        try:
            data = read_regular(self.path)
        except OSError as exc:
            raise StorageError(f"cannot read the notify flags {self.path}: {exc}") from exc
        if data is None:
            return {}
        try:
            found = json.loads(data)
        except ValueError as exc:
            raise StorageError(
                f"{self.path} is not JSON ({exc}): remove it; the next page view writes it again"
            ) from exc
        return found if isinstance(found, dict) else {}

    def record(self, deposition_id: str, flags: str, group_id: str = "") -> None:
        now = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        names = [validate_deposition_id(deposition_id)] + ([validate_deposition_id(group_id)] if group_id else [])
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with lock_file(str(self.path) + ".lock", timeout=30):
                current = self.read()
                for name in names:
                    current[name] = {"flags": flags, "time": now}
                replace_regular(self.path, json.dumps(current, indent=1, sort_keys=True).encode())
        except (OSError, TimeoutError) as exc:
            raise StorageError(f"cannot record the notify flags of {deposition_id} in {self.path}: {exc}") from exc


class NotesFlagging:
    """OneDep's notes flags: `NOTES_FLAGGING_STATUS[_BMRB]` in the deposition's (or group's) archive folder."""

    def __init__(self, archive_root: str | os.PathLike[str] | None) -> None:
        self.root = Path(archive_root) if archive_root is not None else None

    def path(self, deposition_id: str, subtype: str = "") -> Path:
        if self.root is None:
            raise StorageError("no archive root is configured (MSGCIF_ROOT): the notes flags have nowhere to live")
        suffix = f"_{subtype.upper()}" if subtype else ""
        if subtype and not subtype.isalnum():
            raise InvalidInputError(f"notes subtype {subtype!r} must be letters and digits (OneDep sends 'bmrb')")
        return self.root / validate_deposition_id(deposition_id) / (NOTES_FLAG_FILE + suffix)

    def active(self, deposition_id: str, subtype: str = "") -> bool:
        """Whether the flag is on; on when never set (OneDep writes "true" then; so does this)."""
        path = self.path(deposition_id, subtype)
        try:
            data = read_regular(path)
        except OSError as exc:
            raise StorageError(f"cannot read the notes flag {path}: {exc}") from exc
        if data is None:
            self.set(deposition_id, True, subtype)
            return True
        return data.decode("utf-8", errors="replace").strip() != "false"

    def set(self, deposition_id: str, on: bool, subtype: str = "") -> None:
        path = self.path(deposition_id, subtype)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            replace_regular(path, b"true\n" if on else b"false\n")
        except OSError as exc:
            raise StorageError(f"cannot write the notes flag {path}: {exc}") from exc


class SiteServiceUnavailable(MessagingError):
    """The site has not plugged in this service (for example DepUI passwords)."""


def deposition_ids_only(typed: str) -> str:
    """The default id conversion: a deposition id (D_ or G_ and digits) as it is; anything else is refused."""
    text = typed.strip().upper()
    if not _DEPOSITION.fullmatch(text):
        raise InvalidInputError(
            f"{typed!r} is not a deposition id (D_ or G_ followed by digits); this site converts no EMDB or PDB ids"
        )
    return text


def no_depui_password(deposition_id: str) -> str:
    """The default: DepUI passwords live in OneDep's workflow database, which this site has not plugged in."""
    raise SiteServiceUnavailable(
        f"DepUI passwords are not available on this site (asked for {deposition_id}): "
        "plug in SiteServices.depui_password"
    )
