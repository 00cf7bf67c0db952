"""A site's state is found from the site, never from the working directory; a named config file must exist."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT

from wwpdb.apps.msgmodule.config import ConfigFileNotFound
from wwpdb.apps.msgmodule.db import schema_versions
from wwpdb.apps.msgmodule.journal import Journal

MSGMODULE = str(Path(sys.executable).with_name("msgmodule"))
pytestmark = pytest.mark.integration


@pytest.fixture
def site(tmp_path):
    """A site in dual-write whose config names the archive and database only, and two working folders."""
    archive = tmp_path / "archive"
    archive.mkdir()
    url = f"sqlite:///{tmp_path}/site.db"
    schema_versions.upgrade(url)
    config = tmp_path / "site.cfg"
    config.write_text(f"[msgmodule]\nMSGCIF_ROOT = {archive}\nMSGDB_URL = {url}\n")
    env = {**os.environ, "MSGMODULE_CONFIG": str(config)}
    folders = [tmp_path / "here", tmp_path / "there"]
    for folder in folders:
        folder.mkdir()
    assert cli(["stage", "dual-write", "--force"], env, folders[0]).returncode == 0
    return {"archive": archive, "env": env, "folders": folders, "state": archive / ".msgmodule" / "state"}


def cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MSGMODULE, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


def python(code: str, env: dict[str, str], cwd: Path) -> None:
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


TRIP_THE_BREAKER = """
from wwpdb.apps.msgmodule.config import load_settings
from wwpdb.apps.msgmodule.errors import StorageError
from wwpdb.apps.msgmodule.stage.routing import breaker_for
breaker = breaker_for(load_settings(), "db")
def failing():
    raise StorageError("the database went away")
for _ in range(breaker.failure_threshold):
    try:
        breaker.call(failing)
    except StorageError:
        pass
"""


def test_health_and_status_are_the_same_from_any_working_directory(site):
    here, there = site["folders"]
    # A web process, say, in its own folder: it trips the breaker and keeps running until told to stop.
    web = subprocess.Popen(
        [sys.executable, "-c", TRIP_THE_BREAKER + "print('tripped', flush=True)\nimport sys\nsys.stdin.read()\n"],
        env=site["env"],
        cwd=here,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert web.stdout.readline().strip() == "tripped"
        health = [cli(["health"], site["env"], folder) for folder in (here, there)]
        assert health[0].stdout == health[1].stdout and health[0].returncode == health[1].returncode == 1
        assert "FAIL breaker db circuit breaker of db: open" in health[1].stdout
        status = [json.loads(cli(["status", "--json"], site["env"], folder).stdout) for folder in (here, there)]
        assert status[0] == status[1]
        assert status[1]["breakers"]["db"]["state"] == "open"
        assert status[1]["state_dir"] == str(site["state"])
    finally:
        web.communicate(timeout=60)
    # Once the process that tripped it has ended, both folders see the same stale state, not a failure.
    health = [cli(["health"], site["env"], folder) for folder in (here, there)]
    assert health[0].returncode == health[1].returncode == 0
    assert all("which has ended: stale" in done.stdout for done in health)
    assert (site["state"] / "breaker-db.json").is_file()
    assert (site["state"] / "msgmodule.log").is_file()  # the commands' log is the site's too
    assert sorted(p.name for p in here.iterdir()) == sorted(p.name for p in there.iterdir()) == []


def test_a_journal_entry_written_by_one_process_is_seen_from_elsewhere(site):
    here, there = site["folders"]
    python(
        "from wwpdb.apps.msgmodule.config import load_settings\n"
        "from wwpdb.apps.msgmodule.journal import Journal\n"
        "s = load_settings()\n"
        "Journal(s.journal_path, within=s.cif_root).record('D_1000000001', 'messages-to-depositor', 'db', 'down')\n",
        site["env"],
        here,
    )
    shown = cli(["status"], site["env"], there)
    assert "journal:     1 document(s) to reconcile" in shown.stdout
    assert "1 document(s) awaiting reconcile" in cli(["health"], site["env"], there).stdout


def test_an_earlier_versions_journal_in_the_working_directory_is_never_ignored(site):
    here, there = site["folders"]
    earlier = here / "msgmodule-data"
    earlier.mkdir()
    Journal(earlier / "journal.jsonl").record("D_1000000001", "messages-to-depositor", "db", "down")
    (earlier / "backend-stats.json").write_text("{}")
    (earlier / "demo").mkdir()  # anything else there is left alone

    checked = cli(["health"], site["env"], here)
    assert checked.returncode == 1
    assert f"FAIL earlier journal {earlier} holds the state of an earlier version" in checked.stdout
    assert f"msgmodule adopt-state {earlier}" in checked.stdout
    assert "WARNING" in checked.stderr and str(earlier) in checked.stderr
    refused = cli(["reconcile"], site["env"], here)
    assert refused.returncode == 1 and "NOT reconciled" in refused.stderr
    moved = cli(["stage", "cif-only"], site["env"], here)
    assert moved.returncode != 0 and "earlier version" in moved.stderr + moved.stdout

    adopted = cli(["adopt-state", str(earlier)], site["env"], there)
    assert adopted.returncode == 0, adopted.stderr
    assert "journal: 1 entry(ies) taken into" in adopted.stdout
    assert "moved:   backend-stats.json" in adopted.stdout
    assert Journal(earlier / "journal.jsonl").entries(all_intents=True) == []
    assert (site["state"] / "backend-stats.json").exists() and (earlier / "demo").is_dir()
    assert "journal:     1 document(s) to reconcile" in cli(["status"], site["env"], here).stdout
    assert "earlier journal" not in cli(["health"], site["env"], here).stdout


def test_backup_takes_the_sites_state_folder_not_the_working_directorys(site, tmp_path):
    here, _ = site["folders"]
    demo = here / "msgmodule-data" / "demo"  # where make demo puts its own site
    demo.mkdir(parents=True)
    (demo / "messaging.db").write_text("not this site's")
    python(TRIP_THE_BREAKER, site["env"], here)
    made = cli(["backup", "--output-dir", str(tmp_path / "backups"), "--name", "b"], site["env"], here)
    assert made.returncode == 0, made.stderr
    manifest = json.loads((tmp_path / "backups" / "b" / "manifest.json").read_text())
    assert manifest["folders"]["state"] == str(site["state"])
    paths = [entry["path"] for entry in manifest["files"]]
    assert "state/breaker-db.json" in paths and "site/stage.json" in paths
    assert not [path for path in paths if "demo" in path or path.startswith("site/state/")]


MISSING_CONFIG_COMMANDS = [
    [MSGMODULE, "health"],
    [MSGMODULE, "status"],
    [MSGMODULE, "backend-info"],
    [MSGMODULE, "init-db"],
    [MSGMODULE, "logs"],
    [MSGMODULE, "stage", "dual-write"],
    [sys.executable, str(REPO_ROOT / "scripts" / "init_messaging_database.py")],
    [sys.executable, str(REPO_ROOT / "scripts" / "migrate_cif_to_db.py")],
    [sys.executable, str(REPO_ROOT / "scripts" / "validate_integration.py")],
]


@pytest.mark.parametrize("command", MISSING_CONFIG_COMMANDS, ids=lambda c: " ".join(Path(p).name for p in c))
@pytest.mark.parametrize("how", ["environment", "option"])
def test_a_missing_named_config_file_is_an_error_naming_it_and_nothing_is_made(tmp_path, command, how):
    missing = tmp_path / "msgmodule.cgf"  # mistyped
    env = {**os.environ, "MSGMODULE_CONFIG": str(missing)} if how == "environment" else dict(os.environ)
    args = command if how == "environment" else [*command, "--config", str(missing)]
    work = tmp_path / "work"
    work.mkdir()
    done = subprocess.run(args, env=env, cwd=work, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    said = done.stdout + done.stderr  # validate-integration reports each check on stdout
    assert f"the config file {missing} named by" in said and "does not exist" in said
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work", "workdir"]  # workdir: the test's own
    assert list(work.iterdir()) == [] and list((tmp_path / "workdir").iterdir()) == []


def test_a_missing_config_file_through_make_is_an_error_and_nothing_is_made(tmp_path):
    missing = tmp_path / "missing.cfg"
    done = subprocess.run(
        ["make", "-s", "--no-print-directory", "-C", str(REPO_ROOT), "health"],
        env={**os.environ, "MSGMODULE_CONFIG": str(missing)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0 and f"the config file {missing} named by MSGMODULE_CONFIG" in done.stderr
    assert list(tmp_path.iterdir()) == [tmp_path / "workdir"] and not list((tmp_path / "workdir").iterdir())


def test_library_entry_points_raise_the_typed_error(tmp_path):
    from wwpdb.apps.msgmodule.io.MessagingFactory import MessagingFactory

    missing = str(tmp_path / "nowhere.cfg")
    with pytest.raises(ConfigFileNotFound, match="nowhere.cfg named by the config argument"):
        MessagingFactory.create_messaging_service(config={"MSGMODULE_CONFIG": missing})
    with pytest.raises(ConfigFileNotFound):
        MessagingFactory.get_backend_info(config={"MSGMODULE_CONFIG": missing})
    assert not (tmp_path / "nowhere.cfg").exists()


def test_the_makefiles_test_targets_run_without_the_installations_settings():
    env = {**os.environ, "MSGMODULE_CONFIG": "/etc/site.cfg", "MSGCIF_ROOT": "/site", "MSGMODULE_STATE_DIR": "/s"}
    for target in ("test", "test-unit", "dev-test", "test-coverage"):
        shown = subprocess.run(
            ["make", "-n", "--no-print-directory", "-C", str(REPO_ROOT), target],
            env=env,
            capture_output=True,
            text=True,
        ).stdout
        line = next(line for line in shown.splitlines() if "-m pytest" in line)
        for name in ("MSGMODULE_CONFIG", "MSGCIF_ROOT", "MSGMODULE_STATE_DIR"):
            assert f"-u {name}" in line, (target, line)


def test_the_suite_answers_the_same_from_two_working_directories(tmp_path):
    # A test that runs commands, collected from the checkout and from elsewhere; neither leaves state behind.
    selected = f"{Path(__file__)}::test_a_journal_entry_written_by_one_process_is_seen_from_elsewhere"
    before = sorted(p.name for p in REPO_ROOT.iterdir())
    for folder in (REPO_ROOT, tmp_path):
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", selected],
            cwd=folder,
            env={**os.environ, "MSGMODULE_CONFIG": str(tmp_path / "operator.cfg")},  # an operator's shell
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0 and "1 passed" in done.stdout, done.stdout + done.stderr
    assert sorted(p.name for p in REPO_ROOT.iterdir()) == before
    assert [p.name for p in tmp_path.iterdir()] == ["workdir"] and not list((tmp_path / "workdir").iterdir())
