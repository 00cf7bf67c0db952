"""Backup and restore with the databases' own tools, on SQLite and on MariaDB: a real dump, a real restore."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from conftest import scratch_mysql_database

from wwpdb.apps.msgmodule.cli import run
from wwpdb.apps.msgmodule.config import load_settings
from wwpdb.apps.msgmodule.db import schema_versions
from wwpdb.apps.msgmodule.db.engine import dispose_engines
from wwpdb.apps.msgmodule.journal import Journal
from wwpdb.apps.msgmodule.model import CONTENT_TYPES, Document, Message
from wwpdb.apps.msgmodule.stores.db import DbMessageStore
from wwpdb.apps.msgmodule.tools.backup import MANIFEST, BackupError, check_backup

TO = "messages-to-depositor"


def write_config(tmp_path: Path, db_url: str) -> Path:
    (tmp_path / "archive").mkdir(exist_ok=True)
    config = tmp_path / "etc" / "msgmodule.cfg"
    config.parent.mkdir(exist_ok=True)
    config.write_text(
        "# the operator's notes stay in a backup too\n"
        "[msgmodule]\n"
        f"MSGCIF_ROOT = {tmp_path / 'archive'}\n"
        f"MSGDB_URL = {db_url}\n"
        f"MSGMODULE_STATE_DIR = {tmp_path / 'state'}\n",
        encoding="utf-8",
    )
    return config


def database_contents(db_url: str) -> dict[tuple[str, str], Document]:
    store = DbMessageStore(db_url)
    return {key: store.load(*key) for key in sorted(store.document_keys())}


def state_contents(*folders: Path) -> dict[str, bytes]:
    files = {}
    for folder in folders:
        if folder.is_dir():
            for path in sorted(folder.rglob("*")):
                if path.is_file() and not path.name.endswith(".lock") and not path.name.startswith("msgmodule.log"):
                    files[str(path)] = path.read_bytes()
    return files


def fill(db_url: str) -> None:
    store = DbMessageStore(db_url)
    for number, deposition_id in enumerate(("D_1000000001", "D_1000000002", "G_1000003")):
        for content_type in CONTENT_TYPES:
            store.put_message(
                deposition_id,
                content_type,
                Message(message_id=f"{deposition_id}-{content_type}", message_text=f"Größe {number} Å\n;line"),
            )


def backup_folder(out: str) -> Path:
    line = next(line for line in out.splitlines() if line.startswith("backup written to "))
    return Path(line.removeprefix("backup written to "))


def test_backup_then_restore_gives_back_exactly_what_was_backed_up(db_url, tmp_path, capsys):
    config = write_config(tmp_path, db_url)
    settings = load_settings({"MSGMODULE_CONFIG": str(config)})
    fill(db_url)
    journal = Journal(settings.journal_path)
    journal.record("D_1000000001", TO, "db", "the database was down")
    (tmp_path / "state").mkdir(exist_ok=True)
    (tmp_path / "state" / "shadow-mismatches.jsonl").write_text('{"deposition_id": "D_1000000002"}\n')
    state_folders = (tmp_path / "state", Path(settings.journal_path).parent)

    before = database_contents(db_url)
    state_before = state_contents(*state_folders)
    config_before = config.read_bytes()

    assert run(["backup", "--config", str(config), "--output-dir", str(tmp_path / "backups")]) == 0
    folder = backup_folder(capsys.readouterr().out)
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["schema_revision"] == schema_versions.head_revision()
    assert manifest["database"]["kind"] == ("mysql" if "mysql" in db_url else "sqlite")
    roles = {entry["role"] for entry in manifest["files"]}
    assert {"database", "config"} <= roles and ("state" in roles or "site" in roles)
    assert all(len(entry["sha256"]) == 64 for entry in manifest["files"])

    # Change everything after the backup: data, state and config.
    store = DbMessageStore(db_url)
    store.put_message("D_1000000001", TO, Message(message_id="after-backup", message_text="new"))
    store.put_message("D_1000000009", TO, Message(message_id="new-deposition", message_text="new"))
    store.update("D_1000000002", TO, lambda document: document.messages.clear())
    journal.record("D_1000000002", TO, "db", "another failure")
    (tmp_path / "state" / "shadow-mismatches.jsonl").unlink()
    (tmp_path / "state" / "added-later.json").write_text("{}")
    config.write_text(config.read_text() + "MSGMODULE_SHADOW_SAMPLE = 0.5\n")
    assert database_contents(db_url) != before

    assert run(["restore", "--config", str(config), "--yes", str(folder)]) == 0
    assert "restored" in capsys.readouterr().out
    dispose_engines()
    assert database_contents(db_url) == before
    assert state_contents(tmp_path / "state") == state_contents_before_in(state_before, tmp_path / "state")
    # The site's journal and stage record are the site's now, not the backup's: writes since stay journaled.
    assert {e.error for e in journal.entries()} == {"the database was down", "another failure"}
    assert config.read_bytes() == config_before


def state_contents_before_in(before: dict, folder: Path) -> dict:
    """The part of `state_contents` of several folders that was in this one."""
    return {key: value for key, value in before.items() if key.startswith(f"{folder}/")}


def test_restore_refuses_a_backup_made_in_another_stage(sqlite_url, tmp_path, capsys):
    from wwpdb.apps.msgmodule.stage.lifecycle import move_stage, read_site

    schema_versions.upgrade(sqlite_url)
    config = write_config(tmp_path, sqlite_url)
    settings = load_settings({"MSGMODULE_CONFIG": str(config)})
    fill(sqlite_url)
    assert run(["backup", "--config", str(config), "--output-dir", str(tmp_path / "backups")]) == 0
    folder = backup_folder(capsys.readouterr().out)
    move_stage(settings, "db-only", force=True)
    assert run(["restore", "--config", str(config), "--yes", str(folder)]) == 1
    assert "was made in stage cif-only, and the site is in stage db-only (epoch 1)" in capsys.readouterr().err
    assert read_site(settings).epoch == 1


def test_restore_refuses_a_backup_of_another_schema_revision(empty_db_url, tmp_path, capsys):
    migrations = Config()
    migrations.set_main_option("script_location", str(schema_versions.MIGRATIONS))
    migrations.set_main_option("sqlalchemy.url", empty_db_url)
    from wwpdb.apps.msgmodule.db.engine import get_engine

    with get_engine(empty_db_url).begin() as connection:
        migrations.attributes["connection"] = connection
        command.upgrade(migrations, "0001")  # the first revision: an older library's database
    config = write_config(tmp_path, empty_db_url)
    assert run(["backup", "--config", str(config), "--output-dir", str(tmp_path / "b"), "--name", "old"]) == 0
    capsys.readouterr()
    assert json.loads((tmp_path / "b" / "old" / MANIFEST).read_text())["schema_revision"] == "0001"

    schema_versions.upgrade(empty_db_url)
    fill(empty_db_url)
    before = database_contents(empty_db_url)
    assert run(["restore", "--config", str(config), "--yes", str(tmp_path / "b" / "old")]) == 1
    error = capsys.readouterr().err
    assert "schema revision 0001" in error and schema_versions.head_revision() in error
    assert database_contents(empty_db_url) == before  # nothing was touched


def test_restore_refuses_a_damaged_or_incomplete_backup(sqlite_url, tmp_path, capsys):
    schema_versions.upgrade(sqlite_url)
    fill(sqlite_url)
    config = write_config(tmp_path, sqlite_url)
    assert run(["backup", "--config", str(config), "--output-dir", str(tmp_path / "b"), "--name", "x"]) == 0
    folder = tmp_path / "b" / "x"
    check_backup(folder)  # intact

    database = folder / "database" / "messaging.sqlite"
    data = bytearray(database.read_bytes())
    data[-1] ^= 0xFF
    database.write_bytes(bytes(data))
    with pytest.raises(BackupError, match="does not match its checksum"):
        check_backup(folder)
    database.unlink()
    capsys.readouterr()
    assert run(["restore", "--config", str(config), "--yes", str(folder)]) == 1
    assert "database/messaging.sqlite is missing" in capsys.readouterr().err
    assert run(["restore", "--config", str(config), "--yes", str(tmp_path)]) == 1
    assert "not a backup made by msgmodule" in capsys.readouterr().err


def test_a_failed_backup_leaves_no_backup_folder(tmp_path, capsys):
    config = write_config(tmp_path, f"sqlite:///{tmp_path}/nothing-here.db")
    assert run(["backup", "--config", str(config), "--output-dir", str(tmp_path / "b")]) == 1
    assert "does not exist: nothing to back up" in capsys.readouterr().err
    assert not (tmp_path / "b").exists() or not any((tmp_path / "b").iterdir())


def test_backup_skips_the_archive_database_and_logs_kept_in_the_state_folder(tmp_path, capsys):
    # The defaults put the archive and the SQLite file inside the state folder: neither is state.
    data = tmp_path / "msgmodule-data"
    url = f"sqlite:///{data}/messaging.db"
    schema_versions.upgrade(url)
    (data / "archive" / "D_1000000001").mkdir(parents=True)
    (data / "archive" / "D_1000000001" / "D_1000000001_messages-to-depositor_P1.cif.V1").write_text("data_x\n")
    (data / "msgmodule.log").write_text("a log line\n")
    (data / "backend-stats.json").write_text("{}")
    config = tmp_path / "msgmodule.cfg"
    config.write_text(
        f"[msgmodule]\nMSGCIF_ROOT = {data / 'archive'}\nMSGDB_URL = {url}\nMSGMODULE_STATE_DIR = {data}\n"
    )
    assert run(["backup", "--config", str(config), "--output-dir", str(data / "backups"), "--name", "b"]) == 0
    paths = {entry["path"] for entry in json.loads((data / "backups" / "b" / MANIFEST).read_text())["files"]}
    assert "state/backend-stats.json" in paths
    assert not [p for p in paths if "archive" in p or "msgmodule.log" in p or "messaging.db" in p or "backups" in p]


# -- a backup is checked before anything is written -------------------------------------------

ARCHIVE_FILE = "D_1000000001/D_1000000001_messages-to-depositor_P1.cif.V1"


def tree_digest(*roots: Path) -> dict[str, str]:
    """Every file and link below the roots but the log, with its content's SHA-256 (a link: where it points)."""
    found = {}
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.name.startswith("msgmodule.log"):
                continue
            if path.is_symlink():
                found[str(path)] = f"-> {os.readlink(path)}"
            elif path.is_file():
                found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def add_entry(folder: Path, path: str, role: str, content: bytes | None = None, link_to: Path | None = None) -> None:
    """Put a file (or a link) into a backup and name it in its manifest, with a checksum that matches."""
    target = Path(path) if path.startswith("/") else folder / path
    target.parent.mkdir(parents=True, exist_ok=True)
    if link_to is not None:
        target.symlink_to(link_to)
    elif content is not None:
        target.write_bytes(content)
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["files"].append(
        {
            "path": path,
            "role": role,
            "size": target.stat().st_size,
            "sha256": hashlib.sha256(target.read_bytes()).hexdigest(),
        }
    )
    (folder / MANIFEST).write_text(json.dumps(manifest))


@pytest.fixture
def site_with_a_backup(sqlite_url, tmp_path, capsys):
    """A site in cif-only with a message file and a database, a backup of it, then one more database message."""
    schema_versions.upgrade(sqlite_url)
    config = write_config(tmp_path, sqlite_url)
    fill(sqlite_url)
    archive_file = tmp_path / "archive" / ARCHIVE_FILE
    archive_file.parent.mkdir(parents=True)
    archive_file.write_text("data_live\n#\n_pdbx_deposition_message_info.message_id live\n")
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "backend-stats.json").write_text("{}")
    assert run(["backup", "--config", str(config), "--output-dir", str(tmp_path / "b"), "--name", "x"]) == 0
    DbMessageStore(sqlite_url).put_message("D_1000000001", TO, Message(message_id="after", message_text="kept"))
    capsys.readouterr()
    return config, tmp_path / "b" / "x"


@pytest.mark.parametrize(
    "path, role, how",
    [
        (f"site/../{ARCHIVE_FILE}", "site", "file"),  # into the archive, through the site folder
        (f"state/../archive/{ARCHIVE_FILE}", "state", "file"),
        ("ABSOLUTE", "state", "file"),
        ("state/linked.json", "state", "link to a file"),
        ("state/linked-folder/stats.json", "state", "link to a folder"),
        (f"archive/{ARCHIVE_FILE}", "archive", "file"),  # a backup never holds the archive
        ("database/another.sqlite", "database", "file"),  # nor a second database
        ("state/journal.jsonl.lock", "state", "file"),  # nor lock files
        ("config/another.cfg", "config", "file"),  # nor a second config file
    ],
)
def test_restore_refuses_a_manifest_entry_a_backup_never_holds_and_changes_nothing(
    site_with_a_backup, tmp_path, capsys, path, role, how
):
    config, folder = site_with_a_backup
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "stats.json").write_text("{}")
    evil = b"data_evil\n#\n_pdbx_deposition_message_info.message_id replaced\n"
    if path == "ABSOLUTE":
        path = str(tmp_path / "state" / "backend-stats.json")
        add_entry(folder, path, role)  # names the live file: its checksum matches, and restore would copy it
    elif how == "link to a file":
        add_entry(folder, path, role, link_to=tmp_path / "archive" / ARCHIVE_FILE)
    elif how == "link to a folder":
        (folder / "state" / "linked-folder").symlink_to(outside)
        add_entry(folder, path, role)
    else:
        add_entry(folder, path, role, content=evil)
    before = tree_digest(tmp_path / "archive", tmp_path / "state", tmp_path / "etc", tmp_path / "outside")
    database_before = hashlib.sha256((tmp_path / "messaging.db").read_bytes()).hexdigest()

    assert run(["restore", "--config", str(config), "--yes", str(folder)]) == 1
    error = capsys.readouterr().err
    assert f"manifest entry {path!r}" in error and "Nothing was changed" in error
    assert tree_digest(tmp_path / "archive", tmp_path / "state", tmp_path / "etc", tmp_path / "outside") == before
    assert hashlib.sha256((tmp_path / "messaging.db").read_bytes()).hexdigest() == database_before


def test_restore_refuses_to_write_through_a_link_in_the_live_state_folder(sqlite_url, tmp_path, capsys):
    schema_versions.upgrade(sqlite_url)
    config = write_config(tmp_path, sqlite_url)
    fill(sqlite_url)
    (tmp_path / "state" / "metrics").mkdir(parents=True)
    (tmp_path / "state" / "metrics" / "calls.json").write_text("{}")
    assert run(["backup", "--config", str(config), "--output-dir", str(tmp_path / "b"), "--name", "x"]) == 0
    # Since then the folder became a link into a deposition's archive folder.
    (tmp_path / "archive" / "D_1000000001").mkdir()
    (tmp_path / "state" / "metrics" / "calls.json").unlink()
    (tmp_path / "state" / "metrics").rmdir()
    (tmp_path / "state" / "metrics").symlink_to(tmp_path / "archive" / "D_1000000001")
    DbMessageStore(sqlite_url).put_message("D_1000000001", TO, Message(message_id="after", message_text="kept"))
    capsys.readouterr()
    before = tree_digest(tmp_path / "archive", tmp_path / "state")
    database_before = database_contents(sqlite_url)

    assert run(["restore", "--config", str(config), "--yes", str(tmp_path / "b" / "x")]) == 1
    error = capsys.readouterr().err
    assert "cannot restore state/metrics/calls.json" in error and "is a link" in error
    assert tree_digest(tmp_path / "archive", tmp_path / "state") == before
    assert not list((tmp_path / "archive" / "D_1000000001").iterdir())
    assert database_contents(sqlite_url) == database_before


# -- restore beside running writers ------------------------------------------------------------

WRITER = Path(__file__).with_name("fleet_writer.py")
FLEET = ["D_1000000101", "D_1000000102", "D_1000000103"]


def acknowledged(fleet: Path) -> set[tuple[str, str]]:
    """(deposition, message id) of every message the fleet's writers logged as acknowledged."""
    return {
        (line.split()[0], line.split()[1])
        for acks in fleet.glob("*.acks")
        for line in acks.read_text().splitlines()
        if line
    }


def wait_for_more(fleet: Path, than: set[tuple[str, str]], count: int, writers: list[subprocess.Popen]) -> None:
    deadline = time.monotonic() + 60
    while len(acknowledged(fleet) - than) < count:
        assert all(writer.poll() is None for writer in writers), "a writer stopped"
        assert time.monotonic() < deadline, "the writers acknowledged too few messages"
        time.sleep(0.02)


def test_restore_takes_the_site_from_running_writers_as_a_move_does(db_url, tmp_path, capsys):
    from wwpdb.apps.msgmodule.io.MessagingFactory import MessagingFactory
    from wwpdb.apps.msgmodule.stage.lifecycle import move_stage, read_site

    config = write_config(tmp_path, db_url)
    settings = load_settings({"MSGMODULE_CONFIG": str(config)})
    move_stage(settings, "db-only", force=True)  # the database is all there is: restore puts it back
    site = {"MSGCIF_ROOT": settings.cif_root, "MSGDB_URL": db_url, "MSGMODULE_STATE_DIR": settings.state_dir}
    fleet = tmp_path / "fleet"
    fleet.mkdir()
    # Four processes writing without a pause: at any moment one of them holds the site lock shared.
    writers = [
        subprocess.Popen(
            [sys.executable, str(WRITER), json.dumps(site), str(fleet / f"w{n}.acks"), "100000", "0", *FLEET],
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    try:
        wait_for_more(fleet, set(), 20, writers)
        before_backup = acknowledged(fleet)
        assert run(["backup", "--config", str(config), "--output-dir", str(tmp_path / "b"), "--name", "x"]) == 0
        after_backup = acknowledged(fleet)
        wait_for_more(fleet, after_backup, 20, writers)
        before_restore = acknowledged(fleet)
        # The operator's restore, as a process of its own; new writes give up after 30 s instead of 120.
        restore = subprocess.run(
            [
                sys.executable,
                "-m",
                "wwpdb.apps.msgmodule",
                "restore",
                "--config",
                str(config),
                "--yes",
                str(tmp_path / "b" / "x"),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "MSGMODULE_STAGE_WAIT_SECONDS": "30"},
        )
        assert restore.returncode == 0, restore.stderr
        after_restore = acknowledged(fleet)
        wait_for_more(fleet, after_restore, 20, writers)
    finally:
        (fleet / "STOP").touch()
        errors = [writer.communicate(timeout=120)[1] for writer in writers]
    assert [writer.returncode for writer in writers] == [0, 0, 0, 0], errors
    assert not any("refused" in text for text in errors), errors  # every write waited for the restore, then ran
    final = acknowledged(fleet)
    svc = MessagingFactory.create_messaging_service(config=site)
    stored = {(d, m["message_id"]) for d in FLEET for ct in CONTENT_TYPES for m in svc.get(d, ct)}
    # As documented: the database as backed up (what was acknowledged before the backup is there, what came
    # between the backup and the restore is not), and every write after the restore kept.
    assert before_backup <= stored
    assert before_restore - after_backup and not (before_restore - after_backup) & stored
    assert final - after_restore <= stored
    record = read_site(settings)
    assert (record.stage, record.epoch, record.moving_to) == ("db-only", 1, None)


# -- passwords the option file must quote ---------------------------------------------------------

AWKWARD_PASSWORD = "a#b\"c'd\\e f;g ="  # a comment sign, both quotes, a backslash, a space, ; and =


@pytest.fixture
def awkward_user_url(mysql_server):
    """A scratch database and a MariaDB user of its own whose password needs quoting; both dropped afterwards."""
    import uuid

    from sqlalchemy import create_engine
    from sqlalchemy.engine import URL, make_url

    server = make_url(mysql_server)
    user = f"msgbk_{uuid.uuid4().hex[:12]}"
    with scratch_mysql_database(mysql_server) as root_url:
        database = make_url(root_url).database
        admin = create_engine(mysql_server, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE USER '{user}'@'%%' IDENTIFIED BY %s", (AWKWARD_PASSWORD,))
            connection.exec_driver_sql(f"GRANT ALL ON `{database}`.* TO '{user}'@'%%'")
        try:
            url = URL.create(
                "mysql+pymysql",
                username=user,
                password=AWKWARD_PASSWORD,
                host=server.host,
                port=server.port,
                database=database,
                query={"charset": "utf8mb4"},
            )
            yield url.render_as_string(hide_password=False)
        finally:
            dispose_engines()
            with admin.connect() as connection:
                connection.exec_driver_sql(f"DROP USER IF EXISTS '{user}'@'%%'")
            admin.dispose()


@pytest.mark.mysql
def test_backup_and_restore_with_a_password_that_needs_quoting(awkward_user_url, tmp_path, capsys):
    schema_versions.upgrade(awkward_user_url)
    fill(awkward_user_url)
    config = write_config(tmp_path, awkward_user_url)
    before = database_contents(awkward_user_url)
    assert run(["backup", "--config", str(config), "--output-dir", str(tmp_path / "b"), "--name", "x"]) == 0, (
        capsys.readouterr().err
    )
    assert "CREATE TABLE `msgmodule_document`" in (tmp_path / "b" / "x" / "database" / "dump.sql").read_text()
    DbMessageStore(awkward_user_url).put_message("D_1000000001", TO, Message(message_id="after", message_text="x"))
    assert database_contents(awkward_user_url) != before
    assert run(["restore", "--config", str(config), "--yes", str(tmp_path / "b" / "x")]) == 0, capsys.readouterr().err
    dispose_engines()
    assert database_contents(awkward_user_url) == before


# -- what holds message text outside the archive is its owner's alone -------------------------------


@pytest.fixture(params=[0o000, 0o022], ids=["umask-000", "umask-022"])
def permissive_umask(request):
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


def modes_below(folder: Path) -> dict[str, int]:
    found = {".": os.lstat(folder).st_mode & 0o777}
    for path in folder.rglob("*"):
        found[str(path.relative_to(folder))] = os.lstat(path).st_mode & 0o777
    return found


def test_a_backup_is_its_owners_alone_and_restore_gives_back_the_modes_it_found(
    db_url, tmp_path, capsys, permissive_umask
):
    config = write_config(tmp_path, db_url)
    fill(db_url)
    (tmp_path / "state" / "cache").mkdir(parents=True)
    (tmp_path / "state" / "cache" / "stats.json").write_text("{}")
    os.chmod(tmp_path / "state" / "cache" / "stats.json", 0o644)
    os.chmod(config, 0o640)
    assert run(["backup", "--config", str(config), "--output-dir", str(tmp_path / "backups"), "--name", "x"]) == 0
    modes = modes_below(tmp_path / "backups")
    folders = {path for path in modes if (tmp_path / "backups" / path).is_dir()}
    assert {"x", "x/database", "x/config", "x/state"} <= folders
    assert {path: oct(mode) for path, mode in modes.items() if path in folders} == {p: oct(0o700) for p in folders}
    assert {path: oct(mode) for path, mode in modes.items() if path not in folders} == {
        p: oct(0o600) for p in modes if p not in folders
    }
    assert "x/database/dump.sql" in modes or "x/database/messaging.sqlite" in modes

    os.chmod(config, 0o600)
    (tmp_path / "state" / "cache" / "stats.json").unlink()
    assert run(["restore", "--config", str(config), "--yes", str(tmp_path / "backups" / "x")]) == 0
    assert oct(os.stat(config).st_mode & 0o777) == oct(0o640)
    assert oct(os.stat(tmp_path / "state" / "cache" / "stats.json").st_mode & 0o777) == oct(0o644)


def test_reports_and_export_folders_are_their_owners_alone(sqlite_url, tmp_path, permissive_umask):
    schema_versions.upgrade(sqlite_url)
    fill(sqlite_url)
    config = write_config(tmp_path, sqlite_url)
    report = tmp_path / "reports" / "export.json"
    out = tmp_path / "exported"
    assert run(["export", "--config", str(config), "--output-dir", str(out), "--report", str(report)]) == 0
    assert "D_1000000001" in report.read_text()
    assert oct(os.stat(report).st_mode & 0o777) == oct(0o600)
    assert oct(os.stat(out).st_mode & 0o777) == oct(0o700)


def test_restore_refuses_a_manifest_without_its_database_and_changes_nothing(site_with_a_backup, tmp_path, capsys):
    config, folder = site_with_a_backup
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["files"] = [entry for entry in manifest["files"] if entry["role"] != "database"]
    (folder / MANIFEST).write_text(json.dumps(manifest))
    database_before = hashlib.sha256((tmp_path / "messaging.db").read_bytes()).hexdigest()
    assert run(["restore", "--config", str(config), "--yes", str(folder)]) == 1
    assert "names no database/messaging.sqlite in its manifest" in capsys.readouterr().err
    assert hashlib.sha256((tmp_path / "messaging.db").read_bytes()).hexdigest() == database_before
