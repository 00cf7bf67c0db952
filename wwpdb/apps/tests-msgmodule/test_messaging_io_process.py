"""OneDep's processMsg: its 3-tuple, the text its request objects send, drafts, attachments, archived mail,
notifications and hooks, in every stage."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import test_messaging_io_support as support
from conftest import TEST_DATA
from test_messaging_io_support import DEP, Request, Site, SmtpServer, make_site, write_scenario

from wwpdb.apps.msgmodule.io.mail import SmtpMailDelivery
from wwpdb.apps.msgmodule.io.messages import OutgoingMessage
from wwpdb.apps.msgmodule.io.MessagingIo import MessagingIo
from wwpdb.apps.msgmodule.io.site import SiteServices
from wwpdb.apps.msgmodule.stores.cif import CifMessageStore

site, two_site, filled, filled_two = support.site, support.two_site, support.filled, support.filled_two
smtp = support.smtp
MODEL = TEST_DATA / "messaging-io" / "model.cif"
TYPED = "Gr\u00f6\u00dfe: 1.7 \u00c5 <b>bold</b>\n;semi & more"  # what the annotator typed


def encode_like_onedep(text: str) -> str:
    """What OneDep's `Message.fromReqObj` makes of typed text (`encodeUtf8ToCif`)."""
    return text.encode("ascii", "xmlcharrefreplace").decode("ascii").replace("\n;", "\n ;")


def from_request(
    state: str,
    *,
    subject: str = "Hello",
    text: str = "Dear depositor",
    view: str = "msgs",
    send_status: str = "",
    message_id: str = "",
    parent: str = "",
    message_type: str = "",
    files: list[Any] | None = None,
) -> OutgoingMessage:
    """A message as OneDep's web app builds it from a request (`Message.fromReqObj`)."""
    data: dict[str, Any] = {
        "deposition_data_set_id": DEP,
        "sender": "annotator",
        "message_subject": encode_like_onedep(subject),
        "message_text": encode_like_onedep(text),
        "message_type": message_type or "text",
        "context_type": "",
        "context_value": "",
        "send_status": send_status or "Y",
        "message_state": state,
    }
    if state == "draft" and message_id:
        data["message_id"] = message_id
    if state == "livemsg" and parent:
        data["parent_message_id"] = parent
    return OutgoingMessage(data, files or [], view)


def archive_file(site: Site, name: str, content: str = "x") -> Path:
    folder = site.archive / DEP
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{DEP}_{name}"
    path.write_text(content)
    return path


# -- the 3-tuple and what is stored --------------------------------------------------------------------------


def test_a_live_message_is_appended_and_its_id_given_back(filled: Site):
    statuses_before = filled.load("messages-to-depositor").statuses
    message = from_request("livemsg", parent="d1")
    assert filled.io().processMsg(message) == (True, False, [])
    stored = filled.load("messages-to-depositor").messages[-1]
    assert stored.message_id == message.messageId and len(stored.message_id or "") == 36
    assert (stored.ordinal_id, stored.parent_message_id, stored.send_status, stored.message_type) == (
        "5",
        "d1",
        "Y",
        "text",
    )
    assert stored.timestamp and stored.timestamp[:2] == "20"
    # OneDep writes no status row for an annotator's message.
    assert filled.load("messages-to-depositor").statuses == statuses_before


def test_entity_encoded_text_is_stored_once_encoded(site: Site):
    io = site.io()
    assert io.processMsg(from_request("livemsg", subject="\u00c5 <subject>", text=TYPED))[0] is True
    stored = site.load("messages-to-depositor").messages[-1]
    assert (stored.message_subject, stored.message_text) == ("\u00c5 <subject>", TYPED)
    if site.cif is not None:
        raw = (site.archive / DEP / f"{DEP}_messages-to-depositor_P1.cif.V1").read_text(encoding="ascii")
        assert "Gr&#246;&#223;e: 1.7 &#197; <b>bold</b>\n ;semi & more" in raw  # as OneDep's files hold it
        assert "&#38;" not in raw
    if site.db is not None:
        assert site.db.load(DEP, "messages-to-depositor").messages[-1].message_text == TYPED
    row = io.getMsgRowList(DEP)["RECORD_LIST"][-1]
    assert row[8:10] == [
        "\u00c5 &lt;subject&gt;",
        "Gr\u00f6\u00dfe: 1.7 \u00c5 &lt;b&gt;bold&lt;/b&gt;<br />;semi & more",
    ]
    assert io.getMsg(stored.message_id, DEP)["message_text"] == row[9]


def test_drafts_saved_again_and_then_sent(filled_two: Site):
    io = filled_two.io()
    first = from_request("livemsg", subject="Draft", text="v1", send_status="N")
    assert io.processMsg(first) == (True, False, [])
    draft_id = first.messageId
    stored = filled_two.load("messages-to-depositor").find_message(draft_id)
    assert stored is not None and stored.send_status == "N"
    again = from_request("draft", subject="Draft 2", text="v2 \u00e9", send_status="N", message_id=draft_id)
    assert io.processMsg(again) == (True, False, [])
    edited = filled_two.load("messages-to-depositor").find_message(draft_id)
    assert edited is not None
    assert (edited.message_subject, edited.message_text, edited.send_status) == ("Draft 2", "v2 \u00e9", "N")
    assert (edited.ordinal_id, edited.sender) == (stored.ordinal_id, "annotator")  # the rest stays
    sent = from_request("draft", subject="Final", text="v3", send_status="Y", message_id=draft_id)
    assert io.processMsg(sent) == (True, False, [])
    final = filled_two.load("messages-to-depositor")
    assert [m.message_id for m in final.messages].count(draft_id) == 1
    assert final.find_message(draft_id).send_status == "Y"  # type: ignore[union-attr]
    assert "Final" in [row[8] for row in io.getMsgRowList(DEP)["RECORD_LIST"]]


def test_process_msg_never_raises(tmp_path: Path, filled_two: Site):
    nowhere = MessagingIo(Request(identifier=DEP, content_type="msgs"), store=CifMessageStore(tmp_path / "none"))
    assert nowhere.processMsg(from_request("livemsg")) == (False, False, [])
    io = filled_two.io()
    assert io.processMsg(object()) == (False, False, [])
    assert io.processMsg(from_request("livemsg", view="everything")) == (False, False, [])
    assert io.processMsg({"deposition_data_set_id": DEP, "message_text": "x", "status": {"read_status": "?"}}) == (
        False,
        False,
        [],
    )


def test_plain_dicts_with_references_status_and_content_type(filled_two: Site):
    io = filled_two.io()
    data: dict[str, Any] = {
        "deposition_data_set_id": DEP,
        "message_text": "a note",
        "content_type": "notes",
        "file_references": [{"content_type": "model-annotate", "content_format": "pdbx", "version_id": "3"}],
    }
    assert io.processMsg(data) == (True, True, [])  # a pdbx model-annotate reference: the model went out
    note = filled_two.load("notes-from-annotator")
    assert note.messages[-1].message_id == data["message_id"]  # given back in the dict
    assert [(r.content_type, r.version_id) for r in note.references_of(data["message_id"])] == [("model-annotate", "3")]
    depositor = {
        "deposition_data_set_id": DEP,
        "message_text": "hi",
        "content_type": "messages-from-depositor",
        "status": {"read_status": "N", "action_reqd": "Y"},
    }
    assert io.processMsg(depositor)[0] is True
    status = filled_two.load("messages-to-depositor").find_status(depositor["message_id"])
    assert status is not None and (status.read_status, status.action_reqd, status.for_release) == ("N", "Y", "N")


def test_the_high_watermark_guards_against_writing_over_a_damaged_file(filled_two: Site):
    damaged = filled_two.io(msgs_high_watermark="9")  # the page saw 9 messages; the file holds 4
    assert damaged.processMsg(from_request("livemsg")) == (False, False, [])
    assert len(filled_two.load("messages-to-depositor").messages) == 4
    assert filled_two.io(msgs_high_watermark="4").processMsg(from_request("livemsg"))[0] is True
    assert filled_two.io(notes_high_watermark="2").processMsg(from_request("livemsg", view="notes"))[0] is True
    assert filled_two.io(notes_high_watermark="5").processMsg(from_request("livemsg", view="notes"))[0] is False


# -- archived and forwarded mail ----------------------------------------------------------------------------------


def test_archived_mail_gets_its_original_communication_row(filled: Site):
    io = filled.io(
        "notes",
        orig_sender="J\u00f6rg <j@example.org>",
        orig_recipient="help@example.org",
        orig_date="2024-05-01 10:00:00",
        orig_subject="Question &#228;",
        orig_identifier=DEP,
        orig_attachments="a.pdf",
        mode="manual",
    )
    message = from_request("livemsg", view="notes", subject="ARCHIVED: Question", message_type="archive_manual")
    assert io.processMsg(message)[0] is True
    notes = filled.load("notes-from-annotator")
    (orig,) = notes.origcomm_of(message.messageId)
    assert (orig.orig_sender, orig.orig_recipient, orig.orig_message_subject) == (
        "J\u00f6rg <j@example.org>",
        "help@example.org",
        "Question \u00e4",
    )
    assert orig.orig_timestamp == "2024-05-01 01:00:00"  # typed in local time (Tokyo), stored in GMT
    assert (orig.orig_deposition_data_set_id, orig.orig_attachments, orig.deposition_data_set_id) == (DEP, "a.pdf", DEP)
    history = filled.io("commhstry").getMsgRowList(DEP)["RECORD_LIST"]
    assert history[-1][12:] == [
        "",
        DEP,
        "2024-05-01 10:00:00",
        "J\u00f6rg &lt;j@example.org&gt;",
        "help@example.org",
        "Question \u00e4",
        "a.pdf",
    ]


def test_forwarded_mail_too_but_not_archives_without_original(filled_two: Site):
    io = filled_two.io(orig_sender="someone@example.org", orig_date="2024-05-01 10:00:00")
    forwarded = from_request("livemsg", message_type="forward")
    io.processMsg(forwarded)
    assert len(filled_two.load("messages-to-depositor").origcomm_of(forwarded.messageId)) == 1
    noorig = from_request("livemsg", view="notes", message_type="archive_auto_noorig")
    io.processMsg(noorig)
    assert filled_two.load("notes-from-annotator").origcomm_of(noorig.messageId) == []


# -- attachments -------------------------------------------------------------------------------------------------


def test_attachments_become_annotate_milestones_and_references(site: Site):
    write_scenario(site.store)
    archive_file(site, "model_P1.cif.V1", "old model")
    archive_file(site, "model_P1.cif.V2", "model")
    archive_file(site, "validation-report_P1.pdf.V1", "report")
    archive_file(site, "validation-data_P1.xml.V1", "data")
    io = site.io()
    message = from_request("livemsg", files=["model", "val-report-batch"])
    assert io.processMsg(message) == (True, True, [])  # a model went out: OneDep's second element
    references = site.load("messages-to-depositor").references_of(message.messageId)
    assert [
        (r.content_type, r.content_format, r.partition_number, r.version_id, r.storage_type) for r in references
    ] == [
        ("model-annotate", "pdbx", "1", "1", "archive"),
        ("validation-report-annotate", "pdf", "1", "1", "archive"),
        ("validation-data-annotate", "xml", "1", "1", "archive"),
    ]
    assert (site.archive / DEP / f"{DEP}_model-annotate_P1.cif.V1").read_text() == "model"
    again = from_request("livemsg", files=["model"])
    io.processMsg(again)
    assert site.load("messages-to-depositor").references_of(again.messageId)[0].version_id == "1"  # same file
    archive_file(site, "model_P1.cif.V3", "new model")
    newer = from_request("livemsg", files=["model"])
    io.processMsg(newer)
    assert site.load("messages-to-depositor").references_of(newer.messageId)[0].version_id == "2"
    files = io.getFilesRfrncd(DEP, message.messageId)[message.messageId]
    assert [Path(f["relative_file_url"]).name for f in files] == [
        f"{DEP}_model-annotate_P1.cif.V1",
        f"{DEP}_validation-report-annotate_P1.pdf.V1",
        f"{DEP}_validation-data-annotate_P1.xml.V1",
    ]


def test_a_missing_attachment_fails_the_message_and_stores_nothing(filled_two: Site):
    archive_file(filled_two, "model_P1.cif.V1")
    before = filled_two.load("messages-to-depositor")
    message = from_request("livemsg", files=["model", "sf"])
    assert filled_two.io().processMsg(message) == (False, False, ["sf"])
    assert filled_two.load("messages-to-depositor") == before
    assert filled_two.io().processMsg(from_request("livemsg", files=["no-such-token"])) == (
        False,
        False,
        ["no-such-token"],
    )


def test_auxiliary_files_from_the_request_take_the_next_partitions(filled_two: Site, tmp_path: Path):
    upload = tmp_path / "upload"
    upload.mkdir()
    (upload / "figure.pdf").write_text("figure")
    (upload / "coords.cif").write_text("coordinates")
    io = filled_two.io(
        auxFilePath1=str(upload / "figure.pdf"),
        auxFileType1="pdf",
        auxFilePath2=str(upload / "coords.cif"),
        auxFileType2="cif",
    )
    message = from_request("livemsg", files=["aux-file1", "aux-file2"])
    assert io.processMsg(message) == (True, False, [])
    references = filled_two.load("messages-to-depositor").references_of(message.messageId)
    # The scenario already refers to auxiliary file partition 2: these take 3 and 4.
    assert [(r.content_type, r.content_format, r.partition_number, r.upload_file_name) for r in references] == [
        ("auxiliary-file-annotate", "pdf", "3", "figure.pdf"),
        ("auxiliary-file-annotate", "pdbx", "4", "coords.cif"),
    ]
    assert (filled_two.archive / DEP / f"{DEP}_auxiliary-file-annotate_P4.cif.V1").read_text() == "coordinates"
    unknown = filled_two.io(auxFilePath1=str(upload / "figure.pdf"), auxFileType1="docx")
    assert unknown.processMsg(from_request("livemsg", files=["aux-file1"])) == (False, False, ["aux-file"])


def test_drafts_and_group_messages_attach_nothing(filled_two: Site):
    archive_file(filled_two, "model_P1.cif.V1")
    draft = from_request("livemsg", files=["model"], send_status="N")
    assert filled_two.io().processMsg(draft) == (True, False, [])
    assert filled_two.load("messages-to-depositor").references_of(draft.messageId) == []
    group = filled_two.io()
    group.setGroupId("G_1000007")
    to_group = from_request("livemsg", files=["model"])
    assert group.processMsg(to_group) == (True, False, [])
    stored = filled_two.load("messages-to-depositor", "G_1000007")
    assert [m.message_id for m in stored.messages] == [to_group.messageId] and stored.file_references == []


# -- notifications and hooks ----------------------------------------------------------------------------------------


def mailing_site(base: Site, server: SmtpServer) -> Site:
    (base.archive / DEP).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(MODEL, base.archive / DEP / f"{DEP}_model_P1.cif.V1")
    services = SiteServices.defaults(base.archive, {})
    services.mail = SmtpMailDelivery("127.0.0.1", server.port, timeout=10)
    services.deposition_url = "https://deposit.example.org"
    base.extra["site"] = services
    return base


def test_a_sent_message_is_mailed_to_the_contact_authors_and_hooks_run(filled: Site, smtp: SmtpServer):
    mailing_site(filled, smtp)
    io = filled.io()
    stored: list[dict[str, Any]] = []
    io.message_stored_hooks.append(stored.append)
    message = from_request("livemsg", subject="Your structure", text="Please look at \u00c5 <here>")
    assert io.processMsg(message) == (True, False, [])
    ((sender, recipients, email),) = smtp.received
    assert recipients == ["jane.doe@example.org", "ole@example.org"]
    assert sender == "noreply@mail.wwpdb.org"
    assert email["Subject"] == f"Your structure - DEP ID: {DEP}"
    body = email.get_content()
    assert "Dr. Doe, Dr. Smith" in body and "Please look at \u00c5 <here>" in body
    assert "https://deposit.example.org" in body and "(PDB ID 9ZZZ)" in body
    assert [m["message_id"] for m in stored] == [message.messageId]


def test_no_mail_for_drafts_reminders_plain_notes_or_groups(filled_two: Site, smtp: SmtpServer):
    mailing_site(filled_two, smtp)
    hooked: list[dict[str, Any]] = []
    io = filled_two.io()
    io.message_stored_hooks.append(hooked.append)
    io.processMsg(from_request("livemsg", send_status="N"))
    io.processMsg(from_request("livemsg", view="notes"))
    io.processMsg(
        OutgoingMessage(
            {"deposition_data_set_id": DEP, "message_text": "x", "send_status": "Y", "message_state": "livemsg"},
            reminder=True,
        )
    )
    group = filled_two.io()
    group.setGroupId("G_1000007")
    group.message_stored_hooks.append(hooked.append)
    group.processMsg(from_request("livemsg"))
    assert smtp.received == [] and hooked == []


def test_a_mail_server_that_is_down_does_not_undo_the_message(filled_two: Site, smtp: SmtpServer):
    mailing_site(filled_two, smtp)
    smtp.__exit__()
    failing: list[Any] = []

    def broken_hook(message: dict[str, Any]) -> None:
        failing.append(message)
        raise RuntimeError("hook failure")

    io = filled_two.io()
    io.message_stored_hooks.append(broken_hook)
    message = from_request("livemsg")
    assert io.processMsg(message) == (True, False, [])
    assert filled_two.load("messages-to-depositor").find_message(message.messageId) is not None
    assert len(failing) == 1


def test_an_auto_note_is_mailed_without_the_archived_prefix(filled_two: Site, smtp: SmtpServer):
    mailing_site(filled_two, smtp)
    note = OutgoingMessage.auto_note(
        {
            "deposition_data_set_id": DEP,
            "sender": "auto",
            "send_status": "Y",
            "message_subject": "ARCHIVED: Reminder",
            "message_text": "Please reply.",
        }
    )
    assert filled_two.io().processMsg(note) == (True, False, [])
    stored = filled_two.load("notes-from-annotator").messages[-1]
    assert (stored.message_type, stored.message_subject) == ("archive_auto_noorig", "ARCHIVED: Reminder")
    ((_, _, email),) = smtp.received
    assert email["Subject"] == "Reminder"
    assert email.get_content().startswith("Please reply.")


def test_the_dual_stages_write_both_stores(tmp_path: Path, request: pytest.FixtureRequest):
    dual = make_site("db-primary", "sqlite", tmp_path, request)
    message = from_request("livemsg", text=TYPED)
    assert dual.io().processMsg(message)[0] is True
    assert dual.cif is not None and dual.db is not None
    for store in (dual.cif, dual.db):
        assert store.load(DEP, "messages-to-depositor").find_message(message.messageId).message_text == TYPED  # type: ignore[union-attr]
