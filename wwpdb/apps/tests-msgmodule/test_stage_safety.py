"""Stage moves lose nothing: real processes of one site, started in different stages, writing while it moves.

Each test ends the same way: every message a `set` acknowledged is readable
through a service of the stage the site ends in, and wherever both stores are
written they hold the same data.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import HERE, site_config

from wwpdb.apps.msgmodule.cli import run
from wwpdb.apps.msgmodule.config import load_settings
from wwpdb.apps.msgmodule.db import schema_versions
from wwpdb.apps.msgmodule.db.engine import get_engine
from wwpdb.apps.msgmodule.equivalence import differences
from wwpdb.apps.msgmodule.errors import MessagingError
from wwpdb.apps.msgmodule.io.MessagingFactory import MessagingFactory
from wwpdb.apps.msgmodule.journal import Journal
from wwpdb.apps.msgmodule.model import CONTENT_TYPES
from wwpdb.apps.msgmodule.stage.lifecycle import StageMoveRefused, guards, move_stage, read_site
from wwpdb.apps.msgmodule.stage.policy import STAGES
from wwpdb.apps.msgmodule.stage.record import read_history
from wwpdb.apps.msgmodule.stage.routing import StageConflictError, UnvalidatedDatabaseError
from wwpdb.apps.msgmodule.stores.cif import CifMessageStore
from wwpdb.apps.msgmodule.stores.db import DbMessageStore

DEPS = ["D_1000000101", "D_1000000102", "D_1000000103"]
WRITER = HERE / "fleet_writer.py"


# -- a site ----------------------------------------------------------------------------------


def cli(config: dict[str, str], *args: str) -> int:
    return run([*args, "--config", config["MSGMODULE_CONFIG"]])


def service(config: dict[str, str]):
    return MessagingFactory.create_messaging_service(config=config)


def migrated_site(tmp_path: Path, db_url: str) -> dict[str, str]:
    """A site with messages in the archive, migrated and validated, in dual-write."""
    config = site_config(tmp_path, db_url)
    schema_versions.upgrade(db_url)
    svc = service(config)
    for deposition_id in DEPS:
        svc.set(deposition_id, {"message_text": "written in cif-only"})
    assert cli(config, "migrate") == 0
    assert cli(config, "validate") == 0
    assert cli(config, "stage", "dual-write") == 0
    return config


def every_message(config: dict[str, str]) -> set[tuple[str, str]]:
    """(deposition, message id) of every message a fresh process of the site reads."""
    svc = service(config)
    return {(d, m["message_id"]) for d in DEPS for m in svc.get(d)}


def assert_stores_equal(config: dict[str, str]) -> None:
    cif, db = CifMessageStore(config["MSGCIF_ROOT"]), DbMessageStore(config["MSGDB_URL"])
    for deposition_id in DEPS:
        for content_type in CONTENT_TYPES:
            assert differences(cif.load(deposition_id, content_type), db.load(deposition_id, content_type)) == [], (
                deposition_id,
                content_type,
            )


# -- the fleet ------------------------------------------------------------------------------------


class Writer:
    """One process of the fleet (fleet_writer.py), writing while the test moves the stage."""

    def __init__(self, tmp_path: Path, name: str, config: dict[str, str], count: int, delay: float = 0.005):
        self.acks = tmp_path / "fleet" / f"{name}.acks"
        self.acks.parent.mkdir(exist_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, str(WRITER), json.dumps(config), str(self.acks), str(count), str(delay), *DEPS],
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
        )

    def acknowledged(self) -> set[tuple[str, str]]:
        if not self.acks.exists():
            return set()
        return {tuple(line.split()) for line in self.acks.read_text().splitlines() if line}  # type: ignore[misc]

    def wait_for(self, count: int) -> None:
        deadline = time.monotonic() + 60
        while len(self.acknowledged()) < count:
            assert self.process.poll() is None, self.process.stderr.read() if self.process.stderr else ""
            assert time.monotonic() < deadline, f"{self.acks.stem} acknowledged too few messages"
            time.sleep(0.02)

    def finish(self) -> str:
        _, errors = self.process.communicate(timeout=120)
        assert self.process.returncode == 0, errors
        return errors


# -- the five ways a move lost messages -----------------------------------------------------------


def test_a_fleet_started_in_different_stages_loses_nothing_while_the_stage_moves(tmp_path, db_url):
    config = migrated_site(tmp_path, db_url)
    follower = Writer(tmp_path, "started-in-dual-write", config, 80)
    pinned = Writer(tmp_path, "pinned-to-dual-write", {**config, "MSGMODULE_STAGE": "dual-write"}, 80)
    follower.wait_for(10)
    pinned.wait_for(10)
    assert cli(config, "stage", "db-primary") == 0  # while both write
    late = Writer(tmp_path, "started-in-db-primary", config, 40)
    late.wait_for(10)
    assert cli(config, "stage", "db-only") == 0  # and again
    for writer in (follower, late):
        writer.finish()
    refusals = pinned.finish()
    assert "set to stage dual-write" in refusals and "but the site is in stage db-primary" in refusals
    acknowledged = follower.acknowledged() | pinned.acknowledged() | late.acknowledged()
    assert len(acknowledged) > 100
    assert acknowledged <= every_message(config)
    assert read_site(load_settings(config)).epoch == 3


def test_a_rollback_after_db_only_writes_loses_none_of_them(tmp_path, db_url):
    config = migrated_site(tmp_path, db_url)
    assert cli(config, "stage", "db-primary") == 0
    assert cli(config, "stage", "db-only") == 0
    written_in_db_only = Writer(tmp_path, "db-only", config, 30, delay=0)
    written_in_db_only.finish()
    during = Writer(tmp_path, "during-the-rollback", config, 200)
    during.wait_for(5)
    assert cli(config, "stage", "dual-write") == 0  # the rollback, while a process writes
    after = Writer(tmp_path, "after-the-rollback", config, 10, delay=0)
    after.finish()
    (tmp_path / "fleet" / "STOP").touch()
    during.finish()
    acknowledged = written_in_db_only.acknowledged() | during.acknowledged() | after.acknowledged()
    assert acknowledged <= every_message(config)
    assert_stores_equal(config)  # dual-write again: both hold everything
    history = read_history(config["MSGCIF_ROOT"])
    assert history[-1]["from"] == "db-only" and history[-1]["to"] == "dual-write" and history[-1]["exported"] >= 1
    versions = sorted(
        p.name for p in (Path(config["MSGCIF_ROOT"]) / DEPS[0]).iterdir() if ".cif.V" in p.name and "PREV" not in p.name
    )
    assert len(versions) >= 2  # the export is a new version; the one from before db-only stays


def test_a_change_after_validation_refuses_the_move_until_it_is_validated(tmp_path, db_url):
    config = migrated_site(tmp_path, db_url)
    # A OneDep tool writes a message into the archive directly, behind the library's back.
    behind = CifMessageStore(config["MSGCIF_ROOT"]).put_message
    from wwpdb.apps.msgmodule.model import Message

    behind(DEPS[1], "messages-to-depositor", Message(message_id="behind-its-back", message_text="not in the DB"))
    with pytest.raises(StageMoveRefused, match=f"changed since the last validation and not shown equal: {DEPS[1]}"):
        move_stage(load_settings(config), "db-primary")
    assert read_site(load_settings(config)).stage == "dual-write"
    assert cli(config, "resync", DEPS[1]) == 0
    assert cli(config, "validate", "--changed") == 0
    assert cli(config, "stage", "db-primary") == 0
    assert (DEPS[1], "behind-its-back") in every_message(config)
    service(config).set(DEPS[1], {"message_text": "a later write keeps it"})
    assert (DEPS[1], "behind-its-back") in every_message(config)


def test_a_process_set_to_another_stage_or_an_unvalidated_database_refuses_to_serve(tmp_path, db_url):
    config = site_config(tmp_path, db_url)
    schema_versions.upgrade(db_url)
    service(config).set(DEPS[0], {"message_text": "in the archive"})
    # An environment that says db-only, against an initialised but empty database.
    probe = [
        sys.executable,
        "-c",
        "from wwpdb.apps.msgmodule.io.MessagingFactory import create_messaging_service as c;"
        f"print(c().get({DEPS[0]!r}))",
    ]
    env = {**os.environ, **config, "MSGMODULE_STAGE": "db-only"}
    refused = subprocess.run(probe, env=env, capture_output=True, text=True, cwd=tmp_path)
    assert refused.returncode != 0 and "[]" not in refused.stdout
    assert "set to stage db-only" in refused.stderr and "msgmodule stage NAME" in refused.stderr
    health = subprocess.run(
        [sys.executable, "-m", "wwpdb.apps.msgmodule.cli", "health"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert health.returncode == 1 and "FAIL stage" in health.stdout
    # The site really moves to db-primary; a process pointed at another, empty database refuses.
    assert cli(config, "migrate") == 0 and cli(config, "validate") == 0 and cli(config, "stage", "db-primary") == 0
    empty = f"sqlite:///{tmp_path}/another-empty.db"
    schema_versions.upgrade(empty)
    other = {**config, "MSGDB_URL": empty}
    with pytest.raises(UnvalidatedDatabaseError, match="holds no validated migration"):
        service(other)
    assert run(["health", "--config", config["MSGMODULE_CONFIG"], "--db-url", empty]) == 1
    assert [m["message_text"] for m in service(config).get(DEPS[0])] == ["in the archive"]


KILLED = """
import json, sys
from wwpdb.apps.msgmodule.io.MessagingFactory import MessagingFactory
svc = MessagingFactory.create_messaging_service(config=json.loads(sys.argv[1]))
svc.set(sys.argv[2], {"message_id": "written-then-killed", "message_text": "only the archive has me"})
"""


def test_a_writer_killed_between_its_two_writes_is_reconciled_by_the_very_next_move(tmp_path, db_url):
    from sqlalchemy import select

    from wwpdb.apps.msgmodule.db.schema import documents

    config = migrated_site(tmp_path, db_url)
    deposition_id = DEPS[2]
    # Hold the database document's lock, so the writer's second write waits; kill it meanwhile.
    blocker = get_engine(db_url).connect().execution_options(msgmodule_write=True)
    transaction = blocker.begin()
    blocker.execute(select(documents).where(documents.c.source_deposition_id == deposition_id).with_for_update())
    writer = subprocess.Popen([sys.executable, "-c", KILLED, json.dumps(config), deposition_id])
    try:
        deadline = time.monotonic() + 60
        cif = CifMessageStore(config["MSGCIF_ROOT"])
        while not cif.load(deposition_id, "messages-to-depositor").find_message("written-then-killed"):
            assert writer.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        writer.kill()
        writer.wait()
    finally:
        transaction.rollback()
        blocker.close()
    assert cli(config, "stage", "db-primary") == 0  # at once: no waiting out a grace period
    assert (deposition_id, "written-then-killed") in every_message(config)
    assert Journal(load_settings(config).journal_path).pending(all_intents=True) == {}
    assert read_history(config["MSGCIF_ROOT"])[-1]["reconciled"] == 1
    assert_stores_equal(config)


# -- the guards, one by one ---------------------------------------------------------------------


def test_each_kind_of_move_has_its_guards():
    assert guards(STAGES["cif-only"], STAGES["dual-write"]) == ["settle the journal"]
    assert guards(STAGES["dual-write"], STAGES["db-primary"]) == ["settle the journal", "fresh validation"]
    assert guards(STAGES["db-only"], STAGES["db-primary"]) == ["settle the journal"]
    assert guards(STAGES["db-primary"], STAGES["shadow"]) == [
        "settle the journal",
        "export database documents that differ",
    ]


def test_moving_to_database_reads_needs_a_validation_of_this_archive(tmp_path, sqlite_url):
    config = site_config(tmp_path, sqlite_url)
    schema_versions.upgrade(sqlite_url)
    service(config).set(DEPS[0], {"message_text": "x"})
    settings = load_settings(config)
    with pytest.raises(StageMoveRefused, match="never been validated"):
        move_stage(settings, "db-primary")
    assert cli(config, "migrate") == 0
    other = tmp_path / "other-archive"
    other.mkdir()
    assert cli(config, "validate", "--directory", str(other)) == 1  # another archive proves nothing here
    with pytest.raises(StageMoveRefused, match="never been validated"):
        move_stage(settings, "db-primary")
    DbMessageStore(sqlite_url).put_message(
        DEPS[0],
        "messages-to-depositor",
        __import__("wwpdb.apps.msgmodule.model", fromlist=["Message"]).Message(message_id="only-in-db"),
    )
    assert cli(config, "validate") == 1
    with pytest.raises(StageMoveRefused, match="found 1 deposition"):
        move_stage(settings, "db-primary")
    forced = move_stage(settings, "db-primary", force=True)
    assert forced.forced and "found 1 deposition" in forced.skipped[0]
    record = read_site(settings)
    assert (record.stage, record.epoch, record.forced) == ("db-primary", 1, True)
    assert read_history(config["MSGCIF_ROOT"])[-1]["forced"] is True


def test_a_move_waits_for_running_writes_and_new_writes_wait_for_the_move(tmp_path, sqlite_url):
    from wwpdb.apps.msgmodule.stage.record import SiteLock, StageMoveInProgress

    config = site_config(tmp_path, sqlite_url)
    lock = SiteLock(config["MSGCIF_ROOT"])
    other = SiteLock(config["MSGCIF_ROOT"])  # as another process holds it
    with lock.shared(), pytest.raises(MessagingError, match="running writes"), other.exclusive(timeout=0.2):
        pass
    with other.exclusive(), pytest.raises(StageMoveInProgress, match="stage move"), lock.shared(timeout=0.2):
        pass


def test_a_process_that_sets_no_stage_follows_every_move(tmp_path, sqlite_url):
    config = site_config(tmp_path, sqlite_url)
    svc = service(config)
    assert svc.store.stage.name == "cif-only"
    schema_versions.upgrade(sqlite_url)
    assert cli(config, "stage", "dual-write") == 0
    mid = svc.set(DEPS[0], {"message_text": "written after the move"})
    assert DbMessageStore(sqlite_url).load(DEPS[0], "messages-to-depositor").find_message(mid) is not None
    pinned = service({**config, "MSGMODULE_STAGE": "dual-write"})
    assert cli(config, "stage", "cif-only") == 0
    with pytest.raises(StageConflictError, match="set to stage dual-write .* site is in stage cif-only"):
        pinned.set(DEPS[0], {"message_text": "refused"})
    mid2 = svc.set(DEPS[0], {"message_text": "cif only again"})
    assert DbMessageStore(sqlite_url).load(DEPS[0], "messages-to-depositor").find_message(mid2) is None


def test_the_stage_command_and_feature_flags_show_the_site_and_this_process(tmp_path, sqlite_url, capsys, monkeypatch):
    config = site_config(tmp_path, sqlite_url)
    schema_versions.upgrade(sqlite_url)
    assert cli(config, "stage", "shadow") == 0
    capsys.readouterr()
    monkeypatch.setenv("MSGMODULE_STAGE", "dual-write")
    assert cli(config, "feature-flags") == 0
    shown = capsys.readouterr().out
    assert "MSGDB_READS_ENABLED=true" in shown and "=> stage shadow (epoch 1" in shown
    assert "this process sets stage dual-write (MSGMODULE_STAGE from environment): it DISAGREES" in shown
    assert cli(config, "stage") == 0
    shown = capsys.readouterr().out
    assert "stage:    shadow  (epoch 1;" in shown and "cif-only -> shadow" in shown and "DISAGREES" in shown
    assert cli(config, "stage", "--json") == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["stage"], info["epoch"], info["history"][0]["to"]) == ("shadow", 1, "shadow")


def test_entries_of_the_journal_earlier_versions_kept_in_the_state_directory_are_taken_over(tmp_path, sqlite_url):
    config = site_config(tmp_path, sqlite_url)
    schema_versions.upgrade(sqlite_url)
    svc = service(config)
    mid = svc.set(DEPS[0], {"message_text": "only in the archive"})
    legacy = Journal(Path(config["MSGMODULE_STATE_DIR"]) / "journal.jsonl")
    legacy.record(DEPS[0], "messages-to-depositor", "db", "from before the upgrade")
    assert cli(config, "stage", "dual-write") == 0  # the move finds and settles it
    assert DbMessageStore(sqlite_url).load(DEPS[0], "messages-to-depositor").find_message(mid) is not None
    assert legacy.entries(all_intents=True) == []
    assert Journal(load_settings(config).journal_path).pending(all_intents=True) == {}


def test_msgdb_enabled_false_forbids_every_stage_that_uses_the_database(tmp_path, sqlite_url):
    config = site_config(tmp_path, sqlite_url)
    schema_versions.upgrade(sqlite_url)
    off = {**config, "MSGDB_ENABLED": "false"}
    with pytest.raises(StageMoveRefused, match="MSGDB_ENABLED is false"):
        move_stage(load_settings(off), "dual-write", force=True)
    assert cli(config, "stage", "dual-write") == 0
    with pytest.raises(MessagingError, match="MSGDB_ENABLED is false .* stage dual-write does"):
        service(off)
    assert run(["health", "--config", config["MSGMODULE_CONFIG"]]) == 0
    os.environ["MSGDB_ENABLED"] = "no"
    try:
        assert run(["health", "--config", config["MSGMODULE_CONFIG"]]) == 1
    finally:
        del os.environ["MSGDB_ENABLED"]


def test_init_script_takes_a_named_environment_of_the_config_file(tmp_path):
    cfg = tmp_path / "site.cfg"
    cfg.write_text(
        "[msgmodule]\nMSGDB_URL = sqlite:///production.db\n\n[env:development]\nMSGDB_URL = sqlite:///development.db\n"
    )
    script = HERE.parents[2] / "scripts" / "init_messaging_database.py"
    done = subprocess.run(
        [sys.executable, str(script), "--env", "development", "--config", str(cfg)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "development.db").exists() and not (tmp_path / "production.db").exists()
    wrong = subprocess.run(
        [sys.executable, str(script), "--env", "staging", "--config", str(cfg)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert wrong.returncode == 1 and "no [env:staging] section (it has: development)" in wrong.stderr


# -- found by review: each once lost or hid a message ----------------------------------------------


def test_a_document_the_first_export_pass_could_not_write_is_written_under_the_lock(tmp_path, db_url):
    config = migrated_site(tmp_path, db_url)
    assert cli(config, "stage", "db-primary") == 0 and cli(config, "stage", "db-only") == 0
    mid = service(config).set(DEPS[0], {"message_text": "acknowledged in db-only"})
    folder = Path(config["MSGCIF_ROOT"]) / DEPS[0]
    aside = folder.with_name("aside")

    def say(line: str) -> None:  # the archive fails for this deposition during the first pass only
        if line.startswith("exporting database documents that differ"):
            folder.rename(aside)
            folder.write_text("not a folder")
        if "could not be exported yet" in line:
            folder.unlink()
            aside.rename(folder)

    move = move_stage(load_settings(config), "dual-write", say=say)
    assert move.moved and not move.forced
    assert (DEPS[0], mid) in every_message(config)
    service(config).set(DEPS[0], {"message_text": "the next write, in dual-write"})
    assert DbMessageStore(config["MSGDB_URL"]).load(DEPS[0], "messages-to-depositor").find_message(mid)


def test_an_archive_root_that_is_not_the_sites_is_refused(tmp_path, db_url):
    config = migrated_site(tmp_path, db_url)
    assert cli(config, "stage", "db-primary") == 0 and cli(config, "stage", "db-only") == 0
    missing = {**config, "MSGCIF_ROOT": str(tmp_path / "mistyped")}
    with pytest.raises(MessagingError, match="does not exist or is not a folder"):
        service(missing)
    assert not (tmp_path / "mistyped").exists()  # never created
    empty = tmp_path / "empty-mount-point"
    empty.mkdir()
    with pytest.raises(StageConflictError, match="shows stage db-only at epoch 3"):
        service({**config, "MSGCIF_ROOT": str(empty)})
    assert run(["health", "--config", config["MSGMODULE_CONFIG"], "--cif-root", str(empty)]) == 1
    running = service(config)
    (Path(config["MSGCIF_ROOT"]) / ".msgmodule" / "stage.json").unlink()  # the record lost
    time.sleep(1.1)  # past the bound a read trusts the stage it saw
    with pytest.raises(StageConflictError, match="went back from epoch 3 to 0 .*no record there"):
        running.get(DEPS[0])


def test_a_forced_move_marks_the_database_it_was_given_and_no_other(tmp_path, db_url):
    config = site_config(tmp_path, db_url)
    schema_versions.upgrade(db_url)
    service(config).set(DEPS[0], {"message_text": "x"})
    assert run(["stage", "db-primary", "--force", "--config", config["MSGMODULE_CONFIG"]]) == 0
    service(config)  # the forced database serves
    empty = f"sqlite:///{tmp_path}/another-empty.db"
    schema_versions.upgrade(empty)
    with pytest.raises(UnvalidatedDatabaseError, match="holds no validated migration"):
        service({**config, "MSGDB_URL": empty})


def test_flags_that_agree_with_the_site_are_served(tmp_path, sqlite_url):
    config = site_config(tmp_path, sqlite_url)
    schema_versions.upgrade(sqlite_url)
    assert run(["stage", "db-primary", "--force", "--config", config["MSGMODULE_CONFIG"]]) == 0
    service({**config, "MSGDB_WRITES_ENABLED": "true", "MSGDB_READS_ENABLED": "yes"})
    with pytest.raises(StageConflictError, match=r"set to flags of another stage \(MSGCIF_READS_ENABLED=true"):
        service({**config, "MSGCIF_READS_ENABLED": "true"})


def test_an_edit_that_puts_size_and_mtime_back_is_still_a_change(tmp_path, db_url):
    config = migrated_site(tmp_path, db_url)
    path = CifMessageStore(config["MSGCIF_ROOT"]).current_file(DEPS[0], "messages-to-depositor")
    assert path is not None
    before = path.stat()
    text_ = path.read_text()
    path.write_text(text_.replace("written in cif-only", "written in CIF-only"))  # same size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size
    with pytest.raises(StageMoveRefused, match=f"not shown equal: {DEPS[0]}"):
        move_stage(load_settings(config), "db-primary")


def test_export_in_place_refuses_to_write_over_an_authoritative_archive(tmp_path, sqlite_url):
    config = migrated_site(tmp_path, sqlite_url)
    assert cli(config, "export", "--in-place") == 2
    assert cli(config, "stage", "db-primary") == 0
    assert cli(config, "export", "--in-place") == 0


def test_services_made_per_request_do_not_leak_descriptors(tmp_path, sqlite_url):
    config = site_config(tmp_path, sqlite_url)
    before = len(os.listdir("/proc/self/fd"))
    for number in range(50):
        service(config).set(DEPS[0], {"message_text": f"request {number}"})
    assert len(os.listdir("/proc/self/fd")) - before < 5


def test_a_bad_seconds_setting_names_the_variable(tmp_path):
    probe = [sys.executable, "-c", "import wwpdb.apps.msgmodule.stage.record"]
    done = subprocess.run(
        probe, env={**os.environ, "MSGMODULE_STAGE_CHECK_SECONDS": "1s"}, capture_output=True, text=True
    )
    assert done.returncode != 0 and "MSGMODULE_STAGE_CHECK_SECONDS='1s' must be a number of seconds" in done.stderr
    done = subprocess.run(
        probe, env={**os.environ, "MSGMODULE_STAGE_CHECK_SECONDS": "60"}, capture_output=True, text=True
    )
    assert "from 0 to 5" in done.stderr
