"""Operator commands on real configured installations: logs, validate-config, validate-integration."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLE_ARCHIVE, REPO_ROOT
from sqlalchemy import func, select

from wwpdb.apps.msgmodule import __version__
from wwpdb.apps.msgmodule.cli import run
from wwpdb.apps.msgmodule.config import load_settings
from wwpdb.apps.msgmodule.db import schema_versions
from wwpdb.apps.msgmodule.db.engine import get_engine
from wwpdb.apps.msgmodule.db.schema import CATEGORY_TABLES
from wwpdb.apps.msgmodule.model import Message
from wwpdb.apps.msgmodule.stores.cif import CifMessageStore
from wwpdb.apps.msgmodule.tools.integration import SCRATCH_DEPOSITION
from wwpdb.apps.msgmodule.tools.logfile import BACKUP_COUNT, LOG_FILE_NAME, tail


def installation(tmp_path: Path, db_url: str, **extra: str) -> Path:
    """A config file naming an archive, a database and a state folder, all under tmp_path."""
    (tmp_path / "archive").mkdir(exist_ok=True)
    lines = [
        "[msgmodule]",
        f"MSGCIF_ROOT = {tmp_path / 'archive'}",
        f"MSGDB_URL = {db_url}",
        f"MSGMODULE_STATE_DIR = {tmp_path / 'state'}",
        *(f"{key} = {value}" for key, value in extra.items()),
    ]
    config = tmp_path / "msgmodule.cfg"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


# -- logs -----------------------------------------------------------------------------------------


def test_each_command_is_logged_in_the_state_folder_and_logs_shows_the_last_lines(tmp_path, capsys):
    config = installation(tmp_path, f"sqlite:///{tmp_path}/m.db")
    for _ in range(3):
        run(["feature-flags", "--config", str(config)])
    capsys.readouterr()
    log_file = tmp_path / "state" / LOG_FILE_NAME
    assert log_file.read_text().count("start: msgmodule feature-flags") == 3

    assert run(["logs", "-n", "2", "--config", str(config)]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert len(shown) == 2
    assert "start: msgmodule feature-flags" in shown[0] and "end: msgmodule feature-flags" in shown[1]
    assert "logs" not in log_file.read_text()  # reading the log adds nothing to it


def test_json_log_format_writes_one_object_per_line(tmp_path, capsys):
    config = installation(tmp_path, f"sqlite:///{tmp_path}/m.db")
    assert run(["--log-format", "json", "feature-flags", "--config", str(config)]) == 0
    records = [json.loads(line) for line in (tmp_path / "state" / LOG_FILE_NAME).read_text().splitlines()]
    assert [r["message"].split(":")[0] for r in records] == ["start", "end"]
    assert all(r["level"] == "INFO" and r["command"] == "feature-flags" and r["time"].endswith("Z") for r in records)


def test_verbose_shows_info_on_stderr_and_quiet_hides_warnings(tmp_path, capsys):
    config = installation(tmp_path, f"sqlite:///{tmp_path}/m.db")
    assert run(["-v", "feature-flags", "--config", str(config)]) == 0
    assert "start: msgmodule -v feature-flags" in capsys.readouterr().err
    assert run(["feature-flags", "--config", str(config)]) == 0
    assert "start:" not in capsys.readouterr().err
    assert run(["-q", "feature-flags", "--config", str(config)]) == 0
    assert capsys.readouterr().err == ""


def test_logs_reach_back_into_rotated_files(tmp_path, capsys):
    state = tmp_path / "state"
    state.mkdir()
    (state / f"{LOG_FILE_NAME}.2").write_text("".join(f"oldest {n}\n" for n in range(3)))
    (state / f"{LOG_FILE_NAME}.1").write_text("".join(f"older {n}\n" for n in range(3)))
    (state / LOG_FILE_NAME).write_text("newest 0\nnewest 1\n")
    assert tail(state / LOG_FILE_NAME, 4) == ["older 1", "older 2", "newest 0", "newest 1"]
    assert tail(state / LOG_FILE_NAME, 100)[0] == "oldest 0"
    assert BACKUP_COUNT >= 2
    config = installation(tmp_path, f"sqlite:///{tmp_path}/m.db")
    assert run(["-q", "logs", "--lines", "3", "--config", str(config)]) == 0
    assert capsys.readouterr().out.splitlines() == ["older 2", "newest 0", "newest 1"]


def test_logs_without_a_log_says_so(tmp_path, capsys):
    config = installation(tmp_path, f"sqlite:///{tmp_path}/m.db")
    assert run(["-q", "logs", "--config", str(config)]) == 0
    assert "no log yet" in capsys.readouterr().err


def end_lines(config: Path) -> list[str]:
    """The end lines of the runs logged in the state folder of `config`'s installation."""
    return [
        line for line in (config.parent / "state" / LOG_FILE_NAME).read_text().splitlines() if "end: msgmodule " in line
    ]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_log_says_how_each_command_ended(tmp_path, capsys, sqlite_url):
    schema_versions.upgrade(sqlite_url)
    archive = tmp_path / "archive"
    shutil.copytree(EXAMPLE_ARCHIVE, archive)
    shutil.copytree(EXAMPLE_ARCHIVE.parent / "broken" / "D_1000000009", archive / "D_1000000009")  # unparseable
    config = installation(tmp_path, sqlite_url)

    assert run(["feature-flags", "--config", str(config)]) == 0
    assert "end: msgmodule feature-flags: exit 0 (ok) after" in end_lines(config)[-1]

    assert run(["migrate", "--workers", "1", "--no-progress", "--config", str(config)]) == 1
    line = end_lines(config)[-1]
    depositions = len([d for d in archive.iterdir() if d.is_dir() and not d.name.startswith(".")])
    assert "end: msgmodule migrate: exit 1 (failed)" in line and " ERROR " in line, line
    assert f"processed {depositions}, migrated {depositions - 1}, failed 1" in line, line
    assert "first failure D_1000000009: " in line, line

    down = f"mysql+pymysql://someone:s3cret-word@127.0.0.1:{closed_port()}/x"
    assert run(["validate", "--db-url", down, "--config", str(config)]) == 1
    line = end_lines(config)[-1]
    assert "end: msgmodule validate: exit 1 (failed)" in line and "; error: " in line, line
    assert "cannot reach the database server" in line and "s3cret" not in line, line

    assert run(["migrate", "--bogus", "--config", str(config)]) == 2
    assert "end: msgmodule migrate: exit 2 (usage error)" in end_lines(config)[-1]
    assert "error: NoSuchOption: No such option '--bogus'" in end_lines(config)[-1]
    assert run(["migrate", "--workers", down, "--config", str(config)]) == 2  # the message quotes the URL
    assert "(usage error)" in end_lines(config)[-1] and "s3cret" not in end_lines(config)[-1]
    assert run(["migrat", "--config", str(config)]) == 2  # no such command: the group's own usage error
    line = end_lines(config)[-1]
    assert "end: msgmodule migrat: exit 2 (usage error)" in line and "error: NoSuchCommand" in line, line
    assert "s3cret" not in (tmp_path / "state" / LOG_FILE_NAME).read_text()
    assert "end:" not in capsys.readouterr().err  # on stderr only with -v: the command said what went wrong


def test_the_json_log_has_the_outcome_the_figures_and_the_error(tmp_path, capsys, sqlite_url):
    schema_versions.upgrade(sqlite_url)
    config = installation(tmp_path, sqlite_url)
    assert run(["--log-format", "json", "resync", "D_1000000001", "--config", str(config)]) == 0
    down = f"mysql+pymysql://root@127.0.0.1:{closed_port()}/x"
    assert run(["--log-format", "json", "health", "--db-url", down, "--config", str(config)]) == 0
    assert run(["--log-format", "json", "init-db", "--verify-only", "--db-url", down, "--config", str(config)]) == 1
    ends = [json.loads(line) for line in end_lines(config)]
    assert [(e["command"], e["exit_status"], e["outcome"]) for e in ends] == [
        ("resync", 0, "ok"),
        ("health", 0, "ok"),  # the stage is cif-only: the database is not its concern
        ("init-db", 1, "failed"),
    ]
    assert ends[0]["counts"] == {"resynced": 0, "equal": 3, "failed": 0} and ends[0]["level"] == "INFO"
    assert ends[2]["level"] == "ERROR" and ends[2]["error_type"] and "cannot reach" in ends[2]["error"]


def test_a_script_run_logs_its_failure_with_the_error(tmp_path):
    config = installation(tmp_path, f"mysql+pymysql://root@127.0.0.1:{closed_port()}/x")
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "validate_migration.py"), "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    line = end_lines(config)[-1]
    assert "end: msgmodule validate: exit 1 (failed)" in line and "cannot reach the database server" in line, line


def test_a_command_interrupted_with_ctrl_c_is_logged_as_interrupted(tmp_path):
    config = installation(tmp_path, f"sqlite:///{tmp_path}/m.db")
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("msgmodule")), "init-db", "--reset", "--config", str(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        asked = b""
        while b"?" not in asked:  # the question, waiting for an answer
            chunk = process.stdout.read1(256)  # type: ignore[union-attr]
            assert chunk, process.stderr.read()  # type: ignore[union-attr]
            asked += chunk
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 1
    line = end_lines(config)[-1]
    assert "end: msgmodule init-db: exit 1 (interrupted)" in line and "error: KeyboardInterrupt" in line, line


# -- validate-config ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[msgmodule]\nMSGDB_URLL = sqlite:///x.db\n", "MSGDB_URLL: unknown key (did you mean MSGDB_URL?)"),
        ("[msgmodule]\nMSGDB_WRITES_ENABLED = maybe\n", "MSGDB_WRITES_ENABLED"),
        ("[msgmodule]\nMSGMODULE_STAGE = sideways\n", "sideways"),
        ("[msgmodule]\nMSGMODULE_SHADOW_SAMPLE = 2\n", "MSGMODULE_SHADOW_SAMPLE"),
        ("[msgmodule]\nMSGDB_URL = not a url\n", "MSGDB_URL"),
        ("[msgmodule]\nMSGCIF_ROOT = /a\n[site:PDBE]\nMSGCIF_ROTO = /b\n", "[site:PDBE] MSGCIF_ROTO"),
        ("MSGCIF_ROOT = /a\n", "cannot be parsed"),
        ("[msgmodule]\nMSGCIF_ROOT = /a\nMSGCIF_ROOT = /b\n", "MSGCIF_ROOT"),
    ],
)
def test_validate_config_exits_1_naming_the_bad_key(tmp_path, capsys, text, named):
    config = tmp_path / "bad.cfg"
    config.write_text(text)
    assert run(["validate-config", str(config)]) == 1
    error = capsys.readouterr().err
    assert named in error and str(config) in error


def test_validate_config_accepts_a_good_file_and_ignores_the_environment(tmp_path, capsys, monkeypatch):
    config = installation(
        tmp_path, "mysql+pymysql://u:p%40ss@db.example.org:3306/messages", MSGMODULE_STAGE="dual-write"
    )
    with config.open("a") as handle:
        handle.write("# comments are fine\n[site:PDBE]\nMSGCIF_ROOT = /data/pdbe/archive\n")
    monkeypatch.setenv("MSGDB_WRITES_ENABLED", "not-a-flag")  # the file is judged alone
    assert run(["validate-config", str(config)]) == 0
    assert "OK" in capsys.readouterr().out
    monkeypatch.setenv("MSGMODULE_CONFIG", str(config))
    assert run(["validate-config"]) == 0
    assert run(["validate-config", str(tmp_path / "missing.cfg")]) == 1


# -- validate-integration -----------------------------------------------------------------------------


def scratch_rows(db_url: str) -> int:
    with get_engine(db_url).connect() as connection:
        return sum(
            connection.execute(
                select(func.count()).select_from(table).where(table.c.source_deposition_id == SCRATCH_DEPOSITION)
            ).scalar_one()
            for table in CATEGORY_TABLES.values()
        )


def test_validate_integration_passes_on_a_working_dual_write_site_and_leaves_no_trace(db_url, tmp_path, capsys):
    config = installation(tmp_path, db_url)
    assert run(["stage", "dual-write", "--force", "--config", str(config)]) == 0
    capsys.readouterr()
    assert run(["validate-integration", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    for name in ("configuration", "stage", "archive", "database", "round trip", "journal"):
        assert f"OK   {name}" in out
    assert "dual-write" in out and "cif and db" in out
    assert not (tmp_path / "archive" / SCRATCH_DEPOSITION).exists()
    assert scratch_rows(db_url) == 0


def test_validate_integration_lists_what_failed_when_the_database_is_down(sqlite_url, tmp_path, capsys):
    schema_versions.upgrade(sqlite_url)
    config = installation(tmp_path, sqlite_url)
    assert run(["stage", "dual-write", "--force", "--config", str(config)]) == 0
    # Now the database goes away: a port nothing listens on.
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config.write_text(config.read_text().replace(sqlite_url, f"mysql+pymysql://root@127.0.0.1:{port}/x"))
    capsys.readouterr()
    assert run(["validate-integration", "--config", str(config)]) == 1
    captured = capsys.readouterr()
    assert "FAIL database" in captured.out and "cannot reach the database server" in captured.out
    assert "FAIL round trip" in captured.out and "OK   archive" in captured.out
    assert "failed: database, round trip" in captured.err


def test_validate_integration_refuses_to_touch_a_scratch_deposition_that_holds_data(tmp_path, capsys):
    config = installation(tmp_path, f"sqlite:///{tmp_path}/m.db")
    CifMessageStore(tmp_path / "archive").put_message(
        SCRATCH_DEPOSITION, "messages-to-depositor", Message(message_id="x", message_text="someone's")
    )
    assert run(["validate-integration", "--config", str(config)]) == 1
    assert "reserved for this check" in capsys.readouterr().out
    kept = CifMessageStore(tmp_path / "archive").load(SCRATCH_DEPOSITION, "messages-to-depositor")
    assert [m.message_text for m in kept.messages] == ["someone's"]


def test_validate_integration_script_runs_from_a_checkout(tmp_path):
    config = installation(tmp_path, f"sqlite:///{tmp_path}/m.db")
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "validate_integration.py"), "--config", str(config)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all 5 checks passed" in result.stdout  # cif-only: no database check
    assert load_settings({"MSGMODULE_CONFIG": str(config)}).stage.name == "cif-only"


# -- JSON reports -------------------------------------------------------------------------------------


def test_json_reports_begin_with_a_summary_of_counts_duration_and_versions(db_url, example_archive, tmp_path, capsys):
    report = tmp_path / "migrate.json"
    args = ["--directory", str(example_archive), "--db-url", db_url, "--workers", "2", "--batch-size", "1"]
    assert run(["migrate", *args, "--report", str(report)]) == 0
    text = report.read_text()
    assert text.startswith('{"summary": ')  # first, before the per-deposition list
    data = json.loads(text)
    assert list(data) == ["summary", "depositions"]
    summary = data["summary"]
    assert summary["command"] == "migrate" and summary["complete"] is True
    assert summary["total"] == summary["reported"] == len(data["depositions"]) == 3
    assert summary["statuses"] == {"migrated": 3} and summary["failed"] == 0
    assert summary["rows"]["pdbx_deposition_message_info"] > 0 and summary["duration_s"] >= 0
    assert summary["versions"]["msgmodule"] == __version__ and summary["versions"]["python"].count(".") == 2
    assert {entry["deposition_id"] for entry in data["depositions"]} == {"D_1000000001", "D_1000000002", "G_1000003"}

    assert run(["validate", *args, "--report", str(report)]) == 0
    summary = json.loads(report.read_text())["summary"]
    assert summary["command"] == "validate" and summary["statuses"] == {"equal": 3}
