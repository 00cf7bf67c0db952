"""The data model and deposition-id validation, without any I/O."""

from __future__ import annotations

import pytest

from wwpdb.apps.msgmodule.errors import InvalidInputError, MessagingError
from wwpdb.apps.msgmodule.model import (
    CATEGORIES,
    Document,
    FileReference,
    Message,
    row_fields,
    validate_deposition_id,
)


def test_row_fields_are_the_category_items_in_spec_order():
    for category in CATEGORIES:
        assert row_fields(category.row_type) == category.items
    assert [c.name for c in CATEGORIES] == [
        "pdbx_deposition_message_info",
        "pdbx_deposition_message_file_reference",
        "pdbx_deposition_message_status",
        "pdbx_deposition_message_origcomm_reference",
    ]


@pytest.mark.parametrize("good", ["D_1000000001", "G_1", "D_000219", "D_0"])
def test_valid_deposition_ids(good):
    assert validate_deposition_id(good) == good


@pytest.mark.parametrize(
    "bad",
    ["", "D_", "../D_1", "/etc/passwd", "D_1/../../x", "d_1000", "X_123", "D_12a", "D_1\n", " D_1", None, 12, "D_１２"],
)
def test_invalid_deposition_ids_raise_value_error(bad):
    with pytest.raises(ValueError, match="invalid deposition id") as raised:
        validate_deposition_id(bad)
    assert isinstance(raised.value, MessagingError)


def test_put_message_numbers_new_rows_after_the_highest_ordinal():
    doc = Document("D_1", "messages-to-depositor")
    doc.messages.append(Message(ordinal_id="7", message_id="a"))
    doc.file_references.append(FileReference(ordinal_id="3", message_id="a"))
    doc.put_message(Message(message_id="b"), [FileReference(message_id="b"), FileReference(message_id="b")])
    assert [m.ordinal_id for m in doc.messages] == ["7", "8"]
    assert [r.ordinal_id for r in doc.file_references] == ["3", "4", "5"]


def test_put_message_with_an_existing_id_replaces_the_draft_and_its_references():
    doc = Document("D_1", "messages-to-depositor")
    doc.put_message(Message(message_id="a", message_text="draft 1"), [FileReference(message_id="a")])
    doc.put_message(Message(message_id="z", message_text="other"))
    doc.put_message(Message(message_id="a", message_text="draft 2"), [])
    assert [(m.message_id, m.ordinal_id, m.message_text) for m in doc.messages] == [
        ("a", "1", "draft 2"),
        ("z", "2", "other"),
    ]
    assert doc.file_references == []


def test_set_status_creates_a_missing_row_and_changes_only_given_flags():
    doc = Document("D_1", "messages-to-depositor")
    doc.set_status("m1", "D_1", read_status="Y")
    doc.set_status("m1", "D_1", action_reqd="Y")
    assert [s.as_dict() for s in doc.statuses] == [
        {
            "message_id": "m1",
            "deposition_data_set_id": "D_1",
            "read_status": "Y",
            "action_reqd": "Y",
            "for_release": "N",
        }
    ]
    with pytest.raises(InvalidInputError, match="read_status"):
        doc.set_status("m1", "D_1", read_status="yes")


def test_from_dict_rejects_unknown_items():
    with pytest.raises(InvalidInputError, match="colour"):
        Message.from_dict({"message_id": "a", "colour": "red"})
