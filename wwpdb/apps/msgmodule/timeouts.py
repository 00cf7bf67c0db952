"""Bounds on waiting for a database: the settings, and the time limit of a call.

A server that stops answering (hung, frozen, cut off by the network) must cost
a call at most a known time, never a hang. The bounds, all in seconds, from the
environment:

- `MSGDB_CONNECT_TIMEOUT` (5): opening a connection, its handshake included;
- `MSGDB_READ_TIMEOUT` (30) and `MSGDB_WRITE_TIMEOUT` (30): waiting for any one
  answer from the server, and for the server to take any one request;
- `MSGDB_CALL_TIMEOUT` (60): one database call of the library, every attempt,
  reconnect and backoff of its retries included;
- `MSGDB_SECOND_WRITE_TIMEOUT` (5): in a dual write, the second store's half,
  after which it is given up and the document journaled for reconcile.

A time limit (`time_limit`) holds for everything the current thread (or a
context copied from it) does inside it; limits nest, the earliest deadline
wins. The database engine asks `remaining()` before each connection and each
round trip, so a call under a limit never waits past it. This module imports
no database driver: the dual store uses it in CIF-only installs too.
"""

from __future__ import annotations

import functools
import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from .errors import InvalidInputError

DEFAULT_CONNECT_TIMEOUT = 5.0  # an unreachable server must fail quickly
DEFAULT_READ_TIMEOUT = 30.0  # longer than any answer a healthy server takes; lock waits are ms here
DEFAULT_WRITE_TIMEOUT = 30.0
DEFAULT_CALL_TIMEOUT = 60.0  # under a web proxy's usual 60-120 s, above one read timeout and a reconnect
DEFAULT_SECOND_WRITE_TIMEOUT = 5.0  # the archive's write is in: the database's half can be journaled instead

_DEFAULTS = {
    "MSGDB_CONNECT_TIMEOUT": DEFAULT_CONNECT_TIMEOUT,
    "MSGDB_READ_TIMEOUT": DEFAULT_READ_TIMEOUT,
    "MSGDB_WRITE_TIMEOUT": DEFAULT_WRITE_TIMEOUT,
    "MSGDB_CALL_TIMEOUT": DEFAULT_CALL_TIMEOUT,
    "MSGDB_SECOND_WRITE_TIMEOUT": DEFAULT_SECOND_WRITE_TIMEOUT,
}


def setting(name: str) -> float | None:
    """The bound named `name` in seconds from the environment, or its default; None when set to 0 (no bound).

    Read at each use (a process may change its environment), parsed once per value.
    The connect timeout cannot be turned off: 0 there is refused.
    """
    text = os.environ.get(name, "").strip()
    return _parse(name, text) if text else _DEFAULTS[name]


@functools.lru_cache(maxsize=64)
def _parse(name: str, text: str) -> float | None:
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0 or (seconds == 0 and name == "MSGDB_CONNECT_TIMEOUT"):
        allowed = "a positive number" if name == "MSGDB_CONNECT_TIMEOUT" else "a number >= 0 (0: no bound)"
        raise InvalidInputError(f"{name}={text!r} is not a time in seconds: give {allowed}")
    return seconds or None


def connect_timeout() -> float:
    seconds = setting("MSGDB_CONNECT_TIMEOUT")
    assert seconds is not None
    return seconds


@dataclass(frozen=True)
class TimeLimit:
    """A deadline (on the monotonic clock) and the setting it comes from, to name in errors."""

    deadline: float
    seconds: float
    setting: str

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def describe(self) -> str:
        return f"{self.setting} ({self.seconds:g} s)"


_LIMIT: ContextVar[TimeLimit | None] = ContextVar("msgmodule_time_limit", default=None)


def current_limit() -> TimeLimit | None:
    """The limit in force here (the earliest of the nested ones), if any."""
    return _LIMIT.get()


def remaining() -> float | None:
    """Seconds left before the limit in force here, or None when there is none."""
    limit = _LIMIT.get()
    return None if limit is None else limit.remaining()


@contextmanager
def time_limit(seconds: float | None, setting_name: str) -> Iterator[TimeLimit | None]:
    """Everything inside is over within `seconds` (None: no new limit), or within an enclosing limit if earlier."""
    enclosing = _LIMIT.get()
    if seconds is None:
        yield enclosing
        return
    limit = TimeLimit(time.monotonic() + seconds, seconds, setting_name)
    if enclosing is not None and enclosing.deadline <= limit.deadline:
        limit = enclosing
    token = _LIMIT.set(limit)
    try:
        yield limit
    finally:
        _LIMIT.reset(token)


def bounded(seconds: float | None) -> float | None:
    """`seconds` (None: unbounded), cut to what the limit in force leaves; never below a moment.

    A call past its deadline still gets the moment to hear from a healthy server
    (or to roll back); a frozen one fails after it.
    """
    left = remaining()
    if left is None:
        return seconds
    left = max(left, MOMENT)
    return left if seconds is None else min(seconds, left)


MOMENT = 0.05  # seconds: a round trip to a healthy server on a local network
