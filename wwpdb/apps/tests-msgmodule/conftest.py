"""Shared fixtures: the project's own example archive, the real OneDep samples, stores."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
TEST_DATA = HERE / "test_data"
EXAMPLE_ARCHIVE = TEST_DATA / "archive"
REPO_ROOT = HERE.parents[2]
SAMPLES = Path(os.environ.get("MSGMODULE_SAMPLES", REPO_ROOT.parent / "shared" / "data" / "samples"))
SAMPLE_NAME = re.compile(r"(?P<dep>[DG]_\d+)_(?P<ct>[a-z-]+)_P1\.cif\.V(?P<version>\d+)")


def run_benchmark(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run benchmarks/`script` with `args` from the checkout, with no MariaDB (a closed port): its SQLite
    figures only. Fails the test, showing its output, unless it exits 0."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"mysql+pymysql://root@127.0.0.1:{probe.getsockname()[1]}"
    result = subprocess.run(
        [sys.executable, f"benchmarks/{script}", *args, "--mysql-url", closed],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def sample_files() -> list[Path]:
    if not SAMPLES.is_dir():
        return []
    return sorted(path for path in SAMPLES.iterdir() if SAMPLE_NAME.fullmatch(path.name))


def split_name(path: Path) -> tuple[str, str]:
    """(deposition id, content type) from a message file's name."""
    match = SAMPLE_NAME.fullmatch(path.name)
    assert match, path
    return match["dep"], match["ct"]


@pytest.fixture
def example_archive(tmp_path: Path) -> Path:
    """A writable copy of the project's own example archive (test_data/archive)."""
    root = tmp_path / "archive"
    shutil.copytree(EXAMPLE_ARCHIVE, root)
    return root


@pytest.fixture
def samples() -> list[Path]:
    """The real OneDep sample files in ../shared/data/samples, or a visible skip."""
    files = sample_files()
    if not files:
        pytest.skip(f"real OneDep samples not present at {SAMPLES} (CI has them; set MSGMODULE_SAMPLES)")
    return files


@pytest.fixture
def sample_archive(tmp_path: Path, samples: list[Path]) -> Path:
    """The samples laid out as an archive: <root>/<DEPID>/<file> (a copy in tmp)."""
    root = tmp_path / "sample-archive"
    for path in samples:
        deposition_id, _ = split_name(path)
        folder = root / deposition_id
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, folder / path.name)
    return root


@contextlib.contextmanager
def read_only(folder: Path):
    """Make a folder really unwritable, for root too (root ignores mode bits: use chattr +i)."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    if shutil.which("chattr") is None:
        pytest.skip("running as root without chattr: cannot make a folder read-only")
    result = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"running as root and chattr +i failed: {result.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


# -- databases -------------------------------------------------------------------

MYSQL_SERVER_URL = os.environ.get("MSGMODULE_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306")
REQUIRE_MYSQL = os.environ.get("MSGMODULE_REQUIRE_MYSQL", "").lower() in ("1", "true", "yes", "on")


def _mysql_unreachable_reason() -> str | None:
    import pymysql
    from sqlalchemy.engine import make_url

    url = make_url(MYSQL_SERVER_URL)
    try:
        pymysql.connect(
            host=url.host, port=url.port or 3306, user=url.username, password=url.password or "", connect_timeout=3
        ).close()
    except pymysql.MySQLError as exc:
        return f"no MySQL/MariaDB server at {url.render_as_string(hide_password=True)}: {exc}"
    return None


@pytest.fixture(scope="session")
def mysql_server() -> str:
    """The URL of a reachable MySQL server (no database), or a visible skip (a failure under CI)."""
    reason = _mysql_unreachable_reason()
    if reason:
        if REQUIRE_MYSQL:
            pytest.fail(f"MSGMODULE_REQUIRE_MYSQL is set but {reason}")
        pytest.skip(reason)
    return MYSQL_SERVER_URL


@contextlib.contextmanager
def scratch_mysql_database(server_url: str):
    """A uniquely named, empty utf8mb4 database, dropped afterwards."""
    import uuid

    from sqlalchemy import create_engine

    name = f"msgtest_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    try:
        yield f"{server_url}/{name}?charset=utf8mb4"
    finally:
        from wwpdb.apps.msgmodule.db.engine import dispose_engines

        dispose_engines()
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        admin.dispose()


@pytest.fixture
def mysql_url(mysql_server):
    """A fresh empty MySQL database for one test."""
    with scratch_mysql_database(mysql_server) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path}/messaging.db"


@pytest.fixture(params=["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def empty_db_url(request):
    """An empty database without schema: SQLite, and MariaDB when reachable."""
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture(params=["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def db_url(request):
    """An empty database with the current schema: SQLite, and MariaDB when reachable."""
    from wwpdb.apps.msgmodule.db import schema_versions

    url = request.getfixturevalue(f"{request.param}_url")
    schema_versions.upgrade(url)
    return url


@pytest.fixture(params=["cif", "sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def store_kind(request):
    return request.param


@pytest.fixture
def store(store_kind, request, tmp_path):
    """An empty store of each backend: the CIF archive, SQLite, MariaDB."""
    from wwpdb.apps.msgmodule.db import schema_versions
    from wwpdb.apps.msgmodule.stores.cif import CifMessageStore
    from wwpdb.apps.msgmodule.stores.db import DbMessageStore

    if store_kind == "cif":
        root = tmp_path / "store-archive"
        root.mkdir()
        return CifMessageStore(root)
    url = request.getfixturevalue(f"{store_kind}_url")
    schema_versions.upgrade(url)
    return DbMessageStore(url)


# -- configuration isolation ------------------------------------------------------------

_TEST_CONTROLS = {"MSGMODULE_SAMPLES", "MSGMODULE_REQUIRE_MYSQL", "MSGMODULE_TEST_MYSQL_URL"}


@pytest.fixture(autouse=True)
def isolated_configuration(tmp_path, monkeypatch):
    """No MSG* setting or msgmodule.cfg from the developer's shell or checkout leaks into a test.

    Each test runs in a folder of its own; state and logs go where its settings say (by default the
    archive root it configures), so no test writes into an installation's state folder or log.
    """
    for name in list(os.environ):
        if name.startswith(("MSGCIF_", "MSGDB_", "MSGMODULE_")) and name not in _TEST_CONTROLS:
            monkeypatch.delenv(name)
    monkeypatch.delenv("WWPDB_SITE_ID", raising=False)
    workdir = tmp_path / "workdir"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    return workdir


def site_config(tmp_path: Path, db_url: str) -> dict[str, str]:
    """The settings every process of the site shares: where the stores are, and no stage."""
    config = {
        "MSGCIF_ROOT": str(tmp_path / "archive"),
        "MSGDB_URL": db_url,
        "MSGMODULE_STATE_DIR": str(tmp_path / "state"),
        "MSGMODULE_CONFIG": str(tmp_path / "site.cfg"),
    }
    (tmp_path / "archive").mkdir(exist_ok=True)
    Path(config["MSGMODULE_CONFIG"]).write_text(
        "# the site's settings: where the stores are\n[msgmodule]\n"
        + "".join(f"{key} = {value}\n" for key, value in config.items() if key != "MSGMODULE_CONFIG")
    )
    return config


def stage_config(tmp_path: Path, stage: str, db_url: str, **extra: str) -> dict[str, str]:
    """Explicit settings for a service on `stage` with everything under tmp_path."""
    config = {
        "MSGMODULE_STAGE": stage,
        "MSGCIF_ROOT": str(tmp_path / "archive"),
        "MSGDB_URL": db_url,
        "MSGMODULE_STATE_DIR": str(tmp_path / "state"),
        "MSGMODULE_CONFIG": str(tmp_path / "msgmodule.cfg"),
    }
    (tmp_path / "archive").mkdir(parents=True, exist_ok=True)
    config.update(extra)
    config_file = Path(config["MSGMODULE_CONFIG"])
    if not config_file.exists():  # a named config file must exist; this one adds nothing to the settings
        config_file.write_text("[msgmodule]\n")
    put_site_in_stage(config, stage)
    return config


def put_site_in_stage(config: dict[str, str], stage: str) -> None:
    """Move the site of these settings to `stage` as an operator would, forced past the guards."""
    from wwpdb.apps.msgmodule.config import load_settings
    from wwpdb.apps.msgmodule.stage.lifecycle import move_stage

    site = {key: value for key, value in config.items() if key != "MSGMODULE_STAGE"}
    move_stage(load_settings(site), stage, force=True)


class FakeRequest:
    """The shape of a OneDep request object: getValue(name) returns strings."""

    def __init__(self, **values: str) -> None:
        self.values = values

    def getValue(self, name: str) -> str:  # noqa: N802 - OneDep's method name
        return self.values.get(name, "")


# -- kinds of test, for the Makefile's selections (make test-unit, test-integration, test-database) ---------------

# Modules whose tests put several parts together: the command line, worker processes, the factory
# over configured stores, the site's stage, HTTP, packaging (a name, or a prefix ending in "*").
# A test elsewhere can say so itself with @pytest.mark.integration.
INTEGRATION_MODULES = {
    "test_archive_tools",
    "test_dual",
    "test_service",
    "test_messaging_io*",
    "test_webapp*",
    "test_stage_safety",
    "test_operations",
    "test_backup",
    "test_monitoring",
    "test_makefile",
    "test_packaging",
}
DATABASE_MODULES = {"test_database", "test_backup"}
DATABASE_FIXTURES = {"db_url", "empty_db_url", "sqlite_url", "mysql_url", "mysql_server"}


def pytest_collection_modifyitems(config, items):
    """Give every test its kinds: `database` (SQLite or MariaDB), `integration`, `mysql`, and `unit`.

    `unit` is every test that needs no database server and is not an integration test, so
    unit, integration and database together select the whole suite.
    """
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1] if item.module else ""
        fixtures = set(getattr(item, "fixturenames", ()))
        params = getattr(getattr(item, "callspec", None), "params", {})
        if "mysql" in item.name and item.get_closest_marker("mysql") is None:
            item.add_marker(pytest.mark.mysql)
        needs_server = item.get_closest_marker("mysql") is not None
        uses_database = (
            needs_server
            or module in DATABASE_MODULES
            or bool(fixtures & DATABASE_FIXTURES)
            or params.get("store_kind") in ("sqlite", "mysql")
        )
        if uses_database and item.get_closest_marker("database") is None:
            item.add_marker(pytest.mark.database)
        integration = item.get_closest_marker("integration") is not None or any(
            module == name or (name.endswith("*") and module.startswith(name[:-1])) for name in INTEGRATION_MODULES
        )
        if integration and item.get_closest_marker("integration") is None:
            item.add_marker(pytest.mark.integration)
        if not integration and not needs_server:
            item.add_marker(pytest.mark.unit)
