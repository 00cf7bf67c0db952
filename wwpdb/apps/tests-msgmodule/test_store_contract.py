"""One suite for every store: the CIF archive, SQLite and MariaDB behave the same."""

from __future__ import annotations

import multiprocessing

import pytest
from conftest import EXAMPLE_ARCHIVE, split_name

from wwpdb.apps.msgmodule.cifformat import parse_file
from wwpdb.apps.msgmodule.equivalence import differences
from wwpdb.apps.msgmodule.model import (
    CONTENT_TYPES,
    Document,
    FileReference,
    Message,
    MessageStatus,
    OrigCommReference,
)
from wwpdb.apps.msgmodule.stores import MessageStore
from wwpdb.apps.msgmodule.stores.cif import CifMessageStore
from wwpdb.apps.msgmodule.stores.db import DbMessageStore

TO, FROM, NOTES = CONTENT_TYPES


def everything(store: MessageStore) -> dict[tuple[str, str], Document]:
    return {
        (deposition_id, content_type): document
        for deposition_id in store.list_depositions()
        for content_type, document in store.load_all(deposition_id).items()
    }


def example_documents() -> list[Document]:
    """Every document of the example archive, empty ones included (read-only use)."""
    return list(everything(CifMessageStore(EXAMPLE_ARCHIVE)).values())


def assert_round_trip(store: MessageStore, documents: list[Document]) -> None:
    for document in documents:
        store.save(document)
    for document in documents:
        again = store.load(document.deposition_id, document.content_type)
        assert differences(document, again) == [], (document.deposition_id, document.content_type)
        assert again == document  # exactly, not only equivalently: ordinals, order, nulls


def test_example_documents_save_and_load_back_unchanged(store):
    documents = example_documents()
    assert len(documents) == 9 and len([d for d in documents if not d.is_empty()]) == 5
    assert_round_trip(store, documents)
    # The same message_id in two depositions is two messages.
    shared = "0b7d3c0e-1111-4a55-9c01-000000000001"
    assert store.load("D_1000000001", TO).find_message(shared) is not None
    assert store.load("D_1000000002", TO).find_message(shared) is not None


def test_every_sample_saves_and_loads_back_unchanged(store, samples):
    documents = [parse_file(path, *split_name(path)) for path in samples]
    assert_round_trip(store, documents)
    big = store.load("D_0000265933", TO)
    assert [m.ordinal_id for m in big.messages] == ["1", "2", "3", "4", "5", "6"]
    assert len(big.file_references) == 37 and len(big.statuses) == 6
    assert store.load("D_0000277853", TO).messages[0].deposition_data_set_id == "D_9000277853"


def test_missing_deposition_is_an_empty_document(store):
    assert store.load("D_404", TO) == Document("D_404", TO)
    assert store.list_depositions() == []


def test_put_message_appends_in_order_with_references_and_status(store):
    first = Message(message_id="m1", deposition_data_set_id="D_10", message_text="one")
    second = Message(message_id="m2", deposition_data_set_id="D_10", message_text="two")
    store.put_message("D_10", TO, first, [FileReference(message_id="m1", content_type="model")])
    store.put_message(
        "D_10",
        TO,
        second,
        [FileReference(message_id="m2", content_format="pdbx"), FileReference(message_id="m2", content_format="pdb")],
        status=MessageStatus("m2", "D_10", "N", "Y", "N"),
    )
    document = store.load("D_10", TO)
    assert [(m.ordinal_id, m.message_id) for m in document.messages] == [("1", "m1"), ("2", "m2")]
    assert [(r.ordinal_id, r.message_id) for r in document.file_references] == [("1", "m1"), ("2", "m2"), ("3", "m2")]
    assert [s.values() for s in document.statuses] == [("m2", "D_10", "N", "Y", "N")]
    assert store.list_depositions() == ["D_10"]


def test_status_of_a_depositor_message_goes_to_messages_to_depositor(store):
    store.put_message(
        "D_11", FROM, Message(message_id="d1", message_text="please release"), status=MessageStatus("d1", "D_11")
    )
    assert store.load("D_11", FROM).statuses == []
    assert [s.values() for s in store.load("D_11", TO).statuses] == [("d1", "D_11", "N", "N", "N")]


def test_saving_a_draft_again_updates_it(store):
    store.put_message("D_12", TO, Message(message_id="draft", message_text="v1", send_status="N"))
    store.put_message("D_12", TO, Message(message_id="other", message_text="x"))
    store.put_message("D_12", TO, Message(message_id="draft", message_text="v2", send_status="Y"))
    messages = store.load("D_12", TO).messages
    assert [(m.ordinal_id, m.message_id, m.message_text, m.send_status) for m in messages] == [
        ("1", "draft", "v2", "Y"),
        ("2", "other", "x", None),
    ]


def test_set_status_creates_then_updates_the_row(store):
    store.set_status("D_13", "m9", read_status="Y")
    store.set_status("D_13", "m9", action_reqd="Y", for_release="Y")
    store.set_status("D_13", "m8", read_status="N")
    assert [s.values() for s in store.load("D_13", TO).statuses] == [
        ("m9", "D_13", "Y", "Y", "Y"),
        ("m8", "D_13", "N", "N", "N"),
    ]


def test_unicode_large_texts_and_long_fields_survive(store):
    text = "Ελληνικά 中文 emoji 😀🧬 Å\n;line starting with a semicolon\n" + "x" * (5 * 1024 * 1024)
    recipients = ", ".join(f"annotator{n:03d}@example.org" for n in range(25))
    assert len(recipients) > 500
    sender = "depositor - " + "Wolfeschlegelsteinhausenbergerdorff, " * 4 + "(responsible scientist)"
    assert len(sender) >= 150
    message = Message(message_id="u1", sender=sender, message_subject="? 😀", message_text=text)
    origcomm = OrigCommReference(message_id="u1", orig_recipient=recipients, orig_sender="Zoë <zoe@example.org>")
    store.put_message("D_14", NOTES, message, origcomm_references=[origcomm])
    document = store.load("D_14", NOTES)
    assert document.messages[0].message_text == text
    assert document.messages[0].sender == sender
    assert document.messages[0].message_subject == "? 😀"
    assert document.origcomm_references[0].orig_recipient == recipients
    assert document.origcomm_references[0].orig_sender == "Zoë <zoe@example.org>"


def test_a_failed_change_stores_nothing(store):
    store.put_message("D_15", TO, Message(message_id="keep", message_text="kept"))
    before = everything(store)

    def broken(document: Document) -> None:
        document.messages.clear()
        document.put_message(Message(message_id="half"))
        raise RuntimeError("change failed half way")

    with pytest.raises(RuntimeError):
        store.update("D_15", TO, broken)
    assert everything(store) == before


@pytest.mark.parametrize("bad", ["../D_1", "/tmp/D_1", "D_1; DROP TABLE x", "", "D_1 OR 1=1"])
def test_bad_ids_raise_value_error_and_change_nothing(store, bad):
    store.put_message("D_16", TO, Message(message_id="keep"))
    before = everything(store)
    with pytest.raises(ValueError, match="invalid deposition id"):
        store.put_message(bad, TO, Message(message_id="m"))
    with pytest.raises(ValueError, match="invalid deposition id"):
        store.load(bad, TO)
    with pytest.raises(ValueError, match="invalid deposition id"):
        store.set_status(bad, "keep", read_status="Y")
    with pytest.raises(ValueError, match="invalid deposition id"):
        store.save(Document(bad, TO))
    assert everything(store) == before


# -- several processes ---------------------------------------------------------------


def _open(kind: str, location: str) -> MessageStore:
    return CifMessageStore(location) if kind == "cif" else DbMessageStore(location)


def _append_many(kind: str, location: str, worker: int, count: int) -> None:
    store = _open(kind, location)
    for number in range(count):
        store.put_message(
            "D_7000000001",
            TO,
            Message(message_id=f"w{worker}-{number}", deposition_data_set_id="D_7000000001"),
            [FileReference(message_id=f"w{worker}-{number}", content_type="model")],
            status=MessageStatus(f"w{worker}-{number}", "D_7000000001", "N", "N", "N"),
        )


@pytest.mark.slow
def test_eight_processes_appending_lose_nothing(store, store_kind):
    location = str(store.root) if isinstance(store, CifMessageStore) else store.url
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_append_many, args=(store_kind, location, w, 25)) for w in range(8)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(300)
        assert process.exitcode == 0
    document = store.load("D_7000000001", TO)
    ids = [m.message_id for m in document.messages]
    assert len(ids) == 200 and len(set(ids)) == 200
    assert [m.ordinal_id for m in document.messages] == [str(n) for n in range(1, 201)]
    assert len(document.file_references) == 200 and len(document.statuses) == 200
    assert {r.message_id for r in document.file_references} == set(ids)


def test_literal_reference_text_and_the_character_it_names_are_different_data(store):
    store.put_message("D_17", TO, Message(message_id="a", message_text="use &#197; for Å"))
    loaded = store.load("D_17", TO)
    assert loaded.messages[0].message_text == "use &#197; for Å"
    other = loaded.copy()
    other.messages[0].message_text = "use Å for Å"
    assert [d.item for d in differences(loaded, other)] == ["message_text"]


def test_status_rows_are_the_documents_status_rows_and_message_ids(store, monkeypatch):
    from wwpdb.apps.msgmodule.stores.cif import ParsedFiles

    monkeypatch.setattr(ParsedFiles, "SETTLE_NS", 0)  # the CIF store's second read is from its kept parse
    documents = example_documents()
    for document in documents:
        store.save(document)
    for document in documents:
        for _ in range(2):
            statuses, ids = store.status_rows(document.deposition_id, document.content_type)
            assert statuses == document.statuses, (document.deposition_id, document.content_type)
            assert ids == [message.message_id for message in document.messages]
            for row in statuses:  # the caller's copies: changing them changes nothing stored or kept
                row.read_status = "changed"
    assert store.status_rows("D_1999999999", TO) == ([], [])
    for document in documents:
        assert store.status_rows(document.deposition_id, document.content_type)[0] == document.statuses
