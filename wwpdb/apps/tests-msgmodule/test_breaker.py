"""The circuit breaker around a store, against a real closed port, a real missing archive and a real MariaDB."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import stage_config
from sqlalchemy.engine import make_url

from wwpdb.apps.msgmodule.cli import run
from wwpdb.apps.msgmodule.config import load_settings
from wwpdb.apps.msgmodule.db import schema_versions
from wwpdb.apps.msgmodule.errors import BackendUnavailableError, InvalidInputError
from wwpdb.apps.msgmodule.journal import Journal
from wwpdb.apps.msgmodule.model import Message
from wwpdb.apps.msgmodule.stores.breaker import (
    BreakerState,
    BreakerStore,
    CircuitBreaker,
    CircuitOpenError,
    breaker_state_path,
    live_breakers,
    read_breaker_states,
)
from wwpdb.apps.msgmodule.stores.cif import CifMessageStore
from wwpdb.apps.msgmodule.stores.db import DbMessageStore
from wwpdb.apps.msgmodule.stores.dual import DualStore
from wwpdb.apps.msgmodule.tools.monitoring import metrics_text

TO = "messages-to-depositor"


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def unreachable_db_url() -> str:
    return f"mysql+pymysql://root@127.0.0.1:{closed_port()}/wwpdb_messaging?charset=utf8mb4"


def message(text: str) -> Message:
    return Message(message_id=f"m-{text}", message_text=text, message_subject=text)


def wait_for(condition, limit: float = 10.0) -> None:
    """Poll until `condition()` holds (a wait, not a timing assertion)."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


def test_breaker_opens_after_consecutive_failures_on_a_closed_port(tmp_path):
    state_file = breaker_state_path(tmp_path / "state", "db")
    store = BreakerStore(DbMessageStore(unreachable_db_url()), CircuitBreaker("db", 3, 60.0, state_file))
    for _ in range(3):
        with pytest.raises(BackendUnavailableError) as failure:
            store.load("D_1000000001", TO)
        assert not isinstance(failure.value, CircuitOpenError)  # really tried, and really failed
    assert store.breaker.state is BreakerState.OPEN

    with pytest.raises(CircuitOpenError) as rejected:
        store.put_message("D_1000000001", TO, message("skipped"))
    assert "circuit breaker" in str(rejected.value) and "db" in str(rejected.value)
    snapshot = store.breaker.snapshot()
    assert snapshot["state"] == "open"
    assert snapshot["opened_total"] == 1 and snapshot["rejected_total"] == 1
    assert "cannot reach the database server" in snapshot["last_error"]
    assert store.breaker in live_breakers()
    recorded = read_breaker_states(tmp_path / "state")
    assert recorded["db"]["state"] == "open" and recorded["db"]["open_until"] > time.time()
    assert "circuit breaker open" in store.describe()


def test_dual_write_journals_at_once_while_the_breaker_is_open(tmp_path):
    archive = tmp_path / "archive"
    archive.mkdir()
    journal = Journal(tmp_path / "state" / "journal.jsonl")
    secondary = BreakerStore(DbMessageStore(unreachable_db_url()), CircuitBreaker("db", 2, 60.0))
    dual = DualStore(CifMessageStore(archive), secondary, journal)

    for number in range(5):
        dual.put_message("D_1000000001", TO, message(str(number)))

    # Every message is in the authoritative archive; the database's part is journaled.
    assert [m.message_text for m in CifMessageStore(archive).load("D_1000000001", TO).messages] == list("01234")
    failures = [entry for entry in journal.entries() if entry.kind == "failure"]
    assert len(failures) == 5
    assert [("circuit breaker" in entry.error) for entry in failures] == [False, False, True, True, True]
    assert secondary.breaker.snapshot()["rejected_total"] == 3


def test_half_open_probe_closes_the_breaker_when_the_backend_is_back(tmp_path):
    root = tmp_path / "not-yet"
    store = BreakerStore(CifMessageStore(root), CircuitBreaker("cif", 2, 0.3, tmp_path / "breaker-cif.json"))
    for _ in range(2):
        with pytest.raises(BackendUnavailableError):
            store.list_depositions()
    with pytest.raises(CircuitOpenError):
        store.list_depositions()

    root.mkdir()
    wait_for(lambda: store.breaker.state is BreakerState.HALF_OPEN)
    assert read_breaker_states(tmp_path)["cif"]["state"] == "half-open"
    assert store.list_depositions() == []  # the probe goes through
    assert store.breaker.state is BreakerState.CLOSED
    store.put_message("D_1000000001", TO, message("back"))
    assert store.load("D_1000000001", TO).messages[0].message_text == "back"
    assert json.loads((tmp_path / "breaker-cif.json").read_text())["state"] == "closed"


def test_a_failed_probe_opens_the_breaker_for_another_cooldown(tmp_path):
    store = BreakerStore(CifMessageStore(tmp_path / "missing"), CircuitBreaker("cif", 1, 0.2))
    with pytest.raises(BackendUnavailableError):
        store.load("D_1000000001", TO)
    wait_for(lambda: store.breaker.state is BreakerState.HALF_OPEN)
    with pytest.raises(BackendUnavailableError) as probe:
        store.load("D_1000000001", TO)
    assert not isinstance(probe.value, CircuitOpenError)
    assert store.breaker.state is BreakerState.OPEN
    assert store.breaker.snapshot()["opened_total"] == 2
    with pytest.raises(CircuitOpenError):
        store.load("D_1000000001", TO)


def test_only_failures_of_the_backend_count_and_a_success_resets_the_count(tmp_path):
    archive = tmp_path / "archive"
    store = BreakerStore(CifMessageStore(archive), CircuitBreaker("cif", 3, 60.0))

    def bad_input(document):
        raise InvalidInputError("a field is malformed")

    archive.mkdir()
    for _ in range(5):  # the data's fault: the backend answered
        with pytest.raises(InvalidInputError):
            store.update("D_1000000001", TO, bad_input)
    assert store.breaker.state is BreakerState.CLOSED

    shutil.rmtree(archive)
    for _ in range(2):
        with pytest.raises(BackendUnavailableError):
            store.list_depositions()
    archive.mkdir()
    store.list_depositions()
    archive.rmdir()
    for _ in range(2):
        with pytest.raises(BackendUnavailableError):
            store.list_depositions()
    assert store.breaker.state is BreakerState.CLOSED  # never three in a row
    assert store.breaker.snapshot()["consecutive_failures"] == 2


def test_half_open_lets_one_probe_through_and_rejects_the_others(tmp_path):
    archive = tmp_path / "archive"
    store = BreakerStore(CifMessageStore(archive), CircuitBreaker("cif", 1, 0.1))
    with pytest.raises(BackendUnavailableError):
        store.list_depositions()
    archive.mkdir()
    wait_for(lambda: store.breaker.state is BreakerState.HALF_OPEN)

    entered, release = threading.Event(), threading.Event()

    def slow_change(document):
        entered.set()
        release.wait(10)

    probe = threading.Thread(target=store.update, args=("D_1000000001", TO, slow_change))
    probe.start()
    try:
        assert entered.wait(10)
        with pytest.raises(CircuitOpenError):
            store.list_depositions()
    finally:
        release.set()
        probe.join(10)
    assert store.breaker.state is BreakerState.CLOSED
    assert store.list_depositions() == ["D_1000000001"]


class TcpForwarder:
    """Forwards a loopback port to a server: started and stopped, it is a database that goes and comes back."""

    def __init__(self, port: int, target: tuple[str, int]) -> None:
        self.port, self.target = port, target
        self.listener: socket.socket | None = None
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen()
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()

    def _accept(self) -> None:
        assert self.listener is not None
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            for source, sink in ((client, upstream), (upstream, client)):
                thread = threading.Thread(target=self._pump, args=(source, sink), daemon=True)
                thread.start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        if self.listener is not None:
            self.listener.close()
            self.listener = None


def test_breaker_closes_when_mysql_answers_again(mysql_url, tmp_path):
    schema_versions.upgrade(mysql_url)
    real = make_url(mysql_url)
    port = closed_port()
    via_forwarder = real.set(port=port).render_as_string(hide_password=False)
    forwarder = TcpForwarder(port, (real.host or "127.0.0.1", real.port or 3306))
    store = BreakerStore(DbMessageStore(via_forwarder), CircuitBreaker("db", 2, 0.3))
    try:
        for _ in range(2):
            with pytest.raises(BackendUnavailableError):
                store.put_message("D_1000000001", TO, message("lost"))
        with pytest.raises(CircuitOpenError):
            store.put_message("D_1000000001", TO, message("rejected"))

        forwarder.start()  # the database is back
        wait_for(lambda: store.breaker.state is BreakerState.HALF_OPEN)
        store.put_message("D_1000000001", TO, message("stored"))
        assert store.breaker.state is BreakerState.CLOSED
        assert [m.message_text for m in DbMessageStore(mysql_url).load("D_1000000001", TO).messages] == ["stored"]
    finally:
        forwarder.stop()
        from wwpdb.apps.msgmodule.db.engine import dispose_engines

        dispose_engines()


def test_breaker_arguments_are_checked():
    with pytest.raises(ValueError):
        CircuitBreaker("db", failure_threshold=0)
    with pytest.raises(ValueError):
        CircuitBreaker("db", cooldown=-1)
    assert read_breaker_states(Path("/nonexistent/state")) == {}


# -- the recorded state describes running processes ------------------------------------------------

TRIPPER = """
import json, sys, time
from wwpdb.apps.msgmodule.io.MessagingFactory import MessagingFactory
svc = MessagingFactory.create_messaging_service(config=json.loads(sys.argv[1]))
for n in range(8):
    svc.set("D_1000000042", {"message_text": f"written while the database is down {n}"})
print("tripped", flush=True)
time.sleep(600)
"""

WRITER = """
import json, sys
from wwpdb.apps.msgmodule.io.MessagingFactory import MessagingFactory
svc = MessagingFactory.create_messaging_service(config=json.loads(sys.argv[1]))
svc.set("D_1000000043", {"message_text": "written once the database answers"})
"""


def site_with_the_database_down(tmp_path: Path) -> dict[str, str]:
    """A dual-write site whose database nothing answers for, with its settings in its config file too."""
    config = stage_config(tmp_path, "dual-write", unreachable_db_url())
    Path(config["MSGMODULE_CONFIG"]).write_text(
        "[msgmodule]\n" + "".join(f"{key} = {value}\n" for key, value in config.items() if key != "MSGMODULE_CONFIG")
    )
    return config


@contextlib.contextmanager
def process_with_an_open_breaker(config: dict[str, str]):
    """A real process whose writes opened its breaker of the database; it waits until killed."""
    process = subprocess.Popen([sys.executable, "-c", TRIPPER, json.dumps(config)], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "tripped"
        yield process
    finally:
        process.kill()
        process.wait()


def cli_lines(capsys, *args: str) -> tuple[int, list[str]]:
    capsys.readouterr()
    status = run(list(args))
    return status, capsys.readouterr().out.splitlines()


def breaker_line(lines: list[str]) -> str:
    found = [line for line in lines if "breaker db" in line or line.startswith("breaker:")]
    assert len(found) == 1, lines
    (line,) = found
    return line


@pytest.mark.integration
def test_a_breaker_left_open_by_a_killed_process_is_stale_not_a_failure(tmp_path, capsys):
    config = site_with_the_database_down(tmp_path)
    settings = load_settings(config)
    with process_with_an_open_breaker(config) as process:
        recorded = read_breaker_states(settings.state_dir)["db"]
        assert (recorded["state"], recorded["pid"], recorded["writer_alive"]) == ("open", process.pid, True)
        _, lines = cli_lines(capsys, "health", "--config", config["MSGMODULE_CONFIG"])
        assert breaker_line(lines).startswith("FAIL") and "open" in breaker_line(lines)  # a live process skips it

    recorded = read_breaker_states(settings.state_dir)["db"]
    assert recorded["writer_alive"] is False and recorded["stale"]
    _, lines = cli_lines(capsys, "health", "--config", config["MSGMODULE_CONFIG"])
    line = breaker_line(lines)
    assert line.startswith("OK") and "stale" in line and f"process {process.pid}" in line, line
    assert "msgmodule breaker reset db" in line
    _, lines = cli_lines(capsys, "status", "--config", config["MSGMODULE_CONFIG"])
    assert "stale" in breaker_line(lines)
    assert 'msgmodule_circuit_breaker_state{backend="db"} 0.0' in metrics_text(settings)
    _, lines = cli_lines(capsys, "troubleshoot", "--config", config["MSGMODULE_CONFIG"])
    assert not [line for line in lines if "FIX" in line and "circuit breaker" in line]


@pytest.mark.integration
def test_a_success_in_another_process_records_the_breaker_closed(tmp_path, capsys, sqlite_url):
    config = site_with_the_database_down(tmp_path)
    settings = load_settings(config)
    schema_versions.upgrade(sqlite_url)
    with process_with_an_open_breaker(config) as tripped:
        assert read_breaker_states(settings.state_dir)["db"]["state"] == "open"
        # The database answers again, for a new process: its first write goes through.
        writer = subprocess.run(
            [sys.executable, "-c", WRITER, json.dumps({**config, "MSGDB_URL": sqlite_url})], capture_output=True
        )
        assert writer.returncode == 0, writer.stderr
        recorded = read_breaker_states(settings.state_dir)["db"]
        assert recorded["state"] == "closed" and recorded["pid"] != tripped.pid
        _, lines = cli_lines(capsys, "health", "--config", config["MSGMODULE_CONFIG"], "--db-url", sqlite_url)
        assert breaker_line(lines).startswith("OK") and "closed" in breaker_line(lines)
    assert DbMessageStore(sqlite_url).load("D_1000000043", TO).messages[0].message_text.startswith("written once")


def test_a_success_overwrites_an_open_state_recorded_earlier(tmp_path):
    archive = tmp_path / "archive"
    state_file = breaker_state_path(tmp_path / "state", "cif")
    failing = BreakerStore(CifMessageStore(archive), CircuitBreaker("cif", 1, 600.0, state_file))
    with pytest.raises(BackendUnavailableError):
        failing.list_depositions()
    assert read_breaker_states(tmp_path / "state")["cif"]["state"] == "open"

    archive.mkdir()
    answering = BreakerStore(CifMessageStore(archive), CircuitBreaker("cif", 1, 600.0, state_file))
    assert answering.list_depositions() == []
    assert read_breaker_states(tmp_path / "state")["cif"]["state"] == "closed"


def test_a_reused_pid_or_a_reboot_is_not_the_process_that_wrote_the_state(tmp_path):
    state = tmp_path / "state"
    store = BreakerStore(
        CifMessageStore(tmp_path / "missing"), CircuitBreaker("cif", 1, 600.0, breaker_state_path(state, "cif"))
    )
    with pytest.raises(BackendUnavailableError):
        store.list_depositions()
    path = breaker_state_path(state, "cif")
    written = json.loads(path.read_text())
    assert read_breaker_states(state)["cif"]["writer_alive"] is True  # this very process
    # No way to make the kernel hand this pid to a new process here: the record is edited instead.
    for changed in ({"process_start": str(int(written["process_start"]) + 1)}, {"boot_id": "another boot"}):
        path.write_text(json.dumps({**written, **changed}))
        recorded = read_breaker_states(state)["cif"]
        assert recorded["writer_alive"] is False and recorded["stale"], changed
    path.write_text(json.dumps({**written, "host": "another-host"}))
    assert read_breaker_states(state)["cif"]["writer_alive"] is None  # cannot be told: counted as it says


def test_breaker_reset_removes_the_recorded_states(tmp_path, capsys):
    config = tmp_path / "msgmodule.cfg"
    state = tmp_path / "state"
    config.write_text(f"[msgmodule]\nMSGCIF_ROOT = {tmp_path / 'archive'}\nMSGMODULE_STATE_DIR = {state}\n")
    for name in ("db", "cif"):
        store = BreakerStore(
            CifMessageStore(tmp_path / "missing"), CircuitBreaker(name, 1, 600.0, breaker_state_path(state, name))
        )
        with pytest.raises(BackendUnavailableError):
            store.list_depositions()
    assert set(read_breaker_states(state)) == {"db", "cif"}

    assert run(["breaker", "show", "--config", str(config)]) == 0
    assert "circuit breaker of db: open" in capsys.readouterr().out
    assert run(["breaker", "reset", "db", "--config", str(config)]) == 0
    out = capsys.readouterr()
    assert "removed" in out.out and "breaker-db.json" in out.out
    assert "still runs" in out.err  # this process's breaker is open in its memory: said so
    assert set(read_breaker_states(state)) == {"cif"}
    assert run(["breaker", "reset", "db", "--config", str(config)]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert run(["breaker", "reset", "--config", str(config)]) == 0  # all
    assert read_breaker_states(state) == {}
    assert run(["breaker", "reset", "sideways", "--config", str(config)]) == 2
