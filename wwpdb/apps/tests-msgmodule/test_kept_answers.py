"""A database store keeps a document's flag lists and page order in its process while the document is unchanged:
a write by another process and a restore of a backup by another process are seen by the next request."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import delete
from web_support import OTHER, WebSite, make_web_site

from wwpdb.apps.msgmodule.config import load_settings
from wwpdb.apps.msgmodule.db.engine import get_engine
from wwpdb.apps.msgmodule.db.incarnation import INCARNATION
from wwpdb.apps.msgmodule.db.schema import CATEGORY_TABLES, site
from wwpdb.apps.msgmodule.io.MessagingFactory import create_messaging_service
from wwpdb.apps.msgmodule.stores.answers import KEPT, KeptAnswers
from wwpdb.apps.msgmodule.tools.backup import create_backup

PAGE = {"content_type": "msgs", "send_status": "Y", "sEcho": "1", "iDisplayStart": "0", "iDisplayLength": "50"}

# Run by another process: a message through the site's service (argv: config as JSON, deposition, id, when).
CHILD_WRITES = """
import json, sys
from wwpdb.apps.msgmodule.io.MessagingFactory import create_messaging_service
config, deposition, message_id, when = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
create_messaging_service(config=config).set(
    deposition,
    {"message_id": message_id, "message_subject": f"Subject {message_id}", "message_text": "Text",
     "sender": "CS", "timestamp": when, "send_status": "Y"},
    "messages-to-depositor",
    status={"read_status": "Y", "action_reqd": "N", "for_release": "Y"},
)
"""
CHILD_RESTORES = """
import json, sys
from wwpdb.apps.msgmodule.config import load_settings
from wwpdb.apps.msgmodule.tools.backup import restore_backup
restore_backup(load_settings(json.loads(sys.argv[1])), sys.argv[2])
"""


def view(web: WebSite, session: str) -> tuple[dict[str, Any], list[str]]:
    """The messages view as the page opens it: the table's configuration, and the ids on its first page."""
    status, config = web.call("get_dtbl_config_dtls", session, OTHER, content_type="msgs", send_status="Y")
    assert status == 200, config
    status, page = web.call("get_dtbl_data", session, OTHER, **PAGE)
    assert status == 200, page
    return config["dtbl_config_dict"], [row["message_id"] for row in page["aaData"]]


def write_elsewhere(web: WebSite, message_id: str, when: str) -> None:
    subprocess.run([sys.executable, "-c", CHILD_WRITES, json.dumps(web.config), OTHER, message_id, when], check=True)


def seeded_db_only(tmp_path: Path, db_url: str) -> tuple[WebSite, str]:
    KEPT.clear()
    web = make_web_site(tmp_path, "db-only", db_url)
    service = create_messaging_service(config=web.config)
    for number in range(3):
        service.set(
            OTHER,
            {"message_id": f"m{number}", "message_subject": "Seeded", "timestamp": f"2024-01-0{number + 1} 10:00:00"},
            "messages-to-depositor",
            status={"read_status": "N", "action_reqd": "Y", "for_release": "N"},
        )
    return web, web.new_session()


def test_a_write_by_another_process_is_seen_by_the_next_request(tmp_path: Path, db_url: str):
    web, session = seeded_db_only(tmp_path, db_url)
    first = view(web, session)
    assert view(web, session) == first
    assert KEPT._answers  # the second view was answered from what the first read
    write_elsewhere(web, "elsewhere", "2024-01-02 12:00:00")  # between the seeded ones: the order changes too
    config, ids = view(web, session)
    assert ids == ["m0", "m1", "elsewhere", "m2"]
    assert config["MSGS_ALREADY_READ"] == ["elsewhere"]
    assert config["MSGS_FOR_RELEASE"] == ["elsewhere"]
    assert config["CURRENT_NUM_MSGS_TO_DPSTR"] == 4


def test_a_restore_by_another_process_is_seen_by_the_next_request(tmp_path: Path, db_url: str):
    web, session = seeded_db_only(tmp_path, db_url)
    create_backup(load_settings(web.config), tmp_path / "backups", "before")
    write_elsewhere(web, "lost-by-restore", "2024-02-01 10:00:00")
    assert view(web, session)[1] == ["m0", "m1", "m2", "lost-by-restore"]  # kept at the revision after it
    restored = [sys.executable, "-c", CHILD_RESTORES, json.dumps(web.config), str(tmp_path / "backups" / "before")]
    subprocess.run(restored, check=True)
    # The restored document is back at the revision before the write; one more write brings the revision
    # the kept answers were read at, over other rows.
    write_elsewhere(web, "after-restore", "2024-03-01 10:00:00")
    config, ids = view(web, session)
    assert ids == ["m0", "m1", "m2", "after-restore"]
    assert config["MSGS_ALREADY_READ"] == ["after-restore"]


def test_without_an_incarnation_nothing_is_kept_and_views_stay_right(tmp_path: Path, db_url: str):
    web, session = seeded_db_only(tmp_path, db_url)
    with get_engine(db_url).begin() as connection:  # a schema made before there was one, not re-initialised
        connection.execute(delete(site).where(site.c.name == INCARNATION))
    KEPT.clear()
    assert view(web, session)[1] == ["m0", "m1", "m2"]
    assert not KEPT._answers
    write_elsewhere(web, "elsewhere", "2024-01-05 10:00:00")
    assert view(web, session)[1] == ["m0", "m1", "m2", "elsewhere"]


def test_a_kept_order_whose_row_was_deleted_by_hand_is_read_afresh(tmp_path: Path, db_url: str):
    web, session = seeded_db_only(tmp_path, db_url)
    assert view(web, session)[1] == ["m0", "m1", "m2"]
    info = CATEGORY_TABLES["pdbx_deposition_message_info"]
    with get_engine(db_url).begin() as connection:  # by hand: no revision is bumped
        connection.execute(delete(info).where(info.c.message_id == "m1"))
    assert view(web, session)[1] == ["m0", "m2"]


def test_kept_answers_drop_the_least_recently_used_and_match_only_their_version():
    kept = KeptAnswers(capacity=2)
    kept.put("a", ("i", (("x", 1),)), "A")
    kept.put("b", ("i", (("x", 1),)), "B")
    assert kept.get("a", ("i", (("x", 1),))) == "A"
    kept.put("c", ("i", (("x", 1),)), "C")  # "b" was used least recently
    assert kept.get("b", ("i", (("x", 1),))) is None
    assert kept.get("a", ("i", (("x", 2),))) is None  # another revision
    assert kept.get("a", ("j", (("x", 1),))) is None  # another incarnation
    assert kept.get("a", None) is None
    kept.put("d", None, "D")  # nothing is kept without a version
    assert kept.get("c", ("i", (("x", 1),))) == "C"
