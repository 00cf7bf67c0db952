"""What OneDep's page shows: every value escaped, one order for every store and path, message texts ending as
OneDep's reader gives them back, and the request object where OneDep's own test reads it."""

from __future__ import annotations

import io as text_io
from typing import Any

import pytest
from conftest import FakeRequest

from wwpdb.apps.msgmodule.cifformat import format_document, parse_text
from wwpdb.apps.msgmodule.codec import decode_text
from wwpdb.apps.msgmodule.io.display import shown_text
from wwpdb.apps.msgmodule.io.MessagingIo import MessagingIo
from wwpdb.apps.msgmodule.model import Document, Message
from wwpdb.apps.msgmodule.stores.base import MessageStore

pytestmark = pytest.mark.integration
DEP = "D_1000000301"
TO, FROM, NOTES = "messages-to-depositor", "messages-from-depositor", "notes-from-annotator"
COLUMNS = list(Message.ITEMS)


def a_message(mid: str, when: str | None, text: str = "text", **items: Any) -> Message:
    values: dict[str, Any] = {
        "message_id": mid,
        "deposition_data_set_id": DEP,
        "timestamp": when,
        "sender": "annotator",
        "parent_message_id": mid,
        "message_subject": f"subject of {mid}",
        "message_text": text,
        "message_type": "text",
        "send_status": "Y",
        **items,
    }
    return Message(**values)


def save(store: MessageStore, content_type: str, messages: list[Message]) -> None:
    for ordinal, message in enumerate(messages, 1):
        message.ordinal_id = str(ordinal)
    store.save(Document(DEP, content_type, messages=messages))


def io_on(store: MessageStore, view: str = "msgs", **values: str) -> MessagingIo:
    return MessagingIo(FakeRequest(identifier=DEP, content_type=view, **values), False, None, store=store)


# -- (a) every value getMsg returns is escaped ---------------------------------------------------------------------


def test_get_msg_escapes_the_context_type_and_value_like_every_other_value(store):
    markup = '<img src=x onerror="alert(1)">'
    save(store, TO, [a_message("m1", "2024-01-01 10:00:00", context_type=markup, context_value=f"<b>{markup}</b>")])
    shown = io_on(store).getMsg("m1")
    assert shown["context_type"] == '&lt;img src=x onerror="alert(1)"&gt;'
    assert shown["context_value"] == '&lt;b&gt;&lt;img src=x onerror="alert(1)"&gt;&lt;/b&gt;'
    assert not any("<" in value or ">" in value for value in shown.values())
    assert store.load(DEP, TO).messages[0].context_type == markup  # the stored value is as written


# -- (b) one order for every store and path ---------------------------------------------------------------------------

T = "2024-01-01 10:00:00"
# Timestamps that a padding or case-blind collation would tie or reorder, in file orders that expose it.
EDGE_TIMES: dict[str, list[str | None]] = {
    TO: [
        T + "  ",
        T + "\t",
        "a",
        "",
        T + " ",
        "2024-01-01 10:00:00\u00a0",
        "\U0001f600",
        None,
        "\u00e9",
        "B",
        T + "\x00",
    ],
    FROM: [T + "   ", T, "A", "b", "2024-01-01 10:00:0", "E\u0301", "\u00e9 ", T + " x"],
}


PREFIX = {TO: "to", FROM: "from"}


def edge_site(store: MessageStore) -> None:
    for content_type, times in EDGE_TIMES.items():
        save(store, content_type, [a_message(f"{PREFIX[content_type]}-{n}", when) for n, when in enumerate(times)])


def order_of(page: Any) -> list[str | None]:
    return [message.message_id for _, message in page.messages]


def test_the_database_orders_a_page_as_the_library_sorts_every_stored_timestamp(store):
    edge_site(store)
    wanted = order_of(MessageStore.page_messages(store, DEP, [FROM, TO]))  # the library's own sort, on this store
    assert len(wanted) == 19
    times = {m.message_id: m.timestamp for ct in (FROM, TO) for m in store.load(DEP, ct).messages}
    assert [times[mid] or "" for mid in wanted] == sorted(times[mid] or "" for mid in wanted)
    assert order_of(store.page_messages(DEP, [FROM, TO])) == wanted
    for offset in range(0, 19, 4):  # page by page too
        assert order_of(store.page_messages(DEP, [FROM, TO], offset=offset, limit=4)) == wanted[offset : offset + 4]
    # OneDep's table: the first page (asked of the store) and the whole list (sorted here) agree.
    io = io_on(store)
    whole = [row[1] for row in io.getMsgRowList(DEP)["RECORD_LIST"]]
    paged = [
        row[1]
        for row in io.getMsgRowList(DEP, p_bServerSide=True, p_iDisplayStart=0, p_iDisplayLength=50)["RECORD_LIST"]
    ]
    assert paged == whole == wanted
    assert [
        message["message_id"] for message in io.get(DEP) if message["content_type"] != NOTES
    ] == wanted  # the service


# -- (c) message texts end as OneDep's reader gives them back -------------------------------------------------------

# Blanks at the end of text fields (and of values that stay on one line), in every form the writer knows.
TEXTS = [
    "ends in spaces  ",
    "ends in a tab\t",
    "a line and its newline \n",
    "blank last line\n  ",
    "mixed blanks\n\t \t",
    "two lines, blanks on both  \nsecond  ",
    "blank lines at the end\n\n",
    "  \n  ",
    "only the newline\n",
    'it\'s "both quotes" ',
    "x" * 2100 + "  ",
    "non-breaking space at the end\u00a0",
    "ideographic space\u3000 ",
    "carriage return \r\n",
    "vertical tab\x0b ",
    "a ;\n;  ",
    "   ",
]


def pdbx_reader_texts(document: Document) -> list[str]:
    """The message texts OneDep's reader (mmcif's PdbxReader) reads from the file of `document`."""
    from mmcif.io.PdbxReader import PdbxReader

    containers: list[Any] = []
    PdbxReader(text_io.StringIO(format_document(document))).read(containers)
    table = containers[0].getObj("pdbx_deposition_message_info")
    return [table.getValue("message_text", row) for row in range(table.getRowCount())]


def test_message_texts_end_as_onedeps_reader_reads_them_and_are_stored_exactly(store):
    messages = [a_message(f"m{n}", f"2024-01-01 10:00:{n:02d}", text) for n, text in enumerate(TEXTS)]
    save(store, TO, messages)
    stored = store.load(DEP, TO)
    assert [m.message_text for m in stored.messages] == TEXTS  # the stored value stays exact
    assert parse_text(format_document(stored), DEP, TO) == stored  # and so does the CIF round trip
    read_by_onedep = [decode_text(text) for text in pdbx_reader_texts(stored)]
    assert read_by_onedep != TEXTS  # the reader does drop blanks: the test would see a difference
    expected = [shown_text(text, "text") for text in read_by_onedep]
    text_column = COLUMNS.index("message_text")
    io = io_on(store)
    assert [row[text_column] for row in io.getMsgRowList(DEP)["RECORD_LIST"]] == expected
    first_page = io.getMsgRowList(DEP, p_bServerSide=True, p_iDisplayStart=0, p_iDisplayLength=100)["RECORD_LIST"]
    assert [row[text_column] for row in first_page] == expected
    assert [io.getMsg(f"m{n}")["message_text"] for n in range(len(TEXTS))] == [
        shown_text(text, "text", break_lines=True) for text in read_by_onedep
    ]


# -- (d) the request object where OneDep's own test reads it --------------------------------------------------------


def test_the_request_object_is_where_onedeps_test_reads_it(store):
    request = FakeRequest(identifier=DEP, content_type="msgs")
    io = MessagingIo(request, False, None, store=store)
    assert io._MessagingIo__reqObj is request  # type: ignore[attr-defined]
    # OneDep's test hands it to its Message.getOutputFileTarget, which asks it for values.
    assert io._MessagingIo__reqObj.getValue("identifier") == DEP  # type: ignore[attr-defined]
    assert MessagingIo(None, store=store, identifier=DEP)._MessagingIo__reqObj is None  # type: ignore[attr-defined]
