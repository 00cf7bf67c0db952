"""The database store: documents in the category tables (SQLAlchemy Core).

A document is selected by (`source_deposition_id`, `source_content_type`) and
read in `row_order`, which is its file order. Every write is one transaction
that first locks the document's row in `msgmodule_document`, so read-modify-
writes of one document from many processes never interleave. Transient
failures (deadlock, lock wait timeout, lost connection) are retried.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial
from operator import attrgetter
from typing import Any, TypeVar

from sqlalchemy import and_, bindparam, case, cast, delete, insert, literal, or_, select, text, true, update
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import func
from sqlalchemy.types import LargeBinary, Numeric

from ..db.engine import (
    ValueTooLargeError,
    get_engine,
    is_sqlite,
    mask_url,
    max_allowed_packet,
    mysql_code,
    run_with_retries,
    snapshot_transaction,
    takes_batches,
    write_transaction,
)
from ..db.incarnation import versions_statement
from ..db.schema import CATEGORY_TABLES, NEXT_ORDINAL_COLUMNS, PAGE_INDEX, documents
from ..db.statements import Runner, StatementBatch, driver_rows, run_compiled
from ..errors import InvalidInputError
from ..model import (
    CATEGORIES,
    STATUS_CONTENT_TYPE,
    Category,
    Document,
    FileReference,
    Message,
    MessageStatus,
    OrigCommReference,
    Row,
    check_flags,
    validate_content_type,
    validate_deposition_id,
)
from .answers import KEPT, Version
from .authority import check_database_write, checks_authority
from .base import FlagLists, MessagePage, MessageStore

T = TypeVar("T")

# Rows per INSERT statement, and bytes: kept well below any max_allowed_packet.
BATCH_ROWS = 500
BATCH_BYTES = 4 * 1024 * 1024


class DbMessageStore(MessageStore):
    """Message documents in a SQL database (MySQL/MariaDB or SQLite).

    Writes are refused (NotAuthoritativeError) while the database's copy of the
    site's record names a stage that reads the archive: write through
    `create_messaging_service` then. `site_writer` is for the site's own layers
    (see stores.authority).
    """

    name = "db"

    def __init__(self, url: str, engine: Engine | None = None, *, site_writer: object = None) -> None:
        self.url = url
        self.engine = engine or get_engine(url)
        self._checks_stage = checks_authority(site_writer)

    def describe(self) -> str:
        return f"database at {mask_url(self.url)}"

    # -- core ------------------------------------------------------------------

    def load(self, deposition_id: str, content_type: str) -> Document:
        return self.load_many(deposition_id, [content_type])[content_type]

    def load_many(self, deposition_id: str, content_types: Iterable[str]) -> dict[str, Document]:
        validate_deposition_id(deposition_id)
        wanted = [validate_content_type(content_type) for content_type in content_types]
        return self._run(f"read {deposition_id} {', '.join(wanted)}", lambda: self._load_once(deposition_id, wanted))

    def _load_once(self, deposition_id: str, content_types: list[str]) -> dict[str, Document]:
        # One snapshot for the four selects: never a message without its status.
        with snapshot_transaction(self.engine) as connection:
            return read_documents(connection, deposition_id, content_types)

    def status_rows(self, deposition_id: str, content_type: str) -> tuple[list[MessageStatus], list[str | None]]:
        """`MessageStore.status_rows` from the status rows and the messages' id column only."""
        validate_deposition_id(deposition_id)
        validate_content_type(content_type)

        def work() -> tuple[list[MessageStatus], list[str | None]]:
            with snapshot_transaction(self.engine) as connection:  # never a message without its status
                return _status_rows(connection, deposition_id, content_type)

        return self._run(f"read the statuses of {deposition_id} {content_type}", work)

    def flag_lists(self, deposition_id: str, content_type: str) -> FlagLists:
        """`MessageStore.flag_lists` from the status rows' ids and flags and the messages' ids only."""
        validate_deposition_id(deposition_id)
        validate_content_type(content_type)

        def work() -> FlagLists:
            with snapshot_transaction(self.engine) as connection:  # never a message without its status
                version = _version(connection, deposition_id, [content_type])
                key = (self.url, "flag lists", deposition_id, content_type)
                found: FlagLists | None = KEPT.get(key, version)
                if found is None:
                    found = _flag_lists(connection, deposition_id, content_type)
                    KEPT.put(key, version, found)
                return found

        return self._run(f"read the flags of {deposition_id} {content_type}", work)

    def save(self, document: Document) -> None:
        validate_deposition_id(document.deposition_id)
        validate_content_type(document.content_type)

        def work() -> None:
            with self._write_transaction(document.deposition_id, document.content_type) as connection:
                _lock_document(connection, document.deposition_id, document.content_type)
                _delete_document(connection, document.deposition_id, document.content_type)
                insert_document(connection, document)

        self._run(f"save {document.deposition_id} {document.content_type}", work)

    def update(self, deposition_id: str, content_type: str, change: Callable[[Document], T]) -> T:
        validate_deposition_id(deposition_id)
        validate_content_type(content_type)

        def work() -> T:
            with self._write_transaction(deposition_id, content_type) as connection:
                _lock_document(connection, deposition_id, content_type)
                before, in_place = _read_positioned(connection, deposition_id, content_type)
                document = before.copy()
                result = change(document)
                if in_place:
                    _write_changes(connection, before, document)
                else:  # positions with gaps or repeats (rows deleted by hand): by position would miss or repeat rows
                    _delete_document(connection, deposition_id, content_type)
                    insert_document(connection, document)
                return result

        return self._run(f"update {deposition_id} {content_type}", work)

    def overwrite(self, deposition_id: str, content_type: str, produce: Callable[[], Document]) -> Document:
        """Replace the document whole with what `produce` returns, called while the document is locked.

        Nothing of the stored copy is trusted or read: this is how a damaged copy is repaired.
        """
        validate_deposition_id(deposition_id)
        validate_content_type(content_type)

        def work() -> Document:
            with self._write_transaction(deposition_id, content_type) as connection:
                _lock_document(connection, deposition_id, content_type)
                fresh = produce()
                _delete_document(connection, deposition_id, content_type)
                insert_document(connection, fresh)
                return fresh

        return self._run(f"replace {deposition_id} {content_type}", work)

    # -- writes that touch only what changes ----------------------------------------

    def apply_change(self, deposition_id: str, content_type: str, before: Document | None, after: Document) -> None:
        """Write what differs between `before` and `after`, if this store holds `before`; else all of `after`.

        "Holds" is checked at the cost of the change, not of the document: the
        row count of each table that changes, and that its positions run 0..n-1
        (in the same query). A copy found different is replaced whole.
        """
        self.apply_change_when(deposition_id, content_type, before, after, _always)

    @property
    def overlaps_changes(self) -> bool:  # type: ignore[override]
        # SQLite's write transaction locks the whole database: held open while another store
        # writes, it would hold every other writer back for that long. It writes after.
        return not is_sqlite(self.engine)

    def apply_change_when(
        self, deposition_id: str, content_type: str, before: Document | None, after: Document, go: Callable[[], bool]
    ) -> bool:
        """`apply_change` in a transaction that asks `go()` once its statements are in: commit, or roll back."""
        validate_deposition_id(deposition_id)
        validate_content_type(content_type)

        def work() -> None:
            with self._write_transaction(deposition_id, content_type) as connection:
                if before is not None:
                    held = _write_if_held(connection, before, after)
                else:
                    _lock_document(connection, deposition_id, content_type)
                    held = False
                if not held:  # the stored copy differs: replaced whole, in the same transaction
                    _delete_document(connection, deposition_id, content_type)
                    insert_document(connection, after)
                if not go():
                    raise _Withdrawn  # leaving the transaction by an exception rolls it back

        try:
            self._run(f"write {deposition_id} {content_type}", work)
        except _Withdrawn:
            return False
        return True

    def put_message(
        self,
        deposition_id: str,
        content_type: str,
        message: Message,
        file_references: Iterable[FileReference] | None = (),
        origcomm_references: Iterable[OrigCommReference] | None = (),
        status: MessageStatus | None = None,
        given: Iterable[str] | None = None,
        defaults: Mapping[str, str] | None = None,
    ) -> str:
        """A new message's rows are appended, without reading the document; editing a draft takes the general path."""
        validate_deposition_id(deposition_id)
        validate_content_type(content_type)
        message_id = message.message_id
        if not message_id:
            raise InvalidInputError("a message needs a message_id")
        refs = None if file_references is None else list(file_references)
        origs = None if origcomm_references is None else list(origcomm_references)
        given_items = None if given is None else list(given)

        def work() -> bool:
            # The new rows as the document would store them, numbered 1.. (renumbered from the stored ones on).
            tail = Document(deposition_id, content_type)
            stored = tail.put_message(
                replace(message),
                None if refs is None else [replace(r) for r in refs],
                None if origs is None else [replace(o) for o in origs],
                given_items,
                defaults,
            )
            with self._write_transaction(deposition_id, content_type) as connection:
                return _append_message(connection, tail, stored, status)

        if not self._run(f"add a message to {deposition_id} {content_type}", work):
            return super().put_message(deposition_id, content_type, message, refs, origs, status, given_items, defaults)
        if status is not None and content_type != STATUS_CONTENT_TYPE:
            assert status.message_id is not None
            self.set_status(
                deposition_id,
                status.message_id,
                status.deposition_data_set_id,
                read_status=status.read_status,
                action_reqd=status.action_reqd,
                for_release=status.for_release,
            )
        return message_id

    def set_status(
        self,
        deposition_id: str,
        message_id: str,
        deposition_data_set_id: str | None = None,
        *,
        read_status: str | None = None,
        action_reqd: str | None = None,
        for_release: str | None = None,
    ) -> MessageStatus:
        """Change flags of the message's first status row (created if missing): that one row only."""
        validate_deposition_id(deposition_id)
        check_flags(read_status=read_status, action_reqd=action_reqd, for_release=for_release)

        def work() -> MessageStatus:
            with self._write_transaction(deposition_id, STATUS_CONTENT_TYPE) as connection:
                # Status rows carry no ordinal_id: the document's next ordinals stay right.
                _lock_document(connection, deposition_id, STATUS_CONTENT_TYPE, keep_tail=True)
                return _set_status_row(
                    connection,
                    deposition_id,
                    message_id,
                    deposition_data_set_id or deposition_id,
                    read_status=read_status,
                    action_reqd=action_reqd,
                    for_release=for_release,
                )

        return self._run(f"set the status of {message_id} in {deposition_id}", work)

    def page_messages(
        self,
        deposition_id: str,
        content_types: Sequence[str],
        send_status: str | None = None,
        archived_only: Collection[str] = (),
        offset: int = 0,
        limit: int | None = None,
        with_origcomm: bool = False,
    ) -> MessagePage:
        """`MessageStore.page_messages` in SQL: filter, order, count and limit in the database.

        Only the page's rows are read whole; the ordering reads the keys of the
        deposition's rows (timestamp, content type, position) from the index,
        and only the page's keys come back. The page's keys and the counts are
        kept (see stores.answers) until one of the documents changes.
        """
        validate_deposition_id(deposition_id)
        wanted = [validate_content_type(content_type) for content_type in content_types]
        archived = tuple(content_type for content_type in wanted if content_type in archived_only)

        def work() -> MessagePage:
            with snapshot_transaction(self.engine) as connection:  # a count and its page agree
                version = _version(connection, deposition_id, wanted)
                # Per page, not the whole order: after a write, the next page would otherwise fetch the key of
                # every row of the history (the cost of the first page after a write grew with it).
                key = (self.url, "page order", deposition_id, tuple(wanted), send_status, archived, offset, limit)
                order: _PageOrder | None = KEPT.get(key, version)
                if order is not None:
                    page = _page(connection, deposition_id, wanted, order, 0, limit, with_origcomm)
                    if page is not None:
                        return page
                order = _page_order(connection, deposition_id, wanted, send_status, archived, offset, limit)
                KEPT.put(key, version, order)
                page = _page(connection, deposition_id, wanted, order, 0, limit, with_origcomm)
                if page is None:
                    raise AssertionError("a page's rows vanished inside its snapshot")
                return page

        return self._run(f"read a page of {deposition_id}", work)

    def list_depositions(self) -> list[str]:
        def work() -> list[str]:
            with self.engine.connect() as connection:
                query = select(documents.c.source_deposition_id).distinct().order_by(documents.c.source_deposition_id)
                return [row[0] for row in connection.execute(query)]

        return self._run("list depositions", work)

    def document_keys(self, deposition_ids: Iterable[str] | None = None) -> list[tuple[str, str]]:
        """(deposition, content type) of every stored document, or of these depositions'."""
        ids = None if deposition_ids is None else [validate_deposition_id(d) for d in deposition_ids]

        def work() -> list[tuple[str, str]]:
            query = select(documents.c.source_deposition_id, documents.c.source_content_type)
            with self.engine.connect() as connection:
                if ids is None:
                    return [(d, c) for d, c in connection.execute(query)]
                found: list[tuple[str, str]] = []
                for start in range(0, len(ids), 500):
                    chunk = ids[start : start + 500]
                    found.extend(
                        (d, c) for d, c in connection.execute(query.where(documents.c.source_deposition_id.in_(chunk)))
                    )
                return found

        return self._run("list stored documents", work)

    def ping(self) -> None:
        """Really talk to the database: a query that needs the schema."""
        self._run("check the connection", lambda: self._ping_once())

    def _ping_once(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(select(func.count()).select_from(documents)).scalar_one()

    # -- helpers -------------------------------------------------------------------

    def _run(self, what: str, work: Callable[[], T]) -> T:
        return run_with_retries(self.engine, what, work)

    @contextmanager
    def _write_transaction(self, deposition_id: str, content_type: str) -> Iterator[Connection]:
        if self._checks_stage:  # before the transaction: the check reads on its own connection
            check_database_write(self.engine, self.describe(), deposition_id, content_type)
        with write_transaction(self.engine) as connection:
            yield connection


# -- values the server would refuse ---------------------------------------------------

# Characters PyMySQL escapes with a backslash when it puts a value into a statement.
_ESCAPED_BY_DRIVER = ("\\", "'", '"', "\n", "\r", "\x00", "\x1a")
# Bytes of a one-row statement besides its values: table and column names, quotes, commas.
STATEMENT_OVERHEAD = 4096


def wire_size(value: str) -> int:
    """Bytes a text value takes in a statement: its UTF-8, plus one per character the driver escapes."""
    return len(value.encode("utf-8", "surrogatepass")) + sum(value.count(c) for c in _ESCAPED_BY_DRIVER)


_KEY_CHARACTERS = 2 * 32 + 20  # source_deposition_id and source_content_type, and the row's position


def check_packet(table: str, params: dict[str, Any], packet: int | None, url: Any) -> None:
    """Refuse a row whose statement would exceed the server's max_allowed_packet.

    MySQL and MariaDB drop the connection on such a packet; that would look like a lost
    connection and be retried. `params` are the row's columns as written.
    """
    if packet is None:
        return
    strings = [v for v in params.values() if v.__class__ is str]
    if sum(map(len, strings)) * 8 + STATEMENT_OVERHEAD <= packet:  # UTF-8 and escaping at most 8x
        return
    size = sum(map(wire_size, strings)) + STATEMENT_OVERHEAD
    if size <= packet:
        return
    item, value = max(((k, v) for k, v in params.items() if v.__class__ is str), key=lambda kv: len(kv[1]))
    raise ValueTooLargeError(
        f"{params.get('source_deposition_id')} {params.get('source_content_type')}: {table}.{item} of message "
        f"{params.get('message_id')!r} is {wire_size(value)} bytes as sent ({size} for the row), larger than the "
        f"server's max_allowed_packet ({packet} bytes) at {mask_url(url)}. Raise max_allowed_packet on the "
        "server; nothing was written."
    )


def check_document_packet(document: Document, packet: int | None, url: Any, source_size: int | None = None) -> None:
    """`check_packet` for every row of a document (before writing it at all).

    `source_size`: the bytes of the file the document was read from. No row holds
    more characters than that file (decoding only shortens text) besides the
    document's key, so a file far below the limit needs no row checked.
    """
    if packet is None:
        return
    if source_size is not None and (source_size + _KEY_CHARACTERS) * 8 + STATEMENT_OVERHEAD <= packet:
        return
    for category in CATEGORIES:
        for order, row in enumerate(document.rows(category)):
            check_packet(category.name, row_params(document, category, row, order), packet, url)


# -- reading and writing within a transaction ---------------------------------------


def _document_filter(table: Any, deposition_id: str, content_type: str) -> Any:
    return and_(table.c.source_deposition_id == deposition_id, table.c.source_content_type == content_type)


def read_documents(connection: Connection, deposition_id: str, content_types: list[str]) -> dict[str, Document]:
    """Documents of a deposition from the four tables (one query per table), rows in stored order."""
    documents = {content_type: Document(deposition_id, content_type) for content_type in content_types}
    for category in CATEGORIES:
        table = CATEGORY_TABLES[category.name]
        columns = [table.c[item] for item in category.items]
        query = (
            select(table.c.source_content_type, *columns)
            .where(table.c.source_deposition_id == deposition_id, table.c.source_content_type.in_(content_types))
            .order_by(table.c.source_content_type, table.c.row_order, table.c.id)
        )
        row_type = category.row_type
        for content_type, *values in connection.execute(query):
            documents[content_type].rows(category).append(row_type(*values))
    return documents


def read_many_documents(connection: Connection, deposition_ids: Sequence[str]) -> dict[tuple[str, str], Document]:
    """Every stored document of these depositions, one query per table for them all (exports, rollbacks).

    Only documents with rows come back; a caller wanting the stored but empty ones
    asks `msgmodule_document` (see `DbMessageStore.document_keys`).
    """
    found: dict[tuple[str, str], Document] = {}
    if not deposition_ids:
        return found
    ids = sorted(set(deposition_ids))
    for category in CATEGORIES:
        table = CATEGORY_TABLES[category.name]
        query = (
            select(table.c.source_deposition_id, table.c.source_content_type, *[table.c[i] for i in category.items])
            .where(table.c.source_deposition_id.in_(bindparam("ids", expanding=True)))
            .order_by(table.c.source_deposition_id, table.c.source_content_type, table.c.row_order, table.c.id)
        )
        row_type = category.row_type
        for start in range(0, len(ids), 500):
            for deposition_id, content_type, *values in connection.execute(query, {"ids": ids[start : start + 500]}):
                document = found.get((deposition_id, content_type))
                if document is None:
                    document = found[(deposition_id, content_type)] = Document(deposition_id, content_type)
                document.rows(category).append(row_type(*values))
    return found


def read_stored_documents(engine: Engine, deposition_ids: Sequence[str]) -> dict[tuple[str, str], Document]:
    """Every document stored for these depositions, empty ones too, sorted by key, in one snapshot.

    A document's rows are in stored order, as `read_many_documents` reads them.
    On MySQL the selects (the documents' keys, then one per table) go to the
    server as one query, behind the statement that makes the read one REPEATABLE
    READ snapshot: one round trip for the batch (then the pool's rollback ends it).
    Not retried here: the caller runs it in `run_with_retries`.
    """
    ids = sorted(set(deposition_ids))
    if not takes_batches(engine):
        return _read_stored_statement_by_statement(engine, ids)
    with engine.connect() as connection:
        batch = StatementBatch(connection, _batch_cap(connection))
        # The first statement: the selects after it start the transaction, as in snapshot_transaction.
        batch.run(connection, ("repeatable read",), _repeatable_read_statement, {})
        asked: list[tuple[Category | None, int]] = []
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            values = {f"d{n}": deposition_id for n, deposition_id in enumerate(chunk)}
            for category in (None, *CATEGORIES):
                key = ("stored rows", category and category.name, len(chunk))
                build = partial(_stored_rows_statement, category, len(chunk))
                asked.append((category, batch.run(connection, key, build, values)))
        answers = batch.send()
    stored: list[tuple[str, str]] = []
    found: dict[tuple[str, str], Document] = {}
    for category, place in asked:
        rows = answers[place].rows or ()
        if category is None:
            stored.extend((row[0], row[1]) for row in rows)
            continue
        row_type = category.row_type
        current: tuple[str, str] | None = None
        kept: list[Any] = []
        for row in rows:  # ordered by document: each document's rows come together
            if (row[0], row[1]) != current:
                current = (row[0], row[1])
                document = found.get(current)
                if document is None:
                    document = found[current] = Document(*current)
                kept = document.rows(category)
            kept.append(row_type(*row[2:]))
    return {key: found.get(key) or Document(*key) for key in sorted(stored)}


def _read_stored_statement_by_statement(engine: Engine, ids: list[str]) -> dict[tuple[str, str], Document]:
    with snapshot_transaction(engine) as connection:
        keys = [
            (d, c)
            for start in range(0, len(ids), 500)
            for d, c in connection.execute(
                select(documents.c.source_deposition_id, documents.c.source_content_type).where(
                    documents.c.source_deposition_id.in_(ids[start : start + 500])
                )
            )
        ]
        found = read_many_documents(connection, ids)
    return {key: found.get(key) or Document(*key) for key in sorted(keys)}


def _repeatable_read_statement(dialect: str) -> Any:
    return text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")


def _stored_rows_statement(category: Category | None, count: int, dialect: str) -> Any:
    """The keys of the stored documents (category None), or a table's rows in stored order, of `count`
    depositions (parameters d0, d1, ...)."""
    ids: list[Any] = [bindparam(f"d{n}") for n in range(count)]
    if category is None:
        return select(documents.c.source_deposition_id, documents.c.source_content_type).where(
            documents.c.source_deposition_id.in_(ids)
        )
    table = CATEGORY_TABLES[category.name]
    return (
        select(table.c.source_deposition_id, table.c.source_content_type, *[table.c[i] for i in category.items])
        .where(table.c.source_deposition_id.in_(ids))
        .order_by(table.c.source_deposition_id, table.c.source_content_type, table.c.row_order, table.c.id)
    )


def _status_rows(
    connection: Connection, deposition_id: str, content_type: str
) -> tuple[list[MessageStatus], list[str | None]]:
    status_table = CATEGORY_TABLES[MessageStatus.CATEGORY]
    in_document = _document_filter(status_table, deposition_id, content_type)
    query = (
        select(*[status_table.c[item] for item in MessageStatus.ITEMS])
        .where(in_document)
        .order_by(status_table.c.row_order, status_table.c.id)
    )
    statuses = [MessageStatus(*values) for values in connection.execute(query)]
    ids = (
        select(INFO_TABLE.c.message_id)
        .where(_document_filter(INFO_TABLE, deposition_id, content_type))
        .order_by(INFO_TABLE.c.row_order, INFO_TABLE.c.id)
    )
    return statuses, [row[0] for row in connection.execute(ids)]


def _flag_rows_statement(dialect: str) -> Any:
    table = CATEGORY_TABLES[MessageStatus.CATEGORY]
    return (
        select(table.c.message_id, table.c.read_status, table.c.action_reqd, table.c.for_release)
        .where(table.c.source_deposition_id == bindparam("d"), table.c.source_content_type == bindparam("c"))
        .order_by(table.c.row_order, table.c.id)
    )


def _message_ids_statement(dialect: str) -> Any:
    return (
        select(INFO_TABLE.c.message_id)
        .where(INFO_TABLE.c.source_deposition_id == bindparam("d"), INFO_TABLE.c.source_content_type == bindparam("c"))
        .order_by(INFO_TABLE.c.row_order, INFO_TABLE.c.id)
    )


def _version(connection: Connection, deposition_id: str, content_types: Sequence[str]) -> Version:
    """The database's incarnation and the documents' revisions, as answers are kept by (stores.answers)."""
    values = {"d": deposition_id, **{f"c{n}": content_type for n, content_type in enumerate(content_types)}}
    rows = driver_rows(
        connection, ("versions", len(content_types)), lambda _: versions_statement(len(content_types)), values
    )
    if not rows:
        return None
    return str(rows[0][0]), tuple(sorted((str(kind), int(revision)) for _, kind, revision in rows if kind is not None))


def _flag_lists(connection: Connection, deposition_id: str, content_type: str) -> FlagLists:
    """Two lean selects, as driver SQL compiled once, fetched as the driver's tuples: no status row (nor
    SQLAlchemy row) is made, only the columns read."""
    key = {"d": deposition_id, "c": content_type}
    rows = [row for row in driver_rows(connection, ("flag rows",), _flag_rows_statement, key) if row[0]]
    ids = driver_rows(connection, ("message ids",), _message_ids_statement, key)
    return FlagLists(
        tuple(row[0] for row in ids),
        tuple(row[0] for row in rows if row[1] == "Y"),
        tuple(row[0] for row in rows if row[2] == "N"),
        tuple(row[0] for row in rows if row[3] == "Y"),
    )


def read_document(connection: Connection, deposition_id: str, content_type: str) -> Document:
    """One document's rows, in stored order."""
    return read_documents(connection, deposition_id, [content_type])[content_type]


def _read_positioned(connection: Connection, deposition_id: str, content_type: str) -> tuple[Document, bool]:
    """One document's rows in stored order, and whether each table's positions run 0..n-1 exactly.

    A write by position needs them to: rows deleted by hand leave gaps, and a
    row written at a position another row still holds would repeat it.
    """
    document = Document(deposition_id, content_type)
    in_place = True
    for category in CATEGORIES:
        table = CATEGORY_TABLES[category.name]
        query = (
            select(table.c.row_order, *[table.c[item] for item in category.items])
            .where(_document_filter(table, deposition_id, content_type))
            .order_by(table.c.row_order, table.c.id)
        )
        rows = document.rows(category)
        row_type = category.row_type
        for order, *values in connection.execute(query):
            in_place = in_place and order == len(rows)
            rows.append(row_type(*values))
    return document, in_place


class _Withdrawn(Exception):  # noqa: N818 - not an error: the caller's other write did not happen
    """Raised inside a transaction whose change the caller withdrew, to roll it back."""


def _always() -> bool:
    return True


def _lock_document(
    connection: Connection,
    deposition_id: str,
    content_type: str,
    run: Runner = run_compiled,
    *,
    keep_tail: bool = False,
) -> None:
    """Create or bump the document's row, holding its exclusive lock until the transaction ends.

    One upsert takes the exclusive lock at once; a separate insert-then-select
    would take a shared lock first and deadlock between writers upgrading it.
    `keep_tail`: the write keeps the document's next ordinals right (it adds no
    numbered row, or sets them itself), so they stay valid if they were; any
    other write leaves them behind the revision, and the next append counts afresh.
    """
    key = ("lock", "keeping the tail") if keep_tail else ("lock",)
    run(connection, key, partial(_lock_statement, keep_tail), {"d": deposition_id, "c": content_type})


def _lock_statement(keep_tail: bool, dialect: str) -> Any:
    key = {"source_deposition_id": bindparam("d"), "source_content_type": bindparam("c"), "revision": 1}
    bump: list[tuple[str, Any]] = []
    if keep_tail:
        # First: MySQL assigns left to right, so `revision` here is still the old one (SQLite reads the
        # old row throughout). Were it the new one, the tail would only be counted afresh, never wrong.
        column = documents.c.tail_revision
        bump.append(("tail_revision", case((column == documents.c.revision, column + 1))))
    bump += [("revision", documents.c.revision + 1), ("updated_at", func.current_timestamp())]
    if dialect == "sqlite":
        statement = sqlite_insert(documents).values(**key)
        return statement.on_conflict_do_update(index_elements=list(documents.primary_key.columns), set_=dict(bump))
    return mysql_insert(documents).values(**key).on_duplicate_key_update(bump)


# -- appending a message: what it needs of the stored document, in one query -------------------

_NUMBERED = tuple(NEXT_ORDINAL_COLUMNS)  # the tables whose rows carry an ordinal_id
_POSITIONED = tuple(category.name for category in CATEGORIES)


def _append_state_statement(_dialect: str) -> Any:
    """The document's revision and kept next ordinals, the last position of each table (one index step
    each), and whether the message is already there: all an append reads, after the lock."""
    where = {
        name: and_(table.c.source_deposition_id == bindparam("d"), table.c.source_content_type == bindparam("c"))
        for name, table in CATEGORY_TABLES.items()
    }
    last = [
        select(func.max(CATEGORY_TABLES[name].c.row_order)).where(where[name]).scalar_subquery() for name in _POSITIONED
    ]
    present = (
        select(INFO_TABLE.c.id)
        .where(where[INFO_TABLE.name], INFO_TABLE.c.message_id == bindparam("m"))
        .limit(1)
        .scalar_subquery()
    )
    return select(
        documents.c.revision,
        documents.c.tail_revision,
        *(documents.c[NEXT_ORDINAL_COLUMNS[name]] for name in _NUMBERED),
        *last,
        present,
    ).where(documents.c.source_deposition_id == bindparam("d"), documents.c.source_content_type == bindparam("c"))


def _status_row_statement(_dialect: str) -> Any:
    """The first status row of a message in its deposition's status document."""
    table = STATUS_TABLE
    return (
        select(
            table.c.id, table.c.deposition_data_set_id, table.c.read_status, table.c.action_reqd, table.c.for_release
        )
        .where(
            table.c.source_deposition_id == bindparam("d"),
            table.c.source_content_type == bindparam("c"),
            table.c.message_id == bindparam("m"),
        )
        .order_by(table.c.row_order, table.c.id)
        .limit(1)
    )


def _tail_statement(_dialect: str) -> Any:
    return (
        update(documents)
        .where(documents.c.source_deposition_id == bindparam("d"), documents.c.source_content_type == bindparam("c"))
        .values(
            tail_revision=bindparam("r"),
            **{NEXT_ORDINAL_COLUMNS[name]: bindparam("n_" + name) for name in _NUMBERED},
        )
    )


def _kept_ordinals(state: Sequence[Any]) -> dict[str, int] | None:
    """The next ordinals kept in the document's row, if they are right at its revision."""
    revision, tail_revision, *kept = state[: 2 + len(_NUMBERED)]
    if tail_revision is None or tail_revision != revision:
        return None
    if not all(isinstance(value, str) and value.isascii() and value.isdigit() for value in kept):
        return None  # not written by this library: counted afresh
    return {name: int(value) for name, value in zip(_NUMBERED, kept, strict=True)}


def _append_message(connection: Connection, tail: Document, stored: Message, status: MessageStatus | None) -> bool:
    """Append the rows of `tail` (a new message, its references) to the stored document, with its status row
    when the status belongs to this document; False (nothing written) if the message is already there.

    Round trips on MySQL: the lock with everything the append reads, then every write (then the commit).
    The next ordinals come from the document's row while they are right; else the document's rows are
    counted once, and the row keeps the result.
    """
    deposition_id, content_type = tail.deposition_id, tail.content_type
    batch = StatementBatch(connection, _batch_cap(connection)) if takes_batches(connection.engine) else None
    run: Runner = run_compiled if batch is None else batch.run
    key = {"d": deposition_id, "c": content_type}
    _lock_document(connection, deposition_id, content_type, run, keep_tail=True)
    asked_state = run(connection, ("append state",), _append_state_statement, {**key, "m": stored.message_id})
    status_id = None
    if status is not None and content_type == STATUS_CONTENT_TYPE:
        status_id = status.message_id or stored.message_id or ""
        asked_status = run(connection, ("status row",), _status_row_statement, {**key, "m": status_id})
    if batch is not None:
        answers = batch.send()
        state = answers[asked_state].rows[0]  # type: ignore[index]
        found_status = (answers[asked_status].rows or [None])[0] if status_id is not None else None
    else:
        state = asked_state.one()
        found_status = asked_status.first() if status_id is not None else None
    if state[-1] is not None:
        return False  # an edit of a draft: the caller takes the general path
    last = dict(zip(_POSITIONED, state[2 + len(_NUMBERED) : -1], strict=True))
    next_ordinal = _kept_ordinals(state)
    if next_ordinal is None:  # the rows are counted once; then the document's row keeps the numbers
        next_ordinal = {
            name: int(_next_ordinal(connection, CATEGORY_TABLES[name], deposition_id, content_type))
            for name in _NUMBERED
        }
    for category in CATEGORIES:
        rows = tail.rows(category)
        if not rows:
            continue
        table = CATEGORY_TABLES[category.name]
        if category.name in next_ordinal:
            first = next_ordinal[category.name]
            for row in rows:
                number = first + int(row.ordinal_id) - 1  # type: ignore[attr-defined]
                row.ordinal_id = str(number)  # type: ignore[attr-defined]
                next_ordinal[category.name] = max(next_ordinal[category.name], number + 1)
        start = 0 if last[category.name] is None else int(last[category.name]) + 1
        insert_rows(
            connection, table, [row_params(tail, category, row, start + index) for index, row in enumerate(rows)], run
        )
    if status is not None and status_id is not None:
        last_status = last[STATUS_TABLE.name]
        _write_status_row(
            connection,
            run,
            deposition_id,
            status_id,
            status.deposition_data_set_id or stored.deposition_data_set_id or deposition_id,
            found_status,
            lambda: 0 if last_status is None else int(last_status) + 1,
            read_status=status.read_status,
            action_reqd=status.action_reqd,
            for_release=status.for_release,
        )
    run(
        connection,
        ("tail",),
        _tail_statement,
        {**key, "r": state[0], **{"n_" + name: str(number) for name, number in next_ordinal.items()}},
    )
    if batch is not None:
        batch.send()
    return True


def _delete_document(connection: Connection, deposition_id: str, content_type: str) -> None:
    for table in CATEGORY_TABLES.values():
        connection.execute(delete(table).where(_document_filter(table, deposition_id, content_type)))


def row_params(document: Document, category: Category, row: Row, order: int) -> dict[str, Any]:
    params: dict[str, Any] = row.as_dict()
    params["source_deposition_id"] = document.deposition_id
    params["source_content_type"] = document.content_type
    params["row_order"] = order
    return params


def insert_rows(connection: Connection, table: Any, rows: Sequence[dict[str, Any]], run: Runner = run_compiled) -> None:
    """Multi-row INSERTs in batches capped by row count and by bytes (below max_allowed_packet)."""
    packet = max_allowed_packet(connection.engine)
    cap = BATCH_BYTES if packet is None else max(1024, min(BATCH_BYTES, packet // 2))
    batch: list[dict[str, Any]] = []
    size = 0
    for params in rows:
        row_size = sum(len(v) for v in params.values() if isinstance(v, str)) + 64
        if packet is not None and row_size * 8 + STATEMENT_OVERHEAD > packet:
            check_packet(table.name, params, packet, connection.engine.url)
        if batch and (len(batch) >= BATCH_ROWS or size + row_size > cap):
            _insert_batch(connection, table, batch, run)
            batch, size = [], 0
        batch.append(params)
        size += row_size
    if batch:
        _insert_batch(connection, table, batch, run)


# -- bulk loading (migration) ---------------------------------------------------------------

# LOAD DATA LOCAL refused: not allowed (1148), local data disabled (MySQL 8: 3948; MariaDB: 4166),
# refused by the client (2068). Then rows go in by INSERT, and the engine stops asking.
_LOAD_REFUSED = frozenset({1148, 2068, 3948, 4166})


def _tsv_field(value: Any) -> str:
    """A value as a field of LOAD DATA's default format: backslash escapes, \\N for NULL."""
    if value is None:
        return "\\N"
    if not isinstance(value, str):
        return str(value)
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r").replace("\0", "\\0")
    )


def _tsv_line(values: list[Any]) -> str:
    """One row of the file: most rows have no character to escape, found by one search of them all."""
    texts = [value for value in values if isinstance(value, str)]
    joined = "\t".join(texts)
    if (
        "\\" in joined
        or "\n" in joined
        or "\r" in joined
        or "\0" in joined
        or joined.count("\t") != max(len(texts) - 1, 0)
    ):
        return "\t".join([_tsv_field(value) for value in values]) + "\n"
    return (
        "\t".join(["\\N" if value is None else value if isinstance(value, str) else str(value) for value in values])
        + "\n"
    )


def bulk_insert_rows(connection: Connection, table: Any, rows: Sequence[dict[str, Any]]) -> None:
    """`insert_rows`, through LOAD DATA LOCAL INFILE where the engine allows it (MySQL, `bulk_load`).

    The rows go to a tab-separated file that the driver sends to the server: no
    value is escaped into a statement. LOCAL makes the server turn what would be
    errors (a value too long, a duplicate row) into warnings, so a load with any
    warning, or with another row count than it was given, is undone (a savepoint)
    and the rows are inserted by `insert_rows`, whose errors name the value.
    """
    if rows and getattr(connection.engine, "msgmodule_bulk_load", False):
        names = list(rows[0])
        if _load_lines(connection, table, names, [_tsv_line([row[name] for name in names]) for row in rows]):
            return
    insert_rows(connection, table, rows)


_DOCUMENT_COLUMNS = ("source_deposition_id", "source_content_type", "row_order")


def bulk_insert_documents(connection: Connection, category: Category, documents: Sequence[Document]) -> None:
    """Every row of one category of these documents, as `bulk_insert_rows` stores them (the migration's path).

    The file's lines are made from the rows themselves, not from a dictionary per row; the
    dictionaries are made only if the load is refused and the rows go in by INSERT.
    """
    table = CATEGORY_TABLES[category.name]
    if any(document.rows(category) for document in documents):
        if getattr(connection.engine, "msgmodule_bulk_load", False):
            lines = _document_lines(category, documents)
            if _load_lines(connection, table, [*category.items, *_DOCUMENT_COLUMNS], lines):
                return
        params = [
            row_params(document, category, row, order)
            for document in documents
            for order, row in enumerate(document.rows(category))
        ]
        insert_rows(connection, table, params)


def _document_lines(category: Category, documents: Sequence[Document]) -> list[str]:
    values_of = attrgetter(*category.items)
    columns = len(category.items)
    lines: list[str] = []
    for document in documents:
        # The key columns end every line of the document: escaped once.
        key = "\t".join(_tsv_field(value) for value in (document.deposition_id, document.content_type))
        for order, row in enumerate(document.rows(category)):
            values = values_of(row)
            nulls = values.count(None)
            try:
                joined = "\t".join(["\\N" if value is None else value for value in values])
            except TypeError:  # a value that is not text: written as `_tsv_line` writes it
                joined = _tsv_line(list(values))[:-1]
            else:
                # The NULL markers are the only backslashes and the separators the only tabs, or escape.
                if (
                    "\n" in joined
                    or "\r" in joined
                    or "\0" in joined
                    or joined.count("\\") != nulls
                    or joined.count("\t") != columns - 1
                ):
                    joined = "\t".join([_tsv_field(value) for value in values])
            lines.append(f"{joined}\t{key}\t{order}\n")
    return lines


def _load_lines(connection: Connection, table: Any, names: list[str], lines: list[str]) -> bool:
    """LOAD DATA LOCAL of these lines into these columns; False (nothing loaded) if the server refused it."""
    engine = connection.engine
    statement = (
        f"LOAD DATA LOCAL INFILE %s INTO TABLE `{table.name}` CHARACTER SET utf8mb4 "
        "FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' "
        f"({', '.join(f'`{name}`' for name in names)})"
    )
    with tempfile.NamedTemporaryFile("wb", prefix="msgmodule-load-", suffix=".tsv") as handle:
        handle.write("".join(lines).encode("utf-8"))
        handle.flush()
        savepoint = connection.begin_nested()
        try:
            result = connection.exec_driver_sql(statement, (handle.name,))
            loaded = result.rowcount
            # The driver's cursor has the count from the server's answer; else it is one query more.
            warnings = getattr(result.context.cursor, "warning_count", None)
            if not isinstance(warnings, int):
                warnings = connection.exec_driver_sql("SELECT @@warning_count").scalar()
        except DBAPIError as exc:
            if mysql_code(exc) not in _LOAD_REFUSED:
                # Raised as it is, the savepoint left alone: a deadlock has rolled back the whole
                # transaction, savepoint and all, and the caller's retries must see the deadlock.
                raise
            savepoint.rollback()
            engine.msgmodule_bulk_load = False  # type: ignore[attr-defined]
            return False
        if not warnings and loaded == len(lines):
            savepoint.commit()
            return True
        savepoint.rollback()
        return False


def _insert_batch(connection: Connection, table: Any, batch: list[dict[str, Any]], run: Runner = run_compiled) -> None:
    names = tuple(batch[0])
    run(
        connection,
        ("insert", table.name, names),
        lambda _dialect: insert(table).values({name: bindparam(name) for name in names}),
        batch,
    )


def insert_document(connection: Connection, document: Document) -> None:
    """Insert all rows of a document (its old rows must be gone)."""
    for category in CATEGORIES:
        rows = document.rows(category)
        if rows:
            params = [row_params(document, category, row, order) for order, row in enumerate(rows)]
            insert_rows(connection, CATEGORY_TABLES[category.name], params)


def _write_changes(connection: Connection, before: Document, after: Document, run: Runner = run_compiled) -> None:
    """Write only what changed between two versions of a document, position by position."""
    deposition_id, content_type = after.deposition_id, after.content_type
    engine = connection.engine
    packet = max_allowed_packet(engine)
    for category in CATEGORIES:
        table = CATEGORY_TABLES[category.name]
        old_rows, new_rows = before.rows(category), after.rows(category)
        if old_rows == new_rows:
            continue
        kept = min(len(old_rows), len(new_rows))
        changed = [order for order in range(kept) if old_rows[order] != new_rows[order]]
        if not changed and len(old_rows) <= len(new_rows):  # rows added at the end, nothing else
            insert_rows(
                connection,
                table,
                [row_params(after, category, new_rows[order], order) for order in range(kept, len(new_rows))],
                run,
            )
            continue
        for order in changed:
            if packet is not None:
                check_packet(table.name, row_params(after, category, new_rows[order], order), packet, engine.url)
            values = {"v_" + item: value for item, value in new_rows[order].as_dict().items()}
            run(
                connection,
                ("update row", table.name),
                partial(_row_update, table, category),
                {**values, "d": deposition_id, "c": content_type, "o": order},
            )
        if len(old_rows) > len(new_rows):
            run(
                connection,
                ("truncate", table.name),
                partial(_truncate, table),
                {"d": deposition_id, "c": content_type, "o": len(new_rows)},
            )
        if len(new_rows) > len(old_rows):
            params = [
                row_params(after, category, new_rows[order], order) for order in range(len(old_rows), len(new_rows))
            ]
            insert_rows(connection, table, params, run)


def _truncate(table: Any, _dialect: str) -> Any:
    """DELETE of a document's rows from a position on."""
    return delete(table).where(
        table.c.source_deposition_id == bindparam("d"),
        table.c.source_content_type == bindparam("c"),
        table.c.row_order >= bindparam("o"),
    )


def _row_update(table: Any, category: Category, _dialect: str) -> Any:
    """UPDATE of one row, by document and position: every item, and the time."""
    return (
        update(table)
        .where(
            table.c.source_deposition_id == bindparam("d"),
            table.c.source_content_type == bindparam("c"),
            table.c.row_order == bindparam("o"),
        )
        .values({**{item: bindparam("v_" + item) for item in category.items}, "updated_at": func.current_timestamp()})
    )


# -- the pieces of a write that touches only what changes ------------------------------------

STATUS_TABLE = CATEGORY_TABLES["pdbx_deposition_message_status"]
INFO_TABLE = CATEGORY_TABLES["pdbx_deposition_message_info"]


def _next_row_order(connection: Connection, table: Any, deposition_id: str, content_type: str) -> int:
    """The position after the document's last row in this table (positions run 0..n-1)."""
    query = select(func.max(table.c.row_order)).where(_document_filter(table, deposition_id, content_type))
    highest = connection.execute(query).scalar()
    return 0 if highest is None else int(highest) + 1


def _next_ordinal(connection: Connection, table: Any, deposition_id: str, content_type: str) -> str:
    """One more than the highest all-digit ordinal_id of the document's rows: what the model computes.

    "All-digit" as the model means it: ASCII digits only, nothing else (MariaDB's `$` would also
    match before a final newline, so a value is refused for any other character instead). The
    highest is taken exactly: SQLite's CAST to INTEGER stops at 2**63 - 1 (a longer ordinal would
    give a wrong, or a repeated, next one), so there the digits are compared as text, longest first.
    """
    column = table.c.ordinal_id
    where = _document_filter(table, deposition_id, content_type)
    if connection.dialect.name == "sqlite":
        digits = and_(column != "", column.op("NOT GLOB")("*[^0-9]*"))
        significant = func.ltrim(column, "0")
        query = (
            select(column).where(where, digits).order_by(func.length(significant).desc(), significant.desc()).limit(1)
        )
    else:
        # The column holds at most 32 characters: DECIMAL(65, 0) holds any of them exactly.
        digits = and_(column != "", column.op("NOT REGEXP")("[^0-9]"))
        query = select(func.max(cast(column, Numeric(65, 0)))).where(where, digits)
    highest = connection.execute(query).scalar()
    return str((int(highest) if highest is not None else 0) + 1)


def _set_status_row(
    connection: Connection,
    deposition_id: str,
    message_id: str,
    deposition_data_set_id: str,
    *,
    read_status: str | None,
    action_reqd: str | None,
    for_release: str | None,
) -> MessageStatus:
    """Change the first status row of a message in the deposition's status document, or append one (N, N, N)."""
    found = run_compiled(
        connection,
        ("status row",),
        _status_row_statement,
        {"d": deposition_id, "c": STATUS_CONTENT_TYPE, "m": message_id},
    ).first()
    return _write_status_row(
        connection,
        run_compiled,
        deposition_id,
        message_id,
        deposition_data_set_id,
        found,
        lambda: _next_row_order(connection, STATUS_TABLE, deposition_id, STATUS_CONTENT_TYPE),
        read_status=read_status,
        action_reqd=action_reqd,
        for_release=for_release,
    )


def _write_status_row(
    connection: Connection,
    run: Runner,
    deposition_id: str,
    message_id: str,
    deposition_data_set_id: str,
    found: Any,
    next_order: Callable[[], int],
    *,
    read_status: str | None,
    action_reqd: str | None,
    for_release: str | None,
) -> MessageStatus:
    """Change the flags of `found` (the message's first status row: id and items), or append a status row
    (N, N, N) at `next_order()`."""
    table = STATUS_TABLE
    changes = {"read_status": read_status, "action_reqd": action_reqd, "for_release": for_release}
    given = {name: value for name, value in changes.items() if value is not None}
    if found is None:
        status = MessageStatus(message_id, deposition_data_set_id, "N", "N", "N")
        for name, value in given.items():
            setattr(status, name, value)
        document = Document(deposition_id, STATUS_CONTENT_TYPE)
        status.check_values()
        (category,) = [c for c in CATEGORIES if c.name == table.name]
        insert_rows(connection, table, [row_params(document, category, status, next_order())], run)
        return status
    row_id, found_set_id, *flags = found
    status = MessageStatus(message_id, found_set_id, *flags)
    if any(getattr(status, name) != value for name, value in given.items()):
        for name, value in given.items():
            setattr(status, name, value)
        names = tuple(sorted(given))
        run(
            connection,
            ("status flags", names),
            partial(_status_flags_statement, names),
            {"i": row_id, **{"v_" + name: given[name] for name in names}},
        )
    return status


def _status_flags_statement(names: tuple[str, ...], _dialect: str) -> Any:
    return (
        update(STATUS_TABLE)
        .where(STATUS_TABLE.c.id == bindparam("i"))
        .values(**{name: bindparam("v_" + name) for name in names}, updated_at=func.current_timestamp())
    )


def _count_in_place(table: Any) -> Any:
    """The document's row count in this table when its positions run 0..n-1 exactly, else -1.

    Gaps or repeated positions (rows deleted or added by hand, or by an older
    version) make a write by position miss or repeat rows; -1 matches no
    document, so such a copy is replaced whole. One pass over the document
    index, in the query that counted the rows before.
    """
    count, order = func.count(), table.c.row_order
    whole = and_(
        func.count(order.distinct()) == count,
        func.coalesce(func.min(order), 0) == 0,
        func.coalesce(func.max(order) + 1, 0) == count,
    )
    return (
        select(case((whole, count), else_=-1))
        .select_from(table)
        .where(table.c.source_deposition_id == bindparam("d"), table.c.source_content_type == bindparam("c"))
    )


# Statements built once: writes run them per call, and building them costs more than running them.
_COUNT_ROWS = {name: _count_in_place(table) for name, table in CATEGORY_TABLES.items()}


def _count_rows(connection: Connection, before: Document, after: Document, run: Runner) -> tuple[list[Category], Any]:
    """The categories that change between the two, and what `run` made of the query counting their stored rows."""
    changed = [category for category in CATEGORIES if before.rows(category) != after.rows(category)]
    if not changed:
        return [], None
    names = tuple(category.name for category in changed)
    counted = run(
        connection,
        ("holds", names),
        lambda _dialect: select(*(_COUNT_ROWS[name].scalar_subquery() for name in names)),
        {"d": before.deposition_id, "c": before.content_type},
    )
    return changed, counted


def _counts_match(before: Document, changed: list[Category], counts: Sequence[Any]) -> bool:
    return all(count == len(before.rows(category)) for count, category in zip(counts, changed, strict=True))


def _write_if_held(connection: Connection, before: Document, after: Document) -> bool:
    """Lock the document, count its stored rows and write the change from `before` to `after` by position.

    Rows that change are written whole, so what must hold is the row count of each
    table that changes, with positions 0..n-1 and none repeated: positions then mean
    the same rows in both stores. Returns
    whether the stored document held `before` when counted (under the lock, before
    the change); if not, the caller replaces what was written. On MySQL the three go
    in one query (more for a large change); elsewhere one statement at a time.
    """
    batch = StatementBatch(connection, _batch_cap(connection)) if takes_batches(connection.engine) else None
    run: Runner = run_compiled if batch is None else batch.run
    _lock_document(connection, after.deposition_id, after.content_type, run)
    changed, counted = _count_rows(connection, before, after, run)
    counts: Any = counted.one() if changed and batch is None else None
    _write_changes(connection, before, after, run)
    if batch is not None:
        answers = batch.send()
        counts = answers[counted].rows[0] if changed else None
    return not changed or _counts_match(before, changed, counts)


def _batch_cap(connection: Connection) -> int:
    """Characters of statements per query: at most 4 bytes each, well below max_allowed_packet."""
    packet = max_allowed_packet(connection.engine)
    return BATCH_BYTES if packet is None else max(1024, min(BATCH_BYTES, packet // 8))


ORIGCOMM_TABLE = CATEGORY_TABLES["pdbx_deposition_message_origcomm_reference"]


# The page's rows are selected by id, at most this many per statement.
_IDS_PER_SELECT = 512


def _page_filters(kinds: tuple[str, ...], by_send_status: bool, archived: tuple[str, ...]) -> tuple[Any, list[Any]]:
    """The page's document condition and its filters, with the deposition and send status as parameters."""
    table = INFO_TABLE
    in_document = and_(
        table.c.source_deposition_id == bindparam("d"),
        table.c.source_content_type.in_([literal(kind) for kind in kinds]),
    )
    filters = []
    if by_send_status:
        filters.append(func.coalesce(func.nullif(table.c.send_status, ""), "Y") == bindparam("s"))
    if archived:
        filters.append(
            or_(
                table.c.source_content_type.not_in([literal(kind) for kind in archived]),
                func.instr(func.coalesce(table.c.message_type, ""), "archive") > 0,
            )
        )
    return in_document, filters


def _page_keys(
    kinds: tuple[str, ...], by_send_status: bool, archived: tuple[str, ...], limited: bool, dialect: str
) -> Any:
    """Ids of the page's rows in page order: the keys ordered and limited, not the rows (that would cost the
    history)."""
    table = INFO_TABLE
    in_document, filters = _page_filters(kinds, by_send_status, archived)
    kind_order = case({kind: index for index, kind in enumerate(kinds)}, value=table.c.source_content_type)
    # As model.time_order: bytes, not the column's collation (MariaDB's utf8mb4_bin pads: 'a' = 'a ', 'a\t' < 'a').
    in_time_order = cast(func.coalesce(table.c.timestamp, ""), LargeBinary)
    keys = (
        select(table.c.id)
        .where(in_document, *filters)
        .order_by(in_time_order, kind_order, table.c.row_order, table.c.id)
        .offset(bindparam("o"))
    )
    if limited:
        keys = keys.limit(bindparam("l"))
    # MariaDB/MySQL would pick the narrower document index and read every row for the filters.
    return keys.with_hint(table, f"FORCE INDEX ({PAGE_INDEX.name})", dialect_name="mysql")


def _page_rows(width: int, dialect: str) -> Any:
    table = INFO_TABLE
    columns = [table.c[item] for item in Message.ITEMS]
    wanted: list[Any] = [bindparam(f"i{n}") for n in range(width)]
    return select(table.c.id, table.c.source_content_type, *columns).where(table.c.id.in_(wanted))


def _page_counts(kinds: tuple[str, ...], by_send_status: bool, archived: tuple[str, ...], dialect: str) -> Any:
    table = INFO_TABLE
    in_document, filters = _page_filters(kinds, by_send_status, archived)
    passes = and_(*filters) if filters else true()
    return (
        select(table.c.source_content_type, func.count(), func.sum(case((passes, 1), else_=0)))
        .where(in_document)
        .group_by(table.c.source_content_type)
        .with_hint(table, f"FORCE INDEX ({PAGE_INDEX.name})", dialect_name="mysql")
    )


@dataclass(frozen=True)
class _PageOrder:
    """Ids of the rows that pass the filters, in page order (from an offset, up to a limit); the counts."""

    ids: tuple[int, ...]
    counts: dict[str, int]  # every message of each content type
    total: int  # those that pass the filters


def _page_order(
    connection: Connection,
    deposition_id: str,
    content_types: list[str],
    send_status: str | None,
    archived: tuple[str, ...],
    offset: int,
    limit: int | None,
) -> _PageOrder:
    # Each statement is built and compiled once per shape (content types, filters), then run as driver SQL:
    # building it afresh cost more than the database's work on a short history.
    kinds = tuple(content_types)
    shape = (kinds, send_status is not None, archived)
    values: dict[str, Any] = {"d": deposition_id, "s": send_status, "o": offset}
    if limit is not None:
        values["l"] = limit
    limited = limit is not None
    keys = driver_rows(connection, ("page keys", *shape, limited), partial(_page_keys, *shape, limited), values)
    # Every message of each content type, and those that pass the filters, in one pass over the index.
    counted = driver_rows(connection, ("page counts", *shape), partial(_page_counts, *shape), values)
    counts = {content_type: 0 for content_type in content_types}
    total = 0
    for content_type, number, passing in counted:
        counts[content_type] = int(number)
        total += int(passing or 0)
    return _PageOrder(tuple(int(row[0]) for row in keys), counts, total)


def _page(
    connection: Connection,
    deposition_id: str,
    content_types: list[str],
    order: _PageOrder,
    offset: int,
    limit: int | None,
    with_origcomm: bool,
) -> MessagePage | None:
    """The page `order` gives from `offset`; None when one of its rows is gone (the order was kept from before
    an edit by hand that bumped no revision)."""
    ids = order.ids[offset : None if limit is None else offset + limit]
    rows: dict[int, tuple[str, Message]] = {}
    for start in range(0, len(ids), _IDS_PER_SELECT):
        chunk = ids[start : start + _IDS_PER_SELECT]
        width = 1 << (len(chunk) - 1).bit_length()  # a few statement shapes, the list padded to the next power of 2
        named = {f"i{n}": chunk[min(n, len(chunk) - 1)] for n in range(width)}
        for row_id, content_type, *items in run_compiled(
            connection, ("page rows", width), partial(_page_rows, width), named
        ):
            rows[row_id] = (content_type, Message(*items))
    if len(rows) != len(ids):
        return None
    messages = [rows[row_id] for row_id in ids]
    origcomm: dict[str, OrigCommReference] = {}
    page_ids = sorted({message.message_id for _, message in messages if message.message_id is not None})
    if with_origcomm and page_ids:
        other = ORIGCOMM_TABLE
        kind_order = case(
            {content_type: index for index, content_type in enumerate(content_types)}, value=other.c.source_content_type
        )
        query = (
            select(*(other.c[item] for item in OrigCommReference.ITEMS))
            .where(
                other.c.source_deposition_id == deposition_id,
                other.c.source_content_type.in_(content_types),
                other.c.message_id.in_(page_ids),
            )
            .order_by(kind_order, other.c.row_order, other.c.id)
        )
        for found in connection.execute(query):
            reference = OrigCommReference(*found)
            if reference.message_id is not None:
                origcomm.setdefault(reference.message_id, reference)
    return MessagePage(messages, order.total, dict(order.counts), origcomm)
