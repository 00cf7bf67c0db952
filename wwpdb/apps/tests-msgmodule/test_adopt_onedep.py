"""Taking over a database OneDep's own module wrote: refuse to touch it unasked, then adopt it.

The site: an archive, and OneDep's tables (its exact schema, onedep_tables.py)
holding messages written since the switch (only there), most of what OneDep's
migrator copied (in both), and a message and a status edited since (conflicts).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO_ROOT, scratch_mysql_database, stage_config
from onedep_tables import create_onedep_tables, insert_onedep_rows, onedep_checksum, rows_of_documents
from sqlalchemy import create_engine, text

from wwpdb.apps.msgmodule.cifformat import format_document
from wwpdb.apps.msgmodule.cli import run
from wwpdb.apps.msgmodule.db.engine import dispose_engines
from wwpdb.apps.msgmodule.model import CONTENT_TYPES, Document, FileReference, Message, MessageStatus
from wwpdb.apps.msgmodule.stores.cif import file_name
from wwpdb.apps.msgmodule.stores.db import DbMessageStore
from wwpdb.apps.msgmodule.synthetic import deposition_documents, generate_archive

pytestmark = pytest.mark.integration

TO, FROM, NOTES = CONTENT_TYPES


def message(mid: str, deposition_id: str, text_: str, day: int = 1) -> Message:
    return Message(
        None, mid, deposition_id, f"2024-01-{day:02d} 10:00:00", "annotator@example.org", None, None, mid,
        f"subject {mid}", text_, "text", "Y",
    )  # fmt: skip


def write_documents(root: Path, documents: list[Document]) -> None:
    for document in documents:
        folder = root / document.deposition_id
        folder.mkdir(parents=True, exist_ok=True)
        (folder / file_name(document.deposition_id, document.content_type, 1)).write_text(
            format_document(document), encoding="ascii"
        )


def build_site(root: Path, url: str, prefix: str = "") -> dict:
    """Archive files and OneDep's tables with messages only in each, in both, and in conflict."""
    d1_to = Document("D_1000000001", TO)
    d1_to.put_message(message("a1", "D_1000000001", "same in both", 1))
    d1_to.put_message(message("a2", "D_1000000001", "archive text", 2))
    d1_to.put_message(
        message("a3", "D_1000000001", "dropped by OneDep's migrator", 3),
        [FileReference(None, "a3", "D_1000000001", "model", "pdbx", "1", "1", "archive", None)] * 2,
    )
    d1_to.statuses += [
        MessageStatus("a1", "D_1000000001", "N", "N", "N"),
        MessageStatus("a2", "D_1000000001", "N", "N", "N"),
        MessageStatus("a3", "D_1000000001", "N", "Y", "N"),
    ]
    d1_from = Document("D_1000000001", FROM)
    d1_from.put_message(message("b1", "D_1000000001", "depositor reply", 4))
    d2_to = Document("D_1000000002", TO)
    d2_to.put_message(message("c1", "D_1000000002", "only in the archive", 5))
    d2_to.statuses.append(MessageStatus("c1", "D_1000000002", "Y", "N", "N"))
    write_documents(root, [d1_to, d1_from, d2_to])

    create_onedep_tables(url)
    # OneDep's copy of the archive: a1 as it is, a2 edited since, a3 and D_1000000002 dropped.
    a2_edited = message("a2", "D_1000000001", "text edited in OneDep", 2)
    only = message("o1", "D_1000000001", "written since the switch", 9)
    note = message("o2", "D_1000000001", "an internal note since the switch", 9)
    new_deposition = message("n1", "D_1000000003", "a deposition that has no folder", 9)
    insert_onedep_rows(
        url,
        [(TO, d1_to.messages[0]), (TO, a2_edited), (FROM, d1_from.messages[0]), (TO, only), (NOTES, note),
         (TO, new_deposition)],
        [FileReference(None, "o1", "D_1000000001", "validation-report", "pdf", "1", "2", "archive", None)],
        [MessageStatus("a1", "D_1000000001", "Y", "N", "N"),  # read since the switch: a status conflict
         MessageStatus("a2", "D_1000000001", "N", "N", "N"),
         MessageStatus("o1", "D_1000000001", "N", "N", "N"),
         MessageStatus("n1", "D_1000000003", "N", "N", "N")],
        prefix=prefix,
    )  # fmt: skip
    return {"d1_to": d1_to}


def ids_of(document: Document) -> list[str | None]:
    return [m.message_id for m in document.messages]


def stored(url: str, deposition_id: str) -> dict[str, Document]:
    return DbMessageStore(url).load_all(deposition_id)


def dump(url: str) -> list[tuple]:
    """This module's rows, without surrogate keys and times: what two runs must agree on."""
    engine = create_engine(url)
    rows = []
    with engine.connect() as connection:
        for table in (
            "pdbx_deposition_message_info",
            "pdbx_deposition_message_file_reference",
            "pdbx_deposition_message_status",
            "pdbx_deposition_message_origcomm_reference",
        ):
            result = connection.execute(
                text(f"SELECT * FROM {table} ORDER BY source_deposition_id, source_content_type, row_order")
            )
            for row in result.mappings():
                rows.append((table, *(v for k, v in row.items() if k not in ("id", "created_at", "updated_at"))))
        for row in connection.execute(
            text(
                "SELECT source_deposition_id, source_content_type, revision, source_file, source_checksum, "
                "migrated_revision FROM msgmodule_document ORDER BY 1, 2"
            )
        ):
            rows.append(tuple(row))
    engine.dispose()
    return rows


@pytest.fixture
def empty_url(empty_db_url):
    yield empty_db_url
    dispose_engines()


# -- refusing to touch OneDep's tables unasked ---------------------------------------------------


def test_init_db_migrate_and_health_refuse_onedeps_tables_and_change_nothing(tmp_path, empty_url, capsys):
    root = tmp_path / "archive"
    build_site(root, empty_url)
    before = onedep_checksum(empty_url)

    for args in (
        ["init-db"],
        ["init-db", "--verify-only"],
        ["init-db", "--reset", "--yes"],
        ["migrate", "--directory", str(root)],
    ):
        assert run([*args, "--db-url", empty_url]) == 1, args
        err = capsys.readouterr().err
        assert "OneDep's own message tables" in err and "msgmodule adopt-onedep" in err, (args, err)

    config = stage_config(tmp_path, "dual-write", empty_url)
    assert (
        run(
            [
                "health",
                "--db-url",
                empty_url,
                "--cif-root",
                config["MSGCIF_ROOT"],
                "--config",
                config["MSGMODULE_CONFIG"],
            ]
        )
        == 1
    )
    out = capsys.readouterr().out
    assert "FAIL db" in out and "msgmodule adopt-onedep" in out, out

    assert onedep_checksum(empty_url) == before
    engine = create_engine(empty_url)
    with engine.connect() as connection:
        from sqlalchemy import inspect

        names = set(inspect(connection).get_table_names())
    engine.dispose()
    assert names <= {
        "pdbx_deposition_message_info",
        "pdbx_deposition_message_file_reference",
        "pdbx_deposition_message_status",
        "msgmodule_site",
    }, names
    assert "alembic_version" not in names and "msgmodule_document" not in names


# -- taking over ----------------------------------------------------------------------------------


def adopt(root: Path, url: str, *extra: str) -> int:
    code = run(["adopt-onedep", "--directory", str(root), "--db-url", url, "--workers", "1", "--no-progress", *extra])
    dispose_engines()
    return code


def test_adopt_stores_every_message_once_reports_the_conflict_and_keeps_onedeps_rows(tmp_path, empty_url, capsys):
    root = tmp_path / "archive"
    build_site(root, empty_url)
    before = onedep_checksum(empty_url)
    report = tmp_path / "adopt.json"

    assert adopt(root, empty_url, "--report", str(report)) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert "moved OneDep's tables aside" in out
    assert "messages: archive 5, OneDep 6; only in archive 2, only in OneDep 3, in both 3, conflicts 2" in out, out
    assert "stored 8" in out

    d1 = stored(empty_url, "D_1000000001")
    assert ids_of(d1[TO]) == ["a1", "a2", "a3", "o1"]
    assert [m.ordinal_id for m in d1[TO].messages] == ["1", "2", "3", "4"]
    assert d1[TO].messages[1].message_text == "text edited in OneDep"  # the rule: OneDep's version wins
    assert ids_of(d1[FROM]) == ["b1"] and ids_of(d1[NOTES]) == ["o2"]
    assert [r.message_id for r in d1[TO].file_references] == ["a3", "a3", "o1"]  # the archive's duplicate kept
    assert [(s.message_id, s.read_status) for s in d1[TO].statuses] == [
        ("a1", "Y"),
        ("a2", "N"),
        ("a3", "N"),
        ("o1", "N"),
    ]
    assert ids_of(stored(empty_url, "D_1000000002")[TO]) == ["c1"]
    assert ids_of(stored(empty_url, "D_1000000003")[TO]) == ["n1"]

    entries = {entry["deposition_id"]: entry for entry in json.loads(report.read_text())["depositions"]}
    conflicts = entries["D_1000000001"]["differences"]
    assert {c["category"] for c in conflicts} == {"pdbx_deposition_message_info", "pdbx_deposition_message_status"}
    assert {"message_text": {"archive": "archive text", "onedep": "text edited in OneDep"}}.items() <= next(
        c["fields"] for c in conflicts if c["message_id"] == "a2"
    ).items()
    assert entries["D_1000000001"]["status"] == "adopted"

    # OneDep's rows are kept, untouched, under the recorded names.
    assert onedep_checksum(empty_url, prefix="onedep_") == before
    from wwpdb.apps.msgmodule.db.engine import get_engine
    from wwpdb.apps.msgmodule.stage.evidence import read_site_value

    record = read_site_value(get_engine(empty_url), "onedep_adoption")
    assert record["tables"]["pdbx_deposition_message_info"] == "onedep_pdbx_deposition_message_info"
    assert record["last_run"]["ok"] is True
    dispose_engines()

    # A re-run is a no-op.
    first = dump(empty_url)
    assert adopt(root, empty_url) == 0
    out = capsys.readouterr().out
    assert "unchanged" in out and "adopted" not in out, out
    assert dump(empty_url) == first

    # The schema is now this module's, and a migration keeps what only OneDep's tables had.
    assert run(["init-db", "--verify-only", "--db-url", empty_url]) == 0
    assert run(["migrate", "--directory", str(root), "--db-url", empty_url, "--workers", "1", "--no-progress"]) == 0
    dispose_engines()
    assert ids_of(stored(empty_url, "D_1000000001")[TO]) == ["a1", "a2", "a3", "o1"]


def test_adopt_prefers_the_archive_when_told(tmp_path, empty_url, capsys):
    root = tmp_path / "archive"
    build_site(root, empty_url)
    assert adopt(root, empty_url, "--prefer", "archive") == 0, capsys.readouterr()
    d1 = stored(empty_url, "D_1000000001")
    assert d1[TO].messages[1].message_text == "archive text"
    assert d1[TO].statuses[0].read_status == "N"
    assert ids_of(d1[TO]) == ["a1", "a2", "a3", "o1"]


def test_a_rerun_after_onedep_wrote_more_stores_the_new_message_in_the_merged_document(tmp_path, empty_url, capsys):
    root = tmp_path / "archive"
    build_site(root, empty_url)
    assert adopt(root, empty_url) == 0, capsys.readouterr()
    # OneDep's module wrote once more before the switch-over: the merged document's recorded copy
    # is one revision behind by design, which is no database change of its own.
    insert_onedep_rows(
        empty_url, [(TO, message("o3", "D_1000000001", "written after the first run", 10))], prefix="onedep_"
    )
    assert adopt(root, empty_url) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert "unchanged                    2" in out and "adopted                      1" in out, out
    assert ids_of(stored(empty_url, "D_1000000001")[TO]) == ["a1", "a2", "a3", "o1", "o3"]


@pytest.fixture(params=["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def two_urls(request, tmp_path):
    """Two empty databases of one kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/one.db", f"sqlite:///{tmp_path}/two.db"
    else:
        server = request.getfixturevalue("mysql_server")
        with scratch_mysql_database(server) as one, scratch_mysql_database(server) as two:
            yield one, two
    dispose_engines()


def test_adopt_reads_onedeps_tables_from_another_database_and_leaves_it_alone(tmp_path, two_urls, capsys):
    onedep_url, url = two_urls
    root = tmp_path / "archive"
    build_site(root, onedep_url)
    before = onedep_checksum(onedep_url)

    assert adopt(root, url, "--onedep-db", onedep_url) == 0, capsys.readouterr()
    assert "moved OneDep's tables aside" not in capsys.readouterr().out
    assert onedep_checksum(onedep_url) == before  # same names, same rows
    assert ids_of(stored(url, "D_1000000001")[TO]) == ["a1", "a2", "a3", "o1"]
    assert ids_of(stored(url, "D_1000000003")[TO]) == ["n1"]

    # The configured database still holding OneDep's tables is refused when another is named.
    assert adopt(root, onedep_url, "--onedep-db", url) == 1
    assert "OneDep's own message tables" in capsys.readouterr().err
    assert onedep_checksum(onedep_url) == before


def test_a_deposition_whose_data_is_refused_fails_alone(tmp_path, two_urls, capsys):
    onedep_url, url = two_urls
    root = tmp_path / "archive"
    build_site(root, onedep_url)
    # OneDep rows no deposition folder can hold, and a row the database refuses (a real trigger).
    insert_onedep_rows(onedep_url, [(TO, message("u1", "unknown", "migrated without an id"))])
    insert_onedep_rows(onedep_url, [(TO, message("refuse-me", "D_1000000003", "the database refuses this"))])
    assert run(["init-db", "--db-url", url]) == 0
    engine = create_engine(url)
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON pdbx_deposition_message_info "
                "WHEN NEW.message_id = 'refuse-me' BEGIN SELECT RAISE(ABORT, 'refused by a trigger'); END"
            )
        else:
            connection.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON pdbx_deposition_message_info FOR EACH ROW "
                "BEGIN IF NEW.message_id = 'refuse-me' THEN "
                "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused by a trigger'; END IF; END"
            )
    engine.dispose()

    assert adopt(root, url, "--onedep-db", onedep_url, "--batch-size", "10") == 1
    captured = capsys.readouterr()
    assert "D_1000000003" in captured.err and "refused by a trigger" in captured.err, captured
    assert "'unknown' (1 message(s)) name no deposition folder" in captured.err
    assert stored(url, "D_1000000003")[TO].is_empty()
    assert ids_of(stored(url, "D_1000000001")[TO]) == ["a1", "a2", "a3", "o1"]
    assert ids_of(stored(url, "D_1000000002")[TO]) == ["c1"]


# -- killed half way ----------------------------------------------------------------------------


def build_generated_site(root: Path, url: str, count: int) -> None:
    """A generated archive; OneDep's tables hold the first 85% of each document's messages and one new message
    per deposition written since the switch."""
    ids = generate_archive(root, count)
    documents = [
        d for index, deposition_id in enumerate(ids) for d in deposition_documents(deposition_id, 7 * 1_000_003 + index)
    ]
    messages, refs, statuses = rows_of_documents(documents, keep=0.85)
    for deposition_id in ids:
        messages.append((TO, message(f"new-{deposition_id}", deposition_id, "written since the switch")))
        statuses.append(MessageStatus(f"new-{deposition_id}", deposition_id, "N", "N", "N"))
    create_onedep_tables(url)
    insert_onedep_rows(url, messages, refs, statuses)


def document_count(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.exec_driver_sql("SELECT COUNT(*) FROM msgmodule_document").scalar_one()
    except Exception:  # noqa: BLE001 - the schema is not there yet
        return 0
    finally:
        engine.dispose()


@pytest.mark.slow
def test_adopt_killed_half_way_gives_the_same_result_on_rerun(tmp_path, two_urls):
    reference_url, url = two_urls
    root = tmp_path / "generated"
    build_generated_site(root, reference_url, 150)
    build_generated_site(tmp_path / "scratch", url, 150)  # the same OneDep rows in the other database
    assert adopt(root, reference_url) == 0

    command = [
        sys.executable, "-m", "wwpdb.apps.msgmodule", "adopt-onedep", "--directory", str(root), "--db-url", url,
        "--workers", "1", "--batch-size", "2", "--no-progress",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    deadline = time.monotonic() + 120
    written = 0
    while time.monotonic() < deadline and process.poll() is None:
        written = document_count(url)
        if written >= 60:
            break
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    assert 0 < written < document_count(reference_url), "the kill should land part way through"

    assert adopt(root, url) == 0
    assert dump(url) == dump(reference_url)
    assert adopt(root, url) == 0  # and again: nothing to do
    assert dump(url) == dump(reference_url)


OURS = (
    "pdbx_deposition_message_info",
    "pdbx_deposition_message_file_reference",
    "pdbx_deposition_message_status",
    "pdbx_deposition_message_origcomm_reference",
)


def test_the_way_back_gives_onedep_its_tables_as_they_were_and_adopt_then_refuses(tmp_path, empty_url, capsys):
    root = tmp_path / "archive"
    build_site(root, empty_url)
    before = onedep_checksum(empty_url)
    assert adopt(root, empty_url) == 0, capsys.readouterr()

    # The README's way back: this module's tables aside, OneDep's back under their own names.
    engine = create_engine(empty_url)
    renames = [(name, f"msgmodule_{name}") for name in OURS[:3]] + [(f"onedep_{name}", name) for name in OURS[:3]]
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            for old, new in renames:
                connection.exec_driver_sql(f"ALTER TABLE {old} RENAME TO {new}")
        else:
            connection.exec_driver_sql("RENAME TABLE " + ", ".join(f"{old} TO {new}" for old, new in renames))
    engine.dispose()
    assert onedep_checksum(empty_url) == before

    capsys.readouterr()
    assert adopt(root, empty_url) == 1
    assert "its takeover was given back" in capsys.readouterr().err
    assert run(["init-db", "--db-url", empty_url]) == 1
    assert onedep_checksum(empty_url) == before


def test_a_value_onedeps_migrator_cut_to_its_column_is_no_conflict_and_the_whole_value_is_kept():
    from wwpdb.apps.msgmodule.adoption import check_against_sources, merge_deposition
    from wwpdb.apps.msgmodule.db.onedep import OneDepRows

    archive = Document("D_1000000001", TO)
    long_sender = "depositor - " + "a very long list of names, " * 10
    archive.put_message(message("a1", "D_1000000001", "text"))
    archive.messages[0].sender = long_sender
    cut = message("a1", "D_1000000001", "text")
    cut.sender = long_sender[:150]  # VARCHAR(150)
    shorter = message("a2", "D_1000000001", "text")
    shorter.sender = long_sender[:149]  # not OneDep's width: a real difference
    archive.put_message(message("a2", "D_1000000001", "text"))
    archive.messages[1].sender = long_sender
    rows = OneDepRows([(TO, cut), (TO, shorter)], [], [])

    merge = merge_deposition("D_1000000001", {TO: archive}, rows, "onedep")
    assert [c.message_id for c in merge.conflicts] == ["a2"]
    assert merge.documents[TO].messages[0].sender == long_sender
    assert check_against_sources(merge.documents, {TO: archive}, rows, merge.conflicts) == []
