"""Backup and restore of one installation: the configuration, the state folders and the database.

A backup is a folder holding `manifest.json` (what is in it, with a SHA-256 of
every file, the library version and the database's schema revision), the
config file, the state directory and the site folder (`<archive>/.msgmodule`:
stage record and journal), and the database made with the database's own
tools: SQLite through its online backup API (a consistent copy while writers
run), MySQL/MariaDB with `mariadb-dump --single-transaction` (or `mysqldump`),
found on PATH. The CIF archive itself is not copied: it is OneDep's archive,
backed up with it.

Restore checks every checksum, refuses a backup made at another schema
revision than this library's, and puts back exactly what was backed up. Stop
the processes that write messages while it runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import sqlite3

# The database's own dump and client programs are run, with argument lists and no shell.
import subprocess  # nosec B404
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock
from sqlalchemy import func, inspect, select
from sqlalchemy.engine import URL, make_url

from .. import __version__
from ..config import Settings
from ..db import schema_versions
from ..db.engine import dispose_engines, get_engine, mask_url, normalise_url
from ..db.schema import metadata
from ..errors import MessagingError

MANIFEST = "manifest.json"
FORMAT = 1
SQLITE_FILE = "database/messaging.sqlite"
DUMP_FILE = "database/dump.sql"
# Not part of a backup: logs (they go on), locks, temporary files of atomic writes.
SKIPPED_SUFFIXES = (".lock", ".tmp")
SKIPPED_PREFIXES = ("msgmodule.log",)


class BackupError(MessagingError):
    """A backup could not be made, or a backup cannot be restored; says why and what to do."""


@dataclass
class BackupResult:
    path: Path
    manifest: dict[str, Any]


# -- what belongs to an installation ---------------------------------------------------


def _state_folders(settings: Settings) -> dict[str, Path]:
    """Folders of state, by name in the backup: the state directory, and the site folder when there is one."""
    folders = {"state": Path(settings.state_dir)}
    site_dir = getattr(settings, "site_dir", None)  # the site-wide folder in the archive root
    if site_dir is not None:
        folders["site"] = Path(site_dir)
    return folders


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
    with open(path, "rb") as handle:
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


@contextmanager
def _client_options(url: URL) -> Iterator[list[str]]:
    """Connection options for the MySQL client programs; the password goes in a private file, not argv."""
    lines = ["[client]"]
    if url.host:
        lines.append(f"host={url.host}")
    if url.port:
        lines.append(f"port={url.port}")
    if url.username:
        lines.append(f"user={url.username}")
    if url.password:
        lines.append(f"password={url.password}")
    socket_path = url.query.get("unix_socket")
    if socket_path:
        lines.append(f"socket={socket_path}")
    with tempfile.TemporaryDirectory(prefix="msgmodule-client-") as folder:
        options = Path(folder) / "client.cnf"
        options.touch(mode=0o600)
        options.write_text("\n".join(lines) + "\n", encoding="utf-8")
        yield [f"--defaults-extra-file={options}"]


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
    partial.mkdir(parents=True)
    try:
        manifest = _fill(settings, partial, output)
        manifest["duration_s"] = round(time.monotonic() - started, 3)
        (partial / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(partial, final)  # a backup folder either is complete or does not exist
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return BackupResult(final, manifest)


def _fill(settings: Settings, folder: Path, output: Path) -> dict[str, Any]:
    url = settings.db_url
    kind = _database_kind(url)
    files: list[dict[str, Any]] = []

    def add(relative: str, role: str, origin: Path | None = None) -> None:
        path = folder / relative
        entry: dict[str, Any] = {"path": relative, "role": role, "size": path.stat().st_size, "sha256": _sha256(path)}
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
        for relative in _state_files(source_dir, excluded):
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
        raise BackupError(f"{backup} is not a msgmodule backup: it has no {MANIFEST}") from None
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
    for entry in manifest["files"]:
        path = folder / entry["path"]
        if not path.is_file():
            raise BackupError(f"the backup {folder} is incomplete: {entry['path']} is missing")
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


# The site's stage record moves only by `msgmodule stage`: a restore keeps the one in force (and its
# journal, which belongs to the writes since), and puts back data only into the stage it was taken in.
SITE_RECORD_FILES = ("stage.json", "stage-history.jsonl", "journal.jsonl")


def restore_backup(settings: Settings, backup: str | os.PathLike[str]) -> dict[str, Any]:
    """Put back the database, the state folders and the config file of a backup. Returns its manifest.

    Refused unless the site is in the stage the backup was made in; runs holding
    the site's move lock and its lock exclusively, so no write or move runs meanwhile.
    """
    from ..stage.lifecycle import read_site
    from ..stage.record import SiteLock, move_lock

    folder = Path(backup)
    manifest = check_backup(folder)
    backed_up = folder / "site" / "stage.json"
    then = json.loads(backed_up.read_text()).get("stage", "cif-only") if backed_up.exists() else "cif-only"
    now = read_site(settings)
    if then != now.stage:
        raise BackupError(
            f"the backup {folder} was made in stage {then}, and the site is in stage {now.stage} (epoch {now.epoch}): "
            f"restoring it would put data of one stage under the other. Move the site to {then} first "
            "(msgmodule stage), then restore."
        )
    with move_lock(settings.cif_root), SiteLock(settings.cif_root).exclusive():
        return _restore(settings, folder, manifest)


def _restore(settings: Settings, folder: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    url = settings.db_url
    kind = _database_kind(url)
    if manifest["database"]["kind"] != kind:
        raise BackupError(
            f"the backup {folder} holds a {manifest['database']['kind']} database; the configured one "
            f"({mask_url(url)}) is {kind}"
        )

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

    excluded = _excluded(settings, [folder])
    for role, target_dir in _state_folders(settings).items():
        if role not in manifest["folders"]:
            continue  # made without this folder (an older layout): leave it as it is
        kept = SITE_RECORD_FILES if role == "site" else ()
        for relative in list(_state_files(target_dir, excluded)):  # what a backup would hold goes...
            if str(relative) not in kept:
                (target_dir / relative).unlink()
        for entry in manifest["files"]:  # ...and the backup's copy comes back
            if entry["role"] == role:
                relative = Path(entry["path"]).relative_to(role)
                if str(relative) in kept:
                    continue
                (target_dir / relative).parent.mkdir(parents=True, exist_ok=True)
                with _locked_if_journal(target_dir / relative):
                    shutil.copy2(folder / entry["path"], target_dir / relative)

    for entry in manifest["files"]:
        if entry["role"] == "config":
            config_file = Path(settings.config_file)
            config_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = config_file.with_name(f".{config_file.name}.restore.tmp")
            shutil.copy2(folder / entry["path"], tmp)
            os.replace(tmp, config_file)
    return manifest
