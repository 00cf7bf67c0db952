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
