"""The operator's commands over the site's stage: feature flags as moves, status, troubleshoot, named-but-empty ids."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from conftest import REPO_ROOT

from wwpdb.apps.msgmodule.cli import run
from wwpdb.apps.msgmodule.config import load_settings
from wwpdb.apps.msgmodule.db import schema_versions
from wwpdb.apps.msgmodule.io.MessagingFactory import MessagingFactory
from wwpdb.apps.msgmodule.stage.lifecycle import read_site

DEP = "D_1000000301"


def site(tmp_path: Path, db_url: str) -> list[str]:
    (tmp_path / "archive").mkdir()
    cfg = tmp_path / "site.cfg"
    cfg.write_text(
        f"[msgmodule]\nMSGCIF_ROOT = {tmp_path / 'archive'}\nMSGDB_URL = {db_url}\n"
        f"MSGMODULE_STATE_DIR = {tmp_path / 'state'}\n"
    )
    schema_versions.upgrade(db_url)
    MessagingFactory.create_messaging_service(config={"MSGMODULE_CONFIG": str(cfg)}).set(DEP, {"message_text": "x"})
    return ["--config", str(cfg)]


def test_feature_flags_enable_and_disable_are_guarded_stage_moves(tmp_path, sqlite_url, capsys):
    config = site(tmp_path, sqlite_url)
    assert run(["feature-flags-enable", "database_writes_enabled", *config]) == 0
    assert "MSGDB_WRITES_ENABLED=true: stage cif-only -> dual-write" in capsys.readouterr().out
    settings = load_settings({"MSGMODULE_CONFIG": config[1]})
    assert read_site(settings).stage == "dual-write"
    assert run(["feature-flags-enable", "MSGDB_READS_ENABLED", *config]) == 0  # shadow: reads CIF, compares
    assert read_site(settings).stage == "shadow"
    # Answering reads from the database needs a validation: the same guard as `msgmodule stage`.
    assert run(["feature-flags-disable", "cif_reads_enabled", *config]) == 1
    assert "never been validated" in capsys.readouterr().err
    assert read_site(settings).stage == "shadow"
    assert run(["feature-flags-disable", "cif_writes_enabled", *config]) == 1  # reads CIF, never written: no stage
    assert "refused flag combination" in capsys.readouterr().err
    assert run(["feature-flags-enable", "everything", *config]) == 2
    assert run(["migrate", *config]) == 0 and run(["validate", *config]) == 0
    assert run(["feature-flags-disable", "cif_reads_enabled", *config]) == 0
    assert read_site(settings).stage == "db-primary"


def test_status_counts_both_stores_and_shows_the_stage(tmp_path, db_url, capsys):
    config = site(tmp_path, db_url)
    assert run(["stage", "dual-write", *config]) == 0
    MessagingFactory.create_messaging_service(config={"MSGMODULE_CONFIG": config[1]}).set(DEP, {"message_text": "y"})
    capsys.readouterr()
    assert run(["status", "--count-archive", "--json", *config]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["stage"], info["epoch"], info["journal_pending"]) == ("dual-write", 1, 0)
    assert info["counts"]["archive"] == {"depositions": 1, "messages": 2}
    # The first message came before dual-write; the dual write of the second copied the whole document.
    assert info["counts"]["database"] == {"depositions": 1, "messages": 2}
    assert run(["status", *config]) == 0
    assert "stage:       dual-write (epoch 1)" in capsys.readouterr().out


def test_troubleshoot_names_what_is_wrong_and_the_fix(tmp_path, sqlite_url, capsys, monkeypatch):
    config = site(tmp_path, sqlite_url)
    assert run(["troubleshoot", *config]) == 0
    assert "no problem found" in capsys.readouterr().out
    monkeypatch.setenv("MSGMODULE_STAGE", "db-only")
    assert run(["troubleshoot", *config]) == 1
    shown = capsys.readouterr().out
    assert "FIX  stage: this process is set to stage db-only" in shown
    assert "-> unset MSGMODULE_STAGE" in shown


def test_a_named_deposition_with_nothing_is_an_error(tmp_path, sqlite_url, capsys):
    config = site(tmp_path, sqlite_url)
    assert run(["migrate", *config, "--deposition", DEP]) == 0
    assert run(["migrate", *config, "--deposition", "D_1000000999"]) == 1
    assert "named deposition(s) with no message files in" in capsys.readouterr().err
    assert run(["validate", *config, "--deposition", "D_1000000999"]) == 1
    assert run(["validate", *config, "--deposition", DEP]) == 0
    capsys.readouterr()
    assert run(["export", *config, "--output-dir", str(tmp_path / "out"), "--deposition", "D_1000000999"]) == 1
    assert "no documents in the database: D_1000000999" in capsys.readouterr().err


def test_make_status_and_feature_flags_enable(tmp_path, sqlite_url):
    config = site(tmp_path, sqlite_url)
    env = {**os.environ, "MSGMODULE_CONFIG": config[1]}
    done = subprocess.run(
        ["make", "--no-print-directory", "-C", str(REPO_ROOT), "feature-flags-enable", "FLAG=database_writes_enabled"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    done = subprocess.run(
        ["make", "--no-print-directory", "-C", str(REPO_ROOT), "status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0 and "dual-write (epoch 1)" in done.stdout


def test_messaging_io_site_parts_come_from_the_config_file_too(tmp_path, sqlite_url, monkeypatch):
    config = site(tmp_path, sqlite_url)
    with open(config[1], "a") as handle:
        handle.write("MSGMODULE_DEPOSITION_URL = https://deposit.example.org\nMSGMODULE_TEMPLATE_DIR = templates\n")
    io = MessagingFactory.create_messaging_service(config={"MSGMODULE_CONFIG": config[1]})
    assert io.site.deposition_url == "https://deposit.example.org"
    assert str(tmp_path / "templates") in repr(vars(io.site.templates))  # relative to the config file
    monkeypatch.setenv("MSGMODULE_DEPOSITION_URL", "https://from.environment")
    io = MessagingFactory.create_messaging_service(config={"MSGMODULE_CONFIG": config[1]})
    assert io.site.deposition_url == "https://from.environment"


def test_backend_info_takes_a_request_object_as_the_readme_of_record_shows(tmp_path, sqlite_url):
    from conftest import FakeRequest

    config = site(tmp_path, sqlite_url)
    cfg = Path(config[1])
    cfg.write_text(cfg.read_text() + "\n[site:PDBE]\nMSGMODULE_STATE_DIR = pdbe-state\n")
    os.environ["MSGMODULE_CONFIG"] = str(cfg)
    try:
        info = MessagingFactory.get_backend_info(FakeRequest(WWPDB_SITE_ID="PDBE"))
        service = MessagingFactory.create_messaging_service(verbose=True, site_id="PDBE")
    finally:
        del os.environ["MSGMODULE_CONFIG"]
    assert (info["site_id"], info["stage"]) == ("PDBE", "cif-only")
    assert service.settings.state_dir == str(tmp_path / "pdbe-state")


def test_export_shards_the_database_like_migrate_shards_the_archive(tmp_path, sqlite_url):
    config = site(tmp_path, sqlite_url)
    MessagingFactory.create_messaging_service(config={"MSGMODULE_CONFIG": config[1]}).set(
        "D_1000000302", {"message_text": "another"}
    )
    assert run(["migrate", *config]) == 0
    halves = []
    for shard in ("1/2", "2/2"):
        out = tmp_path / f"out{shard[0]}"
        assert run(["export", *config, "--output-dir", str(out), "--shard", shard]) == 0
        halves.append({p.name for p in out.iterdir()})
    assert halves[0] | halves[1] == {DEP, "D_1000000302"} and not halves[0] & halves[1]
