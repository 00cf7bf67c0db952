"""Take over a site whose messages OneDep's own module wrote into its database (`msgmodule adopt-onedep`).

Such a site has messages in two places: OneDep's tables (everything written
since it switched, and most of what OneDep's migrator copied) and the archive
files (everything before, including the rows OneDep's migrator dropped). The
takeover merges both, deposition by deposition, into this module's schema:

- a message is one `message_id` within a deposition; present in both, it is
  stored once, where the archive has it. Its status row and file references
  likewise (a file reference is its message, content type, format, version
  and partition).
- the same id with other content is a conflict: reported field by field, and
  resolved by one rule: OneDep's version wins (`prefer="onedep"`, since after
  the switch OneDep's module wrote only to its tables, a difference is a later
  change), or the archive's with `prefer="archive"`. The losing version stays
  where it was (OneDep's rows and the archive files are never changed).
- rows only in the archive keep their file order; rows only in OneDep's tables
  follow, in OneDep's order, with ordinal ids continuing the file's.

It runs on the migration's machinery (`archive_tools`): batches of
depositions in worker processes, one transaction per batch, a deposition whose
data the database refuses written again alone and failed alone, the
`msgmodule_document` tracking rows for idempotence (a re-run with both
sources unchanged writes nothing). A merged document holding rows its archive
file lacks is recorded as changed since migration (`source_file` starts with
`onedep+`), so a later `migrate` keeps it rather than replacing it with the
file. After writing, every document is read back and checked against both
sources.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from typing import Any

from sqlalchemy import bindparam, select

from .archive_tools import (
    DEFAULT_BATCH,
    DepositionOutcome,
    RunSummary,
    SourceFile,
    _drop_text,
    _fail_all,
    _parse,
    _read_sources,
    _write_batch,
    _write_isolating_failures,
    run_batches,
    select_depositions,
)
from .db import schema_versions
from .db.engine import get_engine, mask_url, max_allowed_packet, normalise_url, run_with_retries
from .db.onedep import (
    ADOPTION_RECORD,
    ASIDE_PREFIX,
    FILE_REFERENCE,
    INFO,
    ONEDEP_TABLES,
    STATUS,
    OneDepRows,
    OneDepSchemaError,
    has_own_tracking,
    move_aside,
    onedep_prefix,
    read_rows,
    refusal,
)
from .db.onedep import deposition_ids as onedep_deposition_ids
from .db.onedep import row_counts as onedep_row_counts
from .db.schema import CATEGORY_TABLES, documents
from .equivalence import differences, normalize
from .errors import CifParseError, InvalidInputError, MessagingError
from .model import (
    CATEGORIES,
    CONTENT_TYPES,
    STATUS_CONTENT_TYPE,
    Document,
    FileReference,
    Message,
    MessageStatus,
    validate_deposition_id,
)
from .stage.evidence import read_site_value, write_site_value
from .stores.cif import CifMessageStore
from .stores.db import check_document_packet

PREFER = ("onedep", "archive")
# source_file of a document holding rows its archive file lacks: recorded one revision behind, so
# `migrate` sees a database change since migration and keeps it.
MERGED_MARK = "onedep+"
NO_FILE = "-"
STATUS_FLAGS = ("read_status", "action_reqd", "for_release")
REFERENCE_KEY = ("content_type", "content_format", "version_id", "partition_number")


@dataclass(frozen=True)
class AdoptionOptions:
    cif_root: str
    db_url: str
    onedep_url: str
    onedep_prefix: str  # "" when OneDep's tables are in another database, else "onedep_"
    prefer: str = "onedep"
    force_overwrite: bool = False


# -- merging one deposition ------------------------------------------------------------------


@dataclass
class Conflict:
    """One message id (or status row) that the archive and OneDep's tables hold with other content."""

    deposition_id: str
    message_id: str
    category: str
    content_type: str
    fields: dict[str, tuple[str | None, str | None]]  # item: (archive's, OneDep's)
    kept: str  # "onedep" or "archive"

    def describe(self) -> str:
        items = ", ".join(f"{item} {a!r:.60} vs {b!r:.60}" for item, (a, b) in self.fields.items())
        return (
            f"conflict: {self.category.removeprefix('pdbx_deposition_message_')} of message {self.message_id} "
            f"({self.content_type}) differs between the archive and OneDep's tables ({items}); kept {self.kept}'s"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "category": self.category,
            "content_type": self.content_type,
            "kept": self.kept,
            "fields": {item: {"archive": a, "onedep": b} for item, (a, b) in self.fields.items()},
        }


@dataclass
class Merge:
    documents: dict[str, Document]
    conflicts: list[Conflict] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    digest: str = ""  # of the deposition's OneDep rows, for the tracking checksum


def same(a: str | None, b: str | None) -> bool:
    """Equal as the equivalence compares, with OneDep's empty strings (NOT NULL columns) as null."""
    return a == b or normalize(a or None) == normalize(b or None)


# Widths of OneDep's VARCHAR columns: its migrator (on a server not in strict mode) cut longer values.
ONEDEP_WIDTHS = {
    "message_id": 64,
    "deposition_data_set_id": 50,
    "sender": 150,
    "context_type": 50,
    "context_value": 255,
    "parent_message_id": 64,
    "message_type": 20,
}


def same_message_item(item: str, archive: str | None, onedep: str | None) -> bool:
    """`same`, or OneDep's value is the archive's cut to OneDep's column: the archive's is the whole value."""
    if same(archive, onedep):
        return True
    width = ONEDEP_WIDTHS.get(item)
    return width is not None and onedep is not None and len(onedep) == width and (archive or "").startswith(onedep)


def _reference_key(ref: FileReference) -> tuple[Any, ...]:
    return (ref.message_id, *(normalize(getattr(ref, item) or None) for item in REFERENCE_KEY))


def _digest(rows: OneDepRows) -> str:
    hasher = hashlib.sha256()
    for content_type, message in rows.messages:
        hasher.update(repr((content_type, message.values())).encode("utf-8", "surrogatepass"))
    for row in (*rows.file_references, *rows.statuses):
        hasher.update(repr((row.CATEGORY, row.values())).encode("utf-8", "surrogatepass"))
    return hasher.hexdigest()


class _Ordinals:
    """The next ordinal_id of each (content type, category), continuing the archive file's numbering."""

    def __init__(self) -> None:
        self.next: dict[tuple[str, str], int] = {}

    def take(self, content_type: str, category: str, rows: list[Any]) -> str:
        key = (content_type, category)
        if key not in self.next:
            numbers = [
                int(r.ordinal_id) for r in rows if r.ordinal_id and r.ordinal_id.isascii() and r.ordinal_id.isdigit()
            ]
            self.next[key] = max(numbers, default=0) + 1
        number = self.next[key]
        self.next[key] = number + 1
        return str(number)


def merge_deposition(deposition_id: str, archive: dict[str, Document], onedep: OneDepRows, prefer: str) -> Merge:
    """The deposition's documents holding every message of both sources once (see the module's rule)."""
    merged = {ct: archive[ct].copy() if ct in archive else Document(deposition_id, ct) for ct in CONTENT_TYPES}
    merge = Merge(merged, digest=_digest(onedep))
    counts = merge.counts
    ordinals = _Ordinals()
    held: dict[str, tuple[str, Message]] = {}
    for content_type in CONTENT_TYPES:
        for message in merged[content_type].messages:
            if message.message_id is not None:
                held.setdefault(message.message_id, (content_type, message))
            counts["messages in archive"] += 1
    onedep_ids = {message.message_id for _, message in onedep.messages}
    counts["only in archive"] = sum(1 for d in archive.values() for m in d.messages if m.message_id not in onedep_ids)

    for content_type, message in onedep.messages:
        if content_type not in CONTENT_TYPES:
            raise InvalidInputError(
                f"{deposition_id}: OneDep's message {message.message_id} has content_type {content_type!r}, "
                f"not one of {', '.join(CONTENT_TYPES)}"
            )
        assert message.message_id is not None  # NOT NULL in OneDep's schema
        found = held.get(message.message_id)
        if found is None:
            document = merged[content_type]
            message.ordinal_id = ordinals.take(content_type, Message.CATEGORY, document.messages)
            document.messages.append(message)
            held[message.message_id] = (content_type, message)
            counts["only in OneDep"] += 1
            continue
        held_type, stored = found
        fields = {
            item: (getattr(stored, item), getattr(message, item))
            for item in Message.ITEMS[1:]
            if not same_message_item(item, getattr(stored, item), getattr(message, item))
        }
        if held_type != content_type:  # the archive's file decides where the message lives
            fields["content_type"] = (held_type, content_type)
        if not fields:
            counts["in both"] += 1
            continue
        counts["in both"] += 1
        counts["conflicts"] += 1
        merge.conflicts.append(Conflict(deposition_id, message.message_id, Message.CATEGORY, held_type, fields, prefer))
        if prefer == "onedep":
            for item in fields:
                if item != "content_type":
                    setattr(stored, item, getattr(message, item))

    known_refs = {_reference_key(ref) for document in merged.values() for ref in document.file_references}
    for ref in onedep.file_references:
        key = _reference_key(ref)
        if key in known_refs:
            counts["file references in both"] += 1
            continue
        known_refs.add(key)
        content_type = held[ref.message_id][0] if ref.message_id in held else STATUS_CONTENT_TYPE
        rows = merged[content_type].file_references
        ref.ordinal_id = ordinals.take(content_type, FileReference.CATEGORY, rows)
        rows.append(ref)
        counts["file references only in OneDep"] += 1

    status_document = merged[STATUS_CONTENT_TYPE]
    for status in onedep.statuses:
        assert status.message_id is not None  # OneDep's primary key
        existing = status_document.find_status(status.message_id)
        if existing is None:
            status_document.statuses.append(status)
            counts["statuses only in OneDep"] += 1
            continue
        fields = {
            item: (getattr(existing, item), getattr(status, item))
            for item in MessageStatus.ITEMS[1:]
            if not same(getattr(existing, item), getattr(status, item))
        }
        if fields:
            counts["conflicts"] += 1
            merge.conflicts.append(
                Conflict(deposition_id, status.message_id, MessageStatus.CATEGORY, STATUS_CONTENT_TYPE, fields, prefer)
            )
            if prefer == "onedep":
                for item in fields:
                    setattr(existing, item, getattr(status, item))
    return merge


# -- checking the stored result against both sources -------------------------------------------


def check_against_sources(
    stored: dict[str, Document], archive: dict[str, Document], onedep: OneDepRows, conflicts: Iterable[Conflict]
) -> list[str]:
    """What the stored documents miss or hold twice of the archive's rows and OneDep's, or hold otherwise.

    Independent of `merge_deposition`: only the conflicts' resolution is taken
    from it (a value a conflict gave to the other source is not compared).
    """
    problems: list[str] = []
    gave_onedep = {(c.category, c.message_id, item) for c in conflicts if c.kept == "onedep" for item in c.fields}
    gave_archive = {(c.category, c.message_id, item) for c in conflicts if c.kept == "archive" for item in c.fields}
    empty = Document("", "")
    for content_type in CONTENT_TYPES:
        source = archive.get(content_type, empty)
        result = stored.get(content_type, empty)
        for category in CATEGORIES:
            rows, got = source.rows(category), result.rows(category)
            if len(got) < len(rows):
                problems.append(f"{content_type} {category.name}: {len(rows)} rows in the archive, {len(got)} stored")
            for index, (row, copy) in enumerate(zip(rows, got, strict=False)):
                message_id = getattr(row, "message_id", None)
                for item, a, b in zip(category.items, row.values(), copy.values(), strict=True):
                    if a != b and normalize(a) != normalize(b) and (category.name, message_id, item) not in gave_onedep:
                        where = f"{content_type} {category.name} row {index + 1} {item}"
                        problems.append(f"{where}: archive {a!r:.60}, stored {b!r:.60}")
    stored_messages = [m for d in stored.values() for m in d.messages]
    held = Counter(m.message_id for m in stored_messages)
    in_archive = Counter(m.message_id for d in archive.values() for m in d.messages)
    first: dict[str | None, Message] = {}
    for message in stored_messages:
        first.setdefault(message.message_id, message)
    for _, message in onedep.messages:
        expected = max(1, in_archive[message.message_id])
        if held[message.message_id] != expected:
            problems.append(
                f"OneDep's message {message.message_id} is stored {held[message.message_id]} time(s), not {expected}"
            )
            continue
        copy = first[message.message_id]
        for item in Message.ITEMS[1:]:
            if (
                not same_message_item(item, getattr(copy, item), getattr(message, item))
                and (Message.CATEGORY, message.message_id, item) not in gave_archive
            ):
                ours, theirs = getattr(copy, item), getattr(message, item)
                problems.append(f"OneDep's message {message.message_id} {item}: {theirs!r:.60}, stored {ours!r:.60}")
    refs = {_reference_key(ref) for d in stored.values() for ref in d.file_references}
    for ref in onedep.file_references:
        if _reference_key(ref) not in refs:
            what = f"{ref.content_type}/{ref.content_format}"
            problems.append(f"OneDep's file reference {what} of message {ref.message_id} is not stored")
    statuses = stored.get(STATUS_CONTENT_TYPE, empty)
    for status in onedep.statuses:
        found = statuses.find_status(status.message_id or "")
        if found is None:
            problems.append(f"OneDep's status of message {status.message_id} is not stored")
            continue
        for item in STATUS_FLAGS:
            if (
                not same(getattr(status, item), getattr(found, item))
                and (MessageStatus.CATEGORY, status.message_id, item) not in gave_archive
            ):
                ours, theirs = getattr(found, item), getattr(status, item)
                problems.append(f"OneDep's status of message {status.message_id} {item}: {theirs!r}, stored {ours!r}")
    only_onedep = sum(1 for _, m in onedep.messages if not in_archive[m.message_id])
    if len(stored_messages) != sum(in_archive.values()) + only_onedep:
        problems.append(
            f"{len(stored_messages)} messages stored, expected {sum(in_archive.values())} from the archive "
            f"and {only_onedep} only in OneDep's tables"
        )
    return problems


# -- one batch ----------------------------------------------------------------------------------


def adopt_batch(options: AdoptionOptions, deposition_ids: list[str]) -> list[DepositionOutcome]:
    """Take over one batch of depositions; never raises for a single deposition's problem."""
    sources: dict[tuple[str, str], SourceFile] = {}
    try:
        return _adopt(options, deposition_ids, sources)
    finally:
        _drop_text(sources)


def _adopt(
    options: AdoptionOptions, deposition_ids: list[str], sources: dict[tuple[str, str], SourceFile]
) -> list[DepositionOutcome]:
    store = CifMessageStore(options.cif_root)
    engine = get_engine(options.db_url, bulk_load=True)
    onedep_engine = get_engine(options.onedep_url)
    outcomes = {d: DepositionOutcome(d) for d in deposition_ids}
    archive: dict[str, dict[str, Document]] = {d: {} for d in deposition_ids}
    for deposition_id, outcome in outcomes.items():
        for read in _read_sources(store, outcome):
            try:
                read.document = _parse(read, deposition_id)
            except CifParseError as exc:
                outcome.errors.append(str(exc))
                continue
            sources[(deposition_id, read.content_type)] = read
            archive[deposition_id][read.content_type] = read.document

    def read_onedep() -> dict[str, OneDepRows]:
        with onedep_engine.connect() as connection:
            return read_rows(connection, options.onedep_prefix, deposition_ids)

    try:
        onedep = run_with_retries(onedep_engine, "read OneDep's message tables", read_onedep)
        packet = max_allowed_packet(engine)
    except MessagingError as exc:
        return _fail_all(outcomes, str(exc))

    work: dict[tuple[str, str], SourceFile] = {}
    merges: dict[str, Merge] = {}
    for deposition_id, outcome in outcomes.items():
        theirs = onedep[deposition_id]
        outcome.rows["messages in OneDep"] = len(theirs.messages)
        outcome.rows["file references in OneDep"] = len(theirs.file_references)
        outcome.rows["statuses in OneDep"] = len(theirs.statuses)
        if outcome.errors:  # fails alone: none of its documents is written
            continue
        try:
            merge = merge_deposition(deposition_id, archive[deposition_id], theirs, options.prefer)
        except MessagingError as exc:
            outcome.errors.append(str(exc))
            continue
        merges[deposition_id] = merge
        outcome.rows.update(merge.counts)
        outcome.warnings.extend(conflict.describe() for conflict in merge.conflicts)
        outcome.differences.extend(conflict.as_dict() for conflict in merge.conflicts)
        for content_type, document in merge.documents.items():
            source: SourceFile | None = sources.get((deposition_id, content_type))
            if source is None and document.is_empty():
                continue
            base = archive[deposition_id].get(content_type) or Document(deposition_id, content_type)
            file = os.path.basename(source.path) if source is not None else NO_FILE
            name = (MERGED_MARK if differences(base, document) else "") + file
            checksum = hashlib.sha256(
                f"{source.checksum if source else NO_FILE}|{merge.digest}|{options.prefer}".encode()
            ).hexdigest()
            entry = {"content_type": content_type, "file": name, "checksum": checksum, "action": "unchanged"}
            outcome.files.append(entry)
            try:
                check_document_packet(document, packet, engine.url)
            except MessagingError as exc:
                outcome.errors.append(str(exc))
                entry["action"] = "failed"
                continue
            work[(deposition_id, content_type)] = SourceFile(
                content_type, name, source.version if source else 0, b"", checksum, document
            )
    work = {key: source for key, source in work.items() if not outcomes[key[0]].errors}

    actions = (
        _write_isolating_failures(engine, work, options.force_overwrite, outcomes, write=_write_adoption)
        if work
        else {}
    )
    for (deposition_id, content_type), action in actions.items():
        for entry in outcomes[deposition_id].files:
            if entry["content_type"] == content_type:
                entry["action"] = action
                if action == "conflict-kept":
                    outcomes[deposition_id].warnings.append(
                        f"{content_type}: the database has changes made since the takeover that differ from the "
                        "merge of the archive and OneDep's tables; kept them (--force-overwrite replaces them)"
                    )
    _check_stored(engine, outcomes, merges, archive, onedep)
    for outcome in outcomes.values():
        if outcome.errors:
            outcome.rows["OneDep messages not taken over"] = len(onedep[outcome.deposition_id].messages)
        outcome.settle()
        if outcome.status == "migrated":
            outcome.status = "adopted"
    return list(outcomes.values())


def _check_stored(
    engine: Any,
    outcomes: dict[str, DepositionOutcome],
    merges: dict[str, Merge],
    archive: dict[str, dict[str, Document]],
    onedep: dict[str, OneDepRows],
) -> None:
    """Read back every deposition written or found unchanged, and check it against both sources."""
    checked = [
        d
        for d, outcome in outcomes.items()
        if d in merges
        and not outcome.errors
        and all(entry["action"] in ("migrated", "unchanged", "in-sync", "overwritten") for entry in outcome.files)
    ]
    if not checked:
        return
    try:
        stored_all = run_with_retries(engine, "read the batch back", partial(_read_back, engine, checked))
    except MessagingError as exc:
        for deposition_id in checked:
            outcomes[deposition_id].errors.append(f"cannot check the stored result: {exc}")
        return
    for deposition_id in checked:
        outcome = outcomes[deposition_id]
        stored = stored_all[deposition_id]
        outcome.rows["messages stored"] = sum(len(d.messages) for d in stored.values())
        problems = check_against_sources(
            stored, archive[deposition_id], onedep[deposition_id], merges[deposition_id].conflicts
        )
        if problems:
            outcome.errors.append("the stored result does not match its sources: " + "; ".join(problems[:10]))
            for entry in outcome.files:
                entry["action"] = "failed"


def _read_back(engine: Any, deposition_ids: list[str]) -> dict[str, dict[str, Document]]:
    """The stored documents of these depositions: one query per table for the whole batch."""
    found = {d: {ct: Document(d, ct) for ct in CONTENT_TYPES} for d in deposition_ids}
    with engine.connect() as connection:
        for category in CATEGORIES:
            table = CATEGORY_TABLES[category.name]
            query = (
                select(table.c.source_deposition_id, table.c.source_content_type, *(table.c[i] for i in category.items))
                .where(table.c.source_deposition_id.in_(bindparam("ids", expanding=True)))
                .order_by(table.c.source_deposition_id, table.c.source_content_type, table.c.row_order, table.c.id)
            )
            row_type = category.row_type
            for deposition_id, content_type, *values in connection.execute(query, {"ids": deposition_ids}):
                document = found[deposition_id].get(content_type)
                if document is not None:
                    document.rows(category).append(row_type(*values))
    return found


def _recorded_gap(row: Any) -> int:
    """Revisions between the last recorded copy and the document it wrote (see MERGED_MARK)."""
    return 1 if (row.source_file or "").startswith(MERGED_MARK) else 0


def _merged_gap(source: SourceFile) -> int:
    """Revisions the recorded copy of this merged document stays behind the one written (see MERGED_MARK)."""
    return 1 if source.path.startswith(MERGED_MARK) else 0


def _decide_merged(row: Any, source: SourceFile, database_document: Callable[[], Document], force: bool) -> str:
    """What to do with one merged document, given its locked tracking row (`archive_tools._decide`, gap-aware)."""
    copied = row.migrated_revision is not None and row.revision - row.migrated_revision == _recorded_gap(row)
    if copied and row.source_checksum == source.checksum and _recorded_gap(row) == _merged_gap(source):
        return "unchanged"
    if row.revision == 0 or copied:
        return "migrated"  # nothing written to the database since the last copy (or ever)
    assert source.document is not None
    if not differences(source.document, database_document()):
        return "in-sync"
    return "overwritten" if force else "conflict-kept"


def _write_adoption(engine: Any, work: dict[tuple[str, str], SourceFile], force: bool) -> dict[tuple[str, str], str]:
    """Write merged documents in one transaction, as `archive_tools._write_batch` writes migrated ones."""
    return _write_batch(engine, work, force, decide=_decide_merged, behind=_merged_gap)


# -- the whole takeover ----------------------------------------------------------------------------


@dataclass
class AdoptionResult:
    """What `adopt_onedep` did: the run's summary and where OneDep's rows are kept."""

    summary: RunSummary
    onedep_db: str  # masked URL
    onedep_tables: dict[str, str]  # OneDep's own name: the name its rows are kept under
    moved_aside: bool  # renamed by this run
    table_rows: dict[str, int]  # rows in OneDep's tables
    unplaced: dict[str, int] = field(default_factory=dict)  # deposition ids no folder can have: messages
    problems: list[str] = field(default_factory=list)  # checks over the whole run

    @property
    def ok(self) -> bool:
        return not self.summary.failed and not self.unplaced and not self.problems


def locate_onedep(db_url: str, onedep_url: str | None) -> tuple[str, str, bool]:
    """(URL, table prefix, whether moved aside now) of OneDep's tables; moves them aside if they share db_url.

    Refuses (OneDepSchemaError, nothing changed) a configured database that still holds
    OneDep's tables under their own names when they are to be read from another one.
    """
    engine = get_engine(db_url)

    def prefix_in(url: str) -> str | None:
        target = get_engine(url)

        def work() -> str | None:
            with target.connect() as connection:
                return onedep_prefix(connection)

        return run_with_retries(target, "look for OneDep's message tables", work)

    here = prefix_in(db_url)
    if onedep_url is None or normalise_url(onedep_url) == normalise_url(db_url):
        if here is None:
            raise OneDepSchemaError(
                f"no OneDep message tables in {mask_url(db_url)} (neither {INFO} with OneDep's columns nor "
                f"{ASIDE_PREFIX}{INFO}): give the database OneDep's module wrote as --onedep-db URL"
            )
        if here == "":
            if has_own_tracking(engine, db_url):
                raise OneDepSchemaError(
                    f"{mask_url(db_url)} holds OneDep's tables under their own names and this module's "
                    f"{documents.name} too: its takeover was given back. Nothing was changed. Rename this "
                    "module's tables back (README, the way back) or take over into another database (--onedep-db)"
                )
            move_aside(engine, db_url)
            return db_url, ASIDE_PREFIX, True
        return db_url, ASIDE_PREFIX, False
    if here == "":
        raise OneDepSchemaError(refusal(db_url, "create this module's schema beside them"))
    there = prefix_in(onedep_url)
    if there is None:
        raise OneDepSchemaError(f"no OneDep message tables ({', '.join(ONEDEP_TABLES)}) in {mask_url(onedep_url)}")
    return onedep_url, there, False


def adopt_onedep(
    cif_root: str,
    db_url: str,
    onedep_url: str | None = None,
    *,
    prefer: str = "onedep",
    force_overwrite: bool = False,
    deposition_ids: Iterable[str] = (),
    depositions_file: Any = None,
    shard: str | None = None,
    workers: int = 1,
    batch_size: int = DEFAULT_BATCH,
    report: Any = None,
    progress: bool | None = None,
) -> AdoptionResult:
    """Take the site over: OneDep's tables (moved aside, or in `onedep_url`) and the archive, into this schema."""
    if prefer not in PREFER:
        raise InvalidInputError(f"prefer must be one of {', '.join(PREFER)}, not {prefer!r}")
    source_url, prefix, moved = locate_onedep(db_url, onedep_url)
    schema_versions.upgrade(db_url)
    tables = {name: prefix + name for name in ONEDEP_TABLES}
    engine = get_engine(db_url)
    shown = mask_url(source_url)
    record: dict[str, Any] = {"onedep_db": shown, "tables": tables, "prefer": prefer}
    previous = read_site_value(engine, ADOPTION_RECORD) or {}
    record["moved_aside_at"] = previous.get("moved_aside_at") or (
        datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S") if moved or prefix else None
    )
    write_site_value(engine, ADOPTION_RECORD, record)

    source = get_engine(source_url)

    def read_ids() -> tuple[list[str], dict[str, int]]:
        with source.connect() as connection:
            return onedep_deposition_ids(connection, prefix), onedep_row_counts(connection, prefix)

    found, table_rows = run_with_retries(source, "read OneDep's deposition ids", read_ids)
    valid, unplaced = [], {}
    for deposition_id in found:
        try:
            valid.append(validate_deposition_id(deposition_id))
        except ValueError:
            unplaced[deposition_id] = 0
    named = list(deposition_ids)
    store = CifMessageStore(cif_root)
    whole = not named and depositions_file is None
    if whole:
        ids = select_depositions(store, sorted({*select_depositions(store), *valid}), None, shard)
    else:
        ids = select_depositions(store, named, depositions_file, shard)
        unplaced = {}
    if unplaced:

        def count_unplaced() -> dict[str, int]:
            with source.connect() as connection:
                return {d: len(rows.messages) for d, rows in read_rows(connection, prefix, list(unplaced)).items()}

        unplaced = run_with_retries(source, "count OneDep's rows without a deposition folder", count_unplaced)
    options = AdoptionOptions(cif_root, db_url, source_url, prefix, prefer, force_overwrite)
    summary = run_batches(adopt_batch, options, ids, workers, batch_size, report, progress)
    result = AdoptionResult(summary, shown, tables, moved, table_rows, unplaced)
    if whole and not shard:
        # Every OneDep row has a deposition id: read by the batch of that deposition, or unplaced.
        seen = summary.rows["messages in OneDep"] + sum(unplaced.values())
        if seen != table_rows[INFO]:
            result.problems.append(f"{INFO} holds {table_rows[INFO]} rows, the takeover read {seen}")
        if not unplaced:  # unplaced ids' references and statuses are not counted
            for name, key in ((FILE_REFERENCE, "file references in OneDep"), (STATUS, "statuses in OneDep")):
                if summary.rows[key] != table_rows[name]:
                    read = summary.rows[key]
                    result.problems.append(f"{name} holds {table_rows[name]} rows, the takeover read {read}")
    record["last_run"] = {
        "at": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
        "depositions": summary.total,
        "statuses": dict(summary.statuses),
        "counts": dict(summary.rows),
        "onedep_table_rows": table_rows,
        "ok": result.ok,
    }
    write_site_value(engine, ADOPTION_RECORD, record)
    return result
