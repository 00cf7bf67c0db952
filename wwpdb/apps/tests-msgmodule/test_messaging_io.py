"""OneDep's MessagingIo interface: the same answers in every stage, worked out from the files."""

from __future__ import annotations

import shutil

import pytest
from conftest import EXAMPLE_ARCHIVE, FakeRequest, stage_config

from wwpdb.apps.msgmodule.archive_tools import MigrationOptions, migrate_batch
from wwpdb.apps.msgmodule.db import schema_versions
from wwpdb.apps.msgmodule.io.MessagingFactory import create_messaging_service
from wwpdb.apps.msgmodule.io.MessagingIo import MessagingIo
from wwpdb.apps.msgmodule.model import Message
from wwpdb.apps.msgmodule.stores.cif import CifMessageStore
from wwpdb.apps.msgmodule.stores.db import DbMessageStore

STAGES = ["cif-only", "db-only", "dual-write"]
BIG = "D_0000265933"  # 6 messages to, 1 from the depositor, 3 notes (one with an e-mail reference)
THREAD = "D_0000277853"  # a reply to a depositor message; statuses of depositor messages


class Site:
    """An archive, and a database holding the same data, served in one stage."""

    def __init__(self, tmp_path, root, db_url, stage):
        self.root, self.db_url, self.stage = root, db_url, stage
        schema_versions.upgrade(db_url)
        outcomes = migrate_batch(MigrationOptions(str(root), db_url), CifMessageStore(root).list_depositions())
        assert all(o.status == "migrated" for o in outcomes), [o.errors for o in outcomes]
        self.config = stage_config(tmp_path, stage, db_url, MSGCIF_ROOT=str(root))

    def io(self, deposition_id: str, view: str = "msgs") -> MessagingIo:
        request = FakeRequest(identifier=deposition_id, content_type=view, WWPDB_SITE_ID="RCSB")
        return create_messaging_service(request, config=self.config)


@pytest.fixture(params=STAGES)
def sample_site(request, tmp_path, sample_archive, sqlite_url):
    return Site(tmp_path, sample_archive, sqlite_url, request.param)


@pytest.fixture(params=STAGES)
def example_site(request, tmp_path, example_archive, sqlite_url):
    return Site(tmp_path, example_archive, sqlite_url, request.param)


def everything_io_says(site: Site) -> dict:
    """Every read method's answer for the sample depositions, for comparing stages."""
    said = {}
    for deposition_id in CifMessageStore(site.root).list_depositions():
        for view in ("msgs", "notes", "commhstry"):
            io = site.io(deposition_id, view)
            said[(deposition_id, view, "rows")] = io.getMsgRowList(deposition_id, p_bThreadedRslts=True)
            said[(deposition_id, view, "drafts")] = io.getMsgRowList(deposition_id, p_sSendStatus="N")
        io = site.io(deposition_id)
        said[(deposition_id, "lists")] = (
            io.getMsgReadList(deposition_id), io.getMsgForReleaseList(deposition_id),
            io.getMsgNoActionReqdList(deposition_id), io.getNotesList(), io.anyNotesExist(),
            io.areAllMsgsRead(), io.areAllMsgsActioned(), io.anyReleaseFlags(),
            io.getFilesRfrncd(deposition_id), io.getMsgColList(), io.getMsgColList(True),
        )
    return said


def test_every_method_answers_the_same_in_every_stage(tmp_path, sample_archive):
    answers = []
    for index, stage in enumerate(STAGES):
        root = tmp_path / f"archive-{stage}"
        shutil.copytree(sample_archive, root)
        site = Site(tmp_path / stage, root, f"sqlite:///{tmp_path}/{stage}.db", stage)
        answers.append(everything_io_says(site))
        assert answers[index] == answers[0], stage
    assert answers[0][(BIG, "msgs", "rows")]["TOTAL_RECORDS"] == 7


def test_column_list():
    io = MessagingIo(store=CifMessageStore(EXAMPLE_ARCHIVE), identifier="D_1000000001")
    ok, columns = io.getMsgColList()
    assert ok and columns[:3] == ["ordinal_id", "message_id", "deposition_data_set_id"]
    assert columns[-1] == "send_status" and len(columns) == 12
    assert io.getMsgColList(True)[1][12:] == [
        "orig_message_id", "orig_deposition_data_set_id", "orig_timestamp", "orig_sender", "orig_recipient",
        "orig_message_subject", "orig_attachments"]


def test_row_list_of_the_sample_worked_out_by_hand(sample_site):
    io = sample_site.io(BIG)
    result = io.getMsgRowList(BIG)
    subjects = [(r["timestamp"], r["message_subject"][:30]) for r in result["RECORD_LIST"]]
    # Six annotator messages and the depositor's one, oldest first across both files.
    assert subjects == [
        ("2022-08-09 16:28:27", "PDB ID XXXX - Validation repor"),
        ("2022-08-31 19:00:01", "Implicit Approval of Your Stru"),
        ("2022-12-18 07:30:00", "Re-upload files"),
        ("2022-12-19 13:33:27", "System Unlocked"),
        ("2022-12-22 16:50:33", "PDB ID XXXX - Updated Validati"),
        ("2023-01-16 11:14:40", "Implicit Approval of Your Stru"),
        ("2023-07-03 14:30:21", "Release of PDB ID XXXX"),
    ]
    assert (result["TOTAL_RECORDS"], result["TOTAL_DISPLAY_RECORDS"], result["CURRENT_NUM_MSGS_TO_DPSTR"]) == (7, 7, 6)
    assert list(result["RECORD_LIST"][0]) == io.getMsgColList()[1]

    search = io.getMsgRowList(BIG, p_sSrchFltr="implicit APPROVAL")
    assert [r["ordinal_id"] for r in search["RECORD_LIST"]] == ["2", "5"]
    assert (search["TOTAL_RECORDS"], search["TOTAL_DISPLAY_RECORDS"]) == (7, 2)

    column = io.getMsgRowList(BIG, p_colSearchDict={8: "release"})  # 8: message_subject
    assert [r["message_subject"] for r in column["RECORD_LIST"]] == ["Release of PDB ID XXXX"]
    by_sender = io.getMsgRowList(BIG, p_colSearchDict={"4": "depositor"})  # 4: sender
    assert [r["message_id"][:8] for r in by_sender["RECORD_LIST"]] == ["f3777fd5"]

    page = io.getMsgRowList(BIG, p_bServerSide=True, p_iDisplayStart=2, p_iDisplayLength=3)
    assert [r["timestamp"][:10] for r in page["RECORD_LIST"]] == ["2022-12-18", "2022-12-19", "2022-12-22"]
    assert (page["TOTAL_RECORDS"], page["TOTAL_DISPLAY_RECORDS"]) == (7, 7)
    assert io.getMsgRowList(BIG, p_sSendStatus="N")["RECORD_LIST"] == []


def test_notes_and_comm_history_views(sample_site):
    notes = sample_site.io(BIG, "notes").getMsgRowList(BIG)
    assert (notes["TOTAL_RECORDS"], notes["CURRENT_NUM_NOTES"]) == (3, 3)
    assert "CURRENT_NUM_MSGS_TO_DPSTR" not in notes
    history = sample_site.io(BIG, "commhstry").getMsgRowList(BIG)
    assert history["TOTAL_RECORDS"] == 10
    (archived,) = [r for r in history["RECORD_LIST"] if r["orig_sender"]]
    assert (archived["orig_sender"], archived["orig_deposition_data_set_id"]) == ("noreply@mail.wwpdb.org", "None")
    assert archived["message_type"] == "archive_auto"


def test_threaded_rows_put_replies_under_their_parent(sample_site):
    result = sample_site.io(THREAD).getMsgRowList(THREAD, p_bThreadedRslts=True)
    order = [r["message_id"][:8] for r in result["RECORD_LIST"]]
    # The annotator's reply 47d6dc72 (21:28) answers the depositor's d8a85c0a (17:58).
    assert order == ["c33cf1ad", "2214965d", "d8a85c0a", "47d6dc72", "4314dc23"]
    depths = {k[:8]: v for k, v in result["INDENT_DICT"].items()}
    assert depths == {"c33cf1ad": 0, "2214965d": 0, "d8a85c0a": 0, "47d6dc72": 1, "4314dc23": 0}


def test_get_msg_looks_in_the_view_content_types(sample_site):
    msgs = sample_site.io(BIG)
    assert msgs.getMsg("f3777fd5-a449-43df-b62f-bb9875029371", BIG)["message_subject"] == "Re-upload files"
    assert msgs.getMsg("d7af8e72-cdd3-431d-835b-87b7304d41c3", BIG) is None  # a note
    notes = sample_site.io(BIG, "notes")
    assert notes.getMsg("d7af8e72-cdd3-431d-835b-87b7304d41c3")["message_type"] == "archive_auto_noorig"


def test_flag_lists_and_questions(sample_site):
    io = sample_site.io(THREAD)
    assert len(io.getMsgReadList(THREAD)) == 6
    assert io.getMsgForReleaseList(THREAD) == []
    no_action = io.getMsgNoActionReqdList(THREAD)
    assert {m[:8] for m in no_action} == {"d8a85c0a", "4314dc23", "c33cf1ad", "2214965d", "47d6dc72"}
    assert io.areAllMsgsRead() is True
    assert io.areAllMsgsActioned() is True
    assert io.anyReleaseFlags() is False
    assert io.anyNotesExist() == (False, 0)
    assert sample_site.io(BIG).anyNotesExist() == (True, 3)
    assert len(sample_site.io(BIG).getNotesList()) == 3


def test_files_referenced_each_once(sample_site):
    files = sample_site.io(BIG).getFilesRfrncd(BIG)
    release = files["7141acf8-b989-40d0-b1d9-76610e236c85"]
    # 17 rows in the file, 6 of them repeats of others (ordinal ids aside).
    assert len(release) == 11
    assert len({(r["content_type"], r["content_format"], r["version_id"]) for r in release}) == 11
    first = "c8b1ad66-57c8-4ff7-b22e-0cf78dd827ec"
    only = sample_site.io(BIG).getFilesRfrncd(BIG, first)
    assert list(only) == [first] and len(only[first]) == 10


class OneDepMessage:
    """The shape of OneDep's Message object."""

    def __init__(self, msg_dict, live, file_references=(), content_type="msgs"):
        self._msg = {**msg_dict, "message_state": "livemsg" if live else "draft"}
        self.fileReferences = list(file_references)
        self.contentType = content_type

    def getMsgDict(self):  # noqa: N802
        return dict(self._msg)

    @property
    def isLive(self):  # noqa: N802
        return self._msg["message_state"] == "livemsg"


def test_a_draft_saved_twice_is_one_message_and_a_live_one_is_another(example_site):
    io = example_site.io("D_1000000001")
    draft = {"deposition_data_set_id": "D_1000000001", "message_id": "draft-1", "sender": "annotator",
             "message_subject": "Draft", "message_text": "first version", "send_status": "N"}
    assert io.processMsg(OneDepMessage(draft, live=False)) == (True, False, [])
    assert io.processMsg(OneDepMessage({**draft, "message_text": "second version"}, live=False)) == (True, False, [])
    drafts = io.getMsgRowList("D_1000000001", p_sSendStatus="N")["RECORD_LIST"]
    assert [(r["message_id"], r["message_text"]) for r in drafts if r["message_id"] == "draft-1"] == [
        ("draft-1", "second version")]
    before = io.getMsgRowList("D_1000000001")["TOTAL_RECORDS"]
    stored = []
    io.message_stored_hooks.append(stored.append)
    live = {"deposition_data_set_id": "D_1000000001", "sender": "annotator", "message_subject": "Sent",
            "message_text": "hello"}
    reference = {"content_type": "model-annotate", "content_format": "pdbx", "version_id": "2"}
    assert io.processMsg(OneDepMessage(live, live=True, file_references=[reference])) == (True, False, [])
    rows = io.getMsgRowList("D_1000000001")
    assert rows["TOTAL_RECORDS"] == before + 1
    assert [m["message_subject"] for m in stored] == ["Sent"]
    assert io.getFilesRfrncd("D_1000000001", stored[0]["message_id"])[stored[0]["message_id"]][0]["version_id"] == "2"
    with pytest.raises(ValueError, match="file_reference_resolver"):
        io.processMsg(OneDepMessage(live, live=True, file_references=["model"]))


def test_process_msg_takes_plain_dicts_and_notes(example_site):
    io = example_site.io("D_1000000001", "notes")
    io.processMsg({"deposition_data_set_id": "D_1000000001", "message_text": "a note", "content_type": "notes"})
    assert "a note" in [r["message_text"] for r in io.getMsgRowList("D_1000000001")["RECORD_LIST"]]
    assert io.anyNotesExist() == (True, 2)


def test_mark_read_creates_the_missing_status_in_messages_to_depositor(example_site):
    store = CifMessageStore(example_site.root)
    request = Message(message_id="dep-new", deposition_data_set_id="D_1000000001",
                      message_subject="Release request", message_text="Please release now")
    store.put_message("D_1000000001", "messages-from-depositor", request)
    DbMessageStore(example_site.db_url).put_message("D_1000000001", "messages-from-depositor", request)
    io = example_site.io("D_1000000001")
    assert io.areAllMsgsRead() is False  # the new message has no status row
    assert io.anyReleaseFlags() is True  # an unread release request
    assert io.markMsgAsRead({"message_id": "dep-new", "deposition_data_set_id": "D_1000000001"}) is True
    status = io.get_message("D_1000000001", "dep-new")["status"]
    assert (status["read_status"], status["for_release"]) == ("Y", "Y")
    written = {"cif-only": [store], "dual-write": [store, DbMessageStore(example_site.db_url)],
               "db-only": [DbMessageStore(example_site.db_url)]}[example_site.stage]
    for backend in written:
        assert backend.load("D_1000000001", "messages-to-depositor").find_status("dep-new").read_status == "Y"
        assert backend.load("D_1000000001", "messages-from-depositor").statuses == []
    assert "dep-new" in io.getMsgForReleaseList("D_1000000001")


def test_tag_sets_flags_and_only_unmarks_read(example_site):
    io = example_site.io("D_1000000001")
    mid = "0b7d3c0e-1111-4a55-9c01-000000000002"  # status Y N N in the file
    io.tagMsg({"message_id": mid, "deposition_data_set_id": "D_1000000001", "action_reqd": "Y", "for_release": "Y",
               "read_status": "Y"})
    assert io.get_message("D_1000000001", mid)["status"] == {
        "message_id": mid, "deposition_data_set_id": "D_1000000001", "read_status": "Y", "action_reqd": "Y",
        "for_release": "Y"}
    io.tagMsg({"message_id": mid, "deposition_data_set_id": "D_1000000001", "read_status": "N"})
    status = io.get_message("D_1000000001", mid)["status"]
    assert (status["read_status"], status["action_reqd"], status["for_release"]) == ("N", "Y", "Y")
    unread = "0b7d3c0e-9999-4a55-9c01-000000000099"  # status N N N
    io.tagMsg({"message_id": unread, "deposition_data_set_id": "D_1000000001", "read_status": "Y"})
    assert unread not in io.getMsgReadList("D_1000000001")
    with pytest.raises(ValueError, match="action_reqd"):
        io.tagMsg({"message_id": mid, "deposition_data_set_id": "D_1000000001", "action_reqd": "maybe"})


def test_request_ids_are_validated(example_site):
    io = example_site.io("../etc")
    with pytest.raises(ValueError, match="invalid deposition id"):
        io.getNotesList()
    with pytest.raises(ValueError, match="content_type"):
        example_site.io("D_1000000001", "everything").getMsgRowList("D_1000000001")


@pytest.mark.mysql
def test_db_only_on_mariadb_answers_like_the_archive(tmp_path, sample_archive, mysql_url):
    cif_site = Site(tmp_path / "cif", sample_archive, f"sqlite:///{tmp_path}/c.db", "cif-only")
    root = tmp_path / "archive-db"
    shutil.copytree(sample_archive, root)
    db_site = Site(tmp_path / "db", root, mysql_url, "db-only")
    assert everything_io_says(db_site) == everything_io_says(cif_site)


def test_the_request_identifier_says_which_folder_not_the_id_in_the_rows(example_site):
    io = example_site.io("D_1000000002")  # its rows say D_9000000002
    mid = "0b7d3c0e-4444-4a55-9c01-000000000002"
    io.markMsgAsRead({"message_id": mid, "deposition_data_set_id": "D_9000000002"})
    io.processMsg({"deposition_data_set_id": "D_9000000002", "message_text": "reply"})
    assert not (example_site.root / "D_9000000002").exists()
    assert io.get_message("D_1000000002", mid)["status"]["read_status"] == "Y"
    assert "reply" in [r["message_text"] for r in io.getMsgRowList("D_1000000002")["RECORD_LIST"]]


def test_a_dict_edit_without_references_keeps_the_drafts_references(example_site):
    io = example_site.io("D_1000000001")
    draft = {"deposition_data_set_id": "D_1000000001", "message_id": "d-ref", "message_text": "v1",
             "send_status": "N", "file_references": [{"content_type": "model-annotate", "content_format": "pdbx"}]}
    io.processMsg(draft)
    io.processMsg({"deposition_data_set_id": "D_1000000001", "message_id": "d-ref", "message_text": "v2",
                   "send_status": "N"})
    assert [r["content_type"] for r in io.getFilesRfrncd("D_1000000001", "d-ref")["d-ref"]] == ["model-annotate"]
    assert io.get_message("D_1000000001", "d-ref")["message_text"] == "v2"
