"""Writes that touch only what changes give exactly the documents the whole-document path gives.

The database appends a new message's rows and changes one status row without
reading the document; a dual write hands the second store the change instead of
the file. Each test runs the same calls on the CIF store (which always reads
and rewrites the whole document) and on the database, and the documents must
come out identical, row for row, on dirty data too.
"""

from __future__ import annotations

import pytest
from conftest import stage_config
from sqlalchemy import text

from wwpdb.apps.msgmodule.db.engine import get_engine
from wwpdb.apps.msgmodule.equivalence import differences
from wwpdb.apps.msgmodule.errors import InvalidInputError
from wwpdb.apps.msgmodule.io.MessagingFactory import MessagingFactory
from wwpdb.apps.msgmodule.journal import Journal
from wwpdb.apps.msgmodule.model import (
    CONTENT_TYPES,
    Document,
    FileReference,
    Message,
    MessageStatus,
    OrigCommReference,
)
from wwpdb.apps.msgmodule.stores.cif import CifMessageStore
from wwpdb.apps.msgmodule.stores.db import DbMessageStore

DEP = "D_1000000777"
TO, FROM, NOTES = "messages-to-depositor", "messages-from-depositor", "notes-from-annotator"


def dirty_document() -> Document:
    """Ordinals with gaps, leading zeros and words; two status rows for one message; a status for no message."""
    document = Document(DEP, TO)
    for ordinal, message_id in (("1", "m1"), ("7", "m2"), ("x", "m3"), ("007", "m4"), ("", "m5")):
        document.messages.append(
            Message(
                ordinal,
                message_id,
                DEP,
                "2024-01-01 10:00:00",
                "a@example.org",
                None,
                None,
                message_id,
                f"subject {message_id}",
                f"text {message_id}",
                "text",
                "Y",
            )
        )
    document.file_references += [
        FileReference("2", "m1", DEP, "model", "pdbx", "1", "1", "archive", None),
        FileReference("two", "m1", DEP, "model", "pdb", "1", "1", "archive", None),
    ]
    document.statuses += [
        MessageStatus("m1", DEP, "Y", "N", "N"),
        MessageStatus("m1", DEP, "N", "Y", "N"),
        MessageStatus("ghost", "D_9", "N", "N", "Y"),
    ]
    document.origcomm_references.append(OrigCommReference("5", "m2", DEP, "orig", DEP, None, None, None, None, None))
    return document


def the_calls(store) -> None:
    store.put_message(
        DEP,
        TO,
        Message(message_id="new1", message_text="new"),
        [
            FileReference(content_type="model", content_format="pdbx"),
            FileReference(content_type="sf", content_format="mmcif"),
        ],
        [OrigCommReference(orig_message_id="o1")],
        status=MessageStatus("new1", None, "N", "Y", None),
        defaults={"timestamp": "2024-02-02 00:00:00", "message_type": "text"},
    )
    store.put_message(
        DEP,
        FROM,
        Message(message_id="reply", message_text="from the depositor"),
        status=MessageStatus("reply", DEP, "N", "N", "N"),
    )
    store.set_status(DEP, "m1", read_status="N", for_release="Y")  # the first of its two rows
    store.set_status(DEP, "m3", action_reqd="Y")  # no row yet: one is appended
    store.set_status(DEP, "ghost", read_status="N")  # unchanged: nothing written
    store.put_message(
        DEP, TO, Message(message_id="m2", message_subject="edited"), None, None, given=["message_id", "message_subject"]
    )  # a draft edit
    store.put_message(
        DEP, NOTES, Message(message_id="note", message_text="a note"), [FileReference(content_type="auxiliary")]
    )


@pytest.mark.parametrize("db_kind", ["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def test_the_database_writes_the_same_rows_as_the_whole_document_path(tmp_path, db_kind, request):
    from wwpdb.apps.msgmodule.db import schema_versions

    url = request.getfixturevalue(f"{db_kind}_url")
    schema_versions.upgrade(url)
    (tmp_path / "archive").mkdir()
    cif, db = CifMessageStore(tmp_path / "archive"), DbMessageStore(url)
    for store in (cif, db):
        store.save(dirty_document())
        the_calls(store)
    for content_type in CONTENT_TYPES:
        assert db.load(DEP, content_type) == cif.load(DEP, content_type), content_type
    document = db.load(DEP, TO)
    assert [m.ordinal_id for m in document.messages] == ["1", "7", "x", "007", "", "8"]
    assert [r.ordinal_id for r in document.file_references] == ["2", "two", "3", "4"]
    assert [(s.message_id, s.read_status, s.action_reqd, s.for_release) for s in document.statuses] == [
        ("m1", "N", "N", "Y"),
        ("m1", "N", "Y", "N"),
        ("ghost", "N", "N", "Y"),
        ("new1", "N", "Y", "N"),
        ("reply", "N", "N", "N"),
        ("m3", "N", "Y", "N"),
    ]


def test_a_bad_flag_or_value_changes_nothing(tmp_path, sqlite_url):
    from wwpdb.apps.msgmodule.db import schema_versions

    schema_versions.upgrade(sqlite_url)
    db = DbMessageStore(sqlite_url)
    db.save(dirty_document())
    with pytest.raises(InvalidInputError, match="read_status must be 'Y' or 'N'"):
        db.set_status(DEP, "m1", read_status="yes")
    with pytest.raises(InvalidInputError, match="message_text"):
        db.put_message(DEP, TO, Message(message_id="bad", message_text="\udc80"))
    assert db.load(DEP, TO) == dirty_document()


@pytest.mark.parametrize("change", ["a row changed", "a row removed"])
def test_a_dual_write_over_a_stale_database_copy_replaces_it_whole(tmp_path, db_url, change):
    config = stage_config(tmp_path, "dual-write", db_url)
    svc = MessagingFactory.create_messaging_service(config=config)
    first = svc.set(DEP, {"message_text": "first"})
    svc.set(DEP, {"message_text": "second"})
    table = "pdbx_deposition_message_status" if change == "a row changed" else "pdbx_deposition_message_info"
    statement = (
        f"UPDATE {table} SET action_reqd = 'Y' WHERE message_id = :mid"
        if change == "a row changed"
        else f"DELETE FROM {table} WHERE message_id = :mid"
    )
    with get_engine(db_url).begin() as connection:  # behind the library's back
        connection.execute(text(statement), {"mid": first})
    # The next write changes that very row (or the table that lost one): the stale copy is seen and replaced.
    svc.mark_read(DEP, first) if change == "a row changed" else svc.set(DEP, {"message_text": "third"})
    cif, db = CifMessageStore(config["MSGCIF_ROOT"]), DbMessageStore(db_url)
    for content_type in CONTENT_TYPES:
        assert differences(cif.load(DEP, content_type), db.load(DEP, content_type)) == []
    assert Journal(tmp_path / "archive" / ".msgmodule" / "journal.jsonl").pending(all_intents=True) == {}


@pytest.mark.parametrize("stage", ["dual-write", "db-primary"])
def test_writers_racing_on_one_deposition_leave_both_stores_equal(tmp_path, stage, db_url):
    """Four processes append to one deposition at once: both stores end with every message, in one order.

    A second store handed a change it no longer holds (another writer got in
    between) must not write that stale document over the newer one.
    """
    import json
    import subprocess
    import sys
    from pathlib import Path

    config = stage_config(tmp_path, stage, db_url)
    writer = Path(__file__).with_name("fleet_writer.py")
    acks = [tmp_path / f"writer{number}.acks" for number in range(6)]
    processes = [
        subprocess.Popen([sys.executable, str(writer), json.dumps(config), str(ack), "30", "0", DEP]) for ack in acks
    ]
    assert [process.wait(timeout=300) for process in processes] == [0] * 6
    acknowledged = {line.split()[1] for ack in acks for line in ack.read_text().splitlines()}
    assert len(acknowledged) == 180
    cif, db = CifMessageStore(config["MSGCIF_ROOT"]), DbMessageStore(db_url)
    for content_type in (TO, FROM):
        assert differences(cif.load(DEP, content_type), db.load(DEP, content_type)) == [], content_type
    stored = {m.message_id for content_type in (TO, FROM) for m in db.load(DEP, content_type).messages}
    assert stored == acknowledged
