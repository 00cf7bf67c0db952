"""What the web service keeps across requests never shows stale messages: a page after another process appended
a message shows it, a stage move made by another process is followed from the next request, and a database
page equals the archive's page of the same messages (order, searches, sorting, status lists)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from web_support import OTHER, WebSite, make_web_site

from wwpdb.apps.msgmodule.io.MessagingFactory import create_messaging_service
from wwpdb.apps.msgmodule.model import Message
from wwpdb.apps.msgmodule.stage.record import SiteRecordReader
from wwpdb.apps.msgmodule.stores.authority import SITE_WRITER
from wwpdb.apps.msgmodule.stores.cif import PARSED_FILES, ParsedFiles
from wwpdb.apps.msgmodule.stores.db import DbMessageStore
from wwpdb.apps.msgmodule.webapp.wsgi import MessagingWsgiApp

PAGE = {"content_type": "msgs", "send_status": "Y", "sEcho": "1", "iDisplayStart": "0", "iDisplayLength": "50"}
CHILD_APPENDS = """
import sys
from wwpdb.apps.msgmodule.model import Message
from wwpdb.apps.msgmodule.stores.cif import CifMessageStore
CifMessageStore(sys.argv[1]).put_message(
    sys.argv[2],
    "messages-to-depositor",
    Message(message_id="appended-elsewhere", message_subject="Appended by another process",
            timestamp="2030-01-01 00:00:00", send_status="Y", message_type="text"),
)
"""
CHILD_MOVES_STAGE = """
import json, sys
from wwpdb.apps.msgmodule.config import load_settings
from wwpdb.apps.msgmodule.stage.lifecycle import move_stage
move_stage(load_settings(json.loads(sys.argv[1])), sys.argv[2], force=True)
"""


def view(web: WebSite, session: str, deposition: str, **extra: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The messages view as the page opens it: the table's configuration and its first page."""
    status, config = web.call("get_dtbl_config_dtls", session, deposition, content_type="msgs", send_status="Y")
    assert status == 200, config
    status, page = web.call("get_dtbl_data", session, deposition, **{**PAGE, **extra})
    assert status == 200, page
    return config["dtbl_config_dict"], page


@pytest.mark.parametrize("stage", ["cif-only", "dual-write"])
def test_a_page_after_another_process_appended_a_message_shows_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stage: str
):
    monkeypatch.setattr(ParsedFiles, "SETTLE_NS", 0)  # keep even fresh files: only the files' identities guard
    PARSED_FILES.clear()
    web = make_web_site(tmp_path, stage, f"sqlite:///{tmp_path}/m.db")
    session = web.new_session()
    first_config, first = view(web, session, "D_1000000201")
    again_config, again = view(web, session, "D_1000000201")
    assert (again_config, again) == (first_config, first)
    assert PARSED_FILES._derived  # the page's order and the flag lists were kept, and served the second view
    subprocess.run([sys.executable, "-c", CHILD_APPENDS, str(web.archive), "D_1000000201"], check=True)
    config, page = view(web, session, "D_1000000201")
    assert [row["message_subject"] for row in page["aaData"]][-1] == "Appended by another process"
    assert page["iTotalRecords"] == first["iTotalRecords"] + 1
    assert config["CURRENT_NUM_MSGS_TO_DPSTR"] == first_config["CURRENT_NUM_MSGS_TO_DPSTR"] + 1
    assert "appended-elsewhere" in config["MSGS_NO_ACTION_REQD"]


def test_a_stage_move_by_another_process_is_followed_by_the_next_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # Reads would trust the stage they saw for an hour: only each request's own look at the record sees a move.
    monkeypatch.setattr(SiteRecordReader.current, "__defaults__", (3600.0,))
    web = make_web_site(tmp_path, "dual-write", f"sqlite:///{tmp_path}/m.db")
    site = {key: value for key, value in web.config.items() if key != "MSGMODULE_STAGE"}
    web.app = MessagingWsgiApp(config=site)  # a process that follows the site's stage (names none of its own)
    session = web.new_session()
    DbMessageStore(web.config["MSGDB_URL"], site_writer=SITE_WRITER).put_message(  # past the guard: a seed
        OTHER, "messages-to-depositor", Message(message_id="only-in-db", message_subject="Only in the database")
    )
    _, page = view(web, session, OTHER)
    assert page["aaData"] == []  # dual-write reads the archive
    subprocess.run([sys.executable, "-c", CHILD_MOVES_STAGE, json.dumps(site), "db-only"], check=True)
    _, page = view(web, session, OTHER)
    assert [row["message_subject"] for row in page["aaData"]] == ["Only in the database"]


MESSAGES = [
    # (content type, id, subject, sender, time, send status, read, action, release)
    ("messages-to-depositor", "m01", "Validation report", "CS", "2024-02-01 10:00:00", "Y", "Y", "N", "N"),
    ("messages-from-depositor", "m02", "Ligand question", "dep@example.org", "2024-02-02 09:00:00", "Y", "N", "Y", "N"),
    ("messages-to-depositor", "m03", "Ligand answer", "CS", "2024-02-02 09:00:00", "Y", "N", "N", "Y"),  # a tie
    ("messages-to-depositor", "m04", "A draft", "CS", "2024-02-03 09:00:00", "N", "N", "N", "N"),
    ("messages-from-depositor", "m05", "Release request", "dep@example.org", "2024-02-04 09:00:00", "Y", "Y", "Y", "Y"),
    ("messages-to-depositor", "m06", "Ligand <b>again</b>", "CS", "2024-02-01 08:00:00", "Y", "Y", "N", "N"),
]


def seeded(tmp_path: Path, stage: str) -> WebSite:
    web = make_web_site(tmp_path / stage, stage, f"sqlite:///{tmp_path}/{stage}.db")
    service = create_messaging_service(config=web.config)
    for content_type, message_id, subject, sender, when, send, read, action, release in MESSAGES:
        service.set(
            OTHER,
            {
                "message_id": message_id,
                "message_subject": subject,
                "message_text": f"Text of {subject}",
                "sender": sender,
                "timestamp": when,
                "send_status": send,
            },
            content_type,
            status={"read_status": read, "action_reqd": action, "for_release": release},
        )
    return web


def test_a_database_page_equals_the_archives_page_of_the_same_messages(tmp_path: Path):
    cif_site, db_site = seeded(tmp_path, "cif-only"), seeded(tmp_path, "db-only")
    sessions = {id(cif_site): cif_site.new_session(), id(db_site): db_site.new_session()}
    props = {f"mDataProp_{n}": column for n, column in enumerate(Message.ITEMS)}
    asked: list[dict[str, Any]] = [
        {},
        {"iDisplayStart": "1", "iDisplayLength": "2"},
        {"send_status": "N"},
        {"sSearch": "ligand"},
        {"bSearchable_8": "true", "sSearch_8": "Release"},
        {"iSortingCols": "1", "iSortCol_0": "3", "sSortDir_0": "desc", "bSortable_0": "true", **props},
        {"iSortingCols": "1", "iSortCol_0": "4", "sSortDir_0": "asc", "bSortable_0": "true", **props},
    ]
    answers = []
    for web in (cif_site, db_site):
        session = sessions[id(web)]
        config, _ = view(web, session, OTHER)
        pages = [view(web, session, OTHER, **extra)[1] for extra in asked]
        answers.append((config, [{k: v for k, v in page.items() if k != "sessionid"} for page in pages]))
    (cif_config, cif_pages), (db_config, db_pages) = answers
    assert cif_config == db_config
    assert cif_config["MSGS_ALREADY_READ"] == ["m01", "m05", "m06"]
    assert cif_config["MSGS_FOR_RELEASE"] == ["m03", "m05"]
    for extra, cif_page, db_page in zip(asked, cif_pages, db_pages, strict=True):
        assert cif_page == db_page, extra
        assert cif_page["aaData"] or extra.get("send_status") == "N", extra
    assert [row["message_id"] for row in cif_pages[0]["aaData"]] == ["m06", "m01", "m02", "m03", "m05"]


def test_settings_are_kept_until_the_config_file_or_environment_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from wwpdb.apps.msgmodule.webapp.served import served_site

    web = make_web_site(tmp_path, "cif-only", f"sqlite:///{tmp_path}/m.db")
    kept = served_site(web.config, None)
    assert served_site(web.config, None) is kept and kept.store() is kept.store()
    Path(web.config["MSGMODULE_CONFIG"]).write_text("[msgmodule]\nMSGMODULE_UPLOAD_MAX_BYTES = 1000\n")
    again = served_site(web.config, None)
    assert again is not kept and again.settings.web_options["MSGMODULE_UPLOAD_MAX_BYTES"] == "1000"
    monkeypatch.setenv("MSGMODULE_SMTP_HOST", "mail.example.org")
    assert served_site(web.config, None) is not again
