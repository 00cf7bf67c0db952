"""The package as an operator installs it: the sdist is a working checkout, the wheel alone runs every command."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from conftest import EXAMPLE_ARCHIVE, REPO_ROOT

from wwpdb.apps.msgmodule import __version__

CONSOLE_SCRIPTS = [
    "msgmodule",
    "msgmodule-init-db",
    "msgmodule-migrate",
    "msgmodule-validate",
    "msgmodule-export",
    "msgmodule-validate-integration",
]


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(out), str(REPO_ROOT)],
        check=True,
        capture_output=True,
        text=True,
    )
    return out


@pytest.mark.slow
def test_the_sdist_holds_the_tests_their_data_and_the_tools_around_them(dist):
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for wanted in (
        "LICENSE",
        "README.md",
        "Makefile",
        "tox.ini",
        "setup.py",
        "pyproject.toml",
        ".ci/run",
        "mkdocs.yml",
        "wwpdb/apps/tests-msgmodule/conftest.py",
        "wwpdb/apps/tests-msgmodule/test_backup.py",
        "wwpdb/apps/tests-msgmodule/test_data/archive/G_1000003/G_1000003_messages-to-depositor_P1.cif.V1",
        "scripts/validate_integration.py",
        "benchmarks/bench.py",
    ):
        assert wanted in names, wanted
    assert not [name for name in names if "__pycache__" in name]


@pytest.mark.slow
def test_a_fresh_venv_with_only_the_wheel_runs_every_documented_command(dist, tmp_path):
    (wheel,) = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(archive.read(n).decode() for n in names if n.endswith("entry_points.txt"))
    assert "wwpdb/apps/msgmodule/py.typed" in names
    assert "wwpdb/apps/msgmodule/db/migrations/script.py.mako" in names
    assert not [n for n in names if "tests-msgmodule" in n]
    for script in CONSOLE_SCRIPTS:
        assert f"\n{script} = " in entry_points

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)], check=True, capture_output=True
    )
    work = tmp_path / "elsewhere"  # far from the checkout: nothing may come from the source tree
    work.mkdir()
    shutil.copytree(EXAMPLE_ARCHIVE, work / "archive")
    (work / "msgmodule.cfg").write_text(
        "[msgmodule]\n"
        f"MSGCIF_ROOT = {work / 'archive'}\n"
        f"MSGDB_URL = sqlite:///{work / 'messaging.db'}\n"
        f"MSGMODULE_STATE_DIR = {work / 'state'}\n"
    )

    def command(*args: str, status: int = 0) -> str:
        program = str(venv / "bin" / args[0])
        result = subprocess.run(
            [program, *args[1:]],
            cwd=work,
            capture_output=True,
            text=True,
            env={"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "MSGMODULE_CONFIG": "msgmodule.cfg"},
        )
        assert result.returncode == status, f"{args}: {result.stdout}{result.stderr}"
        return result.stdout + result.stderr

    where = command("python", "-c", "import wwpdb.apps.msgmodule as m; print(m.__file__)")
    assert where.startswith(str(venv)), where
    assert __version__ in command("msgmodule", "--version")
    for script in CONSOLE_SCRIPTS:
        assert "Usage:" in command(script, "--help")
    command("msgmodule-init-db")
    assert "schema OK" in command("msgmodule-init-db", "--verify-only")
    command("msgmodule-migrate", "--workers", "1")
    assert "ALL EQUAL" in command("msgmodule-validate", "--workers", "1")
    command("msgmodule-export", "--output-dir", str(work / "export"))
    assert list((work / "export").glob("D_*/*.cif.V1"))
    assert "all 5 checks passed" in command("msgmodule-validate-integration")  # cif-only: no database check
    assert "G_1000003" in command("msgmodule", "show")
    for args in (
        ("backend-info",),
        ("feature-flags",),
        ("health",),
        ("migration-guide",),
        ("stage",),
        ("metrics",),
        ("logs", "-n", "5"),
        ("validate-config", "msgmodule.cfg"),
        ("reconcile",),
    ):
        command("msgmodule", *args)
    backup = command("msgmodule", "backup", "--output-dir", str(work / "backups"), "--name", "b")
    assert "backup written" in backup
    assert "restored" in command("msgmodule", "restore", "--yes", str(work / "backups" / "b"))
