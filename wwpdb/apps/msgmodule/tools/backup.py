"""Backup and restore of one installation: the configuration, the state folders and the database.

A backup is a folder holding `manifest.json` (what is in it, with a SHA-256 of
every file, the library version and the database's schema revision), the
config file, the state directory and the site folder (`<archive>/.msgmodule`:
stage record and journal), and the database made with the database's own
tools: SQLite through its online backup API (a consistent copy while writers
run), MySQL/MariaDB with `mariadb-dump --single-transaction` (or `mysqldump`),
found on PATH. The CIF archive itself is not copied: it is OneDep's archive,
backed up with it.

Restore first checks every entry of the manifest (a plain file of the backup,
at a path a backup of its kind holds: no `..`, no absolute path, no link) and
every checksum, refuses a backup made at another schema revision than this
library's, then takes the site as a stage move does (running writes finish, new
ones wait) and puts back exactly what was backed up.

A backup holds message text and the database: its folder and files are the
owner's alone (0700, 0600), whatever the umask.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import sqlite3
import stat

# The database's own dump and client programs are run, with argument lists and no shell.
import subprocess  # nosec B404
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from filelock import FileLock
from sqlalchemy import func, inspect, select
from sqlalchemy.engine import URL, make_url

from .. import __version__
from ..config import Settings
from ..db import schema_versions
from ..db.engine import dispose_engines, get_engine, mask_url, normalise_url
from ..db.incarnation import renew_incarnation
from ..db.schema import metadata
from ..errors import MessagingError

MANIFEST = "manifest.json"
FORMAT = 1
SQLITE_FILE = "database/messaging.sqlite"
DUMP_FILE = "database/dump.sql"
# Not part of a backup: logs (they go on), locks, temporary files of atomic writes.
SKIPPED_SUFFIXES = (".lock", ".tmp")
SKIPPED_PREFIXES = ("msgmodule.log",)
ROLES = ("database", "config", "state", "site")
PRIVATE_FILE, PRIVATE_FOLDER = 0o600, 0o700


class BackupError(MessagingError):
    """A backup could not be made, or a backup cannot be restored; says why and what to do."""


@dataclass
class BackupResult:
    path: Path
    manifest: dict[str, Any]


# -- what belongs to an installation ---------------------------------------------------


def _state_folders(settings: Settings) -> dict[str, Path]:
    """Folders of state, by name in the backup: the site's state folder, and the site folder when there is one.

    The state folder is the settings' own (by default inside the site folder), never one the working
    directory decides.
    """
    folders = {"state": Path(settings.state_dir)}
    site_dir = getattr(settings, "site_dir", None)  # the site-wide folder in the archive root
    if site_dir is not None:
        folders["site"] = Path(site_dir)
    return folders


def _nested(role: str, folders: dict[str, Path]) -> list[Path]:
    """The other folders below this role's one (the default state folder is in the site folder): each is
    backed up and restored under its own role only."""
    mine = folders[role].resolve()
    return [path.resolve() for other, path in folders.items() if other != role and mine in path.resolve().parents]


def _database_kind(url: str) -> str:
    backend = normalise_url(url).get_backend_name()
    if backend in ("sqlite", "mysql"):
        return backend
    raise BackupError(f"cannot back up a {backend} database ({mask_url(url)}): SQLite and MySQL/MariaDB are supported")


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError(f"{mask_url(url)} is not a SQLite file")
    return Path(database).expanduser().resolve()


def _excluded(settings: Settings, extra: list[Path]) -> list[Path]:
    """Paths inside state folders that are backed up otherwise, or not at all (archive, database, backups)."""
    paths = [Path(settings.cif_root).resolve(), *(p.resolve() for p in extra)]
    if _database_kind(settings.db_url) == "sqlite":
        database = _sqlite_path(settings.db_url)
        paths += [database, database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")]
    return paths


def _state_files(folder: Path, excluded: list[Path]) -> Iterator[Path]:
    """Files of a state folder that a backup holds, relative to the folder."""
    if not folder.is_dir():
        return
    root = folder.resolve()
    # The site folder lives in the archive root: only what is below the folder can be left out.
    excluded = [path for path in excluded if path != root and path not in root.parents]
    for directory, subdirectories, files in os.walk(root):
        here = Path(directory)
        subdirectories[:] = sorted(d for d in subdirectories if not _is_excluded(here / d, excluded))
        for name in sorted(files):
            path = here / name
            if name.endswith(SKIPPED_SUFFIXES) or name.startswith(SKIPPED_PREFIXES) or _is_excluded(path, excluded):
                continue
            if path.is_file():
                yield path.relative_to(root)


def _is_excluded(path: Path, excluded: list[Path]) -> bool:
    resolved = path.resolve()
    return any(resolved == e or e in resolved.parents for e in excluded)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def _locked_if_journal(path: Path) -> Iterator[None]:
    # JSON-lines files (the journal) are appended under their lock: copy a whole state of them.
    if path.suffix == ".jsonl":
        with FileLock(str(path) + ".lock", timeout=60):
            yield
    else:
        yield


# -- the database's own tools -------------------------------------------------------------


def _program(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise BackupError(
        f"none of {', '.join(names)} is on PATH: install the MariaDB (or MySQL) client programs "
        "(Debian: apt-get install mariadb-client)"
    )


def _option_value(value: object) -> str:
    """A value for a MariaDB/MySQL option file: in double quotes, with the escapes the client programs undo.

    Unquoted, `#` starts a comment and quotes and backslashes are taken apart, so such a password was cut short.
    """
    text = str(value)
    for plain, escaped in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"), ("\b", "\\b")):
        text = text.replace(plain, escaped)
    return f'"{text}"'


@contextmanager
def _client_options(url: URL) -> Iterator[list[str]]:
    """Connection options for the MySQL client programs; the password goes in a private file, not argv."""
    lines = ["[client]"]
    options = {
        "host": url.host,
        "port": url.port,
        "user": url.username,
        "password": url.password,
        "socket": url.query.get("unix_socket"),
    }
    lines += [f"{name}={_option_value(value)}" for name, value in options.items() if value]
    with tempfile.TemporaryDirectory(prefix="msgmodule-client-") as folder:
        path = Path(folder) / "client.cnf"
        path.touch(mode=PRIVATE_FILE)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        yield [f"--defaults-extra-file={path}"]


def _run(command: list[str], what: str, **kwargs: Any) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)  # nosec B603
    if result.returncode != 0:
        raise BackupError(f"{what} failed ({Path(command[0]).name} exit {result.returncode}): {result.stderr.strip()}")


def _mysql_tables(url: str) -> list[str]:
    """The library's tables that exist in the database (other applications' tables are left out)."""
    existing = set(inspect(get_engine(url)).get_table_names())
    wanted = [table.name for table in metadata.sorted_tables] + ["alembic_version"]
    return [name for name in wanted if name in existing]


def _dump_mysql(url: str, target: Path) -> None:
    parsed = normalise_url(url)
    if not parsed.database:
        raise BackupError(f"{mask_url(url)} names no database")
    tables = _mysql_tables(url)
    dump = _program("mariadb-dump", "mysqldump")
    with _client_options(parsed) as options:
        command = [
            dump,
            *options,
            "--single-transaction",  # one consistent snapshot, without locking the writers out
            "--no-tablespaces",
            "--default-character-set=utf8mb4",
            "--hex-blob",
            "--skip-dump-date",
            f"--result-file={target}",
            parsed.database,
            *tables,
        ]
        _run(command, f"dumping {mask_url(url)}")


def _load_mysql(url: str, dump: Path) -> None:
    parsed = normalise_url(url)
    if not parsed.database:
        raise BackupError(f"{mask_url(url)} names no database")
    client = _program("mariadb", "mysql")
    dispose_engines()
    with _client_options(parsed) as options, open(dump, encoding="utf-8") as statements:
        command = [client, *options, "--default-character-set=utf8mb4", parsed.database]
        _run(command, f"loading the dump into {mask_url(url)}", stdin=statements)


def _copy_sqlite(source: Path, target: Path) -> None:
    """Copy a SQLite database with its online backup API: a consistent copy even while others write."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with _sqlite(source) as src, _sqlite(target) as dst:
        src.backup(dst)


@contextmanager
def _sqlite(path: Path) -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(path, timeout=60)
    try:
        yield connection
    finally:
        connection.close()


def _renew_incarnation(url: str) -> None:
    """The restored database's documents carry old revisions: answers other processes kept must not match them
    (see db.incarnation), whatever the backup's incarnation was."""
    with get_engine(url).begin() as connection:
        renew_incarnation(connection)


def _revision_and_counts(url: str) -> tuple[str | None, dict[str, int]]:
    from alembic.runtime.migration import MigrationContext

    engine = get_engine(url)
    with engine.connect() as connection:
        revision = MigrationContext.configure(connection).get_current_revision()
        existing = set(inspect(connection).get_table_names())
        counts = {
            table.name: int(connection.execute(select(func.count()).select_from(table)).scalar_one())
            for table in metadata.sorted_tables
            if table.name in existing
        }
    return revision, counts


# -- backup ----------------------------------------------------------------------------------


def create_backup(settings: Settings, output_dir: str | os.PathLike[str], name: str | None = None) -> BackupResult:
    """Back up the configuration, the state folders and the database into a new folder in `output_dir`."""
    started = time.monotonic()
    output = Path(output_dir)
    name = name or time.strftime("msgmodule-backup-%Y%m%d-%H%M%S", time.gmtime())
    final = output / name
    if final.exists():
        raise BackupError(f"{final} already exists: choose another name or folder")
    partial = output / f".{name}.partial"
    if partial.exists():
        shutil.rmtree(partial)
    if not output.exists():
        output.mkdir(parents=True)
        os.chmod(output, PRIVATE_FOLDER)
    partial.mkdir()
    os.chmod(partial, PRIVATE_FOLDER)  # before anything is in it: chmod does not depend on the umask
    try:
        manifest = _fill(settings, partial, output)
        manifest["duration_s"] = round(time.monotonic() - started, 3)
        (partial / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        _make_private(partial)
        os.replace(partial, final)  # a backup folder either is complete or does not exist
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return BackupResult(final, manifest)


def _make_private(folder: Path) -> None:
    """Folders 0700 and files 0600 below `folder`: a backup holds message text and the whole database."""
    for directory, subdirectories, files in os.walk(folder):
        for name in subdirectories:
            os.chmod(Path(directory) / name, PRIVATE_FOLDER, follow_symlinks=False)
        for name in files:
            os.chmod(Path(directory) / name, PRIVATE_FILE, follow_symlinks=False)


def _fill(settings: Settings, folder: Path, output: Path) -> dict[str, Any]:
    url = settings.db_url
    kind = _database_kind(url)
    files: list[dict[str, Any]] = []

    def add(relative: str, role: str, origin: Path | None = None) -> None:
        path = folder / relative
        info = path.stat()
        entry: dict[str, Any] = {"path": relative, "role": role, "size": info.st_size, "sha256": _sha256(path)}
        if role != "database":  # the original's mode (copy2 kept it), for restore: the backup's copy is 0600
            entry["mode"] = stat.S_IMODE(info.st_mode)
        if origin is not None:
            entry["origin"] = str(origin)
        files.append(entry)

    # The database first: its schema revision decides whether the backup can be restored.
    if kind == "sqlite":
        source = _sqlite_path(url)
        if not source.exists():
            raise BackupError(f"the SQLite database {source} does not exist: nothing to back up")
        _copy_sqlite(source, folder / SQLITE_FILE)
        revision, counts = _revision_and_counts(f"sqlite:///{folder / SQLITE_FILE}")
        add(SQLITE_FILE, "database")
    else:
        before, _ = _revision_and_counts(url)
        (folder / DUMP_FILE).parent.mkdir(parents=True, exist_ok=True)
        _dump_mysql(url, folder / DUMP_FILE)
        revision, counts = _revision_and_counts(url)
        if revision != before:
            raise BackupError(f"the schema of {mask_url(url)} changed during the backup ({before} -> {revision})")
        counts = {}  # taken outside the dump's snapshot: not exact, so not recorded
        add(DUMP_FILE, "database")

    config_file = Path(settings.config_file)
    if config_file.is_file():
        target = folder / "config" / config_file.name
        target.parent.mkdir(parents=True)
        shutil.copy2(config_file, target)
        add(f"config/{config_file.name}", "config", config_file.resolve())

    excluded = _excluded(settings, [output])
    folders = _state_folders(settings)
    for role, source_dir in folders.items():
        for relative in _state_files(source_dir, excluded + _nested(role, folders)):
            target = folder / role / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            with _locked_if_journal(source_dir / relative):
                shutil.copy2(source_dir / relative, target)
            add(f"{role}/{relative.as_posix()}", role)

    return {
        "format": FORMAT,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": socket.gethostname(),
        "library_version": __version__,
        "schema_revision": revision,
        "database": {"kind": kind, "url": mask_url(url), "row_counts": counts},
        "config_file": str(config_file.resolve()) if config_file.is_file() else None,
        "folders": {role: str(path.resolve()) for role, path in folders.items()},
        "cif_root": str(Path(settings.cif_root).resolve()),
        "not_included": "the CIF archive (back it up with OneDep's archive), logs, lock files",
        "files": files,
    }


# -- restore ---------------------------------------------------------------------------------


def read_manifest(backup: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(backup) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{backup} is not a backup made by msgmodule: it has no {MANIFEST}") from None
    except (OSError, ValueError) as exc:
        raise BackupError(f"cannot read {path}: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(
            f"{path} has an unknown format ({manifest.get('format') if isinstance(manifest, dict) else '?'})"
        )
    return manifest


def check_backup(backup: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of a backup whose files are all present and intact, and whose schema this library uses."""
    folder = Path(backup)
    manifest = read_manifest(folder)
    _check_entries(folder, manifest)
    for entry in manifest["files"]:
        path = folder / entry["path"]
        if _sha256(path) != entry["sha256"]:
            raise BackupError(f"the backup {folder} is damaged: {entry['path']} does not match its checksum")
    head = schema_versions.head_revision()
    if manifest.get("schema_revision") != head:
        raise BackupError(
            f"the backup {folder} holds schema revision {manifest.get('schema_revision')} but this library "
            f"(version {__version__}) uses revision {head}: restore it with the library version that made it "
            f"({manifest.get('library_version')}), then upgrade with msgmodule init-db"
        )
    return manifest


def _check_entries(folder: Path, manifest: dict[str, Any]) -> None:
    """Every entry names a plain file of the backup, at a path a backup of its kind holds; else BackupError."""
    folders = manifest.get("folders")
    database = manifest.get("database")
    entries = manifest.get("files")
    if not isinstance(folders, dict) or not isinstance(database, dict) or not isinstance(entries, list):
        raise BackupError(f"{folder / MANIFEST} lacks its folders, database or files: it is not a backup to restore")
    wanted = {"sqlite": SQLITE_FILE, "mysql": DUMP_FILE}.get(str(database.get("kind")))
    seen: set[str] = set()
    for entry in entries:
        shown = entry.get("path") if isinstance(entry, dict) else entry
        reason = _entry_problem(entry, folders, wanted, seen)
        if reason is None and not os.path.lexists(folder / entry["path"]):
            raise BackupError(f"the backup {folder} is incomplete: {entry['path']} is missing")
        if reason is None:
            reason = _file_problem(folder, PurePosixPath(entry["path"]))
        if reason is not None:
            raise BackupError(
                f"the backup {folder} cannot be restored: its manifest entry {shown!r} {reason}. Nothing was "
                "changed; restore from a backup that msgmodule backup made"
            )
        seen.add(entry["path"])
        if entry["role"] == "database":
            wanted = None  # one database only
    if wanted is not None:
        raise BackupError(f"the backup {folder} names no {wanted} in its manifest: it holds no database to restore")


def _entry_problem(entry: Any, folders: dict[str, Any], database: str | None, seen: set[str]) -> str | None:
    """Why a manifest entry is not one that a backup of this kind holds, or None."""
    if not isinstance(entry, dict) or not all(isinstance(entry.get(key), str) for key in ("path", "role", "sha256")):
        return "lacks a path, role or checksum"
    text, role = entry["path"], entry["role"]
    path = PurePosixPath(text)
    if path.is_absolute():
        return "is an absolute path"
    if "\0" in text:
        return "holds a NUL character"
    if any(part in ("", ".", "..") for part in text.split("/")):
        return "leaves its folder (.. or an empty part)"
    if role not in ROLES or path.parts[0] != role:
        return f"is not where a backup puts its {role!r} files"
    if text in seen:
        return "comes twice"
    mode = entry.get("mode")
    if mode is not None and (not isinstance(mode, int) or isinstance(mode, bool) or not 0 <= mode <= 0o777):
        return f"has an impossible mode {mode!r}"
    if role == "database" and text != database:
        return "is not this backup's one database file"
    if role == "config" and (len(path.parts) != 2 or any(name.startswith("config/") for name in seen)):
        return "is not the backup's one config file"
    if role in ("state", "site"):
        if role not in folders or len(path.parts) < 2:
            return f"is not a file of the backup's {role} folder"
        if path.name.endswith(SKIPPED_SUFFIXES) or path.name.startswith(SKIPPED_PREFIXES):
            return "is a lock, temporary or log file, which a backup never holds"
    return None


def _file_problem(folder: Path, relative: PurePosixPath) -> str | None:
    """Why the backup's copy of an entry is not a plain file inside the backup folder, or None."""
    path = folder
    for number, part in enumerate(relative.parts, 1):
        path = path / part
        try:
            info = os.lstat(path)
        except OSError as exc:
            return f"cannot be read ({exc.strerror or exc})"
        if stat.S_ISLNK(info.st_mode):
            return f"is a link ({'/'.join(relative.parts[:number])})"
        if number < len(relative.parts) and not stat.S_ISDIR(info.st_mode):
            return f"is below something that is not a folder ({'/'.join(relative.parts[:number])})"
        if number == len(relative.parts) and not stat.S_ISREG(info.st_mode):
            return "is not a plain file"
    return None


# The site's stage record moves only by `msgmodule stage`: a restore keeps the one in force (and its
# journal, which belongs to the writes since), and puts back data only into the stage it was taken in.
SITE_RECORD_FILES = ("stage.json", "stage-history.jsonl", "journal.jsonl")


def restore_backup(settings: Settings, backup: str | os.PathLike[str]) -> dict[str, Any]:
    """Put back the database, the state folders and the config file of a backup. Returns its manifest.

    Refused unless the site is in the stage the backup was made in. It takes the
    site as a stage move does: the move lock, the record marked "moving" (new
    writes wait, up to MSGMODULE_STAGE_WAIT_SECONDS), then the site lock alone
    once running writes finish; so no write or move runs meanwhile.
    """
    from dataclasses import replace

    from ..stage.lifecycle import read_site
    from ..stage.record import SiteRecord, move_lock, site_taken, write_record

    folder = Path(backup)
    manifest = check_backup(folder)
    backed_up = folder / "site" / "stage.json"
    then = _backed_up_stage(backed_up) if "site/stage.json" in {e["path"] for e in manifest["files"]} else "cif-only"

    def same_stage() -> SiteRecord:
        now = read_site(settings)
        if then != now.stage:
            raise BackupError(
                f"the backup {folder} was made in stage {then}, and the site is in stage {now.stage} "
                f"(epoch {now.epoch}): restoring it would put data of one stage under the other. Move the site "
                f"to {then} first (msgmodule stage), then restore."
            )
        return now

    same_stage()
    folders = _restorable(settings, folder, manifest)  # all refusals come before the site is touched
    with move_lock(settings.cif_root):
        now = same_stage()  # again: a move may have finished meanwhile
        # The stage stays; marking it as the one moved to makes writes stand back exactly as for a move.
        marked = replace(now, moving_to=now.stage)  # (a mark left by a dead mover is replaced: we hold the lock)
        with site_taken(settings.cif_root, marked):
            _restore(settings, folder, manifest, folders)
            write_record(settings.cif_root, replace(marked, moving_to=None))
    return manifest


def _backed_up_stage(path: Path) -> str:
    try:
        stage = json.loads(path.read_text(encoding="utf-8")).get("stage", "cif-only")
    except (OSError, ValueError, AttributeError) as exc:
        raise BackupError(f"cannot read the stage record the backup holds, {path}: {exc}") from None
    return str(stage)


def _restorable(settings: Settings, folder: Path, manifest: dict[str, Any]) -> dict[str, Path]:
    """The state folders to put back, once the backup is known to fit this installation; else BackupError."""
    url = settings.db_url
    kind = _database_kind(url)
    if manifest["database"]["kind"] != kind:
        raise BackupError(
            f"the backup {folder} holds a {manifest['database']['kind']} database; the configured one "
            f"({mask_url(url)}) is {kind}"
        )
    folders = {role: path for role, path in _state_folders(settings).items() if role in manifest["folders"]}
    for entry in manifest["files"]:  # before anything is written
        if entry["role"] in folders:
            _check_target(folders[entry["role"]], Path(entry["path"]).relative_to(entry["role"]), entry["path"])
    return folders


def _restore(settings: Settings, folder: Path, manifest: dict[str, Any], folders: dict[str, Path]) -> None:
    url = settings.db_url
    kind = _database_kind(url)

    try:
        if kind == "sqlite":
            dispose_engines()  # no pooled connection of ours may hold the old pages
            target = _sqlite_path(url)
            _copy_sqlite(folder / SQLITE_FILE, target)
        else:
            _load_mysql(url, folder / DUMP_FILE)
        revision, counts = _revision_and_counts(url)
        if revision != manifest["schema_revision"]:
            raise BackupError(
                f"after the restore {mask_url(url)} is at revision {revision}, not {manifest['schema_revision']}"
            )
        expected = manifest["database"].get("row_counts") or {}
        wrong = {name: (counts.get(name), count) for name, count in expected.items() if counts.get(name) != count}
        if wrong:
            raise BackupError(f"after the restore the row counts of {mask_url(url)} differ from the backup's: {wrong}")
    except BaseException:
        with contextlib.suppress(Exception):  # the restore's own error is the one to hear
            _renew_incarnation(url)
        raise
    _renew_incarnation(url)

    excluded = _excluded(settings, [folder])
    for role, target_dir in folders.items():  # a folder the backup was made without (older layout) stays
        kept = SITE_RECORD_FILES if role == "site" else ()
        held = list(_state_files(target_dir, excluded + _nested(role, folders)))
        for relative in held:  # what a backup would hold goes...
            if str(relative) not in kept:
                (target_dir / relative).unlink()
        for entry in manifest["files"]:  # ...and the backup's copy comes back
            if entry["role"] == role:
                relative = Path(entry["path"]).relative_to(role)
                if str(relative) in kept:
                    continue
                (target_dir / relative).parent.mkdir(parents=True, exist_ok=True)
                with _locked_if_journal(target_dir / relative):
                    _put_back(folder / entry["path"], target_dir / relative, entry.get("mode"))

    for entry in manifest["files"]:
        if entry["role"] == "config":
            config_file = Path(settings.config_file)
            config_file.parent.mkdir(parents=True, exist_ok=True)
            _put_back(folder / entry["path"], config_file, entry.get("mode"))


def _check_target(target_dir: Path, relative: Path, shown: str) -> None:
    """A restored file lands in `target_dir` itself: no link or file on its way there, no folder in its place."""
    path = target_dir
    for number, part in enumerate(relative.parts, 1):
        path = path / part
        last = number == len(relative.parts)
        if path.is_symlink() and not last:
            problem = f"{path} is a link"
        elif path.exists() and not path.is_symlink() and path.is_dir() == last:
            problem = f"{path} is {'a folder' if last else 'not a folder'}"
        else:
            continue
        raise BackupError(
            f"cannot restore {shown}: {problem}, so the file would not land inside {target_dir}. Nothing was "
            "changed; move it out of the way, then restore again"
        )


def _put_back(source: Path, target: Path, mode: int | None) -> None:
    """Copy a backed-up file into place through a new file and a rename: a link at `target` is replaced,
    never followed. It gets the mode the original had when backed up."""
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        shutil.copyfile(source, name)
        shutil.copystat(source, name)
        if mode is not None:
            os.chmod(name, mode)
        os.replace(name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise
