"""Metrics in Prometheus text: printed by `msgmodule metrics`, served by `msgmodule monitor` over real HTTP."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from wwpdb.apps.msgmodule import __version__
from wwpdb.apps.msgmodule.config import load_settings
from wwpdb.apps.msgmodule.errors import BackendUnavailableError
from wwpdb.apps.msgmodule.journal import Journal
from wwpdb.apps.msgmodule.stores.breaker import BreakerStore, CircuitBreaker, breaker_state_path
from wwpdb.apps.msgmodule.stores.db import DbMessageStore

MSGMODULE = str(Path(sys.executable).with_name("msgmodule"))
WRITER = """
import sys
from wwpdb.apps.msgmodule.io.MessagingFactory import create_messaging_service
svc = create_messaging_service(config={"MSGMODULE_CONFIG": sys.argv[1]})
for n in range(3):
    svc.set(deposition_id="D_1000000001", message_data={"message_text": f"m{n}"}, content_type="messages-to-depositor")
"""


def installation(tmp_path: Path) -> Path:
    (tmp_path / "archive").mkdir()
    config = tmp_path / "msgmodule.cfg"
    config.write_text(
        f"[msgmodule]\nMSGCIF_ROOT = {tmp_path / 'archive'}\nMSGDB_URL = sqlite:///{tmp_path}/m.db\n"
        f"MSGMODULE_STATE_DIR = {tmp_path / 'state'}\n"
    )
    return config


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def open_breaker(state_dir: Path) -> None:
    """A breaker that really opened on a closed port, recording its state where the metrics look."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = BreakerStore(
        DbMessageStore(f"mysql+pymysql://root@127.0.0.1:{port}/x"),
        CircuitBreaker("db", 1, 600.0, breaker_state_path(state_dir, "db")),
    )
    with pytest.raises(BackendUnavailableError):
        store.list_depositions()
    assert store.breaker.state.value == "open"


def test_metrics_prints_the_counters_of_other_processes_the_journal_and_the_breakers(tmp_path):
    config = installation(tmp_path)
    # Another process writes through the service; its counters reach the stats file when it exits.
    subprocess.run([sys.executable, "-c", WRITER, str(config)], check=True, cwd=tmp_path)
    settings = load_settings({"MSGMODULE_CONFIG": str(config)})
    Journal(settings.journal_path).record("D_1000000002", "notes-from-annotator", "db", "the database was down")
    open_breaker(tmp_path / "state")

    result = subprocess.run([MSGMODULE, "metrics", "--config", str(config)], capture_output=True, text=True, check=True)
    found = samples(result.stdout)
    assert found[("msgmodule_backend_calls_total", (("backend", "cif"), ("operation", "write")))] >= 3
    assert found[("msgmodule_backend_errors_total", (("backend", "cif"), ("operation", "write")))] == 0
    assert found[("msgmodule_journal_pending", ())] == 1
    assert found[("msgmodule_circuit_breaker_state", (("backend", "db"),))] == 2  # open
    assert found[("msgmodule_circuit_breaker_consecutive_failures", (("backend", "db"),))] == 1
    assert ("msgmodule_info", (("stage", "cif-only"), ("version", __version__))) in found


@contextmanager
def monitor_serving(config: str) -> Iterator[str]:
    """`msgmodule monitor` on a free loopback port, for as long as the block runs: yields its metrics URL; then
    stops it with SIGTERM, and it must exit 0."""
    server = subprocess.Popen(
        [MSGMODULE, "monitor", "--host", "127.0.0.1", "--port", "0", "--config", config],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        announced = server.stdout.readline()
        url = re.search(r"http://\S+/metrics", announced)
        assert url, announced + (server.stderr.read() if server.poll() is not None else "")
        yield url.group(0)
    finally:
        server.send_signal(signal.SIGTERM)
        status = server.wait(timeout=20)
    assert status == 0


def test_monitor_serves_the_metrics_over_http_until_stopped(tmp_path):
    config = installation(tmp_path)
    settings = load_settings({"MSGMODULE_CONFIG": str(config)})
    with monitor_serving(str(config)) as url:
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain")
            first = samples(response.read().decode())
        assert first[("msgmodule_journal_pending", ())] == 0

        # Each scrape reads afresh: a failure journaled meanwhile shows at the next one.
        Journal(settings.journal_path).record("D_1000000001", "messages-to-depositor", "db", "down")
        with urllib.request.urlopen(url, timeout=10) as response:
            assert samples(response.read().decode())[("msgmodule_journal_pending", ())] == 1
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # stopped: nothing listens any more
