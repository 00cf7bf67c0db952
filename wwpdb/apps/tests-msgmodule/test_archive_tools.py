"""Migration, validation and export on real archives, in SQLite and MariaDB."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import EXAMPLE_ARCHIVE, REPO_ROOT, stage_config
from sqlalchemy import func, select, text

from wwpdb.apps.msgmodule.cli import run
from wwpdb.apps.msgmodule.config import load_settings
from wwpdb.apps.msgmodule.db import schema_versions
from wwpdb.apps.msgmodule.db.engine import get_engine
from wwpdb.apps.msgmodule.db.schema import CATEGORY_TABLES, documents
from wwpdb.apps.msgmodule.equivalence import differences
from wwpdb.apps.msgmodule.io.MessagingFactory import MessagingFactory
from wwpdb.apps.msgmodule.model import CONTENT_TYPES, Message
from wwpdb.apps.msgmodule.stage.lifecycle import read_site
from wwpdb.apps.msgmodule.stores.cif import CifMessageStore
from wwpdb.apps.msgmodule.stores.db import DbMessageStore
from wwpdb.apps.msgmodule.synthetic import generate_archive

SCRIPTS = REPO_ROOT / "scripts"
TO = "messages-to-depositor"


def migrate(root: Path, db_url: str, *extra: str) -> int:
    return run(["migrate", "--directory", str(root), "--db-url", db_url, "--workers", "2", *extra])


def validate(root: Path, db_url: str, *extra: str) -> int:
    return run(["validate", "--directory", str(root), "--db-url", db_url, "--workers", "2", *extra])


def report_of(path: Path) -> dict[str, dict]:
    return {entry["deposition_id"]: entry for entry in json.loads(path.read_text())["depositions"]}


def row_totals(db_url: str) -> dict[str, int]:
    with get_engine(db_url).connect() as connection:
        return {
            name: connection.execute(select(func.count()).select_from(table)).scalar_one()
            for name, table in CATEGORY_TABLES.items()
        }


def revisions(db_url: str) -> dict[tuple[str, str], int]:
    with get_engine(db_url).connect() as connection:
        query = select(documents.c.source_deposition_id, documents.c.source_content_type, documents.c.revision)
        return {(d, c): r for d, c, r in connection.execute(query)}


def archive_totals(root: Path) -> dict[str, int]:
    store = CifMessageStore(root)
    totals: dict[str, int] = {}
    for deposition_id in store.list_depositions():
        for document in store.load_all(deposition_id).values():
            for name, count in document.row_counts().items():
                totals[name] = totals.get(name, 0) + count
    return totals


def test_migrate_validate_export_round_trip(example_archive, db_url, tmp_path, capsys):
    report = tmp_path / "migrate.json"
    assert migrate(example_archive, db_url, "--report", str(report)) == 0
    entries = report_of(report)
    assert {d: e["status"] for d, e in entries.items()} == {
        "D_1000000001": "migrated",
        "D_1000000002": "migrated",
        "G_1000003": "migrated",
    }
    v10 = [f for f in entries["D_1000000002"]["files"] if f["content_type"] == TO][0]
    assert (v10["file"], v10["version"]) == ("D_1000000002_messages-to-depositor_P1.cif.V10", 10)
    assert entries["D_1000000001"]["rows"]["pdbx_deposition_message_file_reference"] == 6
    assert row_totals(db_url) == archive_totals(example_archive)

    assert validate(example_archive, db_url) == 0
    assert "ALL EQUAL" in capsys.readouterr().out

    export_dir = tmp_path / "export"
    assert run(["export", "--output-dir", str(export_dir), "--db-url", db_url]) == 0
    source, exported = CifMessageStore(example_archive), CifMessageStore(export_dir)
    assert exported.list_depositions() == source.list_depositions()
    for deposition_id in source.list_depositions():
        for content_type in CONTENT_TYPES:
            assert (
                differences(source.load(deposition_id, content_type), exported.load(deposition_id, content_type)) == []
            )
    written = exported.current_file("D_1000000002", TO)
    assert written is not None and written.name.endswith(".V1")
    assert validate(export_dir, db_url) == 0


def test_every_sample_migrates_and_validates(sample_archive, db_url):
    assert migrate(sample_archive, db_url) == 0
    assert validate(sample_archive, db_url) == 0
    assert row_totals(db_url) == archive_totals(sample_archive)
    stored = DbMessageStore(db_url).load("D_0000277853", TO)
    assert stored.messages[0].deposition_data_set_id == "D_9000277853"


def test_a_rerun_writes_nothing_and_says_so(example_archive, db_url, capsys):
    assert migrate(example_archive, db_url) == 0
    before = (revisions(db_url), row_totals(db_url))
    capsys.readouterr()
    assert migrate(example_archive, db_url) == 0
    out = capsys.readouterr().out
    assert "nothing to do" in out and "unchanged" in out
    assert (revisions(db_url), row_totals(db_url)) == before


def test_changed_files_are_brought_up_to_date_and_only_they(example_archive, db_url, tmp_path):
    assert migrate(example_archive, db_url) == 0
    before = revisions(db_url)
    CifMessageStore(example_archive).put_message("D_1000000001", TO, Message(message_id="later", message_text="new"))
    report = tmp_path / "again.json"
    assert migrate(example_archive, db_url, "--report", str(report)) == 0
    statuses = {d: e["status"] for d, e in report_of(report).items()}
    assert statuses == {"D_1000000001": "migrated", "D_1000000002": "unchanged", "G_1000003": "unchanged"}
    after = revisions(db_url)
    assert after[("D_1000000001", TO)] == before[("D_1000000001", TO)] + 1
    assert {k: v for k, v in after.items() if k != ("D_1000000001", TO)} == {
        k: v for k, v in before.items() if k != ("D_1000000001", TO)
    }
    assert DbMessageStore(db_url).load("D_1000000001", TO).find_message("later") is not None
    assert validate(example_archive, db_url) == 0


def test_database_changes_since_migration_are_kept_unless_forced(example_archive, db_url, tmp_path, capsys):
    assert migrate(example_archive, db_url) == 0
    DbMessageStore(db_url).put_message("D_1000000001", TO, Message(message_id="db-only", message_text="keep me"))
    report = tmp_path / "r.json"
    capsys.readouterr()
    assert migrate(example_archive, db_url, "--report", str(report)) == 0
    entry = report_of(report)["D_1000000001"]
    assert entry["status"] == "conflict-kept"
    assert "kept them" in entry["warnings"][0]
    assert "kept database changes" in capsys.readouterr().out
    assert DbMessageStore(db_url).load("D_1000000001", TO).find_message("db-only") is not None
    assert validate(example_archive, db_url) == 1

    assert migrate(example_archive, db_url, "--force-overwrite", "--report", str(report)) == 0
    entry = report_of(report)["D_1000000001"]
    assert entry["status"] == "overwritten" and "overwritten" in entry["warnings"][0]
    assert DbMessageStore(db_url).load("D_1000000001", TO).find_message("db-only") is None
    assert validate(example_archive, db_url) == 0


def test_documents_written_by_dual_write_are_in_sync_not_conflicts(example_archive, db_url, tmp_path):
    assert migrate(example_archive, db_url) == 0
    config = stage_config(tmp_path, "dual-write", db_url, MSGCIF_ROOT=str(example_archive))
    MessagingFactory.create_messaging_service(config=config).set("D_1000000001", {"message_text": "via dual-write"})
    report = tmp_path / "r.json"
    assert migrate(example_archive, db_url, "--report", str(report)) == 0
    assert report_of(report)["D_1000000001"]["status"] == "in-sync"
    assert migrate(example_archive, db_url, "--report", str(report)) == 0
    assert report_of(report)["D_1000000001"]["status"] == "unchanged"


def test_dry_run_writes_nothing(example_archive, db_url, tmp_path):
    report = tmp_path / "dry.json"
    assert migrate(example_archive, db_url, "--dry-run", "--report", str(report)) == 0
    assert {e["status"] for e in report_of(report).values()} == {"would-migrated"}
    assert revisions(db_url) == {} and sum(row_totals(db_url).values()) == 0


def test_a_tampered_row_makes_validate_exit_1_naming_deposition_and_field(example_archive, db_url, tmp_path, capsys):
    assert migrate(example_archive, db_url) == 0
    with get_engine(db_url).begin() as connection:
        connection.execute(
            text(
                "UPDATE pdbx_deposition_message_status SET read_status = 'N' "
                "WHERE source_deposition_id = 'D_1000000001' AND message_id = '0b7d3c0e-1111-4a55-9c01-000000000002'"
            )
        )
    report = tmp_path / "v.json"
    capsys.readouterr()
    assert validate(example_archive, db_url, "--report", str(report)) == 1
    out = capsys.readouterr().out
    assert "DIFFERENT D_1000000001" in out and "read_status" in out
    entry = report_of(report)["D_1000000001"]
    assert entry["status"] == "different"
    assert entry["differences"] == [
        {
            "content_type": TO,
            "category": "pdbx_deposition_message_status",
            "row": 3,
            "item": "read_status",
            "left": "Y",
            "right": "N",
        }
    ]
    assert report_of(report)["G_1000003"]["status"] == "equal"


def test_validate_reports_depositions_only_in_the_database(example_archive, db_url, capsys):
    assert migrate(example_archive, db_url) == 0
    DbMessageStore(db_url).put_message("D_5550000", TO, Message(message_id="orphan"))
    assert validate(example_archive, db_url) == 1
    assert "DIFFERENT D_5550000" in capsys.readouterr().out


def test_validation_outcome_unlocks_the_database_stages(example_archive, db_url, tmp_path):
    cfg = tmp_path / "site.cfg"
    config = ["--config", str(cfg)]
    cfg.write_text(
        f"[msgmodule]\nMSGMODULE_STATE_DIR = {tmp_path / 'state'}\nMSGMODULE_STAGE = dual-write\n"
        f"MSGCIF_ROOT = {example_archive}\nMSGDB_URL = {db_url}\n"
    )
    assert run(["stage", "db-primary", *config]) == 1
    assert migrate(example_archive, db_url) == 0
    assert validate(example_archive, db_url, *config) == 0
    assert run(["stage", "db-primary", *config]) == 0
    assert read_site(load_settings({"MSGMODULE_CONFIG": str(cfg)})).stage == "db-primary"


def test_selectors_shard_and_depositions_file(example_archive, db_url, tmp_path):
    halves = []
    for shard in ("1/2", "2/2"):
        report = tmp_path / f"s{shard[0]}.json"
        assert migrate(example_archive, db_url, "--shard", shard, "--report", str(report)) == 0
        halves.append(set(report_of(report)))
    assert halves[0] | halves[1] == {"D_1000000001", "D_1000000002", "G_1000003"}
    assert not halves[0] & halves[1]
    listing = tmp_path / "ids.txt"
    listing.write_text("# two of them\nG_1000003\n\nD_1000000001  # trailing comment\n")
    report = tmp_path / "f.json"
    assert validate(example_archive, db_url, "--depositions-file", str(listing), "--report", str(report)) == 0
    assert set(report_of(report)) == {"G_1000003", "D_1000000001"}
    assert (
        run(
            [
                "validate",
                "--directory",
                str(example_archive),
                "--db-url",
                db_url,
                "--deposition",
                "D_1000000001",
                "G_1000003",
            ]
        )
        == 0
    )
    listing.write_text("D_1\n../etc\n")
    assert migrate(example_archive, db_url, "--depositions-file", str(listing)) == 2


def test_migration_needs_the_schema(example_archive, sqlite_url, capsys):
    assert migrate(example_archive, sqlite_url) == 1
    assert "msgmodule init-db" in capsys.readouterr().err


def test_export_in_place_writes_a_new_version(example_archive, db_url):
    assert migrate(example_archive, db_url) == 0
    site = ["--cif-root", str(example_archive), "--db-url", db_url]
    assert run(["export", "--in-place", *site, "--deposition", "D_1000000002"]) == 2  # the archive rules in cif-only
    assert validate(example_archive, db_url, "--cif-root", str(example_archive)) == 0
    assert run(["stage", "db-only", *site]) == 0  # the database rules: writing it back is a rollback's first step
    assert run(["export", "--in-place", *site, "--deposition", "D_1000000002"]) == 0
    store = CifMessageStore(example_archive)
    assert store.current_file("D_1000000002", TO).name.endswith(".V11")
    assert (example_archive / "D_1000000002" / "D_1000000002_messages-to-depositor_P1.cif.V10").exists()
    assert validate(example_archive, db_url) == 0


# -- failures: the others still migrate ------------------------------------------------


def test_an_unparseable_file_and_an_unreadable_directory_fail_alone(example_archive, db_url, tmp_path):
    broken = example_archive / "D_1000000009"
    shutil.copytree(EXAMPLE_ARCHIVE.parent / "broken" / "D_1000000009", broken)
    locked = example_archive / "D_1000000010"
    locked.mkdir()
    (locked / "D_1000000010_messages-to-depositor_P1.cif.V1").write_text("data_messages\n")
    locked.chmod(0o000)
    command = [
        sys.executable,
        str(SCRIPTS / "migrate_cif_to_db.py"),
        "--directory",
        str(example_archive),
        "--db-url",
        db_url,
        "--workers",
        "2",
        "--report",
        str(tmp_path / "r.json"),
    ]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: cannot make a directory unreadable")
        # Root reads any directory; without these two capabilities it obeys the mode bits like anyone.
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--", *command]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    finally:
        locked.chmod(0o755)
    assert result.returncode == 1, result.stderr
    statuses = {d: e["status"] for d, e in report_of(tmp_path / "r.json").items()}
    assert statuses == {
        "D_1000000001": "migrated",
        "D_1000000002": "migrated",
        "G_1000003": "migrated",
        "D_1000000009": "failed",
        "D_1000000010": "failed",
    }
    assert "D_1000000009" in result.stderr and "line 8" in result.stderr
    assert "D_1000000010" in result.stderr and "Permission denied" in result.stderr
    assert DbMessageStore(db_url).load("D_1000000009", TO).is_empty()


def test_schema_upgrade_from_revision_0001_keeps_data(sqlite_url):
    from alembic import command

    from wwpdb.apps.msgmodule.db.schema_versions import _config

    engine = get_engine(sqlite_url)
    with engine.begin() as connection:
        config = _config()
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.execute(
            text(
                "INSERT INTO msgmodule_document (source_deposition_id, source_content_type, revision) "
                "VALUES ('D_1', 'messages-to-depositor', 1)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO pdbx_deposition_message_info (source_deposition_id, source_content_type, row_order, "
                "message_id, message_text) VALUES ('D_1', 'messages-to-depositor', 0, 'old', 'kept')"
            )
        )
    assert not schema_versions.verify(sqlite_url).ok
    assert schema_versions.upgrade(sqlite_url) == ("0001", schema_versions.head_revision())
    assert schema_versions.verify(sqlite_url).ok
    assert DbMessageStore(sqlite_url).load("D_1", TO).messages[0].message_text == "kept"


# -- killed half way -----------------------------------------------------------------------


@pytest.mark.slow
def test_a_migration_killed_half_way_finishes_on_rerun_without_duplicates(tmp_path, db_url):
    root = tmp_path / "generated"
    generate_archive(root, 300)
    files = sum(1 for _ in root.glob("D_*/*_P1.cif.V1"))
    command = [
        sys.executable,
        str(SCRIPTS / "migrate_cif_to_db.py"),
        "--directory",
        str(root),
        "--db-url",
        db_url,
        "--workers",
        "2",
        "--batch-size",
        "5",
        "--no-progress",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 120
    migrated = 0
    while time.monotonic() < deadline and process.poll() is None:
        migrated = len(revisions(db_url))
        if migrated >= 60:
            break
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    assert 0 < migrated < files, "the kill should land part way through"
    assert len(revisions(db_url)) < files
    assert migrate(root, db_url) == 0
    assert validate(root, db_url) == 0
    assert row_totals(db_url) == archive_totals(root)


TRICKY_TEXTS = [
    "tab\there",
    "back\\slash",
    "\\N",
    "\\",
    "line\nbreak",
    "cr\r\nlf",
    "x\\ty",
    "é 日本 Å",
    ";semi",
    "quote ' \" `",
    "",
    "ends with backslash\\",
]


def test_every_value_survives_migration_exactly(tmp_path, db_url):
    root = tmp_path / "archive"
    root.mkdir()
    store = CifMessageStore(root)
    for number, text_ in enumerate(TRICKY_TEXTS):
        deposition_id = f"D_10000008{number:02d}"
        store.put_message(
            deposition_id,
            TO,
            Message(message_id=f"m{number}", message_text=text_, message_subject=text_ or None, sender=None),
        )
    assert migrate(root, db_url) == 0
    db = DbMessageStore(db_url)
    for number, text_ in enumerate(TRICKY_TEXTS):
        deposition_id = f"D_10000008{number:02d}"
        assert db.load(deposition_id, TO) == store.load(deposition_id, TO), repr(text_)
        assert (
            db.load(deposition_id, TO).messages[0].message_text
            == store.load(deposition_id, TO).messages[0].message_text
        )
    assert validate(root, db_url) == 0


# -- the bulk path (LOAD DATA LOCAL INFILE on MariaDB) ----------------------------------


def session_count(connection, statement: str) -> int:
    """How many statements of a kind this connection has run (MariaDB's session status)."""
    return int(connection.exec_driver_sql(f"SHOW SESSION STATUS LIKE 'Com_{statement}'").one()[1])


AWKWARD_VALUES = [
    "back\\slash \\N \\t \\n \\0 \\\\",
    "tab\there\tand there",
    "line one\nline two\r\nline three\r",
    "nul \x00 in the middle",
    "\\N",
    "N",
    "",
    " leading and trailing ",
    "Å 中文 🧬 &#197; \\u00c5",
]


@pytest.mark.mysql
@pytest.mark.parametrize("path", ["dictionaries", "documents"])
def test_the_bulk_path_stores_every_awkward_value_exactly_and_is_the_path_taken(mysql_url, path):
    from wwpdb.apps.msgmodule.db.engine import write_transaction
    from wwpdb.apps.msgmodule.model import CATEGORIES, Document, MessageStatus
    from wwpdb.apps.msgmodule.stores.db import bulk_insert_documents, bulk_insert_rows, read_document, row_params

    schema_versions.upgrade(mysql_url)
    document = Document("D_1000000077", TO)
    for number, value in enumerate(AWKWARD_VALUES):
        document.messages.append(
            Message(str(number + 1), f"m{number}", "D_1000000077", value, value, None, None, f"m{number}", value, value)
        )
        document.statuses.append(MessageStatus(f"m{number}", "D_1000000077", value or None, None, "N"))
    engine = get_engine(mysql_url, bulk_load=True)
    with write_transaction(engine) as connection:
        loads, inserts = session_count(connection, "load"), session_count(connection, "insert")
        for category in CATEGORIES:
            if path == "documents":  # what the migration uses: the file's lines made from the rows
                bulk_insert_documents(connection, category, [document])
                continue
            rows = [row_params(document, category, row, order) for order, row in enumerate(document.rows(category))]
            if rows:
                bulk_insert_rows(connection, CATEGORY_TABLES[category.name], rows)
        assert session_count(connection, "load") == loads + 2
        assert session_count(connection, "insert") == inserts
    with get_engine(mysql_url).connect() as connection:
        assert read_document(connection, "D_1000000077", TO) == document


@pytest.mark.mysql
def test_a_migration_batch_sends_as_many_statements_for_many_documents_as_for_few(tmp_path, mysql_server):
    """Each table's rows and the tracking rows go in one statement each, never one per document."""
    from conftest import scratch_mysql_database

    from wwpdb.apps.msgmodule.archive_tools import MigrationOptions, migrate_batch

    root = tmp_path / "archive"
    ids = generate_archive(root, 40)
    store = CifMessageStore(root)
    # Depositions with rows in all four tables, so both batches load the same tables.
    full = [
        d
        for d in ids
        if all(sum(doc.row_counts()[name] for doc in store.load_all(d).values()) for name in CATEGORY_TABLES)
    ]
    statements = {}
    for size in (3, 15):
        with scratch_mysql_database(mysql_server) as url:
            schema_versions.upgrade(url)
            outcomes = migrate_batch(MigrationOptions(str(root), url), full[:size])
            assert [outcome.status for outcome in outcomes] == ["migrated"] * size
            engine = get_engine(url, bulk_load=True)
            assert engine.pool.checkedin() == 1  # the batch ran on one connection: its session counts it all
            with engine.connect() as connection:
                statements[size] = {kind: session_count(connection, kind) for kind in ("update", "insert", "load")}
                statements[size]["all"] = int(
                    connection.exec_driver_sql("SHOW SESSION STATUS LIKE 'Questions'").one()[1]
                )
            assert row_totals(url) == {
                name: sum(doc.row_counts()[name] for d in full[:size] for doc in store.load_all(d).values())
                for name in CATEGORY_TABLES
            }
    assert statements[15] == statements[3]
    assert statements[3]["update"] == 0 and statements[3]["load"] == len(CATEGORY_TABLES)


@pytest.mark.mysql
def test_a_value_the_bulk_path_would_cut_is_refused_by_name_and_nothing_is_stored(mysql_url):
    from sqlalchemy.exc import DBAPIError

    from wwpdb.apps.msgmodule.db.engine import mysql_code, write_transaction
    from wwpdb.apps.msgmodule.model import CATEGORIES, Document
    from wwpdb.apps.msgmodule.stores.db import bulk_insert_rows, row_params

    schema_versions.upgrade(mysql_url)
    document = Document("D_1000000078", TO)
    document.messages += [Message("1", "fits"), Message("9" * 40, "ordinal too long for its column")]
    table = CATEGORY_TABLES["pdbx_deposition_message_info"]
    rows = [row_params(document, CATEGORIES[0], row, order) for order, row in enumerate(document.messages)]
    engine = get_engine(mysql_url, bulk_load=True)
    # LOAD DATA LOCAL would store the value cut to 32 characters, with a warning: the rows
    # go in by INSERT instead, which the server refuses naming the column.
    with pytest.raises(DBAPIError) as refused, write_transaction(engine) as connection:
        bulk_insert_rows(connection, table, rows)
    assert mysql_code(refused.value) == 1406 and "ordinal_id" in str(refused.value)
    with get_engine(mysql_url).connect() as connection:
        assert connection.execute(select(func.count()).select_from(table)).scalar_one() == 0


@pytest.mark.mysql
def test_migration_falls_back_to_inserts_when_the_server_refuses_local_files(example_archive, mysql_url):
    from wwpdb.apps.msgmodule.db.engine import dispose_engines

    schema_versions.upgrade(mysql_url)
    admin = get_engine(mysql_url)
    with admin.connect() as connection:
        was = connection.exec_driver_sql("SELECT @@GLOBAL.local_infile").scalar_one()
        connection.exec_driver_sql("SET GLOBAL local_infile = 0")
    try:
        dispose_engines()
        assert migrate(example_archive, mysql_url) == 0
        assert row_totals(mysql_url) == archive_totals(example_archive)
        assert validate(example_archive, mysql_url) == 0
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"SET GLOBAL local_infile = {int(was)}")


@pytest.mark.mysql
def test_a_deadlock_during_a_bulk_load_reaches_the_retries_as_a_deadlock(mysql_url):
    # InnoDB rolls back a deadlock victim's whole transaction, savepoint and all: the load must
    # raise the deadlock itself (which is retried), not the failure to roll back to the savepoint.
    import threading

    from sqlalchemy import create_engine

    from wwpdb.apps.msgmodule.db.engine import is_transient, mysql_code, write_transaction
    from wwpdb.apps.msgmodule.stores.db import bulk_insert_rows

    schema_versions.upgrade(mysql_url)
    info = CATEGORY_TABLES["pdbx_deposition_message_info"]
    other = create_engine(mysql_url)
    holder = other.connect()
    holder.begin()
    # The other transaction holds row id 5 and has changed many rows, so InnoDB picks ours as the victim.
    holder.exec_driver_sql(
        "INSERT INTO pdbx_deposition_message_status (source_deposition_id, source_content_type, row_order) "
        "SELECT 'D_OTHER', 'x', seq FROM seq_1_to_2000"
    )
    holder.exec_driver_sql(
        "INSERT INTO pdbx_deposition_message_info (id, source_deposition_id, source_content_type, row_order) "
        "VALUES (5, 'D_OTHER', 'x', 0)"
    )
    raised: list[BaseException] = []
    row = {"id": 5, "source_deposition_id": "D_MINE", "source_content_type": "x", "row_order": 0, "message_id": "m"}

    def load() -> None:
        try:
            with write_transaction(get_engine(mysql_url, bulk_load=True)) as connection:
                connection.execute(documents.insert().values(source_deposition_id="D_MINE", source_content_type="x"))
                bulk_insert_rows(connection, info, [row])  # waits for row id 5
        except BaseException as exc:  # noqa: BLE001 - examined below
            raised.append(exc)

    loader = threading.Thread(target=load)
    loader.start()
    try:
        with other.connect().execution_options(isolation_level="AUTOCOMMIT") as watcher:
            deadline = time.monotonic() + 20
            waiting = (
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                "WHERE LEFT(INFO, 9) = 'LOAD DATA' AND TIME_MS > 300"
            )
            while not watcher.exec_driver_sql(waiting).scalar():  # a load of one row waits for nothing else
                assert time.monotonic() < deadline and not raised, f"the load never waited: {raised}"
                time.sleep(0.02)
        # Now the other transaction waits for our document row: a deadlock.
        holder.exec_driver_sql("SELECT * FROM msgmodule_document WHERE source_deposition_id = 'D_MINE' FOR UPDATE")
        loader.join(30)
        assert len(raised) == 1, raised
        assert mysql_code(raised[0]) == 1213 and is_transient(raised[0])
    finally:
        holder.rollback()
        holder.close()
        other.dispose()


def test_a_run_with_its_progress_bar_leaves_no_thread_so_the_next_run_forks_its_workers(tmp_path, sqlite_url):
    # A thread left running (tqdm's monitor) would make every later run in this process spawn its
    # workers, each importing everything again, instead of forking them.
    import threading

    from wwpdb.apps.msgmodule.archive_tools import MigrationOptions, migrate_batch, run_batches

    root = tmp_path / "archive"
    ids = generate_archive(root, 120)
    schema_versions.upgrade(sqlite_url)
    before = threading.enumerate()
    summary = run_batches(migrate_batch, MigrationOptions(str(root), sqlite_url), ids, 2, progress=True)
    assert not summary.failed and summary.total == 120
    assert threading.enumerate() == before


def test_a_ctrl_c_reaching_the_workers_never_leaves_the_run_waiting_for_ever(tmp_path):
    # Ctrl-C goes to every process of the job: a worker that died of it while handing back its batch
    # left the parent waiting for that batch for ever. Workers leave Ctrl-C to the parent.
    script = tmp_path / "interrupted_workers.py"
    script.write_text(
        "import os, signal\n"
        "from wwpdb.apps.msgmodule.archive_tools import run_batches\n"
        "def interrupted(options, ids):\n"
        "    os.kill(os.getpid(), signal.SIGINT)  # the worker's own Ctrl-C, in the middle of its batch\n"
        "    return []\n"
        "if __name__ == '__main__':\n"
        "    summary = run_batches(interrupted, None, [f'D_{n:010d}' for n in range(8)], 2, batch_size=2)\n"
        "    print('finished', summary.total)\n"
    )
    try:
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"the run waited for ever for an interrupted worker's batch: {exc.stderr!r}") from None
    assert done.returncode == 0 and "finished 8" in done.stdout, done.stderr
