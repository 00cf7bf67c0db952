"""The Makefile's operator and developer targets, run for real with make."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import REPO_ROOT, run_benchmark

from wwpdb.apps.msgmodule.db import schema_versions
from wwpdb.apps.msgmodule.errors import BackendUnavailableError
from wwpdb.apps.msgmodule.model import Message
from wwpdb.apps.msgmodule.stores.breaker import BreakerStore, CircuitBreaker, breaker_state_path
from wwpdb.apps.msgmodule.stores.cif import CifMessageStore
from wwpdb.apps.msgmodule.stores.db import DbMessageStore

pytestmark = pytest.mark.skipif(
    Path(sys.prefix).resolve() != (REPO_ROOT / ".venv").resolve(),
    reason="the Makefile works in the checkout's .venv; this run uses another environment (tox)",
)

OUR_TARGETS = [
    *("install", "install-dev", "dev-setup", "dev-test", "dev-commit", "ci-test", "test", "test-unit"),
    *("test-integration", "test-database", "test-coverage", "test-tox", "validate", "validate-integration"),
    *("validate-config", "lint", "format", "check-format", "security", "docs", "serve-docs", "docs-check"),
    *("logs", "metrics", "monitor", "serve", "backup", "restore", "bench", "breaker-reset"),
]
COLLECT = "--collect-only -q -p no:cacheprovider"


def make(*args: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["make", "-s", "--no-print-directory", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def collected(*args: str) -> set[str]:
    out = make(*args).stdout
    return {line for line in out.splitlines() if "::" in line}


def installation(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "archive").mkdir()
    url = f"sqlite:///{tmp_path}/m.db"
    schema_versions.upgrade(url)
    config = tmp_path / "msgmodule.cfg"
    archive, state = tmp_path / "archive", tmp_path / "s"
    config.write_text(f"[msgmodule]\nMSGCIF_ROOT = {archive}\nMSGDB_URL = {url}\nMSGMODULE_STATE_DIR = {state}\n")
    return {"MSGMODULE_CONFIG": str(config)}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch_until_up(url: str, process: subprocess.Popen[str], limit: float = 60.0) -> str:
    deadline = time.monotonic() + limit
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read().decode()
        except (urllib.error.URLError, ConnectionError):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{url} never answered (exit {process.poll()})") from None
            time.sleep(0.2)


def stop(process: subprocess.Popen[str]) -> None:
    """SIGTERM to make and the command it runs; on a loaded machine, SIGKILL after a while (test_monitoring
    checks that the monitor itself stops on SIGTERM)."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def test_help_lists_every_target_and_says_what_is_left_out():
    out = make("help").stdout
    listed = {line.split("\t", 1)[0] for line in out.splitlines() if "\t" in line}
    assert set(OUR_TARGETS) <= listed, set(OUR_TARGETS) - listed
    assert "Not provided: deploy, deploy-dev, deploy-staging, deploy-production, ci-deploy" in out


def test_unit_integration_and_database_select_the_whole_suite_and_unit_needs_no_server():
    everything = collected("test", f"PYTEST_ARGS={COLLECT}")
    unit = collected("test-unit", f"PYTEST_ARGS={COLLECT}")
    integration = collected("test-integration", f"PYTEST_ARGS={COLLECT}")
    database = collected("test-database", f"PYTEST_ARGS={COLLECT}")
    assert unit | integration | database == everything
    assert unit and integration and database and unit != everything
    assert not [test for test in unit if "mysql" in test]
    assert not unit & integration
    assert any("test_database.py" in test for test in database) and any("[sqlite]" in test for test in database)
    assert not [test for test in database if "test_codec.py" in test]
    fast = collected("dev-test", "PYTEST_ARGS=--collect-only -p no:cacheprovider")  # dev-test has its own -q
    assert fast and fast <= unit


def test_composite_targets_run_their_parts():
    # ci-test and test-tox run the whole suite again (through .ci/run, and tox): shown, not run, here.
    assert "bash .ci/run" in make("-n", "ci-test").stdout
    assert "tox" in make("-n", "test-tox").stdout
    validate = make("-n", "validate").stdout
    assert "scripts/validate_integration.py" in validate and "mypy" in validate and "bandit" in validate
    commit = make("-n", "dev-commit").stdout
    assert "ruff format --check" in commit and "mypy" in commit and '-m "unit and not slow"' in commit
    make("install-dev")  # pip check of the installed tools


def test_check_format_and_format(tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    (code / "ugly.py").write_text("x = {  'a':1,\n'b' : 2 }\n")
    failed = make("check-format", f"FORMAT_PATHS={code}", check=False)
    assert failed.returncode != 0 and "ugly.py" in failed.stdout + failed.stderr
    make("format", f"FORMAT_PATHS={code}")
    assert (code / "ugly.py").read_text() == 'x = {"a": 1, "b": 2}\n'
    make("check-format", f"FORMAT_PATHS={code}")


def test_dev_setup_installs_a_pre_commit_hook_that_runs_the_checks(tmp_path):
    hooks = tmp_path / "hooks"
    make("dev-setup", f"HOOKS_DIR={hooks}")
    hook = hooks / "pre-commit"
    assert os.access(hook, os.X_OK)
    code = tmp_path / "code"
    code.mkdir()
    (code / "ugly.py").write_text("x=1\n")
    refused = subprocess.run([str(hook)], capture_output=True, text=True, env={**os.environ, "FORMAT_PATHS": str(code)})
    assert refused.returncode != 0 and "ugly.py" in refused.stdout + refused.stderr


def test_security_runs_bandit_and_pip_audit(tmp_path):
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "fine.py").write_text("import json\n\n\ndef load(text):\n    return json.loads(text)\n")
    done = make("security", f"SECURITY_PATHS={clean}")
    assert f"bandit: no issues in {clean}" in done.stdout
    # Audited (with the network), or one line saying why not (without: this machine reaches no PyPI JSON API).
    assert "installed distributions audited" in done.stdout or "the dependency audit needs the network" in done.stderr
    risky = tmp_path / "risky"
    risky.mkdir()
    (risky / "run.py").write_text("import subprocess\n\ndef go(cmd):\n    subprocess.call(cmd, shell=True)\n")
    found = make("security", f"SECURITY_PATHS={risky}", check=False)
    assert found.returncode != 0 and "B602" in found.stdout + found.stderr


def test_security_without_the_network_says_so_in_one_line_after_bandit(tmp_path):
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "fine.py").write_text("import json\n\n\ndef load(text):\n    return json.loads(text)\n")
    # No network: pip-audit's requests go to a proxy that is not there, and it dies with a traceback.
    offline = {"HTTPS_PROXY": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"}
    done = make("security", f"SECURITY_PATHS={clean}", env=offline)
    assert done.stdout.strip().splitlines()[-1] == f"bandit: no issues in {clean}"
    (line,) = done.stderr.strip().splitlines()
    assert line == (
        "pip-audit: nothing was audited, the dependency audit needs the network (pypi.org could not be reached: "
        "Connection refused); run make security where PyPI answers"
    )
    required = make("security", f"SECURITY_PATHS={clean}", "AUDIT_ARGS=--require-service", env=offline, check=False)
    assert required.returncode != 0 and "Traceback" not in required.stderr
    assert "--require-service makes that a failure" in required.stderr


def test_docs_build_with_the_api_reference_and_docs_check_fails_on_a_broken_link(tmp_path):
    make("docs", f"DOCS_SITE={tmp_path / 'site'}")
    index = (tmp_path / "site" / "index.html").read_text()
    assert "Quick start" in index and "Database timeouts" in index and "Make targets" in index
    api = (tmp_path / "site" / "api" / "index.html").read_text()
    assert "CircuitBreaker" in api and "create_backup" in api
    make("docs-check")
    broken = tmp_path / "broken"
    (broken / "docs").mkdir(parents=True)
    (broken / "mkdocs.yml").write_text("site_name: broken\nnav:\n  - Home: index.md\n")
    (broken / "docs" / "index.md").write_text("# Broken\n\nSee [the guide](missing-page.md).\n")
    failed = make("docs-check", f"DOCS_CONFIG={broken / 'mkdocs.yml'}", check=False)
    assert failed.returncode != 0 and "missing-page.md" in failed.stdout + failed.stderr


def test_serve_docs_serves_until_stopped():
    port = free_port()
    process = subprocess.Popen(
        ["make", "-s", "serve-docs", f"DOCS_ADDR=127.0.0.1:{port}"],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        assert "wwpdb.apps.msgmodule" in fetch_until_up(f"http://127.0.0.1:{port}/", process)
    finally:
        stop(process)


def test_test_coverage_prints_a_figure_and_writes_an_html_report(tmp_path):
    out = make(
        "test-coverage",
        f"COV_DIR={tmp_path / 'htmlcov'}",
        "PYTEST_ARGS=wwpdb/apps/tests-msgmodule/test_codec.py -q -p no:cacheprovider",
    ).stdout
    total = next(line for line in out.splitlines() if line.startswith("TOTAL"))
    assert total.rstrip().endswith("%")
    assert (tmp_path / "htmlcov" / "index.html").exists()


def test_validate_config_and_validate_integration(tmp_path):
    env = installation(tmp_path)
    make("validate-config", env=env)
    bad = tmp_path / "bad.cfg"
    bad.write_text("[msgmodule]\nMSGCIF_ROTO = /x\n")
    failed = make("validate-config", f"CONFIG={bad}", check=False)
    assert failed.returncode != 0 and "MSGCIF_ROTO" in failed.stderr
    assert "checks passed" in make("validate-integration", env=env).stdout


def test_backup_and_restore_through_make(tmp_path):
    env = installation(tmp_path)
    url = f"sqlite:///{tmp_path}/m.db"
    store = DbMessageStore(url)
    store.put_message("D_1000000001", "messages-to-depositor", Message(message_id="kept", message_text="kept"))
    make("backup", f"BACKUP_DIR={tmp_path / 'backups'}", env=env)
    (backup,) = (tmp_path / "backups").iterdir()
    store.put_message("D_1000000001", "messages-to-depositor", Message(message_id="later", message_text="later"))

    refused = make("restore", env=env, check=False)
    assert refused.returncode != 0 and "make restore BACKUP=" in refused.stderr
    make("restore", f"BACKUP={backup}", env=env)
    from wwpdb.apps.msgmodule.db.engine import dispose_engines

    dispose_engines()
    messages = DbMessageStore(url).load("D_1000000001", "messages-to-depositor").messages
    assert [m.message_id for m in messages] == ["kept"]


def test_logs_metrics_and_monitor_through_make(tmp_path):
    env = installation(tmp_path)
    make("health", env=env, check=False)  # something to log
    lines = make("logs", "LOG_LINES=1", env=env).stdout.splitlines()
    assert len(lines) == 1 and "end: msgmodule health: exit " in lines[0] and "; ok " in lines[0]
    assert "msgmodule_info{" in make("metrics", env=env).stdout

    port = free_port()
    process = subprocess.Popen(
        ["make", "-s", "monitor", f"MONITOR_PORT={port}"],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, **env},
        start_new_session=True,
    )
    try:
        assert "msgmodule_journal_pending 0.0" in fetch_until_up(f"http://127.0.0.1:{port}/metrics", process)
    finally:
        stop(process)


def test_breaker_reset_through_make(tmp_path):
    env = installation(tmp_path)
    state = tmp_path / "s"
    store = BreakerStore(
        CifMessageStore(tmp_path / "missing"), CircuitBreaker("db", 1, 600.0, breaker_state_path(state, "db"))
    )
    with pytest.raises(BackendUnavailableError):
        store.list_depositions()
    assert "removed" in make("breaker-reset", "BREAKER=db", env=env).stdout
    assert not breaker_state_path(state, "db").exists()
    assert "nothing to do" in make("breaker-reset", env=env).stdout


@pytest.mark.slow
def test_bench_reports_sqlite_and_says_mariadb_was_skipped_without_a_server(tmp_path):
    out = tmp_path / "bench"
    result = run_benchmark(
        "bench.py", "--depositions", "20", "--memory-sizes", "20,40", "--scale", "30", "--call-rounds", "1",
        "--out", str(out),
    )  # fmt: skip
    assert "mariadb: SKIPPED" in result.stdout and "sqlite: migration" in result.stdout
    (figures_file,) = out.glob("bench-*.json")
    import json

    figures = json.loads(figures_file.read_text())
    assert "mariadb" not in figures and "no server at" in figures["mariadb_not_measured"]
    assert figures["sqlite"]["raw_limit_s"] > 0
    assert all(m["processes"] >= 1 and m["pss_mib"] > 0 for m in figures["peak_memory_mib"].values())
    assert figures["at_scale"]["depositions"] == 30 and figures["at_scale"]["migration_s"] > 0
    assert figures["call_cost"]["database"] == "sqlite" and len(figures["call_cost"]["ratios"]) == 6
    assert "at filing" in result.stdout and "dual-write set / cif-only set, 30 messages" in result.stdout

    latency = subprocess.run(
        [
            sys.executable,
            "benchmarks/breaker_latency.py",
            "--messages",
            "4",
            "--slow-messages",
            "1",
            "--json",
            str(tmp_path / "breaker.json"),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert latency.returncode == 0, latency.stdout + latency.stderr
    breaker = json.loads((tmp_path / "breaker.json").read_text())
    assert breaker["same, breaker open: later calls"]["calls"] == 4


@pytest.mark.slow
def test_the_rollback_benchmark_runs_and_writes_its_figures(tmp_path):
    figures_file = tmp_path / "rollback-export.json"
    run_benchmark("rollback_export.py", "--sizes", "200", "--workers", "1", "--json", str(figures_file))
    import json

    figures = json.loads(figures_file.read_text())
    (sqlite,) = figures["results"]
    assert sqlite["database"] == "sqlite" and sqlite["depositions"] == 200 and sqlite["changed_depositions"] == 2
    assert sqlite["rollback"]["exported"] == sqlite["baseline_compare_all"]["exported"] == 2
