"""Engines (one per process and URL), typed errors, and retries of transient failures."""

from __future__ import annotations

import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.pool import ConnectionPoolEntry, QueuePool

from .. import timeouts
from ..errors import BackendTimeoutError, BackendUnavailableError, InvalidInputError, StorageError
from ..timeouts import TimeLimit, bounded, current_limit, time_limit

T = TypeVar("T")

POOL_RECYCLE = 1800  # below MySQL's default wait_timeout of 8 hours, and typical proxies' idle limits
# Connections one process keeps open to a server (MSGDB_POOL_SIZE), and opens beyond them while
# busy (MSGDB_MAX_OVERFLOW): SQLAlchemy's defaults. A call that finds them all in use waits for one
# to come free, within its time limit (see _CallBoundedPool).
DEFAULT_POOL_SIZE = 5
DEFAULT_MAX_OVERFLOW = 10


class DatabaseLoginError(BackendUnavailableError):
    """The server refused the user name or password."""


class SchemaMissingError(StorageError):
    """The database has no (or an older) message schema."""


class ValueTooLargeError(StorageError, InvalidInputError):
    """A value is larger than the server accepts (max_allowed_packet or a column size)."""


class ConnectionLostError(BackendUnavailableError):
    """An established connection broke during a transaction (retried; this is what remains)."""


class PoolExhaustedError(BackendTimeoutError):
    """Every connection the process may hold to the server was in use by other calls, until the call's time ran out.

    Nothing of the call was written. The message names the pool's size and the settings that change it.
    """


_PASSWORD_QUERY = re.compile(r"([?&](?:password|passwd|pwd)=)[^&]*", re.IGNORECASE)


def mask_url(url: str | URL) -> str:
    """The URL with its password hidden, safe to print or log.

    A URL string is masked as text, not through a parse: a password holding an
    unencoded `@`, `/`, `:` or `#` can fool a URL parser into taking part of it
    for the host. Everything between the user name and the last `@` is hidden
    (at worst more than the password), and so is a `password=` query value.
    """
    if isinstance(url, URL):
        return _PASSWORD_QUERY.sub(r"\1***", url.render_as_string(hide_password=True))
    scheme, separator, rest = url.partition("://")
    if not separator:
        return "<unparseable database URL>"
    userinfo, at, host_part = rest.rpartition("@")
    if at:
        user, colon, _password = userinfo.partition(":")
        if colon:
            rest = f"{user}:***@{host_part}"
    return _PASSWORD_QUERY.sub(r"\1***", f"{scheme}://{rest}")


def normalise_url(url: str) -> URL:
    """Parse a URL; MySQL URLs get the PyMySQL driver and utf8mb4."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise InvalidInputError(f"invalid database URL {mask_url(url)!r}: {exc}") from None
    if parsed.host and "@" in parsed.host:
        raise InvalidInputError(
            f"invalid database URL {mask_url(url)!r}: the user name or password holds an unencoded '@'. "
            "Percent-encode it (@ is %40, : is %3A, / is %2F, # is %23), or set MSGDB_USER/MSGDB_PASS instead "
            "of MSGDB_URL"
        )
    if parsed.get_backend_name() in ("mysql", "mariadb"):
        parsed = parsed.set(drivername="mysql+pymysql")
        if "charset" not in parsed.query:
            parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    return parsed


_engines: dict[tuple[int, str, bool], Engine] = {}
_engines_lock = threading.Lock()


def get_engine(url: str | URL, bulk_load: bool = False) -> Engine:
    """The process's engine for this URL (created once per process, URL and `bulk_load`).

    `bulk_load` (migration only) lets MySQL connections send files with LOAD DATA
    LOCAL INFILE (see stores.db.bulk_insert_rows). With it the driver hands the
    server any client file the server names, so it is for trusted servers and
    only on the engine that migration uses.
    """
    parsed = normalise_url(str(url) if isinstance(url, str) else url.render_as_string(hide_password=False))
    key = (os.getpid(), parsed.render_as_string(hide_password=False), bulk_load)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _create_engine(parsed, bulk_load)
            _engines[key] = engine
        return engine


def dispose_engines() -> None:
    """Close every pooled connection of this process (tests, and before forking)."""
    with _engines_lock:
        for (pid, _, _), engine in list(_engines.items()):
            if pid == os.getpid():
                engine.dispose()
        _engines.clear()


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def takes_batches(engine: Engine) -> bool:
    """Whether the engine's connections run several statements in one query (see db.statements)."""
    return bool(getattr(engine, "msgmodule_multi_statements", False))


_MULTI_STATEMENTS = 1 << 16  # the MySQL protocol's CLIENT_MULTI_STATEMENTS capability


def pool_setting(name: str) -> int:
    """MSGDB_POOL_SIZE (at least 1) or MSGDB_MAX_OVERFLOW (at least 0) from the environment, or its default.

    Read when a process creates its engine for a URL. Neither can be unlimited: a bounded pool
    is what keeps a fleet of processes under the server's max_connections (see _CallBoundedPool).
    """
    default, least = (DEFAULT_POOL_SIZE, 1) if name == "MSGDB_POOL_SIZE" else (DEFAULT_MAX_OVERFLOW, 0)
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = least - 1
    if value < least:
        raise InvalidInputError(f"{name}={text!r} is not a number of connections: give a whole number >= {least}")
    return value


class _PoolWaitTimedOut(sa_exc.TimeoutError):
    """No pooled connection came free within the bound of the wait (translated to PoolExhaustedError)."""

    def __init__(self, size: int, max_overflow: int, bound: str) -> None:
        super().__init__(f"all {size + max_overflow} connections of the pool in use; none came free within {bound}")
        self.size = size
        self.max_overflow = max_overflow
        self.bound = bound


class _CallBoundedPool(QueuePool):
    """SQLAlchemy's QueuePool whose wait for a free connection ends with the time limit in force.

    A call that finds every connection checked out (by other threads of the process, perhaps all
    waiting for a hung server) waits for one to come back at most what the call has left: its
    MSGDB_CALL_TIMEOUT, or the MSGDB_SECOND_WRITE_TIMEOUT of a dual write's second half; outside
    any limit, MSGDB_CALL_TIMEOUT. QueuePool reads its (private) `_timeout` at each wait, so it is
    given here as that bound rather than fixed when the pool is made (test_timeouts pins this
    against SQLAlchemy upgrades). The wait then ends with _PoolWaitTimedOut.

    Waiting (rather than opening connections beyond the pool without limit) keeps each process's
    connections to the server bounded: a hung or overloaded server is not sent a new connection
    by every waiting thread of every process, which would run into its max_connections and refuse
    every client, other applications included, once it answers again.
    """

    @property  # type: ignore[override]
    def _timeout(self) -> float | None:
        return bounded(timeouts.setting("MSGDB_CALL_TIMEOUT"))

    @_timeout.setter
    def _timeout(self, _seconds: float) -> None:
        pass  # QueuePool sets its fixed timeout here; the bound above is read at each wait instead

    def _do_get(self) -> ConnectionPoolEntry:
        try:
            return super()._do_get()
        except _PoolWaitTimedOut:
            raise
        except sa_exc.TimeoutError:
            raise _PoolWaitTimedOut(self.size(), self._max_overflow, _bound_named("MSGDB_CALL_TIMEOUT")) from None


def _create_engine(url: URL, bulk_load: bool = False) -> Engine:
    backend = url.get_backend_name()
    if backend == "sqlite":
        return _create_sqlite_engine(url)
    if backend == "mysql":
        connect_timeout = timeouts.connect_timeout()
        engine = create_engine(
            url,
            isolation_level="READ COMMITTED",
            poolclass=_CallBoundedPool,
            pool_size=pool_setting("MSGDB_POOL_SIZE"),
            max_overflow=pool_setting("MSGDB_MAX_OVERFLOW"),
            # No ping before each use (a round trip of every call): on a pooled connection the
            # server has dropped (a restart, wait_timeout, KILL), the first statement of the call
            # fails before anything is written, and the call is retried on a new connection (see
            # is_transient). Every first statement runs inside the retries: reads set their
            # isolation by a statement (snapshot_transaction), not on the connection.
            pool_pre_ping=False,
            pool_recycle=POOL_RECYCLE,
            pool_reset_on_return=None,  # see _reset below
            # PyMySQL's connect_timeout covers only the TCP connect; the handshake is a
            # read, so reads are bounded too until the connection is up (see below).
            connect_args={
                "connect_timeout": connect_timeout,
                "read_timeout": connect_timeout,
                "write_timeout": connect_timeout,
                **({"local_infile": True} if bulk_load else {}),
            },
        )

        engine.msgmodule_bulk_load = bulk_load  # type: ignore[attr-defined]
        # PyMySQL connections take several statements in one query (db.statements.StatementBatch):
        # a dual write's database half is then one round trip and a commit. Values are escaped
        # by the driver as for one statement; no statement text is ever built from input.
        multi_statements = engine.dialect.driver == "pymysql"
        engine.msgmodule_multi_statements = multi_statements  # type: ignore[attr-defined]

        @event.listens_for(engine, "do_connect")
        def _do_connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
            if multi_statements:
                cparams["client_flag"] = cparams.get("client_flag", 0) | _MULTI_STATEMENTS
            limit = current_limit()
            if limit is not None and limit.remaining() <= 0:
                raise _spent(url, "open a connection", limit)
            # Within what the call has left: a second connection attempt does not wait as long again.
            wait = bounded(timeouts.connect_timeout())
            cparams["connect_timeout"] = cparams["read_timeout"] = cparams["write_timeout"] = wait
            try:
                return dialect.loaded_dbapi.connect(*cargs, **cparams)
            except Exception as exc:
                # Failing to connect (refused, no route, no answer within the connect timeout)
                # is not worth retrying: the caller hears at once, within one connect timeout.
                exc.msgmodule_while_connecting = True  # type: ignore[attr-defined]
                raise

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT @@max_allowed_packet, @@SESSION.sql_mode")
            packet, sql_mode = cursor.fetchone()
            engine.info_max_allowed_packet = int(packet)  # type: ignore[attr-defined]
            if "STRICT_TRANS_TABLES" not in sql_mode and "STRICT_ALL_TABLES" not in sql_mode:
                # Without strict mode the server cuts a too long value to fit its column, silently.
                cursor.execute(
                    "SET SESSION sql_mode = CONCAT_WS(',', NULLIF(@@SESSION.sql_mode, ''), 'STRICT_TRANS_TABLES')"
                )
            cursor.close()
            # Connected: every round trip waits at most MSGDB_READ_TIMEOUT/MSGDB_WRITE_TIMEOUT, or
            # what the call has left (see timeouts), set before each statement, commit and rollback.
            dbapi_connection.msgmodule_connected = True
            bound_requests(dbapi_connection)

        @event.listens_for(engine, "before_cursor_execute")
        def _before_statement(_conn: Any, cursor: Any, *_args: Any) -> None:
            bound_requests(cursor.connection)

        @event.listens_for(engine, "commit")
        @event.listens_for(engine, "rollback")
        def _before_end(conn: Connection) -> None:
            if not (conn.invalidated or conn.closed):  # a lost connection sends nothing more
                bound_requests(conn.connection.dbapi_connection)

        @event.listens_for(engine, "reset")
        def _reset(dbapi_connection: Any, record: Any, state: Any) -> None:
            # A connection goes back to the pool with no transaction open: rolled back, unless
            # write_transaction has just committed it (a ROLLBACK would cost every write a round trip).
            committed = record is not None and record.info.pop(_COMMITTED, False)
            if committed or state.terminate_only or state.transaction_was_reset:
                return
            bound_requests(dbapi_connection)
            dbapi_connection.rollback()

        return engine
    # Other SQLAlchemy databases may work but are not tested.
    return create_engine(url, pool_pre_ping=True, pool_recycle=POOL_RECYCLE)


# A bound within this fraction of the one the socket has is left as it is (see bound_requests).
TIMEOUT_SLACK = 0.01


def bound_requests(dbapi_connection: Any) -> None:
    """Let the connection's next round trips wait at most the engine's bounds, within the time limit in force.

    PyMySQL has no public setter; it applies these attributes at its next read
    or write (and calls settimeout only when they change). Under a time limit the
    bound is what the limit leaves, a little less at each round trip; but settimeout
    lets go of the interpreter, and the thread then waits for it behind any other
    that is busy. So a bound within TIMEOUT_SLACK of the socket's own is taken as
    that one: a round trip may end that fraction sooner or later than the limit
    (50 ms of a 5 s second write, well within the moment its caller allows).
    """
    if not getattr(dbapi_connection, "msgmodule_connected", False):
        return  # still connecting: the connect timeout holds (see _do_connect)
    current = getattr(dbapi_connection, "_current_timeout", None)
    dbapi_connection._read_timeout = _near(current, bounded(timeouts.setting("MSGDB_READ_TIMEOUT")))
    dbapi_connection._write_timeout = _near(current, bounded(timeouts.setting("MSGDB_WRITE_TIMEOUT")))


def _near(current: float | None, wanted: float | None) -> float | None:
    """`current` when it is within TIMEOUT_SLACK of `wanted`, else `wanted` (None: no bound)."""
    if current is not None and wanted is not None and abs(current - wanted) <= TIMEOUT_SLACK * wanted:
        return current
    return wanted


def _create_sqlite_engine(url: URL) -> Engine:
    pool: dict[str, Any] = {}
    if url.database and url.database != ":memory:":
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        # A file's connections are pooled as a server's are (an in-memory database keeps one per thread).
        pool = {
            "poolclass": _CallBoundedPool,
            "pool_size": pool_setting("MSGDB_POOL_SIZE"),
            "max_overflow": pool_setting("MSGDB_MAX_OVERFLOW"),
        }
    engine = create_engine(url, connect_args={"timeout": 60}, **pool)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, start transactions, so writers can BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Writers take the write lock up front: no deadlock on lock upgrade between processes.
        writing = connection.get_execution_options().get("msgmodule_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")

    return engine


_COMMITTED = "msgmodule_committed"


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in one write transaction, committed when the block ends (rolled back if it raises)."""
    with engine.connect().execution_options(msgmodule_write=True) as connection:
        committing = False
        try:
            with connection.begin():
                yield connection
                committing = True
        except DBAPIError as exc:
            if committing and exc.orig is not None:
                # No answer to the commit: it may be in (see translate).
                exc.orig.msgmodule_while_committing = True  # type: ignore[attr-defined]
            raise
        if engine.dialect.name == "mysql":
            # Committed, and nothing has run on it since: no transaction is open (see _reset).
            connection.connection.info[_COMMITTED] = True


@contextmanager
def snapshot_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in one read transaction whose selects all see one snapshot.

    On MySQL the transaction is REPEATABLE READ (the engine's default is READ
    COMMITTED), set by a statement of the transaction itself rather than on the
    connection: a connection the server has dropped fails at that statement,
    inside the caller's retries, and nothing has to be set back afterwards.
    """
    with engine.connect() as connection, connection.begin():
        if engine.dialect.name == "mysql":
            connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield connection


def max_allowed_packet(engine: Engine) -> int | None:
    """The server's max_allowed_packet in bytes (MySQL only; known after the first connection)."""
    return getattr(engine, "info_max_allowed_packet", None)


# -- errors ------------------------------------------------------------------

# MySQL error numbers (server and client).
_TRANSIENT_MYSQL = {1205, 1213, 2006, 2013, 1040, 1927}  # lock wait, deadlock, gone away, lost, too many, killed
_CANNOT_CONNECT = {2002, 2003, 2005}
_LOGIN_REFUSED = {1044, 1045, 1698}
_UNKNOWN_DATABASE = 1049
_NO_TABLE = {1146, 1054}
_PACKET_TOO_LARGE = {1153, 1301}
_DOES_NOT_FIT = {1406, 1264}  # data too long for a column, a number out of its column's range


def mysql_code(exc: BaseException) -> int | None:
    """The MySQL error number of a driver error SQLAlchemy wrapped, if it has one."""
    orig = getattr(exc, "orig", None)
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int):
        return args[0]
    return None


def _while_connecting(exc: BaseException) -> bool:
    return bool(getattr(getattr(exc, "orig", None), "msgmodule_while_connecting", False))


def timed_out(exc: BaseException) -> bool:
    """Whether a driver error is the server not answering within a bound (raised from the socket's timeout)."""
    error: BaseException | None = getattr(exc, "orig", None) or exc
    for _ in range(4):  # the driver's error, the socket's beneath it
        if error is None:
            return False
        if isinstance(error, TimeoutError):
            return True
        error = error.__cause__ or error.__context__
    return False


def is_transient(exc: BaseException) -> bool:
    """A failure worth retrying: the transaction was rolled back and may succeed if run again.

    Deadlocks, lock wait timeouts and connections lost by an established pool are;
    failing to open a connection at all is not (see `_do_connect`).
    """
    if not isinstance(exc, DBAPIError) or _while_connecting(exc) or timed_out(exc):
        # Nor is a server that did not answer within its bound: asked again, it would cost the bound again.
        return False
    if exc.connection_invalidated:
        # A connection SQLAlchemy knows to be gone (whatever the server's code for it: 2006, 2013,
        # MySQL 8's 4031 after wait_timeout...): the transaction died with it; a new one may pass.
        return True
    code = mysql_code(exc)
    if code is not None:
        return code in _TRANSIENT_MYSQL
    message = str(getattr(exc, "orig", exc)).lower()
    return "database is locked" in message or "database table is locked" in message


def translate(exc: SQLAlchemyError, url: str | URL, what: str) -> StorageError:
    """A typed, actionable error for a database failure."""
    where = mask_url(url)
    if isinstance(exc, _PoolWaitTimedOut):
        return _pool_exhausted(where, what, exc)
    code = mysql_code(exc)
    detail = str(getattr(exc, "orig", exc)).strip()
    if timed_out(exc) and not _while_connecting(exc):
        return _no_answer(where, what, exc)
    if code in _CANNOT_CONNECT or (_while_connecting(exc) and code in _TRANSIENT_MYSQL):
        message = (
            f"cannot reach the database server at {where} while trying to {what}: {detail}. "
            "Check that the server is running and MSGDB_URL (or MSGDB_HOST/MSGDB_PORT) is right"
        )
        if timed_out(exc):
            return BackendTimeoutError(message + f"; it did not answer within {_bound_named('MSGDB_CONNECT_TIMEOUT')}.")
        return BackendUnavailableError(message + ".")
    if code in _LOGIN_REFUSED:
        return DatabaseLoginError(
            f"the database server at {where} refused the login while trying to {what}: {detail}. "
            "Check MSGDB_USER/MSGDB_PASS (or the user and password in MSGDB_URL) and the user's grants."
        )
    if code == _UNKNOWN_DATABASE:
        return BackendUnavailableError(
            f"the database named in {where} does not exist ({detail}). "
            "Create it (CREATE DATABASE ... CHARACTER SET utf8mb4), then run: msgmodule init-db (or msgmodule-init-db)."
        )
    if code in _NO_TABLE or "no such table" in detail.lower() or "no such column" in detail.lower():
        return SchemaMissingError(
            f"the message schema is missing or out of date in {where} ({detail}) while trying to {what}. "
            "Run: msgmodule init-db (or msgmodule-init-db)"
        )
    if code in _PACKET_TOO_LARGE or "max_allowed_packet" in detail:
        return ValueTooLargeError(
            f"a value is larger than the database at {where} accepts while trying to {what}: {detail}. "
            "Raise max_allowed_packet on the server (it needs no client setting)."
        )
    if code in _DOES_NOT_FIT:
        return ValueTooLargeError(
            f"a value does not fit its column in the database at {where} while trying to {what}: {detail}. "
            "Nothing was written."
        )
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return ConnectionLostError(f"lost the connection to {where} while trying to {what}: {detail}")
    return StorageError(f"database error at {where} while trying to {what}: {detail}")


def _bound_named(setting: str) -> str:
    """The bound that ended a wait: the time limit in force if it was spent, else the setting's own."""
    limit = current_limit()
    if limit is not None and limit.remaining() <= 2 * timeouts.MOMENT:
        return limit.describe()
    return f"{setting} ({timeouts.setting(setting) or 0:g} s)"


def _no_answer(where: str, what: str, exc: BaseException) -> BackendTimeoutError:
    committing = bool(getattr(getattr(exc, "orig", None), "msgmodule_while_committing", False))
    sending = mysql_code(exc) == 2006  # "gone away": the request could not be sent
    bound = _bound_named("MSGDB_WRITE_TIMEOUT" if sending else "MSGDB_READ_TIMEOUT")
    if committing:
        return BackendTimeoutError(
            f"the database server at {where} did not answer the commit within {bound} while trying to {what}: "
            "whether the change is in is not known until the server answers again. Read it back before repeating "
            "it; check the server (hung, overloaded, or cut off by the network).",
            outcome_unknown=True,
        )
    return BackendTimeoutError(
        f"the database server at {where} did not answer within {bound} while trying to {what}: gave up, and "
        "nothing was written (the server rolls the transaction back). Check the server (hung, overloaded, or cut "
        "off by the network)."
    )


def _pool_exhausted(where: str, what: str, exc: _PoolWaitTimedOut) -> PoolExhaustedError:
    return PoolExhaustedError(
        f"no connection to the database server at {where} came free within {exc.bound} while trying to {what}: "
        f"all {exc.size + exc.max_overflow} connections this process may hold (MSGDB_POOL_SIZE={exc.size} plus "
        f"MSGDB_MAX_OVERFLOW={exc.max_overflow}) were in use by other calls; gave up, and nothing was written. "
        "If the server is hung or overloaded, those calls end within their own bounds: check the server. If the "
        "process runs more database calls at once than that (web threads), raise MSGDB_POOL_SIZE or "
        "MSGDB_MAX_OVERFLOW, keeping their sum times the number of processes below the server's max_connections."
    )


def _spent(url: str | URL, what: str, limit: TimeLimit) -> BackendTimeoutError:
    return BackendTimeoutError(
        f"the database server at {mask_url(url)} was not asked to {what}: the time allowed, {limit.describe()}, "
        "was spent by earlier waits for it, and nothing was written. Check the server (hung, overloaded, or cut "
        "off by the network)."
    )


def run_with_retries(engine: Engine, what: str, work: Callable[[], T], attempts: int = 5) -> T:
    """Run `work` (one whole transaction), retrying transient failures with backoff.

    Safe because `work` is one transaction: a failed attempt was rolled back.
    Other failures become typed errors at once. The whole call, every attempt
    and pause included, is over within MSGDB_CALL_TIMEOUT (or an enclosing
    time limit, if earlier); a server that does not answer within its bound is
    not asked again.
    """
    with time_limit(timeouts.setting("MSGDB_CALL_TIMEOUT"), "MSGDB_CALL_TIMEOUT") as limit:
        try:
            pause = 0.05  # then doubling, to at most 2 s
            for attempt in range(1, attempts + 1):
                if limit is not None and limit.remaining() <= 0:
                    raise _spent(engine.url, what, limit)
                try:
                    return work()
                except Exception as exc:
                    if attempt >= attempts or not is_transient(exc):
                        raise
                    wait = pause + random.uniform(0, 0.05)
                    if limit is not None and limit.remaining() <= wait:
                        raise  # no time left for another attempt
                time.sleep(wait)
                pause = min(2 * pause, 2.0)
            raise AssertionError("unreachable: the last attempt returns or raises")
        except SQLAlchemyError as exc:
            raise translate(exc, engine.url, what) from exc
        except UnicodeEncodeError as exc:  # a lone surrogate reached the driver; the model refuses them first
            raise InvalidInputError(
                f"cannot {what}: a value holds {exc.object[exc.start : exc.end]!r} at position {exc.start}, "
                "which is not Unicode text; nothing was written"
            ) from None
