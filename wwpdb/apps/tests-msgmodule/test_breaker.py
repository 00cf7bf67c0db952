"""The circuit breaker around a store, against a real closed port, a real missing archive and a real MariaDB."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

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
