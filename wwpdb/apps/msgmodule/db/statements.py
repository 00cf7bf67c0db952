"""Statements compiled once, run as driver SQL one at a time or, on MySQL, several in one round trip.

A write of one message runs a handful of small statements; SQLAlchemy's work per
execution (finding the compiled form, binding each value) costs the caller several
times what the server spends on them, and each statement's round trip hands the
interpreter between threads twice. `run_compiled` skips the first cost;
`StatementBatch` sends the statements of a transaction that need no answer in
between as one multi-statement query (MySQL connections here allow them, see
engine.get_engine), with the driver escaping every value as it does for one.
"""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from .engine import bound_requests

# A statement's driver SQL, the order of its positional parameters (None: by name), fixed values.
_COMPILED: dict[tuple[Any, ...], tuple[str, tuple[str, ...] | None, dict[str, Any]]] = {}

Params = dict[str, Any] | list[dict[str, Any]]


def compiled(
    connection: Connection, key: tuple[Any, ...], build: Callable[[str], Any], params: Params
) -> tuple[str, Any]:
    """The driver SQL of `build(dialect name)` (compiled once per dialect and key) and its parameters."""
    dialect = connection.dialect
    found = _COMPILED.get((dialect.name,) + key)
    if found is None:
        statement = build(dialect.name).compile(dialect=dialect)
        order = tuple(statement.positiontup) if statement.positional and statement.positiontup else None
        found = _COMPILED[(dialect.name,) + key] = (str(statement), order, dict(statement.params))
    sql, order, fixed = found
    rows = params if isinstance(params, list) else [params]
    if fixed:
        rows = [{**fixed, **row} for row in rows]
    values: Any = rows if order is None else [tuple(row[name] for name in order) for row in rows]
    return sql, values if isinstance(params, list) else values[0]


def run_compiled(connection: Connection, key: tuple[Any, ...], build: Callable[[str], Any], params: Params) -> Any:
    """Run the statement `build(dialect name)` makes, compiled once per dialect and key, as driver SQL.

    A list of parameter sets runs it for each (one multi-row INSERT on MySQL).
    Errors are SQLAlchemy's as with `execute`. The statements' values must need
    no type conversion (text and integers).
    """
    sql, values = compiled(connection, key, build, params)
    return connection.exec_driver_sql(sql, values)


def driver_rows(
    connection: Connection, key: tuple[Any, ...], build: Callable[[str], Any], params: dict[str, Any]
) -> list[tuple[Any, ...]]:
    """`run_compiled`'s rows as the driver's own tuples, for a select of many plain values.

    SQLAlchemy's rows cost more to make than the database spends finding a
    thousand narrow rows; the statement still runs through SQLAlchemy (its
    events, its errors), and an error while the driver fetches is raised as
    SQLAlchemy's, so the callers' retries and messages see it alike.
    """
    result = run_compiled(connection, key, build, params)
    try:
        return list(result.cursor.fetchall())
    except connection.dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(None, None, exc, connection.dialect.loaded_dbapi.Error) from exc
    finally:
        result.close()


# A multi-row INSERT repeats the row after VALUES: one parenthesis of placeholders, nothing after it.
_PLACEHOLDER = re.compile(r"%\(\w+\)s|%s")
_ONE_ROW = re.compile(r"\([ ,]*\)")

# The signature of run_compiled: writers take one, to run their statements now or in a batch.
Runner = Callable[[Connection, tuple[Any, ...], Callable[[str], Any], Params], Any]


@dataclass(frozen=True)
class Answer:
    """What one statement of a batch returned: rows (a query) or the rows it touched."""

    rowcount: int
    rows: tuple[tuple[Any, ...], ...] | None


class StatementBatch:
    """Statements of one MySQL transaction, sent together once the caller needs their answers.

    `run` has run_compiled's signature and returns the statement's place in the
    batch; `send` sends what is queued and returns every answer so far, in order.
    Queries hold at most `cap` characters (a lone statement longer than that goes
    alone); at up to 4 bytes a character, a cap of an eighth of the server's
    max_allowed_packet keeps a query within half of it. Several parameter sets make a
    multi-row INSERT, split to fit the cap. A failing statement stops the rest
    (the server runs none after it) and raises as SQLAlchemy would; the
    transaction is the caller's to roll back.
    """

    def __init__(self, connection: Connection, cap: int) -> None:
        self.connection = connection
        self.cap = cap
        self._queued: list[str] = []
        self._templates: list[str] = []  # what an error names: the statements without their values
        self._size = 0
        self._answers: list[Answer] = []
        self._count = 0
        self._escaping: Any = None

    def run(self, connection: Connection, key: tuple[Any, ...], build: Callable[[str], Any], params: Params) -> int:
        assert connection is self.connection
        sql, values = compiled(connection, key, build, params)
        if self._escaping is None:  # the driver's escaping, as this connection's settings ask
            self._escaping = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        escape = self._escaping.mogrify
        if not isinstance(values, list):
            self._queue(escape(sql, values), sql)
            return self._count - 1
        # Multi-row INSERTs, as the driver's executemany makes them, each within the cap.
        head, marker, template = sql.rpartition(" VALUES ")
        if not (marker and head.startswith("INSERT") and _ONE_ROW.fullmatch(_PLACEHOLDER.sub("", template))):
            raise ValueError(f"a batch takes several parameter sets only for a plain INSERT ... VALUES, not {sql!r}")
        prefix = head + marker
        rows: list[str] = []
        size = len(prefix)
        for row in values:
            text = escape(template, row)
            if rows and size + len(text) + 1 > self.cap:
                self._queue(prefix + ",".join(rows), sql)
                rows, size = [], len(prefix)
            rows.append(text)
            size += len(text) + 1
        self._queue(prefix + ",".join(rows), sql)
        return self._count - 1

    def send(self) -> list[Answer]:
        if not self._queued:
            return self._answers
        queued, templates = self._queued, self._templates
        self._queued, self._templates, self._size = [], [], 0
        named = "; ".join(t if n == 1 else f"{t} (x{n})" for t, n in Counter(templates).items())
        self._answers.extend(self._execute(";\n".join(queued), len(queued), named))
        return self._answers

    def _queue(self, text: str, template: str) -> None:
        if self._queued and self._size + len(text) > self.cap:
            self.send()
        self._queued.append(text)
        self._templates.append(template)
        self._size += len(text)
        self._count += 1

    def _execute(self, sql: str, expected: int, templates: str) -> list[Answer]:
        connection = self.connection
        dialect = connection.dialect
        pooled = connection.connection  # taken once: the handle SQLAlchemy invalidates on a loss
        raw = pooled.dbapi_connection
        assert raw is not None
        cursor = raw.cursor()
        answers: list[Answer] = []
        bound_requests(raw)  # the driver's own cursor: SQLAlchemy's statement events do not see it
        try:
            cursor.execute(sql)  # no parameters: the values are in the text, escaped
            while True:
                rows = tuple(cursor.fetchall()) if cursor.description else None
                answers.append(Answer(cursor.rowcount, rows))
                if not cursor.nextset():
                    break
        except dialect.loaded_dbapi.Error as exc:
            gone = dialect.is_disconnect(exc, raw, cursor)
            if gone:
                # As SQLAlchemy does for a statement of its own: the pool's other connections,
                # opened before the loss, are dropped too (a restarted server lost them all).
                connection.engine.pool._invalidate(pooled, exc)
                connection.invalidate(exc)
            raise DBAPIError.instance(
                templates, None, exc, dialect.loaded_dbapi.Error, connection_invalidated=gone, dialect=dialect
            ) from exc
        except BaseException as exc:
            # Interrupted while answers were still coming: the connection cannot be used again.
            connection.invalidate(exc if isinstance(exc, Exception) else None)
            raise
        finally:
            with contextlib.suppress(Exception):
                cursor.close()
        if len(answers) != expected:
            raise RuntimeError(f"a batch of {expected} statements returned {len(answers)} answers")
        return answers
