"""What validation proved, and how to tell that it still holds.

A validation that finds a deposition equal in both stores records, per document,
what the archive file was (name, inode, size, mtime, checksum of the very bytes
compared) and the database document's revision, in `msgmodule_validated`; the
outcome of the whole run goes to `msgmodule_site` under "validation". A move to
a stage that reads the database trusts that evidence only while it is fresh:
every archive file and database document must still match it. A library write
replaces a file (new inode), an edit behind the library's back changes its size
or mtime, a database write bumps the revision; any of those makes the deposition
"changed", and `msgmodule validate --changed` re-validates just those.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat as stat_module
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection, Engine

from ..cifformat import decode_bytes, parse_text
from ..db.engine import get_engine, run_with_retries, write_transaction
from ..db.schema import documents, site, validated
from ..errors import ArchiveEntryError, MessagingError, StorageError
from ..model import CONTENT_TYPES, Document
from ..stores.authority import forget_database_stage
from ..stores.cif import CifMessageStore

Key = tuple[str, str]  # (deposition, content type)
ABSENT = ("", 0, 0, 0, 0)  # no archive file: a document that only the database has (or neither)
Identity = tuple[str, int, int, int, int]  # file name, inode, size, mtime, ctime


@dataclass(frozen=True)
class Fingerprint:
    """An archive file as validation saw it; `file_name` "" when there was none."""

    file_name: str
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int  # no program sets it: an edit that puts size and mtime back still shows
    checksum: str = ""

    @property
    def identity(self) -> Identity:
        return (self.file_name, self.inode, self.size, self.mtime_ns, self.ctime_ns)


def read_with_fingerprints(
    store: CifMessageStore, deposition_id: str
) -> tuple[dict[str, Document], dict[str, Fingerprint]]:
    """Every document of a deposition from the archive, with the fingerprint of the bytes parsed.

    The file is stat-ed through the descriptor it is read from, so the
    fingerprint is of exactly what was compared; anything that is not a regular
    file is refused, not opened for reading.
    """
    files = store.current_files(deposition_id)
    found: dict[str, Document] = {}
    prints: dict[str, Fingerprint] = {}
    for content_type in CONTENT_TYPES:
        if content_type not in files:
            found[content_type] = Document(deposition_id, content_type)
            prints[content_type] = Fingerprint(*ABSENT)
            continue
        path = files[content_type][0]
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as exc:
            raise StorageError(f"cannot read {path}: {exc.strerror or exc}") from exc
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat_module.S_ISREG(info.st_mode):
                raise ArchiveEntryError(path, "is not a regular file; not read")
            data = handle.read()
        prints[content_type] = Fingerprint(
            os.path.basename(path),
            info.st_ino,
            info.st_size,
            info.st_mtime_ns,
            info.st_ctime_ns,
            hashlib.sha256(data).hexdigest(),
        )
        found[content_type] = parse_text(decode_bytes(data), deposition_id, content_type, source=path)
    return found, prints


def scan_archive(root: str, deposition_ids: Iterable[str] | None = None) -> dict[Key, Identity]:
    """(file name, inode, size, mtime, ctime) of every current archive file: stat only, nothing read."""
    store = CifMessageStore(root)
    ids = store.list_depositions() if deposition_ids is None else list(deposition_ids)
    found: dict[Key, Identity] = {}
    for deposition_id in ids:
        try:
            current = store.current_files(deposition_id)
        except MessagingError:
            # Unreadable, or a link or FIFO where a file should be: nothing validation saw.
            found[(deposition_id, "")] = ("unreadable", -1, -1, -1, -1)
            continue
        for content_type, (path, _version) in current.items():
            try:
                info = os.lstat(path)
            except OSError:
                continue
            found[(deposition_id, content_type)] = (
                os.path.basename(path),
                info.st_ino,
                info.st_size,
                info.st_mtime_ns,
                info.st_ctime_ns,
            )
    return found


# -- the database side -------------------------------------------------------------------


def document_revisions(connection: Connection, deposition_ids: list[str] | None = None) -> dict[Key, int]:
    query = select(documents.c.source_deposition_id, documents.c.source_content_type, documents.c.revision)
    if deposition_ids is None:
        return {(d, c): r for d, c, r in connection.execute(query)}
    found: dict[Key, int] = {}
    for start in range(0, len(deposition_ids), 500):
        chunk = deposition_ids[start : start + 500]
        rows = connection.execute(query.where(documents.c.source_deposition_id.in_(chunk)))
        found.update({(d, c): r for d, c, r in rows})
    return found


def record_evidence(
    engine: Engine,
    equal: dict[str, dict[str, Fingerprint]],
    unequal: Iterable[str],
    revisions_before: dict[Key, int] | None = None,
) -> None:
    """Replace the evidence of these depositions: fingerprints of the equal ones, none for the others.

    `revisions_before`: the documents' revisions read before the comparison, so
    a database write during it leaves the evidence stale (the safe direction);
    a revision read afterwards could vouch for a write the comparison never saw.
    Without them, they are read here (callers that hold writes off).
    """
    ids = sorted({*equal, *unequal})
    if not ids:
        return

    def work() -> None:
        with write_transaction(engine) as connection:
            revisions = document_revisions(connection, sorted(equal)) if revisions_before is None else revisions_before
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                connection.execute(delete(validated).where(validated.c.source_deposition_id.in_(chunk)))
            rows = [
                {
                    "source_deposition_id": d,
                    "source_content_type": c,
                    "file_name": p.file_name,
                    "file_inode": p.inode,
                    "file_size": p.size,
                    "file_mtime_ns": p.mtime_ns,
                    "file_ctime_ns": p.ctime_ns,
                    "checksum": p.checksum,
                    "revision": revisions.get((d, c)),
                }
                for d, prints in equal.items()
                for c, p in prints.items()
                if p.file_name or (d, c) in revisions
            ]
            if rows:
                connection.execute(validated.insert(), rows)

    run_with_retries(engine, "record validation evidence", work)


def load_evidence(connection: Connection) -> dict[Key, tuple[Identity, str, int | None]]:
    query = select(
        validated.c.source_deposition_id,
        validated.c.source_content_type,
        validated.c.file_name,
        validated.c.file_inode,
        validated.c.file_size,
        validated.c.file_mtime_ns,
        validated.c.file_ctime_ns,
        validated.c.checksum,
        validated.c.revision,
    )
    return {
        (d, c): ((name, inode, size, mtime, ctime), checksum, revision)
        for d, c, name, inode, size, mtime, ctime, checksum, revision in connection.execute(query)
    }


def changed_depositions(cif_root: str, db_url: str) -> list[str]:
    """Depositions whose archive files or database documents differ from what validation recorded.

    A file whose stat differs but whose bytes hash to the recorded checksum
    (touched, or copied back unchanged) is not a change.
    """
    engine = get_engine(db_url)

    def read() -> tuple[dict[Key, Any], dict[Key, int]]:
        with engine.connect() as connection:
            return load_evidence(connection), document_revisions(connection)

    evidence, revisions = run_with_retries(engine, "read validation evidence", read)
    files = scan_archive(cif_root)
    changed: set[str] = set()
    for key in {*evidence, *files, *revisions}:
        recorded = evidence.get(key)
        if recorded is None:
            changed.add(key[0])
            continue
        identity, checksum, revision = recorded
        if revisions.get(key) != revision:
            changed.add(key[0])
            continue
        now = files.get(key, ABSENT)
        if now == identity:
            continue
        if now[0] != identity[0] or not now[0] or _checksum(cif_root, key, now[0]) != checksum:
            changed.add(key[0])
    return sorted(changed)


@dataclass
class Unsettled:
    """What a rollback must compare: depositions whose database documents may differ from the archive."""

    depositions: list[str]
    revisions: dict[Key, int]  # every document's revision, read before anything was compared
    documents: int  # database documents in all
    full_compare: str = ""  # why every document is compared ("" when the evidence narrowed it down)


def unsettled_depositions(cif_root: str, db_url: str, archive_id: str | None, compare_all: bool = False) -> Unsettled:
    """The depositions whose database documents may differ from the archive's copies.

    A document may be skipped only when validation found it equal and neither
    side changed since: its revision is the one recorded, and the archive file
    is the one recorded (same identity, or same bytes). Without evidence of
    this archive every deposition the database holds is compared.
    """
    engine = get_engine(db_url)

    def read() -> tuple[dict[str, Any] | None, dict[Key, Any], dict[Key, int]]:
        with engine.connect() as connection:
            revisions = document_revisions(connection)  # first: a write after it is looked at again
            text = connection.execute(select(site.c.value).where(site.c.name == "validation")).scalar_one_or_none()
            return (json.loads(text) if text else None), load_evidence(connection), revisions

    validation, evidence, revisions = run_with_retries(engine, "read validation evidence", read)
    everything = sorted({d for d, _ in revisions})
    why = ""
    if compare_all:
        why = "asked to compare every document"
    elif validation is None or not evidence:
        why = "no validation evidence in the database"
    elif not archive_id or validation.get("archive_id") != archive_id:
        why = f"the recorded validation was of another archive ({validation.get('cif_root')})"
    if why:
        return Unsettled(everything, revisions, len(revisions), why)
    files = scan_archive(cif_root, everything)
    unreadable = {d for d, c in files if not c}
    wanted: set[str] = set()
    for key, revision in revisions.items():
        recorded = evidence.get(key)
        if key[0] in unreadable or recorded is None or recorded[2] != revision:
            wanted.add(key[0])
            continue
        identity, checksum, _ = recorded
        now = files.get(key, ABSENT)
        if now == identity:
            continue
        if now[0] != identity[0] or not now[0] or _checksum(cif_root, key, now[0]) != checksum:
            wanted.add(key[0])
    return Unsettled(sorted(wanted), revisions, len(revisions))


def _checksum(cif_root: str, key: Key, file_name: str) -> str:
    try:
        with open(os.path.join(cif_root, key[0], file_name), "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        return ""


# -- the outcome of the last validation ----------------------------------------------------------


def write_site_value(engine: Engine, name: str, value: dict[str, Any]) -> None:
    text = json.dumps(value, sort_keys=True)

    def work() -> None:
        with write_transaction(engine) as connection:
            connection.execute(delete(site).where(site.c.name == name))
            connection.execute(site.insert().values(name=name, value=text))

    run_with_retries(engine, f"record {name} in msgmodule_site", work)
    if name == "stage":
        forget_database_stage(engine)  # this process's stores check the new stage at once


def read_site_value(engine: Engine, name: str) -> dict[str, Any] | None:
    def work() -> str | None:
        with engine.connect() as connection:
            return connection.execute(select(site.c.value).where(site.c.name == name)).scalar_one_or_none()

    text = run_with_retries(engine, f"read {name} from msgmodule_site", work)
    return None if text is None else json.loads(text)


def record_validation(
    db_url: str,
    archive_id: str,
    cif_root: str,
    passed: bool,
    depositions: int,
    failed: int,
    changed_only: bool,
    report: str | None,
) -> dict[str, Any]:
    """Record the outcome of a validation run in the database it validated."""
    engine = get_engine(db_url)
    previous = read_site_value(engine, "validation")
    if changed_only and (previous is None or previous.get("archive_id") != archive_id):
        # Re-checking changes proves nothing without a whole validation of this archive before it.
        passed = False
    value = {
        "time": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "archive_id": archive_id,
        "cif_root": os.path.abspath(cif_root),
        "passed": passed,
        "depositions": depositions,
        "failed": failed,
        "changed_only": changed_only,
        "report": report,
    }
    write_site_value(engine, "validation", value)
    if passed:
        # Kept when a later validation fails: this database did hold a whole, validated copy of the archive.
        write_site_value(engine, "migration", {"archive_id": archive_id, "validated_at": value["time"]})
    return value


def last_validation(db_url: str) -> dict[str, Any] | None:
    return read_site_value(get_engine(db_url), "validation")
