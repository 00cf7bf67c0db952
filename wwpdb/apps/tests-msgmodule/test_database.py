"""The database backend: schema versions, configuration, and failures with typed errors."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import uuid

import pytest
from conftest import REPO_ROOT, scratch_mysql_database
from sqlalchemy import create_engine, func, select, text

from wwpdb.apps.msgmodule.cli import run
from wwpdb.apps.msgmodule.config import resolve_db_url
from wwpdb.apps.msgmodule.db import schema_versions
from wwpdb.apps.msgmodule.db.engine import (
    DatabaseLoginError,
    SchemaMissingError,
    ValueTooLargeError,
    get_engine,
    mask_url,
    run_with_retries,
)
from wwpdb.apps.msgmodule.db.schema import documents
from wwpdb.apps.msgmodule.errors import BackendUnavailableError, MessagingError
from wwpdb.apps.msgmodule.model import Message
from wwpdb.apps.msgmodule.stage.policy import ConfigurationError
from wwpdb.apps.msgmodule.stores.db import DbMessageStore

TO = "messages-to-depositor"
INIT_SCRIPT = REPO_ROOT / "scripts" / "init_messaging_database.py"


# -- schema --------------------------------------------------------------------


def test_init_creates_the_schema_and_a_second_run_changes_nothing(empty_db_url):
    url = empty_db_url
    head = schema_versions.head_revision()
    assert schema_versions.upgrade(url) == (None, head)
    DbMessageStore(url).put_message("D_1", TO, Message(message_id="kept"))
    assert schema_versions.upgrade(url) == (head, head)
    assert schema_versions.verify(url).ok
    assert DbMessageStore(url).load("D_1", TO).messages[0].message_id == "kept"


def test_verify_detects_a_dropped_column_and_the_script_exits_1(empty_db_url):
    url = empty_db_url
    schema_versions.upgrade(url)
    with get_engine(url).begin() as connection:
        connection.exec_driver_sql("ALTER TABLE pdbx_deposition_message_status DROP COLUMN for_release")
    status = schema_versions.verify(url)
    assert not status.ok
    assert "column pdbx_deposition_message_status.for_release is missing" in status.problems
    result = subprocess.run(
        [sys.executable, str(INIT_SCRIPT), "--verify-only", "--db-url", url], capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "for_release is missing" in result.stderr


def test_verify_on_an_empty_database_reports_no_schema(empty_db_url):
    status = schema_versions.verify(empty_db_url)
    assert not status.ok
    assert any("no message schema" in problem for problem in status.problems)
    assert "table pdbx_deposition_message_info is missing" in status.problems


def test_reset_asks_first_and_keeps_data_when_refused(sqlite_url, capsys, monkeypatch):
    schema_versions.upgrade(sqlite_url)
    DbMessageStore(sqlite_url).put_message("D_1", TO, Message(message_id="kept"))
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("n\n"))
    assert run(["init-db", "--reset", "--db-url", sqlite_url]) == 1
    assert DbMessageStore(sqlite_url).load("D_1", TO).messages[0].message_id == "kept"
    assert run(["init-db", "--reset", "--yes", "--db-url", sqlite_url]) == 0
    assert DbMessageStore(sqlite_url).load("D_1", TO).is_empty()


def test_a_store_on_a_database_without_schema_says_to_run_the_init_script(empty_db_url):
    with pytest.raises(SchemaMissingError, match="msgmodule init-db"):
        DbMessageStore(empty_db_url).load("D_1", TO)


# -- configuration -------------------------------------------------------------------


def test_db_url_precedence_and_mysql_parts():
    assert resolve_db_url(None, {}, "/site/archive") == "sqlite:////site/archive/.msgmodule/messaging.db"
    with pytest.raises(ConfigurationError, match="no database configured"):
        resolve_db_url(None, {})
    assert resolve_db_url(None, {"MSGDB_URL": "sqlite:///x.db", "MSGDB_HOST": "h"}) == "sqlite:///x.db"
    assert resolve_db_url("sqlite:///arg.db", {"MSGDB_URL": "sqlite:///x.db"}) == "sqlite:///arg.db"
    url = resolve_db_url(
        None,
        {
            "MSGDB_HOST": "db.example.org",
            "MSGDB_PORT": "3307",
            "MSGDB_NAME": "msgs",
            "MSGDB_USER": "onedep",
            "MSGDB_PASS": "p@ss:w/rd",
        },
    )
    assert url == "mysql+pymysql://onedep:p%40ss%3Aw%2Frd@db.example.org:3307/msgs?charset=utf8mb4"
    assert "p%40ss" not in mask_url(url) and "***" in mask_url(url)


def test_passwords_are_never_printed(sqlite_url, capsys):
    url = "mysql+pymysql://onedep:s3cret-pw@127.0.0.1:1/msgs"
    assert run(["init-db", "--verify-only", "--db-url", url]) == 1
    captured = capsys.readouterr()
    assert "s3cret-pw" not in captured.out + captured.err
    assert "cannot reach the database server" in captured.err


# -- failures are typed errors, never empty results ----------------------------------


def test_wrong_port_is_a_backend_unavailable_error():
    store = DbMessageStore("mysql+pymysql://root@127.0.0.1:1/nowhere")
    with pytest.raises(BackendUnavailableError, match="cannot reach the database server"):
        store.load("D_1", TO)
    with pytest.raises(MessagingError):
        store.list_depositions()


def test_a_server_that_never_answers_fails_within_the_connect_timeout(tmp_path):
    """A listener that accepts but never speaks: the bounded connect timeout ends the wait."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    port = listener.getsockname()[1]
    accepted = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True)
    thread.start()
    try:
        result = subprocess.run(
            [sys.executable, str(INIT_SCRIPT), "--verify-only", "--db-url", f"mysql://root@127.0.0.1:{port}/x"],
            capture_output=True,
            text=True,
            timeout=60,  # a hang guard, not a timing assertion: without the connect timeout this never returns
            env={"MSGDB_CONNECT_TIMEOUT": "1", "PATH": "/usr/bin:/bin"},
        )
    finally:
        listener.close()
    assert result.returncode == 1
    assert "error:" in result.stderr and "127.0.0.1" in result.stderr


@pytest.mark.mysql
def test_refused_login_is_a_login_error(mysql_server):
    store = DbMessageStore(mysql_server.replace("root@", "no_such_user_msgtest:wrong@") + "/test")
    with pytest.raises(DatabaseLoginError, match="refused the login"):
        store.load("D_1", TO)


@pytest.mark.mysql
def test_unknown_database_says_to_create_it(mysql_server):
    with pytest.raises(BackendUnavailableError, match="does not exist"):
        DbMessageStore(f"{mysql_server}/msgtest_never_created_{uuid.uuid4().hex[:8]}").load("D_1", TO)


@pytest.mark.mysql
def test_a_value_larger_than_max_allowed_packet_is_refused_with_a_clear_error(mysql_url):
    schema_versions.upgrade(mysql_url)
    store = DbMessageStore(mysql_url)
    store.put_message("D_1", TO, Message(message_id="kept", message_text="small"))
    with get_engine(mysql_url).connect() as connection:
        limit = connection.execute(text("SELECT @@max_allowed_packet")).scalar_one()
    with pytest.raises(ValueTooLargeError, match="max_allowed_packet") as raised:
        store.put_message("D_1", TO, Message(message_id="huge", message_text="x" * (limit + 10)))
    assert "D_1" in str(raised.value) and "huge" in str(raised.value)
    assert [m.message_id for m in store.load("D_1", TO).messages] == ["kept"]


@pytest.mark.mysql
def test_a_user_without_super_privilege_can_do_everything(mysql_server):
    user = f"msgtest_{uuid.uuid4().hex[:8]}"
    admin = create_engine(mysql_server, isolation_level="AUTOCOMMIT")
    with scratch_mysql_database(mysql_server) as url:
        database = url.rsplit("/", 1)[1].split("?")[0]
        with admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE USER '{user}'@'%%' IDENTIFIED BY 'pw'")
            connection.exec_driver_sql(f"GRANT ALL PRIVILEGES ON `{database}`.* TO '{user}'@'%%'")
        try:
            limited = url.replace("root@", f"{user}:pw@")
            schema_versions.upgrade(limited)
            store = DbMessageStore(limited)
            store.put_message("D_1", TO, Message(message_id="m", message_text="ok 😀"))
            assert store.load("D_1", TO).messages[0].message_text == "ok 😀"
        finally:
            with admin.connect() as connection:
                connection.exec_driver_sql(f"DROP USER '{user}'@'%%'")
            admin.dispose()


@pytest.mark.mysql
def test_a_lock_wait_timeout_is_retried_and_then_succeeds(mysql_url):
    schema_versions.upgrade(mysql_url)
    engine = get_engine(mysql_url)
    DbMessageStore(mysql_url).put_message("D_1", TO, Message(message_id="m"))
    blocker = engine.connect()
    blocking = blocker.begin()
    blocker.execute(select(documents).with_for_update())
    attempts: list[int] = []

    def work() -> str:
        attempts.append(1)
        if len(attempts) == 2:
            blocking.rollback()  # the other transaction ends; the retry can now take the lock
        with engine.connect() as connection, connection.begin():
            connection.exec_driver_sql("SET SESSION innodb_lock_wait_timeout = 1")
            connection.execute(select(documents).with_for_update()).all()
        return "done"

    try:
        assert run_with_retries(engine, "test lock", work) == "done"
    finally:
        blocker.close()
    assert len(attempts) == 2


@pytest.mark.mysql
def test_a_lock_never_released_fails_after_five_attempts_and_another_error_after_one(mysql_url):
    schema_versions.upgrade(mysql_url)
    engine = get_engine(mysql_url)
    DbMessageStore(mysql_url).put_message("D_1", TO, Message(message_id="m"))
    attempts: list[str] = []

    def locked_out() -> None:
        attempts.append("lock")
        with engine.connect() as connection, connection.begin():
            connection.exec_driver_sql("SET SESSION innodb_lock_wait_timeout = 1")
            connection.execute(select(documents).with_for_update()).all()

    def bad_statement() -> None:
        attempts.append("syntax")
        with engine.connect() as connection:
            connection.exec_driver_sql("SELEC 1")

    blocker = engine.connect()
    blocker.begin()
    blocker.execute(select(documents).with_for_update())
    try:
        with pytest.raises(MessagingError, match="Lock wait timeout"):
            run_with_retries(engine, "test lock", locked_out)
    finally:
        blocker.close()
    with pytest.raises(MessagingError, match="syntax"):
        run_with_retries(engine, "test syntax", bad_statement)
    assert attempts == ["lock"] * 5 + ["syntax"]


@pytest.mark.mysql
def test_connections_the_server_dropped_are_replaced_without_failing_a_call_or_writing_twice(mysql_url):
    # Pooled connections are not pinged before use: the server killing them (a restart,
    # wait_timeout) must cost the next reads and writes a retry on a new connection, never a
    # failure or a duplicate row.
    schema_versions.upgrade(mysql_url)
    store = DbMessageStore(mysql_url)
    database = get_engine(mysql_url).url.database
    threads = [
        threading.Thread(target=store.put_message, args=(f"D_{n}", TO, Message(message_id=f"warm-{n}")))
        for n in range(3)
    ]
    for thread in threads:  # several connections in the pool
        thread.start()
    for thread in threads:
        thread.join()
    admin = create_engine(mysql_url.split("?")[0].rsplit("/", 1)[0], isolation_level="AUTOCOMMIT")

    def kill_pooled_connections() -> None:
        with admin.connect() as connection:
            ids = connection.execute(
                text("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = :db"), {"db": database}
            ).scalars()
            killed = 0
            for connection_id in ids:
                connection.exec_driver_sql(f"KILL CONNECTION {int(connection_id)}")
                killed += 1
        assert killed >= 1, "no pooled connection to kill: the test would prove nothing"

    try:
        kill_pooled_connections()
        # Reads first: a read sets its isolation level on the connection before its query.
        assert [m.message_id for m in store.load("D_1", TO).messages] == ["warm-1"]
        assert [len(store.load(f"D_{n}", TO).messages) for n in range(3)] == [1, 1, 1]
        kill_pooled_connections()
        for n in range(3):
            store.put_message(f"D_{n}", TO, Message(message_id=f"after-{n}"))
        assert [m.message_id for m in store.load("D_0", TO).messages] == ["warm-0", "after-0"]
        assert [len(store.load(f"D_{n}", TO).messages) for n in range(3)] == [2, 2, 2]
    finally:
        admin.dispose()


@pytest.mark.mysql
def test_pooled_connections_go_back_with_no_transaction_open_and_see_other_writers(mysql_url):
    # A committed write returns its connection to the pool without a ROLLBACK. A transaction
    # left open on it would hold a stale snapshot (and its locks) for the next call.
    schema_versions.upgrade(mysql_url)
    store = DbMessageStore(mysql_url)
    other = DbMessageStore(mysql_url, engine=create_engine(mysql_url))
    database = get_engine(mysql_url).url.database

    def open_transactions() -> int:
        with other.engine.connect() as connection:
            return connection.execute(
                text(
                    "SELECT COUNT(*) FROM information_schema.INNODB_TRX t JOIN information_schema.PROCESSLIST p "
                    "ON p.ID = t.trx_mysql_thread_id WHERE p.DB = :db AND p.ID <> CONNECTION_ID()"
                ),
                {"db": database},
            ).scalar_one()

    try:
        store.put_message("D_1", TO, Message(message_id="mine-1"))
        assert open_transactions() == 0
        assert [m.message_id for m in store.load("D_1", TO).messages] == ["mine-1"]
        assert open_transactions() == 0
        other.put_message("D_1", TO, Message(message_id="theirs-1"))
        assert [m.message_id for m in store.load("D_1", TO).messages] == ["mine-1", "theirs-1"]
        store.put_message("D_1", TO, Message(message_id="mine-2"))
        other.put_message("D_1", TO, Message(message_id="theirs-2"))
        assert [m.message_id for m in store.load("D_1", TO).messages] == ["mine-1", "theirs-1", "mine-2", "theirs-2"]
        assert open_transactions() == 0
    finally:
        other.engine.dispose()


@pytest.mark.mysql
def test_a_read_sees_one_snapshot_and_leaves_the_connection_read_committed(mysql_url):
    from wwpdb.apps.msgmodule.db.engine import snapshot_transaction

    schema_versions.upgrade(mysql_url)
    engine = get_engine(mysql_url)
    other = create_engine(mysql_url, isolation_level="AUTOCOMMIT")
    count = select(func.count()).select_from(documents)
    try:
        with snapshot_transaction(engine) as connection:
            assert connection.execute(count).scalar_one() == 0
            with other.connect() as writer:
                writer.execute(documents.insert().values(source_deposition_id="D_1", source_content_type=TO))
            assert connection.execute(count).scalar_one() == 0  # the write came after the snapshot
        with engine.connect() as connection:  # the pooled connection is back at the engine's level
            assert connection.exec_driver_sql("SELECT @@SESSION.tx_isolation").scalar_one() == "READ-COMMITTED"
            assert connection.execute(count).scalar_one() == 1
    finally:
        other.dispose()


def test_a_connection_found_gone_is_retried_whatever_code_the_server_gave():
    # MySQL 8 answers a query on a connection it dropped for inactivity with 4031, which MariaDB
    # never sends (so this one is built, not caused); SQLAlchemy knows it for a disconnect.
    import pymysql
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from wwpdb.apps.msgmodule.db.engine import is_transient

    inactive = pymysql.err.OperationalError(4031, "The client was disconnected by the server because of inactivity.")
    assert is_transient(OperationalError("SELECT 1", None, inactive, connection_invalidated=True))
    assert not is_transient(ProgrammingError("SELEC 1", None, pymysql.err.ProgrammingError(1064, "syntax")))


def test_save_to_an_unreachable_server_is_a_typed_error():
    from wwpdb.apps.msgmodule.model import Document

    with pytest.raises(BackendUnavailableError, match="cannot reach"):
        DbMessageStore("mysql+pymysql://root@127.0.0.1:1/nowhere").save(Document("D_1", TO, [Message("1", "m")]))
