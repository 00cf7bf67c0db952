"""A new message is appended without reading the document: its row keeps the next ordinals (schema 0004).

The kept numbers are used only while the document's `tail_revision` equals its
`revision`; an append and a status change move both, every other write moves
the revision alone, and the next append counts the rows afresh. These tests pin
both halves: the rows are not read while the numbers are kept (a row slipped in
by hand, bumping nothing, is not seen), and any other write, or a revision
bumped by hand as the README asks after an edit, makes the next append count.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from alembic import command
from sqlalchemy import event, select, text

from wwpdb.apps.msgmodule.db import schema_versions
from wwpdb.apps.msgmodule.db.engine import get_engine
from wwpdb.apps.msgmodule.db.schema import documents
from wwpdb.apps.msgmodule.db.schema_versions import _config
from wwpdb.apps.msgmodule.model import Document, FileReference, Message, MessageStatus, OrigCommReference
from wwpdb.apps.msgmodule.stores.db import DbMessageStore

DEP = "D_1000000888"
TO = "messages-to-depositor"


def document_of(count: int) -> Document:
    document = Document(DEP, TO)
    for number in range(1, count + 1):
        document.messages.append(Message(str(number), f"m{number}", DEP, message_text=f"text {number}"))
        document.statuses.append(MessageStatus(f"m{number}", DEP, "N", "N", "N"))
    document.file_references.append(FileReference("1", "m1", DEP, "model"))
    return document


def append(store: DbMessageStore, message_id: str, references: int = 0) -> None:
    store.put_message(
        DEP,
        TO,
        Message(message_id=message_id, message_text="new"),
        [FileReference(message_id=message_id, content_type="model") for _ in range(references)],
        [OrigCommReference(message_id=message_id, orig_message_id="o")] if references else (),
        status=MessageStatus(message_id, None, "N", "N", "N"),
    )


def ordinals(store: DbMessageStore) -> list[str | None]:
    return [message.ordinal_id for message in store.load(DEP, TO).messages]


def slip_in_a_row(url: str, ordinal: str) -> None:
    """A message row added behind the library's back, at the next position, bumping no revision."""
    with get_engine(url).begin() as connection:
        position = connection.execute(
            text("SELECT MAX(row_order) + 1 FROM pdbx_deposition_message_info WHERE source_deposition_id = :d"),
            {"d": DEP},
        ).scalar()
        connection.execute(
            text(
                "INSERT INTO pdbx_deposition_message_info (source_deposition_id, source_content_type, row_order, "
                "ordinal_id, message_id) VALUES (:d, :c, :o, :n, :m)"
            ),
            {"d": DEP, "c": TO, "o": position, "n": ordinal, "m": f"by-hand-{ordinal}"},
        )


def test_appends_and_status_changes_number_from_the_kept_ordinals_without_reading_the_rows(db_url):
    store = DbMessageStore(db_url)
    store.save(document_of(30))
    append(store, "a1", references=1)  # counts once (the save left no numbers), then keeps them
    slip_in_a_row(db_url, "500")
    store.set_status(DEP, "m3", read_status="Y")  # a status change keeps the numbers right
    store.set_status(DEP, "a9", action_reqd="Y")  # a status row appended: no ordinal either
    append(store, "a2", references=2)
    # Numbered from the kept 32: the row slipped in (with no revision bumped) was not read.
    assert ordinals(store)[-3:] == ["31", "500", "32"]
    document = store.load(DEP, TO)
    assert [r.ordinal_id for r in document.file_references] == ["1", "2", "3", "4"]
    assert [r.ordinal_id for r in document.origcomm_references] == ["1", "2"]
    assert [s.message_id for s in document.statuses][-3:] == ["a1", "a9", "a2"]


def test_on_sqlite_an_append_with_kept_ordinals_runs_no_statement_over_the_documents_rows(sqlite_url):
    schema_versions.upgrade(sqlite_url)
    store = DbMessageStore(sqlite_url)
    store.save(document_of(30))
    append(store, "a1")
    store.set_status(DEP, "m3", read_status="Y")
    seen: list[str] = []
    engine = get_engine(sqlite_url)
    listener = lambda *args: seen.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        append(store, "a2")
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert seen and not [statement for statement in seen if "ordinal_id" in statement and "SELECT" in statement]


def test_a_revision_bumped_by_hand_makes_the_next_append_count_afresh(db_url):
    store = DbMessageStore(db_url)
    store.save(document_of(3))
    append(store, "a1")
    slip_in_a_row(db_url, "40")
    with get_engine(db_url).begin() as connection:  # as the README asks after an edit by hand
        connection.execute(
            text("UPDATE msgmodule_document SET revision = revision + 1 WHERE source_deposition_id = :d"), {"d": DEP}
        )
    append(store, "a2")
    assert ordinals(store) == ["1", "2", "3", "4", "40", "41"]


def _save(store: DbMessageStore, document: Document) -> None:
    store.save(document)


def _update(store: DbMessageStore, document: Document) -> None:
    store.update(DEP, TO, lambda stored: setattr(stored, "messages", document.messages))


def _overwrite(store: DbMessageStore, document: Document) -> None:
    store.overwrite(DEP, TO, lambda: document)


def _apply_change(store: DbMessageStore, document: Document) -> None:
    store.apply_change(DEP, TO, store.load(DEP, TO), document)


@pytest.mark.parametrize("write", [_save, _update, _overwrite, _apply_change])
def test_any_other_write_makes_the_next_append_count_afresh(db_url, write):
    store = DbMessageStore(db_url)
    store.save(document_of(3))
    append(store, "a1")  # the numbers are kept: next is 5
    changed = store.load(DEP, TO)
    changed.messages = [replace(message, ordinal_id=str(10 * n)) for n, message in enumerate(changed.messages, 1)]
    write(store, changed)
    append(store, "a2")
    assert ordinals(store) == ["10", "20", "30", "40", "41"]
    # Those writes kept no numbers; the append did: the next one uses them.
    slip_in_a_row(store.url, "99")
    append(store, "a3")
    assert ordinals(store)[-2:] == ["99", "42"]


def test_a_draft_edit_with_new_references_then_an_append_continues_the_numbering(db_url):
    store = DbMessageStore(db_url)
    store.save(document_of(2))
    append(store, "a1", references=1)
    edited = [FileReference(message_id="a1", content_type="sf") for _ in range(3)]
    store.put_message(DEP, TO, Message(message_id="a1", message_text="edited"), edited)  # its references replaced
    append(store, "a2", references=1)
    document = store.load(DEP, TO)
    assert [m.ordinal_id for m in document.messages] == ["1", "2", "3", "4"]
    assert [(r.message_id, r.ordinal_id) for r in document.file_references] == [
        ("m1", "1"),
        ("a1", "2"),
        ("a1", "3"),
        ("a1", "4"),
        ("a2", "5"),
    ]


def test_a_database_at_revision_0003_is_upgraded_and_appends_continue_its_numbering(empty_db_url):
    url = empty_db_url
    engine = get_engine(url)
    with engine.begin() as connection:
        config = _config()
        config.attributes["connection"] = connection
        command.upgrade(config, "0003")
    store = DbMessageStore(url)
    store.save(document_of(5))  # a write of the 0003 schema's columns only
    assert schema_versions.upgrade(url) == ("0003", "0004")
    assert schema_versions.verify(url).ok
    with engine.connect() as connection:
        kept = connection.execute(select(documents.c.tail_revision, documents.c.next_message_ordinal)).one()
    assert tuple(kept) == (None, None)
    append(store, "a1")
    append(store, "a2")
    assert ordinals(store) == ["1", "2", "3", "4", "5", "6", "7"]
    with engine.begin() as connection:  # and back: the columns go, the rows stay
        config = _config()
        config.attributes["connection"] = connection
        command.downgrade(config, "0003")
    assert not schema_versions.verify(url).ok
    assert schema_versions.upgrade(url) == ("0003", "0004")
    append(store, "a3")
    assert ordinals(store)[-2:] == ["7", "8"]


@pytest.mark.parametrize(
    "dirty",
    [
        "9223372036854775808",  # one past SQLite's largest integer: its CAST gave that number again, a repeat
        "99999999999999999999999999",
        "5\n",  # not all digits to the model; MariaDB's `$` matches before the final newline
        "7 ",
        "\u0663",
    ],
)
def test_an_append_that_counts_afresh_numbers_as_the_model_does_whatever_the_stored_ordinals(db_url, dirty):
    # The first append after a save counts the stored ordinals (nothing kept yet): the database must
    # find the same highest all-digit ordinal as the model (and the archive) would, exactly.
    store = DbMessageStore(db_url)
    document = Document(DEP, TO)
    document.messages.append(Message("2", "m1", DEP, message_text="one"))
    document.messages.append(Message(dirty, "m2", DEP, message_text="two"))
    document.file_references.append(FileReference(dirty, "m2", DEP, "model"))
    store.save(document)
    expected = document.copy()
    expected.put_message(Message(message_id="a1", message_text="new"), [FileReference(message_id="a1")])
    store.put_message(DEP, TO, Message(message_id="a1", message_text="new"), [FileReference(message_id="a1")])
    stored = store.load(DEP, TO)
    assert [m.ordinal_id for m in stored.messages] == [m.ordinal_id for m in expected.messages]
    assert [r.ordinal_id for r in stored.file_references] == [r.ordinal_id for r in expected.file_references]
