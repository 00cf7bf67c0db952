"""State that earlier versions kept by default in `./msgmodule-data`, relative to the working directory.

The state folder is the site's own now (`<archive root>/.msgmodule/state`, or
MSGMODULE_STATE_DIR). A folder of the old default that still holds state is
named wherever it is seen, never ignored: every command warns of it, and a
journal there with entries (documents still to be reconciled) fails `health`
and `troubleshoot`, stops `reconcile` and a stage move, until
`msgmodule adopt-state` takes it over. Which site such a folder belongs to
cannot be told from it, so nothing is taken over without that command.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..config import EARLIER_DATA_DIR, Settings
from ..errors import MessagingError
from ..journal import Journal

log = logging.getLogger(__name__)

JOURNAL_FILE = "journal.jsonl"
NOTIFY_FILE = "notify-flags.json"  # io/notify.py's file (the engine does not import the top floor)
# The files earlier versions kept in their state folder, besides the journal.
STATE_FILES = ("backend-stats.json", "shadow-mismatches.jsonl", NOTIFY_FILE, "msgmodule.log", "msgmodule.log.*")
# A breaker's last state is rewritten by the running processes: an old one is stale, and is not taken over.
BREAKER_FILES = "breaker-*.json"


@dataclass
class EarlierState:
    """A state folder of the old default, and what it holds."""

    folder: Path
    files: list[str] = field(default_factory=list)
    journal_entries: int = 0
    journal_problem: str | None = None

    def describe(self, state_dir: str) -> str:
        held = (
            f"a journal with {self.journal_entries} unfinished entry(ies) (documents still to be reconciled)"
            if self.journal_entries
            else ""
        )
        if self.journal_problem:
            held = f"a journal that cannot be read ({self.journal_problem})"
        others = [name for name in self.files if name != JOURNAL_FILE]
        if others:
            held += ("; and " if held else "") + ", ".join(others)
        return (
            f"{self.folder} holds the state of an earlier version (the default then, relative to the working "
            f"directory): {held}. This site's state folder is {state_dir}: take it over with "
            f"`msgmodule adopt-state {self.folder}` (only if it is this site's), or move it away"
        )


def find_earlier_state(settings: Settings, folder: str | os.PathLike[str] | None = None) -> EarlierState | None:
    """The old default folder (or `folder`) when it holds state this site's state folder does not.

    Only when the state folder is the site's default: a configured MSGMODULE_STATE_DIR was chosen.
    """
    if folder is None and settings.state_dir_given:
        return None
    where = Path(folder if folder is not None else EARLIER_DATA_DIR).absolute()
    if not where.is_dir() or _same(where, Path(settings.state_dir)):
        return None
    names = sorted(
        entry.name
        for entry in where.iterdir()
        if entry.is_file()
        and not entry.is_symlink()
        and any(fnmatch.fnmatch(entry.name, pattern) for pattern in (JOURNAL_FILE, BREAKER_FILES, *STATE_FILES))
    )
    if not names:
        return None
    found = EarlierState(where, names)
    if JOURNAL_FILE in names:
        try:
            found.journal_entries = len(Journal(where / JOURNAL_FILE).entries(all_intents=True))
        except MessagingError as exc:
            found.journal_problem = str(exc)
    return found


def earlier_journal_problem(settings: Settings) -> str | None:
    """Why the site must not go on as if its journal were complete: an earlier journal with entries, or None."""
    found = find_earlier_state(settings)
    if found is None or not (found.journal_entries or found.journal_problem):
        return None
    return found.describe(settings.state_dir)


_warned: set[Path] = set()


def warn_of_earlier_state(settings: Settings) -> None:
    """Log a warning naming an old default folder that still holds state (once per process and folder)."""
    if settings.archive_root is None and not settings.state_dir_given:
        return  # no site to compare with: a command that needs one says so itself
    found = find_earlier_state(settings)
    if found is not None and found.folder not in _warned:
        _warned.add(found.folder)
        log.warning("%s", found.describe(settings.state_dir))


def adopt_journal(settings: Settings, path: Path) -> int:
    """Move every entry of the journal at `path` into the site's journal; returns how many moved.

    Appended to the site's journal first, then cleared from the old one: a crash between the two
    leaves an entry in both, which reconcile settles twice, never none.
    """
    if not path.exists() or _same(path, Path(settings.journal_path)):
        return 0
    old = Journal(path)
    entries = old.entries(all_intents=True)
    site = Journal(settings.journal_path, within=settings.cif_root)
    for entry in entries:
        site.lines.append(asdict(entry))
    old.clear([entry.id for entry in entries])
    return len(entries)


@dataclass
class Adoption:
    journal_entries: int = 0
    moved: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)  # name: why it stayed


def adopt_earlier_state(settings: Settings, folder: str | os.PathLike[str]) -> Adoption:
    """Take over what an earlier version's state folder holds: its journal's entries into the site's
    journal, its other files into the site's state folder where that has none of the same name."""
    found = find_earlier_state(settings, folder)
    result = Adoption()
    if found is None:
        return result
    if found.journal_problem:
        raise MessagingError(
            f"cannot read the journal {found.folder / JOURNAL_FILE}: {found.journal_problem}; nothing was taken over"
        )
    target = settings.prepare_state_dir()
    result.journal_entries = adopt_journal(settings, found.folder / JOURNAL_FILE)
    for name in found.files:
        source = found.folder / name
        if name == JOURNAL_FILE:
            continue
        if fnmatch.fnmatch(name, BREAKER_FILES):
            result.left.append(f"{name}: a breaker's old state (the running processes record their own)")
        elif (target / name).exists():
            result.left.append(f"{name}: {target / name} exists already (compare them, keep one)")
        else:
            shutil.move(source, target / name)  # a rename within one file system
            result.moved.append(name)
    return result


def _same(one: Path, other: Path) -> bool:
    try:
        return one.resolve() == other.resolve()
    except OSError:
        return False
