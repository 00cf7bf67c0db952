"""A move back to the archive (a rollback) exports exactly what differs, and an interrupted one changes nothing.

Each site here is real: a generated archive migrated into SQLite or MariaDB,
validated, moved to db-only (or db-primary) through the command line, written
to through the service, then moved back. The documents that differ are found
beforehand by comparing every one; the rollback must export exactly those, and
leave the archive equal to the database.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import site_config
from sqlalchemy import delete

from wwpdb.apps.msgmodule.cli import run
from wwpdb.apps.msgmodule.config import load_settings
from wwpdb.apps.msgmodule.db import schema_versions
from wwpdb.apps.msgmodule.db.engine import get_engine
from wwpdb.apps.msgmodule.db.schema import validated
from wwpdb.apps.msgmodule.equivalence import differences
from wwpdb.apps.msgmodule.io.MessagingFactory import MessagingFactory
from wwpdb.apps.msgmodule.model import Message
from wwpdb.apps.msgmodule.stage import evidence
from wwpdb.apps.msgmodule.stage.lifecycle import move_stage, read_site
from wwpdb.apps.msgmodule.stage.record import SiteLock, read_history
from wwpdb.apps.msgmodule.stores.authority import SITE_WRITER
from wwpdb.apps.msgmodule.stores.cif import CifMessageStore
from wwpdb.apps.msgmodule.stores.db import DbMessageStore
from wwpdb.apps.msgmodule.synthetic import generate_archive

COUNT = 12


def cli(config: dict[str, str], *args: str) -> int:
    return run([*args, "--config", config["MSGMODULE_CONFIG"]])


def site_in(tmp_path: Path, db_url: str, stage: str, count: int = COUNT) -> tuple[dict[str, str], list[str]]:
    """A generated archive, migrated, validated, and moved stage by stage to `stage`."""
    config = site_config(tmp_path, db_url)
    schema_versions.upgrade(db_url)
    ids = generate_archive(Path(config["MSGCIF_ROOT"]), count)
    assert cli(config, "migrate", "--no-progress") == 0
    assert cli(config, "validate", "--no-progress") == 0
    for step in ("dual-write", "db-primary", "db-only"):
        assert cli(config, "stage", step) == 0
        if step == stage:
            break
    return config, ids


def differing(config: dict[str, str]) -> set[tuple[str, str]]:
    """Every database document that differs from the archive's, by comparing each one."""
    cif, db = CifMessageStore(config["MSGCIF_ROOT"]), DbMessageStore(config["MSGDB_URL"])
    return {(d, c) for d, c in db.document_keys() if differences(cif.load(d, c), db.load(d, c))}


def exported_keys(paths: list[str]) -> set[tuple[str, str]]:
    """(deposition, content type) of each exported file, from its name: <ID>_<content type>_P1.cif.V<n>."""
    found = set()
    for path in paths:
        match = re.fullmatch(r"(D_[0-9]+)_(.+)_P1\.cif\.V[0-9]+", Path(path).name)
        assert match is not None, path
        found.add((match[1], match[2]))
    return found


def write_in_db_only(config: dict[str, str], ids: list[str]) -> None:
    """Acknowledged writes while the site reads the database only: three depositions, two content types."""
    svc = MessagingFactory.create_messaging_service(config=config)
    svc.set(ids[1], {"message_text": "written in db-only"})
    svc.set(ids[4], {"message_text": "written in db-only"}, content_type="notes-from-annotator")
    svc.set(ids[7], {"message_text": "written in db-only"})
    svc.set(ids[7], {"message_text": "and again"})


def test_a_rollback_from_db_only_exports_exactly_the_documents_changed_since(tmp_path, db_url):
    config, ids = site_in(tmp_path, db_url, "db-only")
    write_in_db_only(config, ids)
    # A tool edits an archive file behind the library's back: the database is authoritative, so it is exported.
    edited = CifMessageStore(config["MSGCIF_ROOT"], site_writer=SITE_WRITER)  # past the guard, as such a tool is
    edited.put_message(ids[9], "messages-to-depositor", Message(message_id="behind", message_text="not in the DB"))
    expected = differing(config)
    assert {d for d, _ in expected} == {ids[1], ids[4], ids[7], ids[9]}
    said: list[str] = []
    move = move_stage(load_settings(config), "dual-write", say=said.append, progress=False)
    assert exported_keys(move.exported) == expected
    assert differing(config) == set()  # the archive equals the database
    stored = DbMessageStore(config["MSGDB_URL"]).document_keys()
    assert move.compared == len([k for k in stored if k[0] in {ids[1], ids[4], ids[7], ids[9]}]) < len(stored)
    assert f"4 of {COUNT} deposition(s) changed since the archive was last validated equal" in "\n".join(said)
    assert any("Ctrl-C stops the move" in line and "stage db-only" in line for line in said)
    assert read_history(config["MSGCIF_ROOT"])[-1]["compared"] == move.compared


def test_without_validation_evidence_every_document_is_compared_and_only_the_changed_exported(tmp_path, db_url):
    config, ids = site_in(tmp_path, db_url, "db-only")
    write_in_db_only(config, ids)
    expected = differing(config)
    with get_engine(config["MSGDB_URL"]).begin() as connection:
        connection.execute(delete(validated))
    said: list[str] = []
    move = move_stage(load_settings(config), "dual-write", say=said.append, progress=False)
    assert exported_keys(move.exported) == expected
    assert move.compared == len(DbMessageStore(config["MSGDB_URL"]).document_keys())
    assert "no validation evidence in the database" in "\n".join(said)
    assert differing(config) == set()


def test_compare_all_compares_everything_and_exports_the_same(tmp_path, db_url):
    config, ids = site_in(tmp_path, db_url, "db-only")
    write_in_db_only(config, ids)
    expected = differing(config)
    move = move_stage(load_settings(config), "dual-write", compare_all=True, progress=False)
    assert exported_keys(move.exported) == expected
    assert move.compared == len(DbMessageStore(config["MSGDB_URL"]).document_keys())


def test_a_rollback_from_db_primary_exports_nothing_the_dual_writes_kept_in_step(tmp_path, db_url):
    config, ids = site_in(tmp_path, db_url, "db-primary")
    svc = MessagingFactory.create_messaging_service(config=config)
    svc.set(ids[2], {"message_text": "written in db-primary, to both stores"})
    assert differing(config) == set()
    move = move_stage(load_settings(config), "dual-write", progress=False)
    assert move.exported == []
    # Only the deposition written since the validation is looked at.
    assert move.compared == len(DbMessageStore(config["MSGDB_URL"]).document_keys([ids[2]]))


def test_a_write_during_validation_leaves_its_evidence_stale(tmp_path, db_url, monkeypatch):
    config, ids = site_in(tmp_path, db_url, "db-only")
    record = evidence.record_evidence

    def write_first(engine, equal, unequal, revisions_before=None):  # a db-only write lands after the comparison
        if ids[3] in equal:
            MessagingFactory.create_messaging_service(config=config).set(ids[3], {"message_text": "mid-validation"})
        record(engine, equal, unequal, revisions_before)

    monkeypatch.setattr(evidence, "record_evidence", write_first)
    assert cli(config, "validate", "--no-progress", ids[3]) == 0
    monkeypatch.setattr(evidence, "record_evidence", record)
    site = read_site(load_settings(config))
    assert evidence.unsettled_depositions(config["MSGCIF_ROOT"], config["MSGDB_URL"], site.archive_id).depositions == [
        ids[3]
    ]
    move = move_stage(load_settings(config), "dual-write", progress=False)
    assert exported_keys(move.exported) == {(ids[3], "messages-to-depositor")}
    assert differing(config) == set()


# -- as an operator runs it: the command line, its output, and Ctrl-C ---------------------------


def mover(config: dict[str, str], *args: str, **environment: str) -> subprocess.Popen[str]:
    env = {**os.environ, **environment}
    return subprocess.Popen(
        [sys.executable, "-m", "wwpdb.apps.msgmodule", "stage", "dual-write", "--config", config["MSGMODULE_CONFIG"]]
        + list(args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # its own process group, as a terminal's foreground job is
    )


def test_the_rollback_reports_progress_in_lines_when_not_on_a_terminal(tmp_path, db_url):
    config, ids = site_in(tmp_path, db_url, "db-only")
    write_in_db_only(config, ids)
    process = mover(
        config,
        "--compare-all",
        MSGMODULE_PROGRESS_SECONDS="0",
        MSGMODULE_ROLLBACK_BATCH="2",
        MSGMODULE_ROLLBACK_WORKERS="1",
    )
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    assert "Ctrl-C stops the move at any point and leaves the site in stage db-only" in out
    lines = [line for line in out.splitlines() if "deposition(s) compared" in line]
    assert len(lines) >= 3 and lines[-1].split()[1] == f"{COUNT}/{COUNT}"
    assert "\r" not in err and "dep/s" not in err  # no progress bar where nobody watches it
    assert "exported 3 document(s) into the archive" in out


def stage_as_recorded(config: dict[str, str]) -> tuple[str, int, str | None, int]:
    record = read_site(load_settings(config))
    return record.stage, record.epoch, record.moving_to, len(read_history(config["MSGCIF_ROOT"]))


def test_ctrl_c_during_the_export_leaves_the_site_where_it_was(tmp_path, db_url):
    config, ids = site_in(tmp_path, db_url, "db-only")
    write_in_db_only(config, ids)
    before = stage_as_recorded(config)
    process = mover(
        config,
        "--compare-all",
        MSGMODULE_PROGRESS_SECONDS="0",
        MSGMODULE_ROLLBACK_BATCH="1",
        MSGMODULE_ROLLBACK_WORKERS="2",
    )
    assert process.stdout is not None
    for line in process.stdout:
        if "deposition(s) compared" in line:  # the export is under way, in worker processes
            break
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C sends: to every process of the job
    _, err = process.communicate(timeout=120)
    assert process.returncode != 0 and "Aborted" in err
    assert stage_as_recorded(config) == before
    # Nothing is left half done: the next rollback completes, and the archive equals the database.
    assert cli(config, "stage", "dual-write") == 0
    assert differing(config) == set()


def test_ctrl_c_while_the_move_waits_for_running_writes_leaves_the_site_where_it_was(tmp_path, db_url):
    config, ids = site_in(tmp_path, db_url, "db-only")
    write_in_db_only(config, ids)
    before = stage_as_recorded(config)
    with SiteLock(config["MSGCIF_ROOT"]).shared():  # a write that is still running
        process = mover(config)
        assert process.stdout is not None
        for line in process.stdout:
            if "waiting for running writes to finish" in line:
                break
        deadline = time.monotonic() + 60
        while read_site(load_settings(config)).moving_to != "dual-write":  # marked: new writes stand back
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGINT)
        _, err = process.communicate(timeout=120)
    assert process.returncode != 0 and "Aborted" in err
    assert stage_as_recorded(config) == before
    MessagingFactory.create_messaging_service(config=config).set(ids[0], {"message_text": "writes go on"})
    assert cli(config, "stage", "dual-write") == 0
    assert differing(config) == set()


# -- export: the same documents as migration read, at migration's pace ---------------------------


def test_export_writes_back_exactly_what_migration_read(tmp_path, db_url):
    config = site_config(tmp_path, db_url)
    schema_versions.upgrade(db_url)
    ids = generate_archive(Path(config["MSGCIF_ROOT"]), COUNT)
    assert cli(config, "migrate", "--no-progress", "--batch-size", "5", "--workers", "2") == 0
    out = tmp_path / "exported"
    assert cli(config, "export", "--output-dir", str(out), "--workers", "2") == 0
    archive, exported = CifMessageStore(config["MSGCIF_ROOT"]), CifMessageStore(out)
    assert exported.list_depositions() == sorted(ids)
    for deposition_id in ids:
        files = archive.current_files(deposition_id)
        assert set(exported.current_files(deposition_id)) == set(files)
        for content_type in files:
            assert (
                differences(archive.load(deposition_id, content_type), exported.load(deposition_id, content_type)) == []
            )
    assert not list(out.rglob("*.tmp"))


def test_ctrl_c_just_after_the_moving_mark_is_in_place_still_unmarks_it(tmp_path, sqlite_url, monkeypatch):
    """The mark is visible once renamed into place, but its write goes on (the folder's fsync): a Ctrl-C
    there, which a test or an operator watching the record can send, must still leave the site unmarked."""
    config, ids = site_in(tmp_path, sqlite_url, "db-only")
    before = stage_as_recorded(config)
    real_fsync = os.fsync
    calls = {"folder": 0}

    def ctrl_c_after_the_rename(fd: int) -> None:
        real_fsync(fd)
        if os.path.isdir(f"/proc/self/fd/{fd}") and read_site(load_settings(config)).moving_to:
            calls["folder"] += 1
            monkeypatch.setattr(os, "fsync", real_fsync)  # one Ctrl-C, like the operator's
            raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", ctrl_c_after_the_rename)
    try:
        move_stage(load_settings(config), "dual-write")
    except KeyboardInterrupt:
        pass
    else:
        raise AssertionError("the Ctrl-C injected after the mark went unnoticed")
    assert calls["folder"] == 1
    assert stage_as_recorded(config) == before
    assert cli(config, "stage", "dual-write") == 0
