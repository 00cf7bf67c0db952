"""OneDep's own migrator, as `make bench` runs it beside ours: its released code, its own process.

OneDep's released package (`wwpdb.apps.msgmodule==0.181.1`, installed by
benchmarks/onedep_view.py into a virtualenv of its own with the packages it
imports, each `--no-deps`) migrates the archive into an empty MariaDB database
of its own through benchmarks/onedep_migrator_runner.py, which drives the
release's DataAccessLayer and `mmcif.utils`' reader in the order OneDep's
migration script does (that script is in neither the wheel nor the sdist of the
release). The figures: its seconds (the migration loop, inside its process) and
how many of the archive's rows its three tables hold afterwards.

When the release cannot be installed (no package index), `migrate` falls back to
benchmarks/onedep_style.py, a reconstruction of the same steps in our process,
and its result says so.

    python benchmarks/onedep_migrator.py [--depositions 100] [--mysql-url mysql+pymysql://root@127.0.0.1:3306]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, make_url, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
import onedep_style  # noqa: E402
from onedep_view import ONEDEP, onedep_python  # noqa: E402

HERE = Path(__file__).resolve().parent
VENV = HERE.parent / ".venv" / "onedep-0.181.1"
SITE_ID = "BENCH"
# OneDep's three tables (original-communication references have none).
TABLES = ("pdbx_deposition_message_info", "pdbx_deposition_message_file_reference", "pdbx_deposition_message_status")
# A OneDep site supplies its settings as a generated `ConfigInfoFileCache` module: the archive (PathInfo
# looks in <SITE_ARCHIVE_STORAGE_PATH>/archive) and the messaging database.
SITE_MODULE = """class ConfigInfoFileCache:
    _configD = {%r: %r}

    @classmethod
    def getConfigDictionary(cls, siteId):
        return cls._configD[siteId]
"""


@dataclass
class OneDepRun:
    seconds: float
    stored: int  # rows in its tables afterwards
    real: bool  # False: the reconstruction ran, not OneDep's release
    what: str  # which code ran
    cpu_seconds: float | None = None  # of its process, while migrating (the real one only)


def release_python(venv: Path = VENV) -> tuple[Path | None, str]:
    """The virtualenv's python with OneDep's release importable, or None and why not."""
    return onedep_python(venv)


def migrate(python: Path | None, why_not: str, archive: Path, server_url: str, ids: list[str]) -> OneDepRun:
    """OneDep's migrator over `archive` (a folder named `archive`) into a new database, dropped afterwards."""
    if python is None:
        admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
        name = _create_database(admin)
        try:
            seconds, stored = onedep_style.migrate(archive, f"{server_url}/{name}?charset=utf8mb4", ids)
        finally:
            _drop_database(admin, name)
        return OneDepRun(seconds, stored, False, f"the reconstruction (benchmarks/onedep_style.py): {why_not}")
    return run_release(python, archive, server_url)


def run_release(python: Path, archive: Path, server_url: str) -> OneDepRun:
    if archive.name != "archive":
        raise ValueError(f"{archive}: OneDep's PathInfo finds depositions only under a folder named 'archive'")
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    name = _create_database(admin)
    url = make_url(server_url)
    settings = {
        "SITE_ARCHIVE_STORAGE_PATH": str(archive.parent),
        "SITE_MESSAGE_DB_HOST_NAME": url.host or "127.0.0.1",
        "SITE_MESSAGE_DB_PORT_NUMBER": str(url.port or 3306),
        "SITE_MESSAGE_DB_NAME": name,
        "SITE_MESSAGE_DB_USER_NAME": url.username or "root",
        "SITE_MESSAGE_DB_PASSWORD": url.password or "",
    }
    try:
        with tempfile.TemporaryDirectory(prefix="msgmodule-onedep-migrator-") as tmp:
            site = Path(tmp)
            (site / "ConfigInfoFileCache.py").write_text(SITE_MODULE % (SITE_ID, settings))
            result_file = site / "result.json"
            env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(site), "WWPDB_SITE_ID": SITE_ID}
            command = [
                str(python),
                str(HERE / "onedep_migrator_runner.py"),
                SITE_ID,
                str(archive),
                str(site / "migrator.log"),
                str(result_file),
            ]
            done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=3600)
            if done.returncode != 0 or not result_file.exists():
                raise RuntimeError(f"OneDep's migrator failed: {done.stderr[-2000:]}")
            result = json.loads(result_file.read_text())
        with admin.connect() as connection:
            stored = sum(connection.execute(text(f"SELECT COUNT(*) FROM `{name}`.`{t}`")).scalar_one() for t in TABLES)
    finally:
        _drop_database(admin, name)
        admin.dispose()
    return OneDepRun(
        result["seconds"], stored, True, f"{result['package']} ({result['module_file']})", result["cpu_seconds"]
    )


def _create_database(admin: Any) -> str:
    name = f"msgbench_onedep_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    return name


def _drop_database(admin: Any, name: str) -> None:
    with admin.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")


def main() -> None:
    from wwpdb.apps.msgmodule.model import CATEGORIES
    from wwpdb.apps.msgmodule.stores.cif import CifMessageStore
    from wwpdb.apps.msgmodule.synthetic import generate_archive

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depositions", type=int, default=100)
    parser.add_argument("--mysql-url", default="mysql+pymysql://root@127.0.0.1:3306")
    parser.add_argument("--venv", type=Path, default=VENV)
    args = parser.parse_args()
    python, why = release_python(args.venv)
    with tempfile.TemporaryDirectory(prefix="msgmodule-onedep-migrator-") as tmp:
        archive = Path(tmp) / "archive"
        ids = generate_archive(archive, args.depositions)
        store = CifMessageStore(archive)
        rows = sum(len(doc.rows(c)) for d in ids for doc in store.load_all(d).values() for c in CATEGORIES)
        run = migrate(python, why, archive, args.mysql_url, ids)
    print(f"OneDep's migrator ({'real' if run.real else 'NOT the real one'}: {run.what}), {ONEDEP}")
    stored = f"stored {run.stored} of {rows} rows ({run.stored / rows:.0%})"
    print(f"{args.depositions} depositions: {run.seconds:.2f} s ({run.cpu_seconds} s of CPU in its process), {stored}")


if __name__ == "__main__":
    main()
