"""OneDep's MessagingIo: the message table, flags and lists, as OneDep's pages use them, in every stage.

The deposition is written by `write_scenario` (test_messaging_io_support);
times there are GMT and show in Asia/Tokyo (+9 h). Expected values are
worked out by hand from OneDep's contracts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import test_messaging_io_support as support
from conftest import FakeRequest
from test_messaging_io_support import DEP, Site, make_site, message, write_scenario

from wwpdb.apps.msgmodule.io.attachments import Session
from wwpdb.apps.msgmodule.io.MessagingIo import MessagingIo
from wwpdb.apps.msgmodule.model import Document
from wwpdb.apps.msgmodule.stores.cif import CifMessageStore

# The fixtures these tests use, from the support module.
site, two_site, filled, filled_two = support.site, support.two_site, support.filled, support.filled_two

COLUMNS = [
    "ordinal_id",
    "message_id",
    "deposition_data_set_id",
    "timestamp",
    "sender",
    "context_type",
    "context_value",
    "parent_message_id",
    "message_subject",
    "message_text",
    "message_type",
    "send_status",
]
ORIG = [
    "orig_message_id",
    "orig_deposition_data_set_id",
    "orig_timestamp",
    "orig_sender",
    "orig_recipient",
    "orig_message_subject",
    "orig_attachments",
]
A1_ROW = [
    "1",
    "a1",
    DEP,
    "2024-03-01 18:00:00",
    "Ann &lt;ann@example.org&gt;",
    "",
    "",
    "a1",
    "Validation &lt;report&gt;",
    "Dear depositor,<br />see &lt;b&gt;this&lt;/b&gt; & \u00c5",
    "text",
    "Y",
]


def ids(rows: list[Any]) -> list[str]:
    """The message ids of table rows, plain or wrapped as {true_index: row}."""
    return [(next(iter(row.values())) if isinstance(row, dict) else row)[1] for row in rows]


def data_table(columns: list[str], records: list[Any], display_start: int = 0) -> list[dict[str, str]]:
    """The DataTables JSON rows OneDep's page builds from getMsgColList and RECORD_LIST (MessagingDepict's contract).

    A row is a list or tuple of cells in column order, DT_RowId counting from
    the display start; after a search it is {true_index: row} and DT_RowId
    uses the true index.
    """
    rendered = []
    for index, row in enumerate(records):
        record: dict[str, str] = {"DT_RowClass": "dt_row"}
        if isinstance(row, (list, tuple)):
            record["DT_RowId"] = f"row_{index + display_start}"
        elif isinstance(row, dict):
            ((true_index, row),) = row.items()
            record["DT_RowId"] = f"row_{true_index + display_start}"
        else:
            raise TypeError(f"OneDep's page cannot show a row of type {type(row).__name__}")
        for column, value in zip(columns, row, strict=True):
            record[column] = str(value)
        rendered.append(record)
    return rendered


# -- columns and rows ------------------------------------------------------------------------------


def test_column_lists(two_site: Site):
    io = two_site.io()
    assert io.getMsgColList() == (True, COLUMNS)
    assert io.getMsgColList(True) == (True, COLUMNS + ORIG)
    assert io.getMsgColList(1) == (True, COLUMNS)  # OneDep asks `is True`


def test_rows_are_lists_in_column_order_oldest_first_with_display_values(filled: Site):
    result = filled.io().getMsgRowList(DEP)
    assert set(result) == {"RECORD_LIST", "CURRENT_NUM_MSGS_TO_DPSTR"}  # no totals without server side
    rows = result["RECORD_LIST"]
    assert all(isinstance(row, list) and len(row) == len(COLUMNS) for row in rows)
    assert ids(rows) == ["a1", "d1", "d2", "a2", "a4", "d3"]  # sent messages of both files, by time
    assert rows[0] == A1_ROW
    d1 = rows[1]
    assert d1[3:5] == ["2024-03-02 17:00:00", "depositor &lt;dep@example.org&gt;"]
    assert d1[9] == "Is it ATP?<br />;really"
    assert result["CURRENT_NUM_MSGS_TO_DPSTR"] == 4  # every message to the depositor, the draft too
    drafts = filled.io().getMsgRowList(DEP, p_sSendStatus="N")["RECORD_LIST"]
    assert ids(drafts) == ["a3"]


def test_threaded_rows_follow_each_reply_after_its_parent(filled: Site):
    result = filled.io().getMsgRowList(DEP, p_bThreadedRslts=True)
    # a1 has two replies, each with its own reply; d3 answers a message in no file.
    assert ids(result["RECORD_LIST"]) == ["a1", "d1", "a2", "d2", "a4", "d3"]
    assert result["INDENT_DICT"] == {"a1": 0, "d1": 1, "d2": 1, "a2": 2, "a4": 2, "d3": 1}


def test_server_side_global_search_counts_and_true_indexes(filled: Site):
    io = filled.io()
    found = io.getMsgRowList(
        DEP, p_bServerSide=True, p_iDisplayStart=0, p_iDisplayLength=10, p_sSrchFltr="LIGAND", p_colSearchDict={}
    )
    assert (found["TOTAL_RECORDS"], found["TOTAL_DISPLAY_RECORDS"]) == (6, 2)
    assert [list(row) for row in found["RECORD_LIST"]] == [[1], [3]]  # positions in the unfiltered list
    assert ids(found["RECORD_LIST"]) == ["d1", "a2"]
    # One character is no search (OneDep), so the column searches apply instead.
    one = io.getMsgRowList(
        DEP, p_bServerSide=True, p_iDisplayStart=0, p_iDisplayLength=10, p_sSrchFltr="l", p_colSearchDict={8: "re"}
    )
    assert ids(one["RECORD_LIST"]) == ["a1", "a2", "a4", "d3"]
    assert [list(row) for row in one["RECORD_LIST"]] == [[0], [3], [4], [5]]
    unfiltered = io.getMsgRowList(
        DEP, p_bServerSide=True, p_iDisplayStart=0, p_iDisplayLength=10, p_sSrchFltr="l", p_colSearchDict={}
    )
    assert all(isinstance(row, list) for row in unfiltered["RECORD_LIST"])
    assert unfiltered["TOTAL_DISPLAY_RECORDS"] == 6


def test_column_searches_by_index_or_name_all_must_match(filled: Site):
    io = filled.io()

    def search(columns: dict[Any, str]) -> list[str]:
        return ids(
            io.getMsgRowList(DEP, p_bServerSide=True, p_iDisplayStart=0, p_iDisplayLength=-1, p_colSearchDict=columns)[
                "RECORD_LIST"
            ]
        )

    assert search({"sender": "DEPOSITOR"}) == ["d1", "d2", "d3"]
    assert search({"4": "depositor", 8: "re"}) == ["d3"]
    assert search({"no_such_column": "x", 8: "approval"}) == ["d2", "a4"]  # an unknown column is skipped, logged


def test_server_side_sorting_from_the_request(filled: Site):
    def sorted_ids(**sorting: str) -> list[str]:
        io = filled.io(**sorting)
        return ids(io.getMsgRowList(DEP, p_bServerSide=True, p_iDisplayStart=0, p_iDisplayLength=-1)["RECORD_LIST"])

    by_sender_desc = {
        "iSortingCols": "1",
        "iSortCol_0": "4",
        "bSortable_0": "true",
        "sSortDir_0": "desc",
        "mDataProp_4": "sender",
    }
    assert sorted_ids(**by_sender_desc) == ["d1", "d2", "d3", "a2", "a4", "a1"]
    two_keys = {
        "iSortingCols": "2",
        "iSortCol_0": "4",
        "bSortable_0": "true",
        "sSortDir_0": "asc",
        "mDataProp_4": "sender",
        "iSortCol_1": "3",
        "bSortable_1": "true",
        "sSortDir_1": "desc",
        "mDataProp_3": "timestamp",
    }
    assert sorted_ids(**two_keys) == ["a1", "a4", "a2", "d3", "d2", "d1"]
    not_sortable = {**by_sender_desc, "bSortable_0": "false"}
    assert sorted_ids(**not_sortable) == ["a1", "d1", "d2", "a2", "a4", "d3"]
    # Found rows sort too (OneDep's own sort of {index: row} fails on Python 3 and leaves them unsorted).
    io = filled.io(**by_sender_desc)
    found = io.getMsgRowList(DEP, p_bServerSide=True, p_iDisplayStart=0, p_iDisplayLength=-1, p_sSrchFltr="re")
    assert ids(found["RECORD_LIST"]) == ["d1", "d3", "a2", "a4", "a1"]


def test_paging(filled: Site):
    io = filled.io()
    page = io.getMsgRowList(DEP, p_bServerSide=True, p_iDisplayStart=2, p_iDisplayLength=2)
    assert ids(page["RECORD_LIST"]) == ["d2", "a2"]
    assert (page["TOTAL_RECORDS"], page["TOTAL_DISPLAY_RECORDS"]) == (6, 6)
    everything = io.getMsgRowList(DEP, p_bServerSide=True, p_iDisplayStart=2, p_iDisplayLength=-1)
    assert len(everything["RECORD_LIST"]) == 6  # a length of -1 is every row, whatever the start (OneDep)


def test_the_page_renders_the_data_table_as_onedep_does(filled: Site):
    io = filled.io()
    columns = io.getMsgColList()[1]
    plain = io.getMsgRowList(DEP, p_bServerSide=True, p_iDisplayStart=0, p_iDisplayLength=3)
    table = data_table(columns, plain["RECORD_LIST"], 0)
    assert [r["DT_RowId"] for r in table] == ["row_0", "row_1", "row_2"]
    assert table[0]["message_subject"] == "Validation &lt;report&gt;"
    assert table[0]["timestamp"] == "2024-03-01 18:00:00"
    assert table[0]["context_type"] == ""  # a null shows empty, never "None"
    found = io.getMsgRowList(DEP, p_bServerSide=True, p_iDisplayStart=0, p_iDisplayLength=10, p_sSrchFltr="fixed")
    assert [(r["DT_RowId"], r["message_id"], r["message_text"]) for r in data_table(columns, found["RECORD_LIST"])] == [
        ("row_3", "a2", "Fixed.")
    ]
    sorting = {
        "iSortingCols": "1",
        "iSortCol_0": "8",
        "bSortable_0": "true",
        "sSortDir_0": "asc",
        "mDataProp_8": "message_subject",
    }
    ordered = filled.io(**sorting).getMsgRowList(DEP, p_bServerSide=True, p_iDisplayStart=1, p_iDisplayLength=2)
    assert [(r["DT_RowId"], r["message_subject"]) for r in data_table(columns, ordered["RECORD_LIST"], 1)] == [
        ("row_1", "Question about the ligand"),
        ("row_2", "RE: approval"),
    ]


def test_notes_and_the_complete_correspondence_history(filled: Site):
    notes = filled.io("notes").getMsgRowList(DEP)
    assert ids(notes["RECORD_LIST"]) == ["n1", "n2"]
    assert notes["CURRENT_NUM_NOTES"] == 2 and "CURRENT_NUM_MSGS_TO_DPSTR" not in notes
    assert notes["RECORD_LIST"][0][9] == "check &lt;i&gt;this&lt;/i&gt;"
    history_io = filled.io("commhstry")
    history = history_io.getMsgRowList(DEP)
    # Messages both ways, and of the notes only archived correspondence (n2, not the annotator's n1).
    assert ids(history["RECORD_LIST"]) == ["a1", "d1", "d2", "a2", "a4", "d3", "n2"]
    assert "CURRENT_NUM_NOTES" not in history and history["CURRENT_NUM_MSGS_TO_DPSTR"] == 4
    columns = history_io.getMsgColList(True)[1]
    archived = dict(zip(columns, history["RECORD_LIST"][-1], strict=True))
    assert {c: archived[c] for c in ORIG} == {
        "orig_message_id": "orig-1",
        "orig_deposition_data_set_id": DEP,
        "orig_timestamp": "2024-03-09 17:00:00",
        "orig_sender": "Ann &lt;a@b.org&gt;",
        "orig_recipient": "x@y.org",
        "orig_message_subject": "Hello",
        "orig_attachments": "",
    }
    assert all(value == "" for value in history["RECORD_LIST"][0][12:])


def test_comm_history_counts_notes_only_when_there_are_none(two_site: Site):
    write_scenario(two_site.store)
    two_site.store.save(Document(DEP, "notes-from-annotator"))
    assert two_site.io("commhstry").getMsgRowList(DEP)["CURRENT_NUM_NOTES"] == 0


def test_get_msg(filled: Site):
    io = filled.io()
    d1 = io.getMsg("d1", "ignored")
    assert list(d1) == COLUMNS
    assert d1["timestamp"] == "2024-03-02 17:00:00"
    assert d1["sender"] == "depositor &lt;dep@example.org&gt;"
    assert d1["message_text"] == "Is it ATP?<br />;really"
    assert d1["context_type"] == ""
    assert io.getMsg("n1", DEP) == {}  # a note is not in the messages view
    assert io.getMsg("no-such-id", DEP) == {}
    assert filled.io("notes").getMsg("n1", DEP)["message_text"] == "check &lt;i&gt;this&lt;/i&gt;"
    assert filled.io("commhstry").getMsg("n2", DEP)["message_subject"] == "ARCHIVED: fwd"
    assert filled.io("").getMsg("d1", DEP) == {}  # no view: nothing, not an error
    assert filled.io("everything").getMsgRowList(DEP) == {"RECORD_LIST": []}


# -- flags -------------------------------------------------------------------------------------------


def status_of(site: Site, message_id: str) -> tuple[str | None, ...] | None:
    row = site.load("messages-to-depositor").find_status(message_id)
    return None if row is None else (row.read_status, row.action_reqd, row.for_release)


def test_mark_read(filled: Site):
    io = filled.io()
    assert (
        io.markMsgAsRead(
            {
                "message_id": "d2",
                "deposition_data_set_id": DEP,
                "read_status": "Y",
                "action_reqd": "N",
                "for_release": "Y",
            }
        )
        is True
    )
    assert status_of(filled, "d2") == ("Y", "Y", "N")  # only read_status changes on an existing row
    assert io.markMsgAsRead({"message_id": "d1", "deposition_data_set_id": DEP}) is True
    assert status_of(filled, "d1") == ("Y", "N", "N")
    # d3 has no status row: it gets one, and its subject asks for release.
    assert (
        io.markMsgAsRead(
            {
                "message_id": "d3",
                "deposition_data_set_id": DEP,
                "read_status": "Y",
                "action_reqd": "Y",
                "for_release": "N",
            }
        )
        is True
    )
    assert status_of(filled, "d3") == ("Y", "Y", "Y")
    assert io.markMsgAsRead({"message_id": "zz", "deposition_data_set_id": DEP}) is True
    assert status_of(filled, "zz") == ("Y", "N", "N")
    assert "d3" in io.getMsgForReleaseList(DEP)
    assert filled.load("messages-from-depositor").statuses == []


def test_mark_read_with_a_status_already_read_writes_nothing(tmp_path):
    archive = make_site("cif-only", None, tmp_path, None)  # type: ignore[arg-type]
    write_scenario(archive.store)
    before = sorted(p.name for p in (archive.archive / DEP).iterdir())
    assert archive.io().markMsgAsRead({"message_id": "d1", "deposition_data_set_id": DEP}) is True
    assert sorted(p.name for p in (archive.archive / DEP).iterdir()) == before  # no new .PREV snapshot: no write


def test_tag(filled: Site):
    io = filled.io()
    assert (
        io.tagMsg(
            {
                "message_id": "d1",
                "deposition_data_set_id": DEP,
                "action_reqd": "Y",
                "for_release": "Y",
                "read_status": "Y",
            }
        )
        is True
    )
    assert status_of(filled, "d1") == ("Y", "Y", "Y")
    assert io.tagMsg({"message_id": "d1", "deposition_data_set_id": DEP, "read_status": "N"}) is True
    assert status_of(filled, "d1") == ("N", "Y", "Y")  # flags not given stay
    assert io.tagMsg({"message_id": "d2", "read_status": "Y", "action_reqd": ""}) is True
    assert status_of(filled, "d2") == ("N", "Y", "N")  # read_status only goes from Y to N here
    assert io.tagMsg({"message_id": "new1", "deposition_data_set_id": DEP, "read_status": "Y"}) is True
    assert status_of(filled, "new1") == ("Y", "N", "N")
    assert io.tagMsg({"message_id": "d1", "colour": "blue"}) is True
    assert status_of(filled, "d1") == ("N", "Y", "Y")


@pytest.mark.parametrize(
    "status",
    [
        {},
        {"deposition_data_set_id": DEP, "read_status": "Y"},
        {"message_id": "d1", "action_reqd": "maybe"},
        "d1",
    ],
)
def test_unusable_status_dicts_answer_false(filled_two: Site, status: Any):
    io = filled_two.io()
    assert io.tagMsg(status) is False
    assert io.markMsgAsRead(status) is False
    assert status_of(filled_two, "d1") == ("Y", "N", "N")


def test_a_status_that_cannot_be_written_answers_false(tmp_path):
    write_scenario(make_site("cif-only", None, tmp_path, None).store)  # type: ignore[arg-type]
    missing = MessagingIo(FakeRequest(identifier=DEP), store=CifMessageStore(tmp_path / "nowhere"))
    assert missing.tagMsg({"message_id": "d1", "action_reqd": "Y"}) is False
    assert missing.markMsgAsRead({"message_id": "d1"}) is False


# -- lists and questions --------------------------------------------------------------------------------


def test_lists(filled: Site):
    io = filled.io()
    assert io.getMsgReadList(DEP) == ["d1", "ghost"]
    assert io.getMsgNoActionReqdList(DEP) == ["d1", "a1", "ghost", "a2", "a3", "a4"]
    assert io.getMsgForReleaseList(DEP) == ["a1"]
    assert io.getNotesList() == ["n1", "n2"]
    assert io.anyNotesExist() == (True, True, False, 2)


def test_questions_about_all_depositor_messages(filled: Site):
    io = filled.io()
    assert io.areAllMsgsRead() is False  # d2 unread, d3 without a status row
    assert io.areAllMsgsActioned() is False  # d2 wants action
    assert io.anyReleaseFlags() is True  # a1 is flagged for release
    assert io.anyUnactionApprovalWithoutCorrection() is True  # d2 approves and still wants action
    for message_id in ("d2", "d3"):
        io.tagMsg({"message_id": message_id, "read_status": "N", "action_reqd": "N", "for_release": "N"})
        io.markMsgAsRead({"message_id": message_id, "deposition_data_set_id": DEP})
    io.tagMsg({"message_id": "a1", "for_release": "N"})
    io.tagMsg({"message_id": "d3", "for_release": "N"})
    assert io.areAllMsgsRead() is True
    assert io.areAllMsgsActioned() is True
    assert io.anyReleaseFlags() is False
    assert io.anyUnactionApprovalWithoutCorrection() is False


def test_a_release_request_without_status_is_a_release_flag(filled_two: Site):
    io = filled_two.io()
    io.tagMsg({"message_id": "a1", "for_release": "N"})
    assert io.anyReleaseFlags() is True  # d3, "Release now", not yet seen
    assert io.is_release_request("d3") is True and io.is_release_request("d1") is False
    io.tagMsg({"message_id": "d3", "for_release": "N"})
    assert io.anyReleaseFlags() is False


def test_notes_counts_distinguish_annotator_and_bmrb_notes(two_site: Site):
    notes = Document(DEP, "notes-from-annotator")
    notes.messages = [message("n1", "2024-01-01 00:00:00", "ARCHIVED: x", "x", kind="archive_auto", ordinal=1)]
    two_site.store.save(notes)
    assert two_site.io().anyNotesExist() == (True, False, False, 1)
    notes.messages.append(message("n2", "2024-01-02 00:00:00", "ARCHIVED: y", "y", kind="archive_flag", ordinal=2))
    two_site.store.save(notes)
    assert two_site.io().anyNotesExist() == (True, True, True, 2)
    notes.messages.append(message("n3", "2024-01-03 00:00:00", "mine", "z", ordinal=3))
    two_site.store.save(notes)
    assert two_site.io().anyNotesExist() == (True, True, False, 3)
    two_site.store.save(Document(DEP, "notes-from-annotator"))
    assert two_site.io().anyNotesExist() == (False, False, False, 0)


def test_depositor_messages(filled: Site):
    io = filled.io()
    listed = io.get_message_list_from_depositor()
    assert [m["message_id"] for m in listed] == ["d1", "d2", "d3"]
    assert listed[0]["message_text"] == "Is it ATP?\n;really"  # as stored, not for display
    assert io.get_message_subject_from_depositor("d2") == "Approval"
    assert io.get_message_subject_from_depositor("a1") == ""


def test_files_referenced_are_copied_into_the_session(filled: Site, tmp_path: Path):
    folder = filled.archive / DEP
    folder.mkdir(exist_ok=True)
    names = (
        f"{DEP}_model-annotate_P1.cif.V1",
        f"{DEP}_validation-report-annotate_P1.pdf.V1",
        f"{DEP}_auxiliary-file-annotate_P2.pdf.V1",
    )
    for name in names:
        (folder / name).write_text(f"content of {name}")
    session = Session(tmp_path / "session", "/sessions/abc")
    filled.extra["session"] = session
    files = filled.io().getFilesRfrncd(DEP)
    assert files == {
        "a1": [
            {"upload_file_name": "", "relative_file_url": f"/sessions/abc/{names[0]}"},
            {"upload_file_name": "", "relative_file_url": f"/sessions/abc/{names[1]}"},
        ],
        "a4": [{"upload_file_name": "notes.pdf", "relative_file_url": f"/sessions/abc/{names[2]}"}],
    }
    assert (session.path / names[0]).read_text() == f"content of {names[0]}"
    assert filled.io().getFilesRfrncd(DEP, "a4") == {"a4": files["a4"]}
    for name in names:
        (folder / name).unlink()
    assert filled.io().getFilesRfrncd(DEP) == {"a1": [], "a4": []}  # references to missing files: empty lists


# -- the request decides --------------------------------------------------------------------------------


def test_the_request_identifier_wins_over_the_argument(filled_two: Site):
    io = filled_two.io()
    assert ids(io.getMsgRowList("D_9999999999")["RECORD_LIST"])[0] == "a1"
    assert io.getMsgReadList(None) == ["d1", "ghost"]  # type: ignore[arg-type]
    assert io.getMsg("d1", "garbage ../")["message_id"] == "d1"
    assert io.checkAvailFiles("whatever") == []
    without_request = MessagingIo(store=filled_two.store, archive_root=filled_two.archive)
    assert without_request.getMsgReadList(DEP) == ["d1", "ghost"]  # no request: the argument says


@pytest.mark.parametrize("identifier", ["", "../etc", "D_1; DROP", "d_1000000101"])
def test_invalid_depositions_get_onedeps_empty_answers(two_site: Site, identifier: str):
    io = MessagingIo(
        FakeRequest(identifier=identifier, content_type="msgs"), store=two_site.store, archive_root=two_site.archive
    )
    assert io.getMsgRowList(identifier) == {"RECORD_LIST": []}
    assert io.getMsg("a1", identifier) == {}
    assert io.getFilesRfrncd(identifier) == {}
    assert io.getMsgReadList(identifier) == [] and io.getNotesList() == [] and io.checkAvailFiles(identifier) == []
    assert io.anyNotesExist() == (False, False, False, 0)
    assert (io.areAllMsgsRead(), io.areAllMsgsActioned(), io.anyReleaseFlags()) == (True, True, False)
    assert io.markMsgAsRead({"message_id": "a1"}) is False
    assert io.processMsg({"message_text": "x"}) == (False, False, [])


def test_a_group_deposition_reads_the_groups_files(two_site: Site):
    group = Document("G_1000007", "messages-to-depositor")
    group.messages = [message("g1", "2024-01-01 00:00:00", "to the group", "hello", ordinal=1)]
    two_site.store.save(group)
    write_scenario(two_site.store)
    by_request = two_site.io(groupid="G_1000007")
    assert ids(by_request.getMsgRowList(DEP)["RECORD_LIST"]) == ["g1"]
    by_call = two_site.io()
    by_call.setGroupId("G_1000007")
    assert ids(by_call.getMsgRowList(DEP)["RECORD_LIST"]) == ["g1"]
    by_call.setGroupId("")
    assert ids(by_call.getMsgRowList(DEP)["RECORD_LIST"])[0] == "a1"


def test_the_same_answers_in_every_stage(tmp_path, request):
    """Every read method's answers over the scenario, compared with cif-only's."""
    answers = {}
    for param in support.STAGE_PARAMS:
        stage, database = param.values[0]
        if database == "mysql":
            continue  # the MariaDB stages answer the same questions in the tests above
        place = tmp_path / f"{stage}-{database}"
        place.mkdir()
        staged = make_site(stage, database, place, request)
        write_scenario(staged.store)
        answers[stage] = everything_io_says(staged)
    assert len(answers) == 5
    for stage, said in answers.items():
        assert said == answers["cif-only"], stage


def everything_io_says(staged: Site) -> dict[str, Any]:
    said: dict[str, Any] = {}
    for view in ("msgs", "notes", "commhstry"):
        io = staged.io(view)
        said[view] = (
            io.getMsgRowList(DEP, p_bThreadedRslts=True),
            io.getMsgRowList(DEP, p_sSendStatus="N"),
            io.getMsgRowList(DEP, p_bServerSide=True, p_iDisplayStart=1, p_iDisplayLength=3, p_sSrchFltr="re"),
            [io.getMsg(mid, DEP) for mid in ("a1", "d1", "n1", "n2")],
        )
    io = staged.io()
    said["lists"] = (
        io.getMsgReadList(DEP),
        io.getMsgForReleaseList(DEP),
        io.getMsgNoActionReqdList(DEP),
        io.getNotesList(),
        io.anyNotesExist(),
        io.areAllMsgsRead(),
        io.areAllMsgsActioned(),
        io.anyReleaseFlags(),
        io.anyUnactionApprovalWithoutCorrection(),
        io.get_message_list_from_depositor(),
        io.checkAvailFiles(DEP),
    )
    return said


# -- the real OneDep samples ---------------------------------------------------------------------------------


BIG = "D_0000265933"  # 6 messages to, 1 from the depositor, 3 notes (one archived e-mail)


def test_the_samples_read_as_onedep_shows_them(sample_archive: Path):
    io = MessagingIo(
        FakeRequest(identifier=BIG, content_type="msgs"), store=CifMessageStore(sample_archive), display_timezone="UTC"
    )
    result = io.getMsgRowList(BIG, p_bServerSide=True, p_iDisplayStart=0, p_iDisplayLength=10)
    assert (result["TOTAL_RECORDS"], result["CURRENT_NUM_MSGS_TO_DPSTR"]) == (7, 6)
    assert [row[3] for row in result["RECORD_LIST"]][:3] == [
        "2022-08-09 16:28:27",
        "2022-08-31 19:00:01",
        "2022-12-18 07:30:00",
    ]
    columns = io.getMsgColList()[1]
    table = data_table(columns, result["RECORD_LIST"])
    assert all("<" not in record["message_text"].replace("<br />", "") for record in table)
    history = MessagingIo(
        FakeRequest(identifier=BIG, content_type="commhstry"), store=CifMessageStore(sample_archive)
    ).getMsgRowList(BIG)
    assert len(history["RECORD_LIST"]) == 10  # 7 messages and the 3 notes, all archived correspondence
    assert io.anyNotesExist()[3] == 3


def test_paging_arguments_take_numbers_and_their_text(filled_two: Site):
    io = filled_two.io()

    def page(start: object, length: object) -> list[str]:
        return ids(
            io.getMsgRowList(DEP, p_bServerSide=True, p_iDisplayStart=start, p_iDisplayLength=length)["RECORD_LIST"]
        )

    assert page("1", " 2 ") == page(1, 2) == ["d1", "d2"]
    assert len(page(None, None)) == len(page("", "-1")) == 6
    for start, length in [("abc", 2), (0, "ten"), (1.5, 2), (0, [3]), (True, 2)]:
        assert io.getMsgRowList(
            DEP,
            p_bServerSide=True,
            p_iDisplayStart=start,  # type: ignore[arg-type]
            p_iDisplayLength=length,
        ) == {"RECORD_LIST": []}  # OneDep's answer, logged


@pytest.mark.parametrize("database", ["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def test_the_samples_answer_the_same_from_the_database(sample_archive: Path, database: str, request, tmp_path):
    from wwpdb.apps.msgmodule.db import schema_versions
    from wwpdb.apps.msgmodule.stores.db import DbMessageStore

    url = request.getfixturevalue(f"{database}_url")
    schema_versions.upgrade(url)
    archive, db = CifMessageStore(sample_archive), DbMessageStore(url)
    for deposition in archive.list_depositions():
        for document in archive.load_all(deposition).values():
            db.save(document)
    for deposition in archive.list_depositions():
        for view in ("msgs", "notes", "commhstry"):
            said = []
            for store in (archive, db):
                io = MessagingIo(
                    FakeRequest(identifier=deposition, content_type=view),
                    store=store,
                    archive_root=tmp_path,
                    display_timezone="UTC",
                )
                said.append(
                    (
                        io.getMsgRowList(deposition, p_bThreadedRslts=True),
                        io.getMsgRowList(
                            deposition, p_bServerSide=True, p_iDisplayStart=0, p_iDisplayLength=5, p_sSrchFltr="re"
                        ),
                        io.getMsgReadList(deposition),
                        io.getMsgNoActionReqdList(deposition),
                        io.anyNotesExist(),
                        io.areAllMsgsRead(),
                        io.anyReleaseFlags(),
                        io.getFilesRfrncd(deposition),
                    )
                )
            assert said[0] == said[1], (deposition, view)
