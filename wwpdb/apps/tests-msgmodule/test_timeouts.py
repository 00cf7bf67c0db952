"""A database that stops answering costs a call its configured bound, never a hang.

The server is a private mariadbd frozen with SIGSTOP (a hung server, or a
network partition, as a client sees it), never the shared one; "a host that
does not answer" is a loopback listener whose accept queue is full. Each call
runs under a hang guard: without the bounds these calls never return.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import private_mariadb as server
import pytest
from conftest import stage_config
from sqlalchemy import event
from sqlalchemy.engine import Engine

from wwpdb.apps.msgmodule import timeouts
from wwpdb.apps.msgmodule.cli import run
from wwpdb.apps.msgmodule.config import load_settings
from wwpdb.apps.msgmodule.db import schema_versions
from wwpdb.apps.msgmodule.db.engine import (
    PoolExhaustedError,
    dispose_engines,
    get_engine,
    pool_setting,
    snapshot_transaction,
)
from wwpdb.apps.msgmodule.errors import BackendTimeoutError, InvalidInputError
from wwpdb.apps.msgmodule.io.MessagingFactory import MessagingFactory
from wwpdb.apps.msgmodule.journal import Journal
from wwpdb.apps.msgmodule.service import MessagingService
from wwpdb.apps.msgmodule.stage.routing import check_health
from wwpdb.apps.msgmodule.stores.breaker import BreakerState, BreakerStore, CircuitBreaker
from wwpdb.apps.msgmodule.stores.cif import CifMessageStore
from wwpdb.apps.msgmodule.stores.db import DbMessageStore
from wwpdb.apps.msgmodule.stores.dual import DualStore
from wwpdb.apps.msgmodule.timeouts import setting

pytestmark = pytest.mark.mysql
PrivateMariaDB = server.PrivateMariaDB
private_mariadb, private_mysql_url = server.private_mariadb, server.private_mysql_url  # the fixtures

DEP = "D_1000000077"
TO = "messages-to-depositor"
HANG_GUARD = 60.0  # seconds: not a timing assertion; without the bounds these calls wait until the thaw
T = TypeVar("T")


def finishes(call: Callable[[], T]) -> T:
    """What `call` returns (or raises), run in a thread; the test fails if it is still waiting after the guard."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(HANG_GUARD)
    if thread.is_alive():
        pytest.fail(f"still waiting for the frozen database after {HANG_GUARD:g} s: a hang")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


@pytest.fixture
def only_bound(monkeypatch):
    """Every bound but the one a test sets is out of reach, so the bound under test is what ends a wait."""
    for name in ("MSGDB_READ_TIMEOUT", "MSGDB_WRITE_TIMEOUT", "MSGDB_CALL_TIMEOUT", "MSGDB_SECOND_WRITE_TIMEOUT"):
        monkeypatch.setenv(name, "3600")
    monkeypatch.setenv("MSGDB_CONNECT_TIMEOUT", "3600")  # a new connection's handshake: tests below lower it

    def bound(name: str, seconds: float = 1.0) -> None:
        monkeypatch.setenv(name, str(seconds))

    return bound


def archive_in(folder: Path) -> CifMessageStore:
    folder.mkdir(parents=True, exist_ok=True)
    return CifMessageStore(folder)


def texts(store, deposition_id: str = DEP) -> list[str]:
    return [message.message_text for message in store.load(deposition_id, TO).messages]


def write_config(config: dict[str, str]) -> str:
    Path(config["MSGMODULE_CONFIG"]).write_text(
        "[msgmodule]\n" + "".join(f"{k} = {v}\n" for k, v in config.items() if k != "MSGMODULE_CONFIG")
    )
    return config["MSGMODULE_CONFIG"]


# -- dual-write: the archive is authoritative ----------------------------------------------------------


def test_a_dual_write_to_a_frozen_database_is_acknowledged_and_journaled_within_the_second_write_bound(
    tmp_path, private_mariadb: PrivateMariaDB, private_mysql_url, only_bound
):
    only_bound("MSGDB_SECOND_WRITE_TIMEOUT")
    config = stage_config(tmp_path, "dual-write", private_mysql_url)
    svc = MessagingFactory.create_messaging_service(config=config)
    svc.set(DEP, {"message_text": "before"})  # the pool now holds established connections
    with private_mariadb.frozen():
        mid = finishes(lambda: svc.set(DEP, {"message_text": "while frozen"}))
    assert texts(CifMessageStore(config["MSGCIF_ROOT"])) == ["before", "while frozen"]  # acknowledged: in the archive
    journal = Journal(load_settings(config).journal_path)
    assert list(journal.pending()) == [(DEP, TO, "db")]
    assert "MSGDB_SECOND_WRITE_TIMEOUT" in journal.entries()[-1].error
    assert run(["reconcile", "--config", write_config(config)]) == 0
    assert DbMessageStore(private_mysql_url).load(DEP, TO).find_message(mid) is not None


def test_a_second_writer_of_the_deposition_is_not_held_up_by_a_frozen_database(
    tmp_path, private_mariadb: PrivateMariaDB, private_mysql_url, only_bound
):
    only_bound("MSGDB_SECOND_WRITE_TIMEOUT")
    config = stage_config(tmp_path, "dual-write", private_mysql_url)
    svc = MessagingFactory.create_messaging_service(config=config)
    svc.set(DEP, {"message_text": "before"})
    results: list[str] = []

    def two_writers() -> None:
        writers = [
            threading.Thread(target=lambda n=n: results.append(svc.set(DEP, {"message_text": f"writer {n}"})))
            for n in (1, 2)
        ]
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join()

    with private_mariadb.frozen():
        finishes(two_writers)
    assert len(results) == 2
    assert sorted(texts(CifMessageStore(config["MSGCIF_ROOT"]))) == ["before", "writer 1", "writer 2"]
    assert list(Journal(load_settings(config).journal_path).pending()) == [(DEP, TO, "db")]


def test_timeouts_of_the_second_write_open_the_circuit_breaker(
    tmp_path, private_mariadb: PrivateMariaDB, private_mysql_url, only_bound
):
    only_bound("MSGDB_SECOND_WRITE_TIMEOUT")
    breaker = CircuitBreaker("db", failure_threshold=2, cooldown=3600.0)
    journal = Journal(tmp_path / "journal.jsonl")
    store = DualStore(
        archive_in(tmp_path / "archive"), BreakerStore(DbMessageStore(private_mysql_url), breaker), journal
    )
    svc = MessagingService(store)
    svc.set(DEP, {"message_text": "before"})
    with private_mariadb.frozen():
        for number in range(3):
            finishes(lambda n=number: svc.set(DEP, {"message_text": f"frozen {n}"}))
    assert breaker.state is BreakerState.OPEN and breaker.opened_total == 1
    assert breaker.rejected_total == 1  # the third call did not wait for the database
    assert "MSGDB_SECOND_WRITE_TIMEOUT" in breaker.snapshot()["last_error"]
    assert list(journal.pending()) == [(DEP, TO, "db")]


# -- db-primary and db-only: the database is authoritative ------------------------------------------------


@pytest.mark.parametrize("stage", ["db-only", "db-primary"])
def test_with_the_database_authoritative_a_frozen_server_fails_the_call_with_a_typed_error_and_writes_nothing(
    tmp_path, private_mariadb: PrivateMariaDB, private_mysql_url, monkeypatch, stage
):
    # Nothing set: the defaults bound every wait (shortened here, to keep the suite fast).
    for name in ("MSGDB_READ_TIMEOUT", "MSGDB_CONNECT_TIMEOUT"):  # a call may need a new connection
        monkeypatch.setitem(timeouts._DEFAULTS, name, 1.0)
    config = stage_config(tmp_path, stage, private_mysql_url)
    svc = MessagingFactory.create_messaging_service(config=config)
    svc.set(DEP, {"message_text": "before"})
    with private_mariadb.frozen(), pytest.raises(BackendTimeoutError) as raised:
        finishes(lambda: svc.set(DEP, {"message_text": "while frozen"}))
    assert not raised.value.outcome_unknown
    assert texts(DbMessageStore(private_mysql_url)) == ["before"]  # the server is answering again
    if stage == "db-primary":
        assert texts(CifMessageStore(config["MSGCIF_ROOT"])) == ["before"]


def test_a_commit_that_gets_no_answer_is_reported_as_possibly_in_and_journaled(
    tmp_path, private_mariadb: PrivateMariaDB, private_mysql_url, only_bound
):
    """db-primary, composed with a journal in a file: the database's commit goes unanswered."""
    only_bound("MSGDB_READ_TIMEOUT")
    db = DbMessageStore(private_mysql_url)
    journal = Journal(tmp_path / "journal.jsonl")
    svc = MessagingService(DualStore(db, archive_in(tmp_path / "archive"), journal))
    svc.set(DEP, {"message_text": "before"})

    froze: list[bool] = []

    def freeze_at_the_commit_of_a_write(connection) -> None:
        if connection.get_execution_options().get("msgmodule_write") and not froze:
            froze.append(True)
            private_mariadb.freeze()

    event.listen(db.engine, "commit", freeze_at_the_commit_of_a_write, insert=True)
    try:
        with pytest.raises(BackendTimeoutError, match="whether the change is in is not known") as raised:
            finishes(lambda: svc.set(DEP, {"message_text": "unanswered commit"}))
    finally:
        private_mariadb.thaw()
    assert raised.value.outcome_unknown
    assert list(journal.pending()) == [(DEP, TO, "cif")]  # reconcile makes the archive follow whatever is in


# -- one database call: a bound for the whole call, retries and reconnects included ---------------------------


def connections_opened(store: DbMessageStore) -> list[int]:
    opened: list[int] = []
    event.listen(store.engine, "do_connect", lambda *_: opened.append(1), insert=True)
    return opened


def test_a_round_trip_that_timed_out_is_not_retried(private_mariadb: PrivateMariaDB, private_mysql_url, only_bound):
    only_bound("MSGDB_READ_TIMEOUT")
    store = DbMessageStore(private_mysql_url)
    store.load(DEP, TO)
    opened = connections_opened(store)
    with private_mariadb.frozen(), pytest.raises(BackendTimeoutError, match="MSGDB_READ_TIMEOUT"):
        finishes(lambda: store.load(DEP, TO))
    assert opened == []  # not asked again on a new connection


@pytest.mark.parametrize("pooled", [True, False], ids=["pooled connection", "new connection"])
def test_the_call_bound_holds_for_the_whole_call(private_mariadb, private_mysql_url, only_bound, pooled):
    only_bound("MSGDB_CALL_TIMEOUT")
    store = DbMessageStore(private_mysql_url)
    store.load(DEP, TO)
    if not pooled:
        dispose_engines()
        store = DbMessageStore(private_mysql_url)
    with private_mariadb.frozen(), pytest.raises(BackendTimeoutError, match="MSGDB_CALL_TIMEOUT"):
        finishes(lambda: store.load(DEP, TO))


# -- a pool with every connection in use: the wait for one ends with the call's time -----------------------

POOL_SIZE, MAX_OVERFLOW = 2, 1


@pytest.fixture
def small_pool(monkeypatch, only_bound):
    """Engines made from here on hold at most POOL_SIZE + MAX_OVERFLOW connections."""
    monkeypatch.setenv("MSGDB_POOL_SIZE", str(POOL_SIZE))
    monkeypatch.setenv("MSGDB_MAX_OVERFLOW", str(MAX_OVERFLOW))
    dispose_engines()  # an engine a fixture made before has the default pool
    return only_bound


@contextlib.contextmanager
def every_connection_held(engine: Engine) -> Iterator[None]:
    """Every connection the engine's pool may hold, checked out by other threads, each inside a transaction."""
    count = POOL_SIZE + MAX_OVERFLOW
    held = threading.Barrier(count + 1)
    done = threading.Event()

    def hold() -> None:
        with snapshot_transaction(engine) as connection:
            connection.exec_driver_sql("SELECT COUNT(*) FROM pdbx_deposition_message_info")
            held.wait(HANG_GUARD)
            done.wait(HANG_GUARD)

    holders = [threading.Thread(target=hold, daemon=True) for _ in range(count)]
    for holder in holders:
        holder.start()
    try:
        held.wait(HANG_GUARD)
        assert (engine.pool.size(), engine.pool.overflow()) == (POOL_SIZE, MAX_OVERFLOW)  # none left for others
        yield
    finally:
        done.set()
        for holder in holders:
            holder.join(HANG_GUARD)


def test_a_call_that_finds_every_pooled_connection_in_use_gives_up_within_its_time_naming_the_pool(db_url, small_pool):
    small_pool("MSGDB_CALL_TIMEOUT")
    store = DbMessageStore(db_url)
    assert store.load(DEP, TO).messages == []  # the pool now holds an established connection
    with every_connection_held(store.engine), pytest.raises(PoolExhaustedError) as raised:
        finishes(lambda: store.load(DEP, TO))
    message = str(raised.value)
    assert "MSGDB_CALL_TIMEOUT (1 s)" in message  # the bound that ended the wait
    assert f"MSGDB_POOL_SIZE={POOL_SIZE}" in message and f"MSGDB_MAX_OVERFLOW={MAX_OVERFLOW}" in message
    assert "nothing was written" in message and not raised.value.outcome_unknown
    assert store.load(DEP, TO).messages == []  # the connections are back: calls pass again


def test_a_dual_write_that_finds_every_pooled_connection_in_use_is_acknowledged_and_journaled(
    tmp_path, mysql_url, small_pool
):
    small_pool("MSGDB_SECOND_WRITE_TIMEOUT")
    schema_versions.upgrade(mysql_url)
    config = stage_config(tmp_path, "dual-write", mysql_url)
    svc = MessagingFactory.create_messaging_service(config=config)
    svc.set(DEP, {"message_text": "before"})
    db = DbMessageStore(mysql_url)  # the process's engine for the URL: the service's
    with every_connection_held(db.engine):
        mid = finishes(lambda: svc.set(DEP, {"message_text": "while the pool is in use"}))
    assert texts(CifMessageStore(config["MSGCIF_ROOT"])) == ["before", "while the pool is in use"]  # acknowledged
    journal = Journal(load_settings(config).journal_path)
    assert list(journal.pending()) == [(DEP, TO, "db")]
    error = journal.entries()[-1].error
    assert "MSGDB_SECOND_WRITE_TIMEOUT (1 s)" in error and f"MSGDB_POOL_SIZE={POOL_SIZE}" in error
    assert run(["reconcile", "--config", write_config(config)]) == 0
    assert db.load(DEP, TO).find_message(mid) is not None


def test_a_pool_size_that_is_not_a_number_of_connections_is_refused_naming_the_variable(monkeypatch):
    monkeypatch.setenv("MSGDB_POOL_SIZE", "0")  # SQLAlchemy would take 0 for no limit at all
    with pytest.raises(InvalidInputError, match="MSGDB_POOL_SIZE"):
        pool_setting("MSGDB_POOL_SIZE")
    monkeypatch.setenv("MSGDB_MAX_OVERFLOW", "-1")
    with pytest.raises(InvalidInputError, match="MSGDB_MAX_OVERFLOW"):
        pool_setting("MSGDB_MAX_OVERFLOW")
    monkeypatch.setenv("MSGDB_MAX_OVERFLOW", "0")
    assert pool_setting("MSGDB_MAX_OVERFLOW") == 0


# -- health: one bound for the whole command --------------------------------------------------------------


@pytest.fixture
def unanswering_port() -> Iterator[int]:
    """A loopback port whose accept queue is full: a connection attempt gets no answer at all."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    queued: list[socket.socket] = []
    try:
        while True:  # until the kernel stops completing handshakes for this port
            client = socket.socket()
            client.settimeout(0.5)
            try:
                client.connect(("127.0.0.1", port))
            except OSError:
                client.close()
                break
            queued.append(client)
        yield port
    finally:
        for client in queued:
            client.close()
        listener.close()


def test_health_against_a_host_that_does_not_answer_spends_one_connect_timeout_in_all(
    tmp_path, monkeypatch, unanswering_port, private_mysql_url
):
    monkeypatch.setenv("MSGDB_CONNECT_TIMEOUT", "1")
    config = stage_config(tmp_path, "dual-write", private_mysql_url)
    config["MSGDB_URL"] = f"mysql+pymysql://root@127.0.0.1:{unanswering_port}/msgs"
    checks = finishes(lambda: check_health(load_settings(config)))
    failed = {check.backend: check.detail for check in checks if not check.ok}
    # The first wait (the stage check's look at the database copy, which proves nothing when it fails)
    # spends the bound; the checks after it are not tried again, each another connect timeout.
    spared = [name for name, detail in failed.items() if "was spent by earlier waits" in detail]
    assert sorted(spared) == ["db", "journal"], failed
    assert all("MSGDB_CONNECT_TIMEOUT" in failed[name] for name in spared)


def test_a_bound_that_is_not_a_time_is_refused_naming_the_variable(monkeypatch):
    monkeypatch.setenv("MSGDB_READ_TIMEOUT", "soon")
    with pytest.raises(InvalidInputError, match="MSGDB_READ_TIMEOUT"):
        setting("MSGDB_READ_TIMEOUT")
    monkeypatch.setenv("MSGDB_READ_TIMEOUT", "0")
    assert setting("MSGDB_READ_TIMEOUT") is None  # no bound, as asked
    monkeypatch.setenv("MSGDB_CONNECT_TIMEOUT", "0")
    with pytest.raises(InvalidInputError, match="MSGDB_CONNECT_TIMEOUT"):
        setting("MSGDB_CONNECT_TIMEOUT")


def test_round_trips_under_one_time_limit_leave_the_socket_timeout_as_it_is_until_the_limit_moves_it(mysql_url):
    # Under a limit the bound shrinks at each round trip; resetting the socket's timeout for each hands the
    # interpreter to other threads (a dual write's main thread) and waits to get it back. A bound within
    # TIMEOUT_SLACK of the socket's is kept; one further off (a tighter limit) is applied.
    engine = get_engine(mysql_url)
    with engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        with timeouts.time_limit(5.0, "MSGDB_SECOND_WRITE_TIMEOUT"):
            connection.exec_driver_sql("SELECT 1").all()
            first = raw._current_timeout
            assert 4.0 < first <= 5.0
            time.sleep(0.002)  # the limit has less left now
            for _ in range(3):
                connection.exec_driver_sql("SELECT 1").all()
                assert raw._current_timeout == first
            with timeouts.time_limit(1.0, "MSGDB_SECOND_WRITE_TIMEOUT"):
                connection.exec_driver_sql("SELECT 1").all()
                assert raw._current_timeout <= 1.0
        connection.exec_driver_sql("SELECT 1").all()  # no limit: the engine's own bound again
        assert raw._current_timeout == setting("MSGDB_READ_TIMEOUT")
