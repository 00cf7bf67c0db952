"""Operator tools at archive scale: migrate the archive into the database, validate, export.

Work is split into batches of depositions handled by worker processes. A
migration batch reads and checksums the current files, skips documents whose
file is unchanged since they were migrated, parses the rest, and writes them
in one transaction (multi-row inserts), so a run killed at any moment leaves
whole batches or nothing, and a re-run finishes the job without duplicates.
Rows written in the database since a document was migrated are never
overwritten unless `force_overwrite` is set. When the database refuses a batch
(a value over max_allowed_packet, a column overflow), it is written again
deposition by deposition, so only the depositions it refuses fail, each with
the reason, and the others migrate.

Walking the archive never follows a symbolic link nor opens anything but a
regular file: links, FIFOs and devices named like deposition folders or
message files fail their deposition (or are listed as warnings when they are
not its current files), with the path and the reason, and the run goes on.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import Any, TextIO, TypeVar

from sqlalchemy import bindparam, delete, select, tuple_
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.sql import func

from .archive_files import sync_file_system
from .cifformat import decode_bytes, parse_text, read_regular_file
from .db.engine import (
    ConnectionLostError,
    SchemaMissingError,
    ValueTooLargeError,
    get_engine,
    max_allowed_packet,
    run_with_retries,
    write_transaction,
)
from .db.schema import CATEGORY_TABLES, documents
from .equivalence import compare, differences
from .errors import BackendUnavailableError, CifParseError, InvalidInputError, MessagingError
from .model import CATEGORIES, CONTENT_TYPES, Document, validate_deposition_id
from .stores.authority import SITE_WRITER
from .stores.cif import CifMessageStore
from .stores.db import (
    DbMessageStore,
    bulk_insert_documents,
    check_document_packet,
    read_document,
    read_stored_documents,
)

DEFAULT_BATCH = 50
T = TypeVar("T")

# -- selecting depositions ---------------------------------------------------------


def select_depositions(
    store: CifMessageStore,
    deposition_ids: Iterable[str] = (),
    depositions_file: Path | None = None,
    shard: str | None = None,
) -> list[str]:
    """Ids named on the command line or in a file (one per line, # comments), else the whole archive.

    Walking the whole archive also selects the entries named like deposition
    folders that cannot be read (links, files, FIFOs, ids over 32 characters),
    so that each is reported as a failed deposition with the reason.
    `shard` "K/N" keeps every Nth id starting with the Kth (1-based), so N
    machines can share one archive.
    """
    ids = [validate_deposition_id(d) for d in deposition_ids]
    if depositions_file is not None:
        try:
            lines = depositions_file.read_text().splitlines()
        except OSError as exc:
            raise InvalidInputError(f"cannot read {depositions_file}: {exc.strerror or exc}") from None
        for number, line in enumerate(lines, 1):
            text = line.split("#", 1)[0].strip()
            if text:
                try:
                    ids.append(validate_deposition_id(text))
                except ValueError as exc:
                    raise InvalidInputError(f"{depositions_file} line {number}: {exc}") from None
    if not ids and not deposition_ids and depositions_file is None:
        found, skipped = store.scan_depositions()
        ids = sorted({*found, *(entry.deposition_id for entry in skipped if entry.deposition_id)})
    ids = list(dict.fromkeys(ids))
    if shard:
        try:
            k, n = (int(part) for part in shard.split("/"))
        except ValueError:
            raise InvalidInputError(f"--shard {shard!r}: expected K/N, e.g. 1/4") from None
        if not 1 <= k <= n:
            raise InvalidInputError(f"--shard {shard!r}: K must be between 1 and N")
        ids = [d for index, d in enumerate(sorted(ids)) if index % n == k - 1]
    return ids


def batches(items: list[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# -- per-deposition outcomes ---------------------------------------------------------

# Worst first: a deposition's status is the worst of its documents'.
STATUS_ORDER = ["failed", "conflict-kept", "overwritten", "migrated", "in-sync", "unchanged", "no-files"]


@dataclass
class DepositionOutcome:
    deposition_id: str
    status: str = "no-files"
    files: list[dict[str, Any]] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    differences: list[dict[str, Any]] = field(default_factory=list)
    # Validation: the differences per message (equivalence.compare), and their counts in a line.
    summary: str = ""
    by_message: list[dict[str, Any]] = field(default_factory=list)

    def settle(self) -> None:
        statuses = [f["action"] for f in self.files] + (["failed"] if self.errors else [])
        known = [s.removeprefix("would-") for s in statuses]
        if known:
            worst = min(known, key=lambda s: STATUS_ORDER.index(s) if s in STATUS_ORDER else 0)
            prefix = "would-" if any(s.startswith("would-") for s in statuses) and worst != "failed" else ""
            self.status = prefix + worst


@dataclass
class SourceFile:
    content_type: str
    path: str
    version: int
    data: bytes
    checksum: str
    document: Document | None = None


def _read_sources(store: CifMessageStore, outcome: DepositionOutcome) -> list[SourceFile]:
    """The deposition's current files (regular files only: a link, FIFO or device is an error naming it)."""
    skipped: list[Any] = []
    try:
        found = store.current_files(outcome.deposition_id, skipped)
    except MessagingError as exc:
        outcome.errors.append(str(exc))
        return []
    outcome.warnings.extend(str(entry) for entry in skipped)
    sources = []
    for content_type in CONTENT_TYPES:
        if content_type not in found:
            continue
        path, version = found[content_type]
        try:
            data = read_regular_file(path)
        except CifParseError as exc:
            outcome.errors.append(f"cannot read {path}: {exc.detail.removeprefix('cannot read: ')}")
            continue
        except MessagingError as exc:
            outcome.errors.append(str(exc))
            continue
        sources.append(SourceFile(content_type, path, version, data, hashlib.sha256(data).hexdigest()))
    return sources


def _parse(source: SourceFile, deposition_id: str) -> Document:
    return parse_text(decode_bytes(source.data), deposition_id, source.content_type, source=source.path)


# -- migration ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MigrationOptions:
    cif_root: str
    db_url: str
    dry_run: bool = False
    force_overwrite: bool = False


# documents.source_version is a 32-bit INTEGER (MySQL INT): a larger version number cannot be recorded.
MAX_SOURCE_VERSION = 2**31 - 1

# What deciding needs of a tracking row: the timestamps are never read (converting them cost more than the rest).
_DECIDED_BY = ("revision", "migrated_revision", "source_file", "source_checksum")
_TRACKING = select(
    documents.c.source_deposition_id, documents.c.source_content_type, *(documents.c[name] for name in _DECIDED_BY)
).where(documents.c.source_deposition_id.in_(bindparam("ids", expanding=True)))
_TRACKING_LOCKED = _TRACKING.with_for_update()


def _tracking(connection: Connection, keys: list[tuple[str, str]], lock: bool) -> dict[tuple[str, str], Any]:
    """Tracking rows of these documents (one cached statement per batch, whatever its size)."""
    if not keys:
        return {}
    wanted = set(keys)
    query = _TRACKING_LOCKED if lock and connection.dialect.name != "sqlite" else _TRACKING
    rows = connection.execute(query, {"ids": sorted({d for d, _ in keys})})
    found = {(row.source_deposition_id, row.source_content_type): row for row in rows}
    return {key: row for key, row in found.items() if key in wanted}


def _unchanged(row: Any, source: SourceFile) -> bool:
    return row is not None and row.source_checksum == source.checksum and row.revision == row.migrated_revision


def migrate_batch(options: MigrationOptions, deposition_ids: list[str]) -> list[DepositionOutcome]:
    """Migrate one batch of depositions; never raises for a single deposition's problem."""
    sources: dict[tuple[str, str], SourceFile] = {}
    try:
        return _migrate(options, deposition_ids, sources)
    finally:
        _drop_text(sources)


def _drop_text(sources: dict[tuple[str, str], SourceFile]) -> None:
    """Let a batch's file text and documents go now (migrate and adopt-onedep, when a batch ends).

    Reference cycles made on the way (retry wrappers hold the closures that saw them) would
    otherwise keep megabytes alive until a full collection, and memory would climb with the
    size of the archive.
    """
    for source in sources.values():
        source.data = b""
        source.document = None


def _migrate(
    options: MigrationOptions, deposition_ids: list[str], sources: dict[tuple[str, str], SourceFile]
) -> list[DepositionOutcome]:
    store = CifMessageStore(options.cif_root)
    engine = get_engine(options.db_url, bulk_load=True)
    outcomes = {d: DepositionOutcome(d) for d in deposition_ids}
    for deposition_id, outcome in outcomes.items():
        for source in _read_sources(store, outcome):
            sources[(deposition_id, source.content_type)] = source

    def plan_read() -> dict[tuple[str, str], Any]:
        with engine.connect() as connection:
            return _tracking(connection, list(sources), lock=False)

    try:
        tracked = run_with_retries(engine, "read migration state", plan_read)
    except MessagingError as exc:
        return _fail_all(outcomes, str(exc))

    packet = max_allowed_packet(engine)  # known now: reading the state connected
    work: dict[tuple[str, str], SourceFile] = {}
    for key, source in sources.items():
        outcome = outcomes[key[0]]
        entry = {
            "content_type": source.content_type,
            "file": os.path.basename(source.path),
            "version": source.version,
            "checksum": source.checksum,
            "action": "unchanged",
        }
        outcome.files.append(entry)
        if source.version > MAX_SOURCE_VERSION:
            outcome.errors.append(
                f"{source.path}: version number {source.version} is larger than the database records "
                f"({MAX_SOURCE_VERSION}); rename the file to a sane version (V<n>) and migrate again"
            )
            entry["action"] = "failed"
            continue
        if _unchanged(tracked.get(key), source):
            continue
        try:
            source.document = _parse(source, key[0])
            check_document_packet(source.document, packet, engine.url, source_size=len(source.data))
        except (CifParseError, ValueTooLargeError) as exc:
            outcome.errors.append(str(exc))
            entry["action"] = "failed"
            continue
        for name, count in source.document.row_counts().items():
            outcome.rows[name] = outcome.rows.get(name, 0) + count
        work[key] = source
    # A deposition with a failed file is not written at all: its documents stay as they were.
    work = {key: source for key, source in work.items() if not outcomes[key[0]].errors}

    if work:
        if options.dry_run:
            try:
                actions = _decide_dry(DbMessageStore(options.db_url, engine), work, tracked)
            except MessagingError as exc:
                return _fail_all(outcomes, str(exc))
        else:
            actions = _write_isolating_failures(engine, work, options.force_overwrite, outcomes)
        for (deposition_id, content_type), action in actions.items():
            for entry in outcomes[deposition_id].files:
                if entry["content_type"] == content_type:
                    entry["action"] = action
                    if action == "conflict-kept":
                        outcomes[deposition_id].warnings.append(
                            f"{content_type}: the database has changes made since migration that differ from "
                            f"{entry['file']}; kept them (use --force-overwrite to replace)"
                        )
                    elif action == "overwritten":
                        outcomes[deposition_id].warnings.append(
                            f"{content_type}: database changes made since migration were overwritten "
                            f"(--force-overwrite) by {entry['file']}"
                        )
    for outcome in outcomes.values():
        outcome.settle()
    return list(outcomes.values())


def _write_isolating_failures(
    engine: Any,
    work: dict[tuple[str, str], SourceFile],
    force: bool,
    outcomes: dict[str, DepositionOutcome],
    write: Callable[[Any, dict[tuple[str, str], SourceFile], bool], dict[tuple[str, str], str]] | None = None,
) -> dict[tuple[str, str], str]:
    """Write the batch in one transaction; if the database refuses it, write it deposition by deposition.

    Then only the depositions the database refuses fail (their files marked
    failed, the reason in their errors) and the others are written. An error
    that no single deposition causes (the server unreachable, no schema) fails
    the depositions not yet written, at once.
    """
    writer = write or _write_batch  # adopt-onedep passes its own, which writes merged documents
    try:
        return run_with_retries(engine, "write a migration batch", lambda: writer(engine, work, force))
    except MessagingError as exc:
        if not _caused_by_data(exc) or len({d for d, _ in work}) == 1:
            _fail_files(outcomes, work, str(exc))
            return {}
    by_deposition: dict[str, dict[tuple[str, str], SourceFile]] = {}
    for key, source in work.items():
        by_deposition.setdefault(key[0], {})[key] = source
    actions: dict[tuple[str, str], str] = {}
    pending = list(by_deposition)
    while pending:
        deposition_id = pending.pop(0)
        part = by_deposition[deposition_id]
        try:
            written = run_with_retries(engine, f"write {deposition_id}", partial(writer, engine, part, force))
            actions.update(written)
        except MessagingError as exc:
            _fail_files(outcomes, part, str(exc))
            if not _caused_by_data(exc):
                for rest in pending:
                    _fail_files(outcomes, by_deposition[rest], str(exc))
                break
    return actions


def _caused_by_data(exc: MessagingError) -> bool:
    """Whether one deposition's data may have caused the failure (so the others may still be written)."""
    if isinstance(exc, ConnectionLostError):  # e.g. a packet the server dropped the connection for
        return True
    return not isinstance(exc, (BackendUnavailableError, SchemaMissingError))


def _fail_files(outcomes: dict[str, DepositionOutcome], work: dict[tuple[str, str], SourceFile], error: str) -> None:
    for deposition_id in dict.fromkeys(d for d, _ in work):
        outcome = outcomes[deposition_id]
        outcome.errors.append(error)
        for entry in outcome.files:
            if (deposition_id, entry["content_type"]) in work:
                entry["action"] = "failed"


def _fail_all(outcomes: dict[str, DepositionOutcome], error: str) -> list[DepositionOutcome]:
    for outcome in outcomes.values():
        outcome.errors.append(error)
        outcome.settle()
    return list(outcomes.values())


def _decide(row: Any, source: SourceFile, database_document: Callable[[], Document], force: bool) -> str:
    """What to do with one document, given its locked tracking row."""
    revision = row.revision if row is not None else 0
    migrated_revision = (row.migrated_revision or 0) if row is not None else 0
    if row is not None and row.source_checksum == source.checksum and revision == row.migrated_revision:
        return "unchanged"
    if revision == migrated_revision:
        return "migrated"  # the database has not been written since the last migration (or ever)
    assert source.document is not None
    if not differences(source.document, database_document()):
        return "in-sync"  # e.g. dual-write already copied this very file
    return "overwritten" if force else "conflict-kept"


def _decide_dry(
    store: DbMessageStore, work: dict[tuple[str, str], SourceFile], tracked: dict
) -> dict[tuple[str, str], str]:
    return {
        key: "would-" + _decide(tracked.get(key), source, partial(store.load, *key), False)
        for key, source in work.items()
    }


Decide = Callable[[Any, SourceFile, Callable[[], Document], bool], str]


def _write_batch(
    engine: Any,
    work: dict[tuple[str, str], SourceFile],
    force: bool,
    decide: Decide = _decide,
    behind: Callable[[SourceFile], int] = lambda source: 0,
) -> dict[tuple[str, str], str]:
    """Write the documents of `work` in one transaction and record each one's source in its tracking row.

    `decide` says what to do with each document (adopt-onedep passes its own); `behind` is how many
    revisions the recorded copy stays behind the one written (adopt-onedep's merged documents: 1).
    """
    keys = list(work)
    with write_transaction(engine) as connection:
        new_rows = [{"source_deposition_id": d, "source_content_type": c, "revision": 0} for d, c in keys]
        if connection.dialect.name == "sqlite":
            connection.execute(sqlite_insert(documents).on_conflict_do_nothing(), new_rows)
        else:
            connection.execute(mysql_insert(documents).prefix_with("IGNORE"), new_rows)
        locked = _tracking(connection, keys, lock=True)
        actions: dict[tuple[str, str], str] = {}
        for key, source in work.items():
            actions[key] = decide(locked.get(key), source, partial(read_document, connection, *key), force)
        replace = [key for key, action in actions.items() if action in ("migrated", "overwritten")]
        had_rows = [key for key in replace if locked[key].revision > 0]
        if had_rows:
            for table in CATEGORY_TABLES.values():
                # One statement per table, not one per document (each would be a round trip).
                connection.execute(
                    delete(table).where(tuple_(table.c.source_deposition_id, table.c.source_content_type).in_(had_rows))
                )
        written: list[Document] = []
        for key in replace:
            document = work[key].document
            assert document is not None
            written.append(document)
        for category in CATEGORIES:
            bulk_insert_documents(connection, category, written)
        tracking_updates = []
        for key, action in actions.items():
            if action == "unchanged" or action == "conflict-kept":
                continue
            row = locked[key]
            revision = row.revision + 1 if key in replace else row.revision
            source = work[key]
            tracking_updates.append(
                {
                    "source_deposition_id": key[0],
                    "source_content_type": key[1],
                    "revision": revision,
                    "migrated_revision": revision - behind(source),
                    # the file's name, not its path (the archive root differs between sites and hosts),
                    # cut to the column's width
                    "source_file": os.path.basename(source.path)[:255],
                    "source_version": source.version,
                    "source_checksum": source.checksum,
                }
            )
        if tracking_updates:
            _record_sources(connection, tracking_updates)
        return actions


_RECORDED = ("revision", "migrated_revision", "source_file", "source_version", "source_checksum")


def _record_sources(connection: Connection, updates: list[dict[str, Any]]) -> None:
    """Set the tracking rows of the documents written (locked by this transaction, so they exist).

    One multi-row upsert, which here only ever updates: an UPDATE per document would be a round
    trip each on MySQL (the driver sends an UPDATE's parameter sets one by one).
    """
    changed = {"migrated_at": func.current_timestamp(), "updated_at": func.current_timestamp()}
    statement: Any
    if connection.dialect.name == "sqlite":
        on_sqlite = sqlite_insert(documents)
        statement = on_sqlite.on_conflict_do_update(
            index_elements=list(documents.primary_key.columns),
            set_={**{name: on_sqlite.excluded[name] for name in _RECORDED}, **changed},
        )
    else:
        on_mysql = mysql_insert(documents)
        statement = on_mysql.on_duplicate_key_update(**{name: on_mysql.inserted[name] for name in _RECORDED}, **changed)
    connection.execute(statement, updates)


# -- validation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ValidationOptions:
    cif_root: str
    db_url: str
    max_differences: int = 100  # per deposition, in the report
    record_evidence: bool = False


def validate_batch(options: ValidationOptions, deposition_ids: list[str]) -> list[DepositionOutcome]:
    """Compare each deposition's documents in the archive and the database.

    With `record_evidence`, what was found equal is recorded (per file: what
    was read; per document: the database revision), so a stage move can tell
    later that nothing changed since.
    """
    from .stage.evidence import Fingerprint, document_revisions, read_with_fingerprints, record_evidence

    cif = CifMessageStore(options.cif_root)
    db = DbMessageStore(options.db_url)
    outcomes = []
    equal: dict[str, dict[str, Fingerprint]] = {}
    revisions: dict[tuple[str, str], int] | None = None
    if options.record_evidence:

        def read_revisions() -> dict[tuple[str, str], int]:
            with db.engine.connect() as connection:
                return document_revisions(connection, list(deposition_ids))

        try:  # before anything is compared: a write meanwhile leaves the evidence stale, never wrong
            revisions = run_with_retries(db.engine, "read document revisions", read_revisions)
        except MessagingError as exc:
            return _fail_all({d: DepositionOutcome(d) for d in deposition_ids}, f"cannot read revisions: {exc}")
    for deposition_id in deposition_ids:
        outcome = DepositionOutcome(deposition_id, status="equal")
        try:
            left, prints = read_with_fingerprints(cif, deposition_id)
            right = db.load_all(deposition_id)
        except MessagingError as exc:
            outcome.errors.append(str(exc))
            outcome.status = "failed"
            outcomes.append(outcome)
            continue
        except Exception as exc:  # noqa: BLE001 - one deposition's surprise must not stop the run
            outcome.errors.append(f"unexpected {exc.__class__.__name__}: {exc}")
            outcome.status = "failed"
            outcomes.append(outcome)
            continue
        found = [d for content_type in CONTENT_TYPES for d in differences(left[content_type], right[content_type])]
        for content_type, document in left.items():
            for name, count in document.row_counts().items():
                outcome.rows[name] = outcome.rows.get(name, 0) + count
            if not document.is_empty():
                outcome.files.append({"content_type": content_type, "rows": sum(document.row_counts().values())})
        if found:
            outcome.status = "different"
            comparison = compare(((left[c], right[c]) for c in CONTENT_TYPES), "archive", "database")
            outcome.summary = comparison.summary()
            outcome.by_message = [_clip_values(record) for record in comparison.records[: options.max_differences]]
            outcome.differences = [_clip(d.as_dict()) for d in found[: options.max_differences]]
            if len(found) > options.max_differences:
                outcome.warnings.append(f"{len(found) - options.max_differences} more differences not listed")
        else:
            equal[deposition_id] = prints
        outcomes.append(outcome)
    if options.record_evidence:
        try:
            record_evidence(db.engine, equal, [o.deposition_id for o in outcomes if o.status != "equal"], revisions)
        except MessagingError as exc:
            for outcome in outcomes:
                outcome.errors.append(f"cannot record validation evidence: {exc}")
                outcome.status = "failed"
    return outcomes


def _clip_values(record: dict[str, Any]) -> dict[str, Any]:
    """`_clip` for the values of a per-message record."""
    for row in record.get("missing", ()):
        _clip(row["values"], keys=row["values"])
    for change in record.get("changed", ()):
        _clip(change["values"], keys=change["values"])
    return record


def _clip(record: dict[str, Any], limit: int = 200, keys: Iterable[str] = ("left", "right")) -> dict[str, Any]:
    for side in list(keys):
        value = record.get(side)
        if isinstance(value, str) and len(value) > limit:
            record[side] = value[:limit] + f"... ({len(value)} characters)"
    return record


# -- export ---------------------------------------------------------------------------------

# Files written at once by one batch: each write waits on its fsync, and the file system commits
# the syncs of many writes together (formatting, the part that holds the interpreter, stays one at a time).
WRITE_THREADS = 8
# An export batch is read in this many parts, each read while the one before it is written.
EXPORT_PARTS = 2


@dataclass(frozen=True)
class ExportOptions:
    db_url: str
    output_dir: str
    in_place: bool = False


def read_stored(db: DbMessageStore, deposition_ids: list[str]) -> dict[tuple[str, str], Document]:
    """Every document the database stores for these depositions (empty ones too), in one snapshot."""
    ids = [validate_deposition_id(d) for d in deposition_ids]
    return run_with_retries(
        db.engine, f"read the documents of {len(ids)} deposition(s)", lambda: read_stored_documents(db.engine, ids)
    )


def _each_in_threads(work: Callable[[T], Any], items: list[T]) -> list[Any]:
    """`work` of every item, several at once; an item's exception is its result (nothing stops the others)."""

    def guarded(item: T) -> Any:
        try:
            return work(item)
        except MessagingError as exc:
            return exc

    if len(items) < 2:
        return [guarded(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(WRITE_THREADS, len(items)), thread_name_prefix="msgmodule-file") as pool:
        return list(pool.map(guarded, items))


def export_batch(options: ExportOptions, deposition_ids: list[str]) -> list[DepositionOutcome]:
    """Write database documents as archive files (V1 in a new tree, or a new version in place).

    The batch goes in parts: while one part's files are written, the next part is
    read (a thread waiting on the server lets the writers run). A part that
    cannot be read fails its depositions only.
    """
    db = DbMessageStore(options.db_url)
    # Export is the site's own copy from the database: in place, it writes the archive whatever the stage.
    target = CifMessageStore(options.output_dir, site_writer=SITE_WRITER)
    outcomes = {d: DepositionOutcome(d) for d in deposition_ids}

    def write(document: Document) -> Path:
        # Not synced file by file: the batch's files are synced together below, before it reports.
        if options.in_place:
            return target.save_new_version(document, sync=False)
        return _write_v1(target, document)

    def read(part: list[str]) -> dict[tuple[str, str], Document] | str:
        try:
            return read_stored(db, part)
        except MessagingError as exc:
            return str(exc)

    size = max(1, -(-len(deposition_ids) // EXPORT_PARTS))
    parts = [deposition_ids[start : start + size] for start in range(0, len(deposition_ids), size)]
    written: list[str] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="msgmodule-read") as reader:
        pending = reader.submit(read, parts[0]) if parts else None
        for index, part in enumerate(parts):
            assert pending is not None
            stored = pending.result()
            if index + 1 < len(parts):
                pending = reader.submit(read, parts[index + 1])
            if isinstance(stored, str):
                for deposition_id in part:
                    outcomes[deposition_id].errors.append(stored)
                continue
            documents_ = list(stored.values())
            for document, result in zip(documents_, _each_in_threads(write, documents_), strict=True):
                outcome = outcomes[document.deposition_id]
                if isinstance(result, MessagingError):
                    outcome.errors.append(str(result))
                    continue
                written.append(str(result))
                outcome.files.append({"content_type": document.content_type, "file": str(result), "action": "migrated"})
                for name, count in document.row_counts().items():
                    outcome.rows[name] = outcome.rows.get(name, 0) + count
    _sync_written(options.output_dir, written, outcomes)
    for outcome in outcomes.values():
        outcome.settle()
        _exported(outcome)
    return list(outcomes.values())


def _exported(outcome: DepositionOutcome) -> DepositionOutcome:
    if outcome.status == "migrated":
        outcome.status = "exported"
    return outcome


def _write_v1(target: CifMessageStore, document: Document) -> Path:
    from .stores.cif import file_name

    path = target.deposition_dir(document.deposition_id) / file_name(document.deposition_id, document.content_type, 1)
    if path.exists():
        raise MessagingError(f"{path} already exists: export into an empty --output-dir, or use --in-place")
    target.save(document, sync=False)
    return path


def _sync_written(root: str, written: list[str], outcomes: dict[str, DepositionOutcome]) -> None:
    """Sync the batch's new files; if that fails, none of them counts as written."""
    if not written:
        return
    try:
        sync_file_system(root, written)
    except MessagingError as exc:
        for deposition_id in dict.fromkeys(Path(path).parent.name for path in written):
            if deposition_id in outcomes:
                outcomes[deposition_id].errors.append(str(exc))


@dataclass(frozen=True)
class RollbackOptions:
    """Bring the archive in step with the database, where the database is authoritative (a stage rollback)."""

    cif_root: str
    db_url: str


def export_differing_batch(options: RollbackOptions, deposition_ids: list[str]) -> list[DepositionOutcome]:
    """Write each database document of these depositions that differs from the archive's into the archive.

    A new version V<n+1> per differing document, read back and compared; the
    documents found equal are left alone (action "in-sync"). Every problem is
    the deposition's error, so its documents are looked at again.
    """
    db = DbMessageStore(options.db_url)
    cif = CifMessageStore(
        options.cif_root, site_writer=SITE_WRITER
    )  # the rollback's export: the archive is not yet read
    outcomes = {d: DepositionOutcome(d) for d in deposition_ids}
    try:
        stored = read_stored(db, deposition_ids)
    except MessagingError as exc:
        return [_exported(outcome) for outcome in _fail_all(outcomes, str(exc))]

    def bring_in_step(wanted: Document) -> tuple[str, str]:
        try:
            current: Document | None = cif.load(wanted.deposition_id, wanted.content_type)
        except MessagingError:
            current = None  # an unreadable archive copy differs by definition
        if current is not None and not differences(current, wanted):
            return "in-sync", ""
        path = cif.save_new_version(wanted, sync=False)  # synced with the batch's other files below
        if differences(cif.load(wanted.deposition_id, wanted.content_type), wanted):
            raise MessagingError(f"{path}: reads back different from the database")
        return "migrated", str(path)

    documents_ = list(stored.values())
    for document, result in zip(documents_, _each_in_threads(bring_in_step, documents_), strict=True):
        outcome = outcomes[document.deposition_id]
        if isinstance(result, MessagingError):
            outcome.errors.append(f"{document.deposition_id} {document.content_type}: {result}")
            outcome.files.append({"content_type": document.content_type, "action": "failed"})
            continue
        action, path = result
        outcome.files.append({"content_type": document.content_type, "file": path, "action": action})
    _sync_written(options.cif_root, [f["file"] for o in outcomes.values() for f in o.files if f.get("file")], outcomes)
    for outcome in outcomes.values():
        outcome.settle()
        _exported(outcome)
    return list(outcomes.values())


# -- running batches in worker processes ------------------------------------------------------


@dataclass
class RunSummary:
    total: int = 0
    statuses: Counter = field(default_factory=Counter)
    rows: Counter = field(default_factory=Counter)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (deposition, first error)
    elapsed: float = 0.0

    @property
    def failed(self) -> int:
        return self.statuses["failed"]


def _worker_leaves_interrupts_to_its_parent() -> None:
    """A pool worker ignores Ctrl-C: the parent, interrupted, ends the pool. A worker interrupted itself
    could die while handing back a result, holding the pool's queue, and the parent would then wait
    for ever (a Ctrl-C during a rollback's export, which goes to every process of the job, hung so)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _call(job: tuple[Callable[[Any, list[str]], list[DepositionOutcome]], Any, list[str]]) -> list[DepositionOutcome]:
    function, options, ids = job
    return function(options, ids)


@cache
def _progress_bar() -> Any:
    """tqdm without its monitor thread, which would outlive the run: a second run in this
    process would then have to spawn its workers (each importing everything) instead of forking."""
    from tqdm import tqdm

    class Progress(tqdm):  # type: ignore[type-arg]
        monitor_interval = 0

    return Progress


def run_batches(
    function: Callable[[Any, list[str]], list[DepositionOutcome]],
    options: Any,
    ids: list[str],
    workers: int,
    batch_size: int = DEFAULT_BATCH,
    report: TextIO | None = None,
    progress: bool | None = None,
    on_outcome: Callable[[DepositionOutcome], None] | None = None,
) -> RunSummary:
    """Run `function` over batches of ids, in `workers` processes (1: in this process).

    Outcomes are counted and spooled for `report` (a summary, then one entry per
    deposition: see `reports.RunReport`), never all kept in memory, so memory
    does not grow with the archive.
    """
    from .reports import RunReport

    summary = RunSummary(total=len(ids))
    start = time.monotonic()
    jobs = [(function, options, batch) for batch in batches(ids, batch_size)]
    show = sys.stderr.isatty() if progress is None else progress
    writer = RunReport(report, function.__name__.removesuffix("_batch"), workers) if report is not None else None
    # The pool is made before the progress bar starts its monitor thread: forking a process
    # that runs threads can deadlock the child, so fork only when this one has none.
    pool = None
    if workers > 1 and len(jobs) > 1:
        method = (
            "fork" if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods() else "spawn"
        )
        pool = multiprocessing.get_context(method).Pool(
            processes=workers, initializer=_worker_leaves_interrupts_to_its_parent
        )
    bar = _progress_bar()(total=len(ids), unit="dep", disable=not show, file=sys.stderr, smoothing=0.1)

    def consume(outcomes: list[DepositionOutcome]) -> None:
        for outcome in outcomes:
            summary.statuses[outcome.status] += 1
            summary.rows.update(outcome.rows)
            if outcome.errors:
                summary.failures.append((outcome.deposition_id, outcome.errors[0]))
            if writer is not None:
                writer.add(asdict(outcome))
            if on_outcome is not None:
                on_outcome(outcome)
        bar.update(len(outcomes))

    complete = False
    try:
        if pool is None and len(jobs) > 1:
            # One process, two batches in flight: one is parsed while the server stores the other
            # (a thread waiting on the server lets the other run). Outcomes come back in order.
            with ThreadPoolExecutor(max_workers=2, thread_name_prefix="msgmodule-batch") as threads:
                pending: deque[Future[list[DepositionOutcome]]] = deque()
                for job in jobs:
                    pending.append(threads.submit(_call, job))
                    if len(pending) == 2:
                        consume(pending.popleft().result())
                while pending:
                    consume(pending.popleft().result())
        elif pool is None:
            for job in jobs:
                consume(_call(job))
        else:
            with pool:
                for outcomes in pool.imap_unordered(_call, jobs):
                    consume(outcomes)
        complete = True
    finally:
        bar.close()
        summary.elapsed = time.monotonic() - start
        if writer is not None:
            writer.finish(summary.total, summary.statuses, summary.rows, summary.failed, summary.elapsed, complete)
    return summary


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))
