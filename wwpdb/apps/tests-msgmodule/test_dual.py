"""Dual mode for real: both stores written, failures journaled, reconcile, shadow reads, stages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO_ROOT, read_only, stage_config
from sqlalchemy import text

from wwpdb.apps.msgmodule.cli import run
from wwpdb.apps.msgmodule.config import load_settings
from wwpdb.apps.msgmodule.db import schema_versions
from wwpdb.apps.msgmodule.db.engine import get_engine
from wwpdb.apps.msgmodule.equivalence import differences
from wwpdb.apps.msgmodule.errors import MessagingError, StorageError
from wwpdb.apps.msgmodule.io.MessagingFactory import MessagingFactory
from wwpdb.apps.msgmodule.journal import Journal
from wwpdb.apps.msgmodule.model import CONTENT_TYPES
from wwpdb.apps.msgmodule.stage.routing import check_health
from wwpdb.apps.msgmodule.stores.cif import CifMessageStore
from wwpdb.apps.msgmodule.stores.db import DbMessageStore

DEP = "D_1000000042"
UNREACHABLE = "mysql+pymysql://root@127.0.0.1:1/nowhere"


def service(config):
    return MessagingFactory.create_messaging_service(config=config)


def cif_of(config) -> CifMessageStore:
    return CifMessageStore(config["MSGCIF_ROOT"])


def assert_stores_equal(config, db_url, deposition_id=DEP):
    cif, db = cif_of(config), DbMessageStore(db_url)
    for content_type in CONTENT_TYPES:
        assert differences(cif.load(deposition_id, content_type), db.load(deposition_id, content_type)) == []


def write_config(config) -> str:
    """Persist the settings in their config file, so a CLI run sees the same ones."""
    Path(config["MSGMODULE_CONFIG"]).write_text(
        "[msgmodule]\n" + "".join(f"{k} = {v}\n" for k, v in config.items() if k != "MSGMODULE_CONFIG")
    )
    return config["MSGMODULE_CONFIG"]


def add_messages(svc, count=3):
    ids = []
    for number in range(count):
        ids.append(svc.set(DEP, {"message_text": f"message {number} Å"}, file_references=[{"content_type": "model"}]))
    svc.set(DEP, {"message_text": "from the depositor"}, "messages-from-depositor")
    svc.mark_read(DEP, ids[0])
    return ids


def test_dual_write_writes_both_stores_equivalently(tmp_path, db_url):
    config = stage_config(tmp_path, "dual-write", db_url)
    svc = service(config)
    add_messages(svc)
    assert len(DbMessageStore(db_url).load(DEP, "messages-to-depositor").messages) == 3
    assert_stores_equal(config, db_url)
    counters = MessagingFactory.get_backend_info(config=config)["counters"]
    assert counters["cif"]["write"]["calls"] >= 5 and counters["db"]["write"]["calls"] >= 5


@pytest.mark.mysql
def test_database_down_in_dual_write_journals_and_reconcile_catches_up(tmp_path, mysql_url):
    schema_versions.upgrade(mysql_url)
    down = stage_config(tmp_path, "dual-write", UNREACHABLE)
    ids = add_messages(service(down))  # succeeds: CIF is authoritative
    assert len(cif_of(down).load(DEP, "messages-to-depositor").messages) == 3
    journal = Journal(load_settings(down).journal_path)
    assert {(d, c, f) for d, c, f in journal.pending()} == {
        (DEP, "messages-to-depositor", "db"),
        (DEP, "messages-from-depositor", "db"),
    }
    assert "cannot reach the database server" in journal.entries()[0].error
    assert DbMessageStore(mysql_url).load(DEP, "messages-to-depositor").is_empty()
    # The health check says so while it lasts.
    assert run(["health", "--config", write_config(down)]) == 1

    back = {**down, "MSGDB_URL": mysql_url}
    assert run(["reconcile", "--config", write_config(back)]) == 0
    assert journal.pending() == {}
    assert_stores_equal(back, mysql_url)
    assert DbMessageStore(mysql_url).load(DEP, "messages-to-depositor").find_message(ids[2]) is not None


def test_broken_database_in_dual_write_is_journaled_for_sqlite_too(tmp_path, sqlite_url):
    config = stage_config(tmp_path, "dual-write", sqlite_url)  # no schema yet: every DB write fails
    add_messages(service(config))
    journal = Journal(load_settings(config).journal_path)
    assert len(journal.pending()) == 2
    cfg = write_config(config)
    assert run(["reconcile", "--config", cfg]) == 1  # still no schema: nothing is cleared
    assert len(journal.pending()) == 2
    schema_versions.upgrade(sqlite_url)
    assert run(["reconcile", "--config", cfg]) == 0
    assert journal.pending() == {}
    assert_stores_equal(config, sqlite_url)


def test_read_only_archive_in_dual_write_fails_the_call_and_leaves_the_database_alone(tmp_path, db_url):
    config = stage_config(tmp_path, "dual-write", db_url)
    svc = service(config)
    svc.set(DEP, {"message_text": "before"})
    before = DbMessageStore(db_url).load(DEP, "messages-to-depositor")
    with read_only(Path(config["MSGCIF_ROOT"]) / DEP), pytest.raises(StorageError):
        svc.set(DEP, {"message_text": "refused"})
    assert DbMessageStore(db_url).load(DEP, "messages-to-depositor") == before
    assert Journal(load_settings(config).journal_path).pending() == {}


def test_dual_writes_leave_no_journal_descriptor_open_whether_they_succeed_or_fail(tmp_path, sqlite_url):
    # The intent reaches the disk through the descriptor it was written with, in another
    # thread: every write, and every failed one, must close it.
    schema_versions.upgrade(sqlite_url)
    config = stage_config(tmp_path, "dual-write", sqlite_url)
    svc = service(config)
    svc.set(DEP, {"message_text": "first"})

    def journal_descriptors() -> int:
        journal = str(Journal(load_settings(config).journal_path).path)
        return sum(os.path.realpath(f"/proc/self/fd/{fd}") == journal for fd in os.listdir("/proc/self/fd"))

    for number in range(20):
        svc.set(DEP, {"message_text": f"message {number}"})
    with read_only(Path(config["MSGCIF_ROOT"]) / DEP):
        for _ in range(5):
            with pytest.raises(StorageError):
                svc.set(DEP, {"message_text": "refused"})
    assert journal_descriptors() == 0
    assert len(DbMessageStore(sqlite_url).load(DEP, "messages-to-depositor").messages) == 21


@pytest.mark.mysql
def test_a_write_interrupted_after_its_file_is_in_place_still_reaches_the_database(tmp_path, mysql_url, monkeypatch):
    # The database commits once the archive file is in place, while the folder is synced. A
    # caller interrupted there (the one fault injected) has its message in both stores.
    import wwpdb.apps.msgmodule.stores.cif as cif_module

    schema_versions.upgrade(mysql_url)
    config = stage_config(tmp_path, "dual-write", mysql_url)
    svc = service(config)
    svc.set(DEP, {"message_text": "first"})
    sync_folder = cif_module._fsync_dir

    def interrupted(folder):
        monkeypatch.setattr(cif_module, "_fsync_dir", sync_folder)
        raise KeyboardInterrupt

    monkeypatch.setattr(cif_module, "_fsync_dir", interrupted)
    with pytest.raises(KeyboardInterrupt):
        svc.set(DEP, {"message_text": "interrupted after the rename"})
    texts = [m.message_text for m in DbMessageStore(mysql_url).load(DEP, "messages-to-depositor").messages]
    assert texts == ["first", "interrupted after the rename"]
    assert_stores_equal(config, mysql_url)
    assert Journal(load_settings(config).journal_path).pending() == {}


@pytest.mark.parametrize("how", ["update", "save"])
def test_the_intent_is_on_disk_before_anything_of_the_archive_write_is_in_place(tmp_path, db_url, monkeypatch, how):
    # A machine that crashes keeps only what was synced: were the archive's new file (or a moved
    # snapshot) to outlive the crash without the intent, reconcile would never copy the message to
    # the database. The intent is synced in another thread while the file is made; a slow disk (the
    # one fault injected: each sync of the journal takes a while) must still hold the rename back.
    import wwpdb.apps.msgmodule.journal as journal_module
    import wwpdb.apps.msgmodule.stores.cif as cif_module

    config = stage_config(tmp_path, "dual-write", db_url)
    svc = service(config)
    svc.set(DEP, {"message_text": "first"})  # a file in place: the next write rotates snapshots too
    journal_file = os.path.realpath(load_settings(config).journal_path)
    folder = os.path.realpath(Path(config["MSGCIF_ROOT"]) / DEP)
    events: list[str] = []
    real_sync, real_replace, real_link = journal_module._sync_data, os.replace, os.link

    def slow_sync(fd):
        synced_file = os.path.realpath(f"/proc/self/fd/{fd}")
        time.sleep(0.3)
        real_sync(fd)
        if synced_file == journal_file:
            events.append("intent synced")

    def in_archive(target) -> bool:
        return os.path.dirname(os.path.realpath(target)) == folder

    def replace(source, target, **kwargs):
        if in_archive(target):
            events.append(f"moved {os.path.basename(target)}")
        return real_replace(source, target, **kwargs)

    def link(source, target, **kwargs):
        if in_archive(target):
            events.append(f"linked {os.path.basename(target)}")
        return real_link(source, target, **kwargs)

    monkeypatch.setattr(journal_module, "_sync_data", slow_sync)
    monkeypatch.setattr(cif_module.os, "replace", replace)
    monkeypatch.setattr(cif_module.os, "link", link)
    write_as(how, config, svc, "second")
    assert events[0] == "intent synced", events
    assert any(event.endswith(".V1") for event in events[1:]), events
    monkeypatch.undo()
    assert_stores_equal(config, db_url)


def write_as(how: str, config: dict[str, str], svc, text: str) -> None:
    """One dual write to DEP's messages: `set` (an update of the document), or a whole `save` of it."""
    if how == "update":
        svc.set(DEP, {"message_text": text})
        return
    from wwpdb.apps.msgmodule.model import Message as ModelMessage
    from wwpdb.apps.msgmodule.stage.routing import open_site_store

    document = cif_of(config).load(DEP, "messages-to-depositor")
    document.messages.append(ModelMessage(str(len(document.messages) + 1), "saved-whole"))
    open_site_store(load_settings(config)).save(document)


@pytest.mark.parametrize("how", ["update", "save"])
def test_a_write_interrupted_right_after_its_rename_is_journaled_for_reconcile(tmp_path, db_url, monkeypatch, how):
    # Interrupted after the archive file is renamed into place but before the database hears of
    # it (the one fault injected): the archive has the change, so the journal must say so.
    import wwpdb.apps.msgmodule.stores.cif as cif_module

    schema_versions.upgrade(db_url)
    config = stage_config(tmp_path, "dual-write", db_url)
    svc = service(config)
    svc.set(DEP, {"message_text": "first"})
    real_replace = os.replace

    def replace_then_interrupt(source, target):
        real_replace(source, target)
        if str(target).endswith(".V1"):
            monkeypatch.setattr(cif_module.os, "replace", real_replace)
            raise KeyboardInterrupt

    monkeypatch.setattr(cif_module.os, "replace", replace_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_as(how, config, svc, "interrupted right after the rename")
    journal = Journal(load_settings(config).journal_path)
    assert list(journal.pending()) != []
    assert run(["reconcile", "--config", write_config(config)]) == 0
    assert_stores_equal(config, db_url)
    assert len(DbMessageStore(db_url).load(DEP, "messages-to-depositor").messages) == 2


def test_a_sqlite_second_store_holds_no_write_lock_while_the_archive_is_written(tmp_path, sqlite_url, monkeypatch):
    # A database transaction runs beside the archive write only where it locks rows; SQLite's
    # locks the whole database, which would hold every other writer back for the file write.
    import sqlite3

    schema_versions.upgrade(sqlite_url)
    config = stage_config(tmp_path, "dual-write", sqlite_url)
    svc = service(config)
    svc.set(DEP, {"message_text": "first"})
    attempts = []
    write = CifMessageStore._write

    def observed_write(store, document, target=None):
        other = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # fails at once if a write transaction is open
            other.execute("ROLLBACK")
            attempts.append("free")
        except sqlite3.OperationalError as exc:
            attempts.append(str(exc))
        finally:
            other.close()
        return write(store, document, target)

    monkeypatch.setattr(CifMessageStore, "_write", observed_write)
    svc.set(DEP, {"message_text": "second"})
    assert attempts == ["free"]
    assert_stores_equal(config, sqlite_url)


@pytest.mark.mysql
def test_database_down_in_db_primary_fails_the_call_and_leaves_the_archive_alone(tmp_path, mysql_url):
    schema_versions.upgrade(mysql_url)
    up = stage_config(tmp_path, "db-primary", mysql_url)
    service(up).set(DEP, {"message_text": "before"})
    archive_before = cif_of(up).load(DEP, "messages-to-depositor")
    down = {**up, "MSGDB_URL": UNREACHABLE}
    with pytest.raises(MessagingError, match="cannot reach the database server"):
        service(down).set(DEP, {"message_text": "refused"})
    assert cif_of(up).load(DEP, "messages-to-depositor") == archive_before


def test_read_only_archive_in_db_primary_is_journaled_then_reconciled(tmp_path, db_url):
    from wwpdb.apps.msgmodule.db.journal import DatabaseJournal

    config = stage_config(tmp_path, "db-primary", db_url)
    svc = service(config)
    svc.set(DEP, {"message_text": "first"})
    archive = Path(config["MSGCIF_ROOT"])
    # The whole archive side read-only, the site's folder (record, lock, file journal) too: the journal
    # of a db-primary write lives in the database, outside the store that fails.
    with read_only(archive / DEP), read_only(archive / ".msgmodule"):
        mid = svc.set(DEP, {"message_text": "archive was read-only"})
    journal = DatabaseJournal(db_url)
    assert [key[2] for key in journal.pending()] == ["cif"]
    assert cif_of(config).load(DEP, "messages-to-depositor").find_message(mid) is None
    assert svc.get_message(DEP, mid)["message_text"] == "archive was read-only"  # read from the database
    assert run(["reconcile", "--config", write_config(config)]) == 0
    assert journal.pending() == {}
    assert_stores_equal(config, db_url)


def test_shadow_logs_a_field_that_differs_and_returns_the_archive_answer(tmp_path, db_url):
    config = stage_config(tmp_path, "shadow", db_url)
    svc = service(config)
    mid = svc.set(DEP, {"message_text": "the real text"})
    assert svc.get(DEP)[0]["message_text"] == "the real text"
    log_path = load_settings(config).mismatch_log_path
    assert not log_path.exists()  # equal stores log nothing
    with get_engine(db_url).begin() as connection:
        connection.execute(
            text(
                "UPDATE pdbx_deposition_message_info SET message_text = 'changed behind its back' "
                "WHERE message_id = :mid"
            ),
            {"mid": mid},
        )
    assert svc.get(DEP)[0]["message_text"] == "the real text"
    records = [json.loads(line) for line in log_path.read_text().splitlines()]
    assert len(records) == 1
    (difference,) = records[0]["differences"]
    assert (records[0]["deposition_id"], records[0]["content_type"]) == (DEP, "messages-to-depositor")
    assert (difference["item"], difference["left"], difference["right"]) == (
        "message_text",
        "the real text",
        "changed behind its back",
    )


def test_shadow_sample_zero_compares_nothing(tmp_path, sqlite_url):
    schema_versions.upgrade(sqlite_url)
    config = stage_config(tmp_path, "shadow", sqlite_url, MSGMODULE_SHADOW_SAMPLE="0")
    svc = service(config)
    svc.set(DEP, {"message_text": "x"})
    with get_engine(sqlite_url).begin() as connection:
        connection.execute(text("DELETE FROM pdbx_deposition_message_info"))
    svc.get(DEP)
    assert not load_settings(config).mismatch_log_path.exists()


def test_health_answers_for_every_enabled_backend(tmp_path, db_url):
    config = stage_config(tmp_path, "dual-write", db_url)
    args = ["health", "--config", write_config(config)]
    assert run(args) == 0
    assert run([*args, "--db-url", UNREACHABLE]) == 1
    assert run([*args, "--cif-root", str(tmp_path / "missing")]) == 1


def make(target: str, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(REPO_ROOT), target, *extra],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_make_migration_phase_1_moves_the_site_and_new_processes_follow(tmp_path):
    env = {
        "MSGMODULE_CONFIG": str(tmp_path / "site.cfg"),
        "MSGMODULE_STATE_DIR": str(tmp_path / "state"),
        "MSGCIF_ROOT": str(tmp_path / "archive"),
        "MSGDB_URL": f"sqlite:///{tmp_path}/site.db",
    }
    (tmp_path / "archive").mkdir()
    Path(env["MSGMODULE_CONFIG"]).write_text("# kept\n[msgmodule]\nMSGMODULE_STAGE = cif-only\n")
    result = make("migration-phase-1", env)
    assert result.returncode == 0, result.stderr
    assert "stage cif-only -> dual-write (epoch 1)" in result.stdout
    assert "removed MSGMODULE_STAGE" in result.stderr
    assert Path(env["MSGMODULE_CONFIG"]).read_text() == "# kept\n[msgmodule]\n"
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "from wwpdb.apps.msgmodule.io.MessagingFactory import MessagingFactory as F;"
            "i = F.get_backend_info(); print(i['stage'], i['epoch'], i['write_backends'])",
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert probe.stdout.strip() == "dual-write 1 ['cif', 'db']", probe.stderr
    again = make("migration-phase-1", env)
    assert "nothing changed" in again.stdout


def test_a_move_warns_of_a_stage_set_in_the_environment(tmp_path, monkeypatch, capsys):
    (tmp_path / "archive").mkdir()
    monkeypatch.setenv("MSGCIF_ROOT", str(tmp_path / "archive"))
    monkeypatch.setenv("MSGMODULE_STAGE", "cif-only")
    (tmp_path / "c.cfg").write_text("[msgmodule]\n")
    assert run(["stage", "dual-write", "--config", str(tmp_path / "c.cfg")]) == 0
    assert "MSGMODULE_STAGE set in this environment: processes that set a stage" in capsys.readouterr().err
    with pytest.raises(MessagingError, match="set to stage cif-only .* but the site is in stage dual-write"):
        MessagingFactory.create_messaging_service()
    monkeypatch.delenv("MSGMODULE_STAGE")
    assert MessagingFactory.create_messaging_service().store.stage.name == "dual-write"


def test_a_corrupt_archive_copy_is_repaired_by_the_next_write_in_db_primary(tmp_path, db_url):
    config = stage_config(tmp_path, "db-primary", db_url)
    svc = service(config)
    svc.set(DEP, {"message_text": "first"})
    current = cif_of(config).current_file(DEP, "messages-to-depositor")
    current.write_text("data_messages\nloop_\n_x.y\n'unterminated\n")
    svc.set(DEP, {"message_text": "second"})
    assert Journal(load_settings(config).journal_path).pending() == {}
    assert_stores_equal(config, db_url)
    assert "unterminated" in current.with_name(current.name + ".PREV0").read_text()


def test_a_torn_journal_line_neither_swallows_the_next_entry_nor_blocks_reconcile(tmp_path):
    journal = Journal(tmp_path / "journal.jsonl")
    journal.record("D_1", "messages-to-depositor", "db", "first")
    with open(journal.path, "a") as handle:
        handle.write('{"deposition_id": "D_2", "content_ty')  # a writer killed mid-append
    journal.record("D_3", "messages-to-depositor", "db", "after the crash")
    lines = journal.path.read_text().splitlines()
    assert json.loads(lines[-1])["deposition_id"] == "D_3"
    assert [e.deposition_id for e in journal.entries()] == ["D_1", "D_3"]
    journal.clear([e.id for e in journal.entries()])
    assert journal.entries() == [] and journal.path.read_text() == ""


def test_a_journal_makes_its_folder_on_the_first_record_and_again_if_it_was_removed(tmp_path):
    import shutil

    folder = tmp_path / "archive" / ".msgmodule"
    journal = Journal(folder / "journal.jsonl")
    first = journal.begin("D_1", "messages-to-depositor", "db")
    shutil.rmtree(folder)  # an operator cleaning up between writes
    journal.record("D_2", "messages-to-depositor", "db", "after the folder went")
    assert [e.deposition_id for e in journal.entries()] == ["D_2"]
    journal.finish(first)
    assert [e.deposition_id for e in journal.entries(all_intents=True)] == ["D_2"]


HOLD_LOCK = """
import sys, time
from filelock import FileLock
with FileLock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_a_journal_lock_held_by_another_process_fails_the_append_by_name_and_adds_nothing(tmp_path, monkeypatch):
    from wwpdb.apps.msgmodule import journal as journal_module

    journal = Journal(tmp_path / "journal.jsonl")
    journal.record("D_1", "messages-to-depositor", "db", "before")
    before = journal.path.read_bytes()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(journal.path) + ".lock", "30"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        monkeypatch.setattr(journal_module, "LOCK_TIMEOUT", 0.3)
        with pytest.raises(StorageError, match=r"journal\.jsonl\.lock for more than"):
            journal.record("D_2", "messages-to-depositor", "db", "while held")
        assert journal.path.read_bytes() == before
    finally:
        holder.kill()
        holder.wait()
    journal.record("D_3", "messages-to-depositor", "db", "after")  # the holder's death let the lock go
    assert [e.deposition_id for e in journal.entries()] == ["D_1", "D_3"]


def test_reconcile_leaves_the_intent_of_a_write_that_may_still_be_running(tmp_path, monkeypatch):
    journal = Journal(tmp_path / "journal.jsonl")
    intent = journal.begin("D_1", "messages-to-depositor", "db")
    assert journal.pending() == {}  # this process wrote it, and runs: it may be between its two writes
    assert journal.pending(all_intents=True) == {("D_1", "messages-to-depositor", "db"): [intent]}
    journal.finish(intent)
    assert journal.pending(all_intents=True) == {}


def test_an_intent_from_another_host_counts_once_older_than_any_write_can_take(tmp_path, monkeypatch):
    journal = Journal(tmp_path / "journal.jsonl")
    line = {
        "deposition_id": "D_1",
        "content_type": "messages-to-depositor",
        "failed": "db",
        "error": "x",
        "time": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "id": "remote",
        "kind": "intent",
        "host": "another-host.example.org",
        "pid": 1,
        "started": "1",
    }
    journal.path.write_text(json.dumps(line) + "\n")
    assert journal.pending() == {}
    monkeypatch.setattr(Journal, "WRITER_BOUND", 0.0)
    assert list(journal.pending()) == [("D_1", "messages-to-depositor", "db")]


def _begin_and_finish(path: str, count: int) -> None:
    Journal.COMPACT_ABOVE = 1500  # compact often, racing the other processes
    journal = Journal(path)
    for _ in range(count):
        journal.finish(journal.begin("D_1", "messages-to-depositor", "db"))


@pytest.mark.slow
def test_compaction_racing_other_writers_loses_no_done_mark(tmp_path):
    import multiprocessing

    path = str(tmp_path / "journal.jsonl")
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_begin_and_finish, args=(path, 60)) for _ in range(4)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(120)
        assert process.exitcode == 0
    assert Journal(path).entries(all_intents=True) == []


SETTER = """
import json, sys
from wwpdb.apps.msgmodule.io.MessagingFactory import MessagingFactory
svc = MessagingFactory.create_messaging_service(config=json.loads(sys.argv[1]))
svc.set(sys.argv[2], {"message_id": "written-then-killed", "message_text": "second"})
"""


@pytest.mark.slow
def test_a_process_killed_between_the_two_writes_leaves_a_journal_entry(tmp_path, db_url, monkeypatch):
    from sqlalchemy import select as sql_select

    from wwpdb.apps.msgmodule.db.schema import documents

    config = stage_config(tmp_path, "dual-write", db_url)
    service(config).set(DEP, {"message_text": "first"})
    # Hold the database document's lock, so the second write waits; kill the writer meanwhile.
    blocker = get_engine(db_url).connect().execution_options(msgmodule_write=True)
    transaction = blocker.begin()
    blocker.execute(sql_select(documents).where(documents.c.source_deposition_id == DEP).with_for_update())
    writer = subprocess.Popen([sys.executable, "-c", SETTER, json.dumps(config), DEP])
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and writer.poll() is None:
            if cif_of(config).load(DEP, "messages-to-depositor").find_message("written-then-killed"):
                break  # the archive has it; the database write is waiting for the lock
            time.sleep(0.02)
        assert writer.poll() is None, "the writer should still be waiting for the database"
        writer.kill()
        writer.wait()
    finally:
        transaction.rollback()
        blocker.close()
    journal = Journal(load_settings(config).journal_path)
    # The writer ran on this host and its pid is gone: its intent counts at once.
    assert list(journal.pending()) == [(DEP, "messages-to-depositor", "db")]
    assert DbMessageStore(db_url).load(DEP, "messages-to-depositor").find_message("written-then-killed") is None
    assert run(["reconcile", "--config", write_config(config)]) == 0
    assert journal.pending() == {}
    assert_stores_equal(config, db_url)


def _record_syncs(monkeypatch, events):
    """Note each fsync and fdatasync (of which file or folder) and each rename, around the real calls."""
    import wwpdb.apps.msgmodule.journal as journal_module

    real_fsync, real_sync, real_replace = os.fsync, journal_module._sync_data, os.replace

    def fsync(fd):
        real_fsync(fd)
        events.append(("synced", os.path.realpath(f"/proc/self/fd/{fd}")))

    def sync_data(fd):
        real_sync(fd)
        events.append(("synced", os.path.realpath(f"/proc/self/fd/{fd}")))

    def replace(source, target, **kwargs):
        real_replace(source, target, **kwargs)
        events.append(("renamed", os.path.realpath(target)))

    monkeypatch.setattr(journal_module.os, "fsync", fsync)
    monkeypatch.setattr(journal_module, "_sync_data", sync_data)
    monkeypatch.setattr(journal_module.os, "replace", replace)


def test_a_new_journal_file_has_its_name_synced_with_its_first_entry_and_only_then(tmp_path, monkeypatch):
    # A machine crash keeps what was synced: a synced entry in a file whose name was not would go.
    folder = tmp_path / "state"
    folder.mkdir()
    journal = Journal(folder / "journal.jsonl")
    events: list[tuple[str, str]] = []
    _record_syncs(monkeypatch, events)
    journal.begin("D_1", "messages-to-depositor", "db")
    assert events == [("synced", str(folder.resolve())), ("synced", str(journal.path.resolve()))]
    events.clear()
    journal.begin("D_2", "messages-to-depositor", "db")
    assert events == [("synced", str(journal.path.resolve()))]  # the name is on disk already


def test_an_entry_said_durable_in_a_new_journal_file_has_the_files_name_on_disk_whoever_made_the_file(
    tmp_path, monkeypatch
):
    # Two writers (processes: each its own Journal) begin at once on a journal that does not exist yet.
    # The first makes the file; the second appends to it and its sync may end before the first's does:
    # its entry is durable only if the file's name is, whoever syncs it.
    folder = tmp_path / "state"
    folder.mkdir()
    first, second = Journal(folder / "journal.jsonl"), Journal(folder / "journal.jsonl")
    events: list[tuple[str, str]] = []
    _record_syncs(monkeypatch, events)
    _, first_durable = first.begin_pending("D_1", "messages-to-depositor", "db")
    _, second_durable = second.begin_pending("D_2", "messages-to-depositor", "db")
    second_durable()  # said durable: the second writer renames its archive file into place now
    assert ("synced", str(folder.resolve())) in events
    first_durable()
    assert [entry.deposition_id for entry in first.entries(all_intents=True)] == ["D_1", "D_2"]


def test_a_compacted_journal_has_its_rename_synced_before_new_entries_can_follow(tmp_path, monkeypatch):
    folder = tmp_path / "state"
    folder.mkdir()
    journal = Journal(folder / "journal.jsonl")
    journal.finish(journal.begin("D_1", "messages-to-depositor", "db"))
    events: list[tuple[str, str]] = []
    _record_syncs(monkeypatch, events)
    assert journal.lines.rewrite(lambda records: []) == 2
    assert events[-2:] == [("renamed", str(journal.path.resolve())), ("synced", str(folder.resolve()))]


def test_journal_marks_of_finished_writes_are_compacted_away(tmp_path, monkeypatch):
    monkeypatch.setattr(Journal, "COMPACT_ABOVE", 2000)
    journal = Journal(tmp_path / "journal.jsonl")
    kept = journal.record("D_9", "messages-to-depositor", "db", "a real failure")
    for _ in range(100):
        journal.finish(journal.begin("D_1", "messages-to-depositor", "db"))
    assert journal.path.stat().st_size < 4000
    assert [entry.id for entry in journal.entries()] == [kept]


def test_a_journal_that_cannot_be_compacted_never_fails_a_write_that_is_in_both_stores(tmp_path, db_url, monkeypatch):
    monkeypatch.setattr(Journal, "COMPACT_ABOVE", 1)  # every done mark asks for a compaction
    config = stage_config(tmp_path, "dual-write", db_url)
    svc = service(config)
    journal_path = load_settings(config).journal_path
    first = svc.set(DEP, {"message_text": "first"})
    (journal_path.parent / f".{journal_path.name}.tmp").mkdir()  # the compaction's file cannot be made
    second = svc.set(DEP, {"message_text": "second"})  # acknowledged: a retry would add it twice
    stored = [m.message_id for m in DbMessageStore(db_url).load(DEP, "messages-to-depositor").messages]
    assert stored == [first, second]
    assert [m.message_id for m in cif_of(config).load(DEP, "messages-to-depositor").messages] == stored
    assert Journal(journal_path).entries(all_intents=True) == []  # its done mark is in
    with pytest.raises(StorageError, match="cannot rewrite"):
        Journal(journal_path).lines.rewrite(lambda records: records)


@pytest.mark.mysql
def test_one_message_over_the_packet_limit_does_not_stop_other_depositions_reaching_the_database(tmp_path, mysql_url):
    schema_versions.upgrade(mysql_url)
    config = stage_config(tmp_path, "dual-write", mysql_url)
    svc = service(config)
    with get_engine(mysql_url).connect() as connection:
        limit = connection.execute(text("SELECT @@max_allowed_packet")).scalar_one()
    huge = svc.set(DEP, {"message_text": "x" * (limit + 1024)})  # CIF takes it: acknowledged
    other = "D_1000000043"
    later = svc.set(other, {"message_text": "a later message of another deposition"})
    assert DbMessageStore(mysql_url).load(other, "messages-to-depositor").find_message(later) is not None
    assert cif_of(config).load(DEP, "messages-to-depositor").find_message(huge) is not None
    (entry,) = Journal(load_settings(config).journal_path).entries()
    assert (entry.deposition_id, entry.failed) == (DEP, "db")
    assert "max_allowed_packet" in entry.error and "lost the connection" not in entry.error


def test_the_circuit_breaker_skips_an_unreachable_database_at_once_and_journals_it(tmp_path, sqlite_url):
    down = stage_config(tmp_path, "dual-write", UNREACHABLE)
    svc = service(down)
    for number in range(8):
        svc.set(f"D_10000000{50 + number}", {"message_text": f"message {number}"})
    errors = [entry.error for entry in Journal(load_settings(down).journal_path).entries()]
    assert len(errors) == 8  # every one journaled, none lost: the archive has them all
    assert "cannot reach the database server" in errors[0]
    assert "circuit breaker" in errors[-1].lower()
    off = service({**down, "MSGMODULE_CIRCUIT_BREAKER": "off"})
    assert "circuit breaker" not in off.store.describe()
    checks = {check.backend: check for check in check_health(load_settings(down))}
    assert not checks["breaker db"].ok and "open" in checks["breaker db"].detail


@pytest.mark.parametrize("umask", [0o000, 0o022])
def test_the_shadow_mismatch_log_quotes_message_text_so_it_is_its_owners_alone(tmp_path, sqlite_url, umask):
    schema_versions.upgrade(sqlite_url)
    config = stage_config(tmp_path, "shadow", sqlite_url)
    svc = service(config)
    mid = svc.set(DEP, {"message_text": "a depositor's private words"})
    with get_engine(sqlite_url).begin() as connection:
        connection.execute(
            text("UPDATE pdbx_deposition_message_info SET message_text = 'other' WHERE message_id = :m"), {"m": mid}
        )
    previous = os.umask(umask)
    try:
        svc.get(DEP)
    finally:
        os.umask(previous)
    log_path = load_settings(config).mismatch_log_path
    assert "a depositor's private words" in log_path.read_text()
    assert oct(os.stat(log_path).st_mode & 0o777) == oct(0o600)
