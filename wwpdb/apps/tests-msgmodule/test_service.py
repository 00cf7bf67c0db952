"""The service API behaves the same in every stage."""

from __future__ import annotations

import re

import pytest
from conftest import FakeRequest, stage_config

from wwpdb.apps.msgmodule.db import schema_versions
from wwpdb.apps.msgmodule.errors import MessagingError
from wwpdb.apps.msgmodule.io.MessagingFactory import MessagingFactory, create_messaging_service

STAGE_CASES = [
    pytest.param(("cif-only", "sqlite"), id="cif-only"),
    pytest.param(("dual-write", "sqlite"), id="dual-write-sqlite"),
    pytest.param(("shadow", "sqlite"), id="shadow-sqlite"),
    pytest.param(("db-primary", "sqlite"), id="db-primary-sqlite"),
    pytest.param(("db-only", "sqlite"), id="db-only-sqlite"),
    pytest.param(("dual-write", "mysql"), id="dual-write-mysql", marks=pytest.mark.mysql),
    pytest.param(("db-primary", "mysql"), id="db-primary-mysql", marks=pytest.mark.mysql),
    pytest.param(("db-only", "mysql"), id="db-only-mysql", marks=pytest.mark.mysql),
]


@pytest.fixture(params=STAGE_CASES)
def svc(request, tmp_path):
    stage, database = request.param
    url = request.getfixturevalue(f"{database}_url")
    schema_versions.upgrade(url)
    return MessagingFactory.create_messaging_service(config=stage_config(tmp_path, stage, url))


def test_set_fills_onedep_defaults_and_get_returns_it(svc):
    mid = svc.set(
        deposition_id="D_1000000001",
        message_data={
            "sender": "annotator@rcsb.org",
            "message_subject": "Validation report",
            "message_text": "Please review ... Å",
            "message_type": "text",
        },
        content_type="messages-to-depositor",
    )
    assert re.fullmatch(r"[0-9a-f-]{36}", mid)
    (message,) = svc.get(deposition_id="D_1000000001")
    assert message["message_id"] == mid
    assert message["parent_message_id"] == mid
    assert message["deposition_data_set_id"] == "D_1000000001"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", message["timestamp"])
    assert (message["message_type"], message["send_status"], message["ordinal_id"]) == ("text", "Y", "1")
    assert message["message_text"] == "Please review ... Å"
    assert message["content_type"] == "messages-to-depositor"
    assert message["status"] == {
        "message_id": mid,
        "deposition_data_set_id": "D_1000000001",
        "read_status": "N",
        "action_reqd": "N",
        "for_release": "N",
    }
    assert message["file_references"] == []


def test_get_orders_all_content_types_oldest_first(svc):
    svc.set("D_2", {"message_text": "late", "timestamp": "2024-03-01 00:00:00"}, "messages-to-depositor")
    svc.set("D_2", {"message_text": "early", "timestamp": "2024-01-01 00:00:00"}, "messages-from-depositor")
    svc.set("D_2", {"message_text": "note", "timestamp": "2024-02-01 00:00:00"}, "notes-from-annotator")
    assert [m["message_text"] for m in svc.get("D_2")] == ["early", "note", "late"]
    assert [m["message_text"] for m in svc.get("D_2", content_type="notes-from-annotator")] == ["note"]
    notes = svc.get("D_2", content_type="notes-from-annotator")
    assert notes[0]["status"] is None  # notes get no status row


def test_file_references_status_and_draft_editing(svc):
    parent = svc.set("D_3", {"message_text": "the question"})
    mid = svc.set(
        "D_3",
        {
            "message_text": "draft",
            "send_status": "N",
            "sender": "annotator@example.org",
            "message_subject": "Reply",
            "parent_message_id": parent,
        },
        file_references=[
            {"content_type": "model-annotate", "content_format": "pdbx", "version_id": "1"},
            {"content_type": "model-annotate", "content_format": "pdb", "version_id": "1"},
        ],
        status={"action_reqd": True},
    )
    # Editing the draft with only its text keeps everything else it had.
    assert svc.set("D_3", {"message_id": mid, "message_text": "final"}) == mid
    edited = svc.get_message("D_3", mid)
    assert (edited["message_text"], edited["send_status"], edited["sender"], edited["message_subject"]) == (
        "final",
        "N",
        "annotator@example.org",
        "Reply",
    )
    assert edited["parent_message_id"] == parent
    assert [r["content_format"] for r in edited["file_references"]] == ["pdbx", "pdb"]
    assert edited["status"]["action_reqd"] == "Y"
    # Sending it: the status changes, and references given replace the stored ones.
    svc.set(
        "D_3",
        {"message_id": mid, "send_status": "Y"},
        file_references=[{"content_type": "model-annotate", "content_format": "pdbx"}],
    )
    sent = svc.get_message("D_3", mid)
    assert (sent["send_status"], sent["message_text"]) == ("Y", "final")
    assert [(r["ordinal_id"], r["content_format"], r["message_id"]) for r in sent["file_references"]] == [
        ("1", "pdbx", mid)
    ]
    assert [m["message_id"] for m in svc.get("D_3")] == [parent, mid]


def test_mark_read_and_tag(svc):
    mid = svc.set("D_4", {"message_text": "hello"}, "messages-from-depositor")
    svc.mark_read("D_4", mid)
    svc.tag("D_4", mid, action_reqd=True, for_release=False)
    status = svc.get_message("D_4", mid)["status"]
    assert (status["read_status"], status["action_reqd"], status["for_release"]) == ("Y", "Y", "N")
    svc.mark_read("D_4", mid, read=False)
    assert svc.get_message("D_4", mid)["status"]["read_status"] == "N"
    svc.mark_read("D_4", "never-set-message")  # creates the missing status row
    assert svc.get_message("D_4", "never-set-message") is None


def test_missing_deposition_is_empty_not_an_error(svc):
    assert svc.get("D_99999") == []
    assert svc.get_message("D_99999", "x") is None


@pytest.mark.parametrize("bad", ["../D_1", "D_1/..", "", "1000", None])
def test_bad_ids_raise_value_error_before_anything(svc, bad):
    with pytest.raises(ValueError, match="invalid deposition id"):
        svc.set(bad, {"message_text": "x"})
    with pytest.raises(ValueError, match="invalid deposition id"):
        svc.get(bad)
    with pytest.raises(ValueError, match="invalid deposition id"):
        svc.mark_read(bad, "m")


def test_bad_message_data_is_a_value_error(svc):
    with pytest.raises(ValueError, match="colour"):
        svc.set("D_5", {"message_text": "x", "colour": "red"})
    with pytest.raises(ValueError, match="read_status"):
        svc.set("D_5", {"message_text": "x"}, status={"read_status": "maybe"})
    assert svc.get("D_5") == []


def test_errors_derive_from_messaging_error(svc):
    with pytest.raises(MessagingError):
        svc.get("not-an-id")


def test_request_object_site_id_selects_the_site_section(tmp_path, isolated_configuration):
    (isolated_configuration / "msgmodule.cfg").write_text(
        f"[msgmodule]\nMSGCIF_ROOT = {tmp_path}/default\n\n[site:PDBJ]\nMSGCIF_ROOT = {tmp_path}/pdbj\n"
    )
    (tmp_path / "pdbj").mkdir()
    svc = create_messaging_service(FakeRequest(WWPDB_SITE_ID="PDBJ", identifier="D_1"))
    svc.set("D_1", {"message_text": "hi"})
    assert (tmp_path / "pdbj" / "D_1").is_dir()
    assert MessagingFactory.get_backend_info(site_id="PDBJ")["cif_root"] == f"{tmp_path}/pdbj"


def test_empty_strings_from_forms_get_the_defaults_too(svc):
    mid = svc.set(
        "D_6",
        {
            "message_text": "x",
            "parent_message_id": "",
            "timestamp": "",
            "message_type": "",
            "send_status": "",
            "deposition_data_set_id": "",
        },
    )
    message = svc.get_message("D_6", mid)
    assert (message["parent_message_id"], message["message_type"], message["send_status"]) == (mid, "text", "Y")
    assert message["timestamp"] and message["deposition_data_set_id"] == "D_6"
