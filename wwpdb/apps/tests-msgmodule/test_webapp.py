"""OneDep's messaging web service at the WSGI level, in each of the five stages (SQLite, and MariaDB when
reachable): every endpoint's keys and shapes, messages sent through it in every store the stage writes,
uploads kept and referenced, and bad input answered clearly with nothing changed."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pytest
from web_support import DEP, FRONT_END, OTHER, STAGES, WebSite, make_web_site
from webob import Request

from wwpdb.apps.msgmodule.io.notify import NOTIFY_FILE, notify_flags
from wwpdb.apps.msgmodule.webapp.MessagingWebApp import MessagingWebApp
from wwpdb.apps.msgmodule.webapp.wsgi import MessagingWsgiApp

needs_front_end = pytest.mark.skipif(not FRONT_END.is_dir(), reason=f"OneDep's front end is not at {FRONT_END}")
RESPONSE_KEYS = {"errorflag", "statustext", "sessionid", "htmlcontent", "textcontent"}


@pytest.fixture(params=STAGES)
def web(request: pytest.FixtureRequest, tmp_path: Path, db_url: str) -> WebSite:
    """A seeded site on each stage, over SQLite and MariaDB (the db_url fixture)."""
    return make_web_site(tmp_path, request.param, db_url)


@pytest.fixture
def sqlite_web(request: pytest.FixtureRequest, tmp_path: Path) -> WebSite:
    return make_web_site(tmp_path, "dual-write", f"sqlite:///{tmp_path}/messaging.db")


def stored(web: WebSite, content_type: str, deposition: str = DEP) -> list[list[Any]]:
    """The messages of one file in each store the stage writes."""
    return [store.load(deposition, content_type).messages for store in web.stores()]


# -- every endpoint, its keys and shapes ---------------------------------------------------------------------


def test_the_table_endpoints_answer_onedeps_keys_and_shapes(web: WebSite):
    session = web.new_session()
    status, config = web.call("get_dtbl_config_dtls", session, content_type="msgs", send_status="Y")
    assert status == 200 and set(config) >= RESPONSE_KEYS and config["sessionid"] == session
    assert config["html"].startswith(f'<table id="{DEP}_tbl"><thead><tr>')
    details = config["dtbl_config_dict"]
    assert details["ORDERED_COLUMN_LIST"][:3] == ["ordinal_id", "message_id", "deposition_data_set_id"]
    assert details["DTBL_AOCOLUMNS"] == [{"mDataProp": c} for c in details["ORDERED_COLUMN_LIST"]]
    assert details["CURRENT_NUM_MSGS_TO_DPSTR"] == 2
    for key in ("MSGS_ALREADY_READ", "MSGS_NO_ACTION_REQD", "MSGS_FOR_RELEASE", "NOTES_MSG_IDS"):
        assert isinstance(details[key], list)
    assert details["NOTES_MSG_IDS"] == [web.ids["Internal note on chirality"]]

    status, page = web.call(
        "get_dtbl_data",
        session,
        content_type="msgs",
        send_status="Y",
        sEcho="3",
        iDisplayStart="0",
        iDisplayLength="10",
        iColumns="12",
    )
    assert status == 200
    assert (page["sEcho"], page["iTotalRecords"], page["iTotalDisplayRecords"]) == (3, 4, 4)
    assert page["sColumns"].split(",") == details["ORDERED_COLUMN_LIST"]
    assert [row["DT_RowId"] for row in page["aaData"]] == ["row_0", "row_1", "row_2", "row_3"]
    assert [row["message_subject"] for row in page["aaData"]] == [
        "Validation report ready",
        "Question about ligand",
        "Answer about ligand",
        "Release request",
    ]
    assert all(row["DT_RowClass"] == "dt_row" and isinstance(row["timestamp"], str) for row in page["aaData"])
    assert page["aaData"][0]["message_text"] == "Text of Validation report ready<br />second line"

    status, threaded = web.call(
        "get_dtbl_config_dtls", session, content_type="msgs", send_status="Y", usethreaded="true"
    )
    assert set(threaded["dtbl_config_dict"]["INDENT_DICT"]) == {
        web.ids[s]
        for s in ("Validation report ready", "Question about ligand", "Answer about ligand", "Release request")
    }
    status, notes = web.call(
        "get_dtbl_data", session, content_type="notes", sEcho="1", iDisplayStart="0", iDisplayLength="5"
    )
    assert [row["message_subject"] for row in notes["aaData"]] == ["Internal note on chirality"]
    status, history = web.call("get_dtbl_config_dtls", session, content_type="commhstry")
    assert history["dtbl_config_dict"]["ORDERED_COLUMN_LIST"][-1] == "orig_attachments"


def test_datatables_paging_search_and_sorting(web: WebSite):
    session = web.new_session()
    base = {"content_type": "msgs", "send_status": "Y", "sEcho": "7", "iDisplayStart": "0", "iDisplayLength": "10"}
    _, page = web.call("get_dtbl_data", session, **{**base, "iDisplayStart": "1", "iDisplayLength": "2"})
    assert [row["DT_RowId"] for row in page["aaData"]] == ["row_1", "row_2"]
    assert [row["message_subject"] for row in page["aaData"]] == ["Question about ligand", "Answer about ligand"]
    assert page["iTotalRecords"] == page["iTotalDisplayRecords"] == 4
    _, found = web.call("get_dtbl_data", session, **{**base, "sSearch": "ligand"})
    assert [row["message_subject"] for row in found["aaData"]] == ["Question about ligand", "Answer about ligand"]
    assert (found["iTotalRecords"], found["iTotalDisplayRecords"]) == (4, 2)
    assert [row["DT_RowId"] for row in found["aaData"]] == ["row_1", "row_2"]  # their places in the whole list
    _, by_column = web.call(
        "get_dtbl_data", session, **{**base, "bSearchable_8": "true", "sSearch_8": "Release", "bSearchable_4": "true"}
    )
    assert [row["message_subject"] for row in by_column["aaData"]] == ["Release request"]
    _, newest_first = web.call(
        "get_dtbl_data",
        session,
        **{**base, "iSortingCols": "1", "iSortCol_0": "3", "sSortDir_0": "desc", "bSortable_0": "true"},
        **{f"mDataProp_{n}": c for n, c in enumerate(page["sColumns"].split(","))},
    )
    assert [row["message_subject"] for row in newest_first["aaData"]][0] == "Release request"


def test_message_and_status_endpoints(web: WebSite):
    session = web.new_session()
    answer = web.ids["Answer about ligand"]
    status, one = web.call("get_msg", session, content_type="msgs", msg_id=answer)
    assert status == 200
    assert {"message_subject", "message_id", "message_text", "sender", "timestamp", "parent_message_id"} <= set(
        one["msg_dict"]
    )
    assert one["msg_dict"]["message_subject"] == "Answer about ligand"

    _, before = web.call("check_global_msg_status", session)
    assert {k: before[k] for k in ("all_msgs_read", "all_msgs_actioned", "any_msgs_for_release")} == {
        "all_msgs_read": "false",
        "all_msgs_actioned": "true",
        "any_msgs_for_release": "false",
    }
    assert before["any_notes_exist"] == "true" and before["num_notes_records"] == 1
    assert before["notes_flag_active"] == "true" and "notes_flag_active_bmrb" not in before
    flags_file = Path(web.config["MSGMODULE_STATE_DIR"]) / NOTIFY_FILE
    assert json.loads(flags_file.read_text())[DEP]["flags"] == "N*"

    for subject in ("Question about ligand", "Release request"):
        status, read = web.call("mark_msg_read", session, msg_id=web.ids[subject])
        assert (status, read["success"]) == (200, "true")
    status, tagged = web.call(
        "tag_msg", session, msg_id=web.ids["Release request"], action_reqd="Y", read_status="Y", for_release="Y"
    )
    assert (status, tagged["success"]) == (200, "true")
    _, after = web.call("check_global_msg_status", session)
    assert (after["all_msgs_read"], after["all_msgs_actioned"], after["any_msgs_for_release"]) == (
        "true",
        "false",
        "true",
    )
    assert json.loads(flags_file.read_text())[DEP]["flags"] == "TR*"
    for store in web.stores():
        rows = {row.message_id: row for row in store.load(DEP, "messages-to-depositor").statuses}
        assert (rows[web.ids["Release request"]].action_reqd, rows[web.ids["Release request"]].for_release) == (
            "Y",
            "Y",
        )
        assert rows[web.ids["Question about ligand"]].read_status == "Y"

    response = web.request("toggle_notes_flagging", sessionid=session, identifier=DEP, activate_notes_flagging="false")
    assert (response.status_int, response.content_type, response.text) == (200, "text/html", "")
    _, off = web.call("check_global_msg_status", session)
    assert off["notes_flag_active"] == "false"
    assert json.loads(flags_file.read_text())[DEP]["flags"] == "TR"
    assert (web.archive / DEP / "NOTES_FLAGGING_STATUS").read_text() == "false\n"


def test_files_and_lookup_endpoints(web: WebSite):
    session = web.new_session()
    status, files = web.call("check_avail_files", session)
    assert status == 200 and "model" in files["file_list"]
    status, referenced = web.call("get_files_rfrncd", session)
    assert status == 200 and isinstance(referenced["files_rfrncd"], dict)
    _, found = web.call("verify_depid", "", identifier=DEP)
    _, missing = web.call("verify_depid", "", identifier="D_1999999999")
    _, malformed = web.call("verify_depid", "", identifier="../etc")
    assert (found["found"], missing["found"], malformed["found"]) == ("y", "n", "n")
    status, password = web.call("get_depui_pwd", session)
    assert status == 501 and password["errorflag"] is True
    assert "not available on this site" in password["statustext"]


@needs_front_end
def test_compose_letters_and_pages(web: WebSite, caplog: pytest.LogCaptureFixture):
    session = web.launch()
    status, letters = web.call("get_msg_tmplts", session, expmethod="X-RAY DIFFRACTION")
    assert status == 200
    for element in ("msg_compose_body_tmplt_default", 'id="em_entry"', 'id="pdb_id"', 'id="accession_ids"'):
        assert element in letters["html"]
    assert "%(" not in letters["html"]
    answer = web.ids["Answer about ligand"]
    page = web.request("display_msg", "GET", sessionid=session, identifier=DEP, msg_id=answer, content_type="msgs")
    assert page.status_int == 200 and page.content_type == "text/html"
    assert "Answer about ligand" in page.text and "Text of Answer about ligand<br />second line" in page.text
    # The page's one "%(" is its own commented-out "%%(auto_check_all)s".
    assert f"var DISPLAYID = '{DEP}'" in page.text and page.text.count("%(") == 1
    history = web.request("view_correspondence", identifier=DEP)
    assert history.status_int == 200 and f"var DEPID     = '{DEP}'" in history.text
    assert f"var DISPLAYID = '{DEP}'" in history.text and "%(" not in history.text
    assert not [r for r in caplog.records if "does not supply" in r.getMessage()]  # every key the pages use


# -- sending, drafts, uploads, archiving ----------------------------------------------------------------------


def test_a_message_sent_with_files_is_in_every_store_the_stage_writes(web: WebSite):
    session = web.new_session()
    status, reply = web.call(
        "submit_msg",
        session,
        subject="Your structure Å",
        message="Dear depositor,\n;please see the files",
        sender="CS",
        content_type="msgs",
        send_status="Y",
        context_type="default",
        msg_file_references="model",
        **{"aux-file1": ("notes.txt", b"hello file"), "aux-file2": ("table.pdf", b"%PDF-1.4 x")},
    )
    assert status == 200 and (reply["success"], reply["pdbx_model_updated"], reply["append_msg"]) == (
        "true",
        "true",
        "",
    )
    session_dir = Path(web.config["MSGMODULE_SESSIONS_DIR"]) / session
    assert (session_dir / "notes.txt").read_bytes() == b"hello file"
    for store in web.stores():
        document = store.load(DEP, "messages-to-depositor")
        sent = document.messages[-1]
        assert (sent.message_subject, sent.message_text) == (
            "Your structure Å",
            "Dear depositor,\n;please see the files",
        )
        references = [r for r in document.file_references if r.message_id == sent.message_id]
        assert sorted((r.content_type, r.content_format, r.upload_file_name) for r in references) == [
            ("auxiliary-file-annotate", "pdf", "table.pdf"),
            ("auxiliary-file-annotate", "txt", "notes.txt"),
            ("model-annotate", "pdbx", None),
        ]
    archived = sorted(p.name for p in (web.archive / DEP).iterdir() if "auxiliary" in p.name)
    assert archived == [f"{DEP}_auxiliary-file-annotate_P1.txt.V1", f"{DEP}_auxiliary-file-annotate_P2.pdf.V1"]
    _, page = web.call(
        "get_dtbl_data",
        session,
        content_type="msgs",
        send_status="Y",
        sEcho="1",
        iDisplayStart="0",
        iDisplayLength="10",
    )
    assert page["aaData"][-1]["message_subject"] == "Your structure Å"
    _, referenced = web.call("get_files_rfrncd", session)
    listed = referenced["files_rfrncd"][page["aaData"][-1]["message_id"]]
    assert {entry["upload_file_name"] for entry in listed} == {"notes.txt", "table.pdf", ""}
    for entry in listed:
        assert entry["relative_file_url"].startswith(f"/sessions/{session}/")
        assert (session_dir / entry["relative_file_url"].rsplit("/", 1)[1]).is_file()


def test_a_draft_is_saved_then_updated_and_a_note_turns_the_notes_flag_on(web: WebSite):
    session = web.new_session()
    status, draft = web.call(
        "update_draft_state", session, subject="Draft", message="v1", sender="CS", content_type="msgs", send_status="N"
    )
    assert (status, draft["success"]) == (200, "true")
    drafts = [m for m in stored(web, "messages-to-depositor")[0] if m.send_status == "N"]
    assert [m.message_subject for m in drafts] == ["Draft"]
    status, again = web.call(
        "update_draft_state",
        session,
        subject="Draft 2",
        message="v2",
        sender="CS",
        content_type="msgs",
        send_status="N",
        msg_id=drafts[0].message_id,
    )
    assert again["success"] == "true"
    for messages in stored(web, "messages-to-depositor"):
        assert [(m.message_subject, m.message_text) for m in messages if m.send_status == "N"] == [("Draft 2", "v2")]
    _, listed = web.call(
        "get_dtbl_data",
        session,
        content_type="msgs",
        send_status="N",
        sEcho="1",
        iDisplayStart="0",
        iDisplayLength="10",
    )
    assert [row["message_subject"] for row in listed["aaData"]] == ["Draft 2"]

    web.request("toggle_notes_flagging", sessionid=session, identifier=DEP, activate_notes_flagging="false")
    _, note = web.call("submit_msg", session, subject="A note", message="n", sender="CS", content_type="notes")
    assert note["success"] == "true"
    for messages in stored(web, "notes-from-annotator"):
        assert messages[-1].message_subject == "A note"
    assert (web.archive / DEP / "NOTES_FLAGGING_STATUS").read_text() == "true\n"


def test_archiving_and_forwarding_to_other_depositions(web: WebSite):
    session = web.new_session()
    orig = {
        "mode": "manual",
        "subject": "Mail from the depositor",
        "message": "the text",
        "orig_sender": "someone@example.org",
        "orig_recipient": "MessagingModule",
        "orig_date": "2024-02-01 10:00:00",
        "orig_subject": "Mail from the depositor",
        "orig_attachments": "",
    }
    status, reply = web.call("archive_msg", session, target_identifier=f"{OTHER}, {DEP}, EMD-1234", **orig)
    assert status == 200
    assert reply["success"] == {"job": "ok", OTHER: "true", DEP: "true", "EMD-1234": "false"}
    assert "EMD-1234" in reply["statustext"] and "converts no EMDB" in reply["statustext"]
    for deposition in (OTHER, DEP):
        for messages in stored(web, "notes-from-annotator", deposition):
            assert (messages[-1].message_subject, messages[-1].message_type) == (
                "ARCHIVED: Mail from the depositor",
                "archive_manual",
            )
    for store in web.stores():
        origcomm = store.load(OTHER, "notes-from-annotator").origcomm_references
        assert [(o.orig_sender, o.orig_deposition_data_set_id) for o in origcomm] == [("someone@example.org", DEP)]
    status, forwarded = web.call("forward_msg", session, target_identifier=OTHER, **orig)
    assert forwarded["success"] == {"job": "ok", OTHER: "true"}
    for messages in stored(web, "messages-to-depositor", OTHER):
        assert (messages[-1].message_subject, messages[-1].message_type) == (
            "FWD: Mail from the depositor",
            "forward_manual",
        )
    # As other sites post it: identifier is the list, no session, flag=y.
    response = web.request("archive_msg", identifier=OTHER, flag="y", subject="Cross-site", message="m")
    assert json.loads(response.text)["success"] == {"job": "ok", OTHER: "true"}
    for messages in stored(web, "notes-from-annotator", OTHER):
        assert (messages[-1].message_subject, messages[-1].message_type) == (
            "ARCHIVED: Cross-site",
            "archive_auto_flag",
        )


# -- bad input: a clear reply, nothing changed --------------------------------------------------------------------

BAD_REQUESTS = [
    pytest.param(
        "get_dtbl_data", {"identifier": "D_1999999999"}, 404, "not a deposition of this site", id="unknown-dep"
    ),
    pytest.param("get_msg", {"identifier": "../../etc"}, 400, "", id="malformed-dep"),
    pytest.param(
        "new_session/wf", {"identifier": "D_1999999999", "sessionid": ""}, 404, "not a deposition", id="launch"
    ),
    pytest.param("view_correspondence", {"identifier": "G_1", "sessionid": ""}, 404, "not a deposition", id="history"),
    pytest.param("check_global_msg_status", {"identifier": ""}, 400, "has no identifier", id="missing-dep"),
    pytest.param("get_msg", {"msg_id": ""}, 400, "no msg_id", id="missing-msg-id"),
    pytest.param("get_msg", {"msg_id": "no-such-message"}, 404, "no message 'no-such-message'", id="unknown-msg"),
    pytest.param("mark_msg_read", {"msg_id": "no-such-message"}, 404, "no message", id="mark-unknown-msg"),
    pytest.param("tag_msg", {"msg_id": "no-such-message", "action_reqd": "Y"}, 404, "no message", id="tag-unknown"),
    pytest.param("get_files_rfrncd", {"sessionid": "f" * 40}, 400, "does not exist", id="unknown-session"),
    pytest.param("check_global_msg_status", {"sessionid": "../../../tmp"}, 400, "not a session id", id="bad-session"),
    pytest.param("get_dtbl_data", {"iDisplayStart": "x"}, 400, "iDisplayStart must be a whole number", id="paging"),
    pytest.param("get_dtbl_config_dtls", {"content_type": "all"}, 400, "content_type 'all'", id="bad-view"),
    pytest.param(
        "submit_msg", {"aux-file1": ("../../evil.txt", b"x")}, 400, "not a plain file name", id="upload-path-name"
    ),
    pytest.param("submit_msg", {"aux-file1": (".hidden", b"x")}, 400, "not a plain file name", id="upload-dot-name"),
    pytest.param("submit_msg", {"aux-file3": ("dir/evil.txt", b"x")}, 400, "not a plain file name", id="upload-folder"),
    pytest.param(
        "submit_msg", {"aux-file1": ("C:\\evil.txt", b"x")}, 400, "not a plain file name", id="upload-windows"
    ),
    pytest.param(
        "submit_msg", {"aux-file2": ("big.txt", b"x" * 2048)}, 413, "upload limit of 1000 bytes", id="upload-size"
    ),
    pytest.param("submit_msg", {"identifier": "D_1999999999"}, 404, "not a deposition", id="submit-unknown-dep"),
    pytest.param("tag_msg", {"action_reqd": "maybe"}, 400, "must be Y or N", id="bad-flag"),
    pytest.param("toggle_notes_flagging", {"activate_notes_flagging": "yes"}, 400, "'true' or 'false'", id="toggle"),
]


@pytest.mark.parametrize("path, params, status, text", BAD_REQUESTS)
def test_bad_input_gets_a_clear_reply_and_changes_nothing(
    tmp_path: Path, db_url: str, path: str, params: dict[str, Any], status: int, text: str
):
    web = make_web_site(tmp_path, "dual-write", db_url, MSGMODULE_UPLOAD_MAX_BYTES="1000")
    session = web.new_session()
    message_id = web.ids["Answer about ligand"]
    request = {
        "sessionid": session,
        "identifier": DEP,
        "content_type": "msgs",
        "msg_id": message_id,
        "subject": "s",
        "message": "m",
        "sender": "CS",
        "sEcho": "1",
        "iDisplayStart": "0",
        "iDisplayLength": "10",
        **params,
    }
    before = web.snapshot()
    response = web.request(path, **request)
    assert response.status_int == status, response.text
    if response.content_type == "application/json":
        body = json.loads(response.text)
        assert body["errorflag"] is True and text in body["statustext"]
    else:
        assert text in html.unescape(response.text)
    assert web.snapshot() == before


@pytest.mark.parametrize("stage", STAGES)
def test_an_upload_refused_midway_leaves_no_file_and_no_message(tmp_path: Path, stage: str):
    web = make_web_site(tmp_path, stage, f"sqlite:///{tmp_path}/m.db", MSGMODULE_UPLOAD_MAX_BYTES="1000")
    session = web.new_session()
    before = web.snapshot()
    response = web.request(
        "submit_msg",
        sessionid=session,
        identifier=DEP,
        subject="s",
        message="m",
        **{"aux-file1": ("small.txt", b"ok"), "aux-file2": ("big.txt", b"x" * 5000)},
    )
    assert response.status_int == 413
    assert web.snapshot() == before


def test_an_upload_never_replaces_another(sqlite_web: WebSite):
    session = sqlite_web.new_session()
    for content in (b"first", b"second"):
        _, reply = sqlite_web.call(
            "submit_msg", session, subject="s", message="m", sender="CS", **{"aux-file1": ("same.txt", content)}
        )
        assert reply["success"] == "true"
    folder = Path(sqlite_web.config["MSGMODULE_SESSIONS_DIR"]) / session
    assert (folder / "same.txt").read_bytes() == b"first"
    assert (folder / "2_same.txt").read_bytes() == b"second"


def test_a_failed_attachment_keeps_no_upload_and_says_why(sqlite_web: WebSite):
    session = sqlite_web.new_session()
    before = sqlite_web.snapshot()
    _, reply = sqlite_web.call(
        "submit_msg", session, subject="s", message="m", sender="CS", **{"aux-file1": ("README", b"no extension")}
    )
    assert reply["success"] == "false" and "aux-file" in reply["append_msg"]
    assert "known file extension" in reply["append_msg"]
    assert sqlite_web.snapshot() == before


# -- routing, pages, the OneDep class --------------------------------------------------------------------------


def test_paths_match_case_insensitively_and_unknown_paths_are_404(sqlite_web: WebSite):
    session = sqlite_web.new_session()
    response = Request.blank(
        "/service/messaging/Check_Global_Msg_Status", POST={"sessionid": session, "identifier": DEP}
    ).get_response(sqlite_web.app)
    assert response.status_int == 200 and json.loads(response.text)["all_msgs_read"] == "false"
    for path in ("/service/messaging/environment/dump", "/service/messaging/no_such_thing", "/elsewhere"):
        response = Request.blank(path).get_response(sqlite_web.app)
        assert response.status_int == 404 and "unknown operation" in response.text


@needs_front_end
def test_launch_page_fills_every_key_escaped(sqlite_web: WebSite, caplog: pytest.LogCaptureFixture):
    response = sqlite_web.request(
        "new_session/wf",
        "GET",
        identifier=DEP,
        filesource="archive",
        annotator="%3Cscript%3Ealert(1)%3C/script%3E",
        expmethod="X-RAY",
        allowunlock="yes",
    )
    assert response.status_int == 200 and response.content_type == "text/html"
    text = response.text
    assert "%(" not in text and "<script>alert" not in text
    assert 'value="&lt;script&gt;alert(1)&lt;/script&gt;"' in text
    session = re.search(r"var SESSION_ID = '([0-9a-f]{40})'", text)
    assert session is not None and (Path(sqlite_web.config["MSGMODULE_SESSIONS_DIR"]) / session.group(1)).is_dir()
    assert f"var DISPLAYID = '{DEP}'" in text and f"var SESS_PATH_PREFIX = '/sessions/{session.group(1)}'" in text
    embedded = sqlite_web.request("launch", "GET", identifier=DEP, embed="true")
    assert embedded.status_int == 200 and "var EMBEDDED_VW = true" in embedded.text.replace("  ", " ")
    assert "%(" not in embedded.text
    sessions = {sqlite_web.launch() for _ in range(3)}
    assert len(sessions) == 3
    assert not [r for r in caplog.records if "does not supply" in r.getMessage()]  # every key the pages use


def test_without_a_front_end_the_launch_page_names_the_setting_and_json_still_answers(tmp_path: Path):
    web = make_web_site(tmp_path, "cif-only", f"sqlite:///{tmp_path}/m.db")
    config = {k: v for k, v in web.config.items() if k != "MSGMODULE_WEB_TEMPLATE_DIR"}
    web.app = MessagingWsgiApp(config=config)
    response = web.request("new_session/wf", "GET", identifier=DEP)
    assert response.status_int == 503 and "MSGMODULE_WEB_TEMPLATE_DIR is not set" in response.text
    status, page = web.call(
        "get_dtbl_data", web.new_session(), content_type="msgs", sEcho="1", iDisplayStart="0", iDisplayLength="10"
    )
    assert status == 200 and len(page["aaData"]) == 4


def test_onedeps_class_answers_its_reply_dictionary(sqlite_web: WebSite):
    session = sqlite_web.new_session()
    params = {
        "request_path": ["/service/messaging/get_msg"],
        "sessionid": [session],
        "identifier": [DEP],
        "content_type": ["msgs"],
        "msg_id": [sqlite_web.ids["Validation report ready"]],
    }
    reply = MessagingWebApp(
        parameterDict=params, verbose=False, log=None, siteId="RCSB", config=sqlite_web.config
    ).doOp()
    assert reply["CONTENT_TYPE"] == "application/json"
    assert json.loads(reply["RETURN_STRING"])["msg_dict"]["message_subject"] == "Validation report ready"


def test_notify_flags_are_onedeps_string_in_its_order():
    every = notify_flags(
        all_read=False,
        all_actioned=False,
        for_release=True,
        approval=True,
        annotator_notes=True,
        notes_flag_active=True,
        bmrb_notes=True,
        bmrb_flag_active=True,
    )
    assert every == "NTRA*B"
    quiet = dict(all_read=True, all_actioned=True, for_release=False, approval=False, bmrb_notes=False)
    assert notify_flags(**quiet, annotator_notes=True, notes_flag_active=False, bmrb_flag_active=True) == ""
    assert (
        notify_flags(
            **{**quiet, "bmrb_notes": True}, annotator_notes=True, notes_flag_active=True, bmrb_flag_active=False
        )
        == "*"
    )


def test_a_request_reads_each_document_once_and_sees_its_own_writes(tmp_path: Path):
    from wwpdb.apps.msgmodule.model import Message
    from wwpdb.apps.msgmodule.stores.cif import CifMessageStore
    from wwpdb.apps.msgmodule.webapp.reads import RequestReads

    store = CifMessageStore(tmp_path)
    store.put_message(DEP, "notes-from-annotator", Message(message_id="m1", message_subject="one"))
    reads = RequestReads(store)
    first = reads.load(DEP, "notes-from-annotator")
    assert reads.load_many(DEP, ["notes-from-annotator"])["notes-from-annotator"] is first  # not read again
    reads.put_message(DEP, "notes-from-annotator", Message(message_id="m2", message_subject="two"))
    assert [m.message_id for m in reads.load(DEP, "notes-from-annotator").messages] == ["m1", "m2"]
    page = reads.page_messages(DEP, ["notes-from-annotator"], None, (), 1, 1)
    assert [m.message_id for _, m in page.messages] == ["m2"] and page.total == 2


@pytest.mark.parametrize("stage", ["dual-write", "db-only"])
def test_a_group_members_messages_go_to_the_group_and_its_flags_to_both(tmp_path: Path, stage: str):
    from wwpdb.apps.msgmodule.io.site import SiteServices

    group = "G_1000300"
    web = make_web_site(tmp_path, stage, f"sqlite:///{tmp_path}/m.db")
    site = SiteServices.defaults(web.archive, {}, web.config["MSGMODULE_STATE_DIR"])
    site.group_of = lambda deposition: group if deposition == DEP else ""
    web.app = MessagingWsgiApp(config=web.config, site=site)
    session = web.new_session()
    _, reply = web.call("submit_msg", session, subject="To the group", message="m", sender="CS", content_type="msgs")
    assert reply["success"] == "true"
    for store in web.stores():
        assert [m.message_subject for m in store.load(group, "messages-to-depositor").messages] == ["To the group"]
        assert "To the group" not in [m.message_subject for m in store.load(DEP, "messages-to-depositor").messages]
    _, status = web.call("check_global_msg_status", session)
    recorded = json.loads((Path(web.config["MSGMODULE_STATE_DIR"]) / NOTIFY_FILE).read_text())
    assert recorded[DEP]["flags"] == recorded[group]["flags"]
    if FRONT_END.is_dir():
        page = web.request("new_session/wf", "GET", identifier=DEP, filesource="archive")
        assert "GROUP/DEPOSITION IDS" in page.text and f"var DISPLAYID = '{group}/{DEP}'" in page.text


def test_msgmodule_status_shows_the_recorded_notify_flags(sqlite_web: WebSite):
    from click.testing import CliRunner

    from wwpdb.apps.msgmodule.cli import cli

    sqlite_web.call("check_global_msg_status", sqlite_web.new_session())
    config = Path(sqlite_web.config["MSGMODULE_CONFIG"])
    keys = {k: v for k, v in sqlite_web.config.items() if k not in ("MSGMODULE_STAGE", "MSGMODULE_CONFIG")}
    config.write_text("[msgmodule]\n" + "".join(f"{k} = {v}\n" for k, v in keys.items()))
    result = CliRunner().invoke(cli, ["status", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "notify:      1 deposition(s) recorded in" in result.output
    assert re.search(rf"{DEP} N\* at 20\d\d-", result.output), result.output


# -- parsed files kept across requests ---------------------------------------------------------------------------

CHILD_REWRITES_IN_PLACE = """
import sys
path = sys.argv[1]
with open(path, "r+b") as handle:  # same inode, same size: only the times say it changed
    text = handle.read()
    handle.seek(0)
    handle.write(text.replace(b"Validation report ready", b"Validation report READY"))
"""
CHILD_WRITES_THROUGH_THE_STORE = """
import sys
from wwpdb.apps.msgmodule.stores.cif import CifMessageStore
store = CifMessageStore(sys.argv[1])
document = store.load(sys.argv[2], "messages-to-depositor")
document.messages[0].message_subject = "Changed by another process"
store.save_new_version(document)
"""


@pytest.mark.parametrize("child", ["in-place", "new-version"])
def test_a_view_after_another_process_wrote_shows_what_it_wrote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, child: str
):
    import subprocess
    import sys

    from wwpdb.apps.msgmodule.stores.cif import PARSED_FILES, ParsedFiles

    monkeypatch.setattr(ParsedFiles, "SETTLE_NS", 0)  # keep even fresh files: only the file's identity guards
    PARSED_FILES.clear()
    web = make_web_site(tmp_path, "cif-only", f"sqlite:///{tmp_path}/m.db")
    session = web.new_session()

    def subjects() -> list[str]:
        status, page = web.call(
            "get_dtbl_data", session, content_type="msgs", sEcho="1", iDisplayStart="0", iDisplayLength="10"
        )
        assert status == 200
        return [row["message_subject"] for row in page["aaData"]]

    assert "Validation report ready" in subjects()
    assert "Validation report ready" in subjects()  # the second request is answered from the kept parse
    current = web.cif.current_file(DEP, "messages-to-depositor")  # type: ignore[union-attr]
    assert str(current) in PARSED_FILES._files
    if child == "in-place":
        command = [sys.executable, "-c", CHILD_REWRITES_IN_PLACE, str(current)]
    else:
        command = [sys.executable, "-c", CHILD_WRITES_THROUGH_THE_STORE, str(web.archive), DEP]
    subprocess.run(command, check=True)
    expected = "Validation report READY" if child == "in-place" else "Changed by another process"
    assert expected in subjects()


def test_files_changed_just_before_they_were_read_are_not_kept(sqlite_web: WebSite):
    from wwpdb.apps.msgmodule.stores.cif import PARSED_FILES

    PARSED_FILES.clear()
    session = sqlite_web.new_session()
    status, _ = sqlite_web.call("get_dtbl_config_dtls", session, content_type="msgs")
    assert status == 200
    # The files were written a moment ago: a second write in the same timestamp tick could go unseen.
    assert not PARSED_FILES._files
