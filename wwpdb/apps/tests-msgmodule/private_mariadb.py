"""A private MariaDB server for tests that must stop, freeze or break a server (never the shared one).

`PrivateMariaDB` runs `mariadbd` on its own loopback port and data directory,
as a child that dies with the process that started it (even on SIGKILL).
`frozen()` stops it with SIGSTOP, as a hung server or a network partition
looks to a client: connections are accepted by the kernel, and nothing is ever
answered; it is sent SIGCONT when the block ends, whatever happens.

Fixtures, for a test module to import (`from private_mariadb import private_mariadb, private_mysql_url`):
- `private_mariadb` (session): the server, started once, stopped and removed after the session;
- `private_mysql_url`: a fresh database with the message schema on it, thawed and dropped after the test.

The benchmarks use the class too (benchmarks/frozen_database.py).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

INSTALL_DB = "/usr/bin/mariadb-install-db"
MARIADBD = "/usr/sbin/mariadbd"
_PR_SET_PDEATHSIG = 1


def available() -> str | None:
    """Why a private server cannot run here, or None."""
    for program in (INSTALL_DB, MARIADBD):
        if not os.access(program, os.X_OK):
            return f"{program} is not installed"
    return None


def _die_with_parent() -> None:
    # In the child before exec: the server gets SIGKILL when the process that started it ends.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class PrivateMariaDB:
    """One mariadbd on 127.0.0.1:<port> with its own data directory under `base` (a new temporary one if None)."""

    def __init__(self, base: str | os.PathLike[str] | None = None) -> None:
        self._own_base = base is None
        self.base = Path(tempfile.mkdtemp(prefix="msgtest-mariadb-") if base is None else base)
        self.datadir = self.base / "data"
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._frozen = False

    @property
    def server_url(self) -> str:
        """The server's URL without a database (PyMySQL, root, no password)."""
        return f"mysql+pymysql://root@127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> PrivateMariaDB:
        reason = available()
        if reason:
            raise RuntimeError(reason)
        try:
            self._start(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, timeout: float) -> None:
        self.datadir.mkdir(parents=True, exist_ok=True)
        log = self.base / "install.log"
        with log.open("wb") as out:
            subprocess.run(
                [
                    INSTALL_DB,
                    "--no-defaults",
                    f"--datadir={self.datadir}",
                    "--user=root",
                    "--auth-root-authentication-method=normal",
                    "--skip-test-db",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                check=True,
                timeout=timeout,
            )
        self.port = _free_port()
        with (self.base / "server.log").open("wb") as out:
            self.process = subprocess.Popen(
                [
                    MARIADBD,
                    "--no-defaults",
                    f"--datadir={self.datadir}",
                    "--user=root",
                    "--bind-address=127.0.0.1",
                    f"--port={self.port}",
                    f"--socket={self.base / 'mariadb.sock'}",
                    f"--pid-file={self.base / 'mariadb.pid'}",
                    "--skip-grant-tables",  # root from 127.0.0.1 with no password: a scratch server
                    "--skip-log-bin",
                    "--skip-performance-schema",
                    "--innodb-buffer-pool-size=32M",
                    "--innodb-flush-log-at-trx-commit=2",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - only prctl, before exec
            )
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"mariadbd exited with {self.process.returncode}; see {self.base / 'server.log'}: "
                    + (self.base / "server.log").read_text(errors="replace")[-2000:]
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"mariadbd did not answer within {timeout:g} s; see {self.base / 'server.log'}")
            time.sleep(0.1)

    def _answers(self) -> bool:
        import pymysql

        try:
            pymysql.connect(host="127.0.0.1", port=self.port, user="root", connect_timeout=2, read_timeout=5).close()
        except pymysql.MySQLError:
            return False
        return True

    def freeze(self) -> None:
        """Stop the server (SIGSTOP): it neither answers nor fails."""
        assert self.process is not None and self.process.poll() is None
        os.kill(self.process.pid, signal.SIGSTOP)
        self._frozen = True
        # The signal is delivered asynchronously: until every thread is stopped, one may still answer.
        deadline = time.monotonic() + 10
        while not self._stopped():
            if time.monotonic() > deadline:
                raise RuntimeError(f"mariadbd (pid {self.process.pid}) did not stop on SIGSTOP")
            time.sleep(0.005)

    def _stopped(self) -> bool:
        assert self.process is not None
        for stat in Path(f"/proc/{self.process.pid}/task").glob("*/stat"):
            try:
                state = stat.read_text().rpartition(")")[2].split()[0]
            except (OSError, IndexError):
                continue  # a thread that has just ended
            if state not in ("T", "t"):
                return False
        return True

    def thaw(self) -> None:
        """Let a frozen server run again (SIGCONT)."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)
        self._frozen = False

    @contextlib.contextmanager
    def frozen(self) -> Iterator[None]:
        """The server stopped for the block, and running again after it, however the block ends."""
        self.freeze()
        try:
            yield
        finally:
            self.thaw()

    @contextlib.contextmanager
    def database(self) -> Iterator[str]:
        """A new, empty utf8mb4 database on this server (its URL), dropped afterwards."""
        import pymysql

        name = f"msgtest_{os.getpid()}_{uuid.uuid4().hex[:10]}"
        with contextlib.closing(pymysql.connect(host="127.0.0.1", port=self.port, user="root")) as admin:
            admin.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        try:
            yield f"{self.server_url}/{name}?charset=utf8mb4"
        finally:
            self.thaw()
            from wwpdb.apps.msgmodule.db.engine import dispose_engines

            dispose_engines()
            with contextlib.closing(pymysql.connect(host="127.0.0.1", port=self.port, user="root")) as admin:
                admin.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")

    def stop(self) -> None:
        """Stop the server (thawed first) and remove its files; safe to call twice."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGCONT)
                process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._own_base:
            shutil.rmtree(self.base, ignore_errors=True)
        else:
            shutil.rmtree(self.datadir, ignore_errors=True)

    def __enter__(self) -> PrivateMariaDB:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def private_mariadb() -> Iterator[PrivateMariaDB]:
    """A private MariaDB server for the session (skipped where mariadbd is not installed)."""
    reason = available()
    if reason:
        pytest.skip(reason)
    with PrivateMariaDB() as server:
        yield server


@pytest.fixture
def private_mysql_url(private_mariadb: PrivateMariaDB) -> Iterator[str]:
    """A fresh database with the message schema on the private server; the server is running again afterwards."""
    from wwpdb.apps.msgmodule.db import schema_versions

    with private_mariadb.database() as url:
        schema_versions.upgrade(url)
        yield url
