"""The package as an operator installs it: the sdist is a working checkout, the wheel alone runs every command."""

from __future__ import annotations

import os
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
        "scripts/_checkout.py",
        "benchmarks/bench.py",
        "monitoring/grafana-dashboard.json",
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


# -- over OneDep's module: what a OneDep site's `pip install` does ------------------------------------------------

ONEDEP_RELEASE = "0.181.1"  # OneDep's module that a site replaces
WORKFLOW_MANAGER = "wwpdb.apps.workmanager==0.28.1"  # requires wwpdb.apps.msgmodule ~= 0.180
# The modules OneDep's workflow manager imports from this package.
WORKFLOW_MANAGER_IMPORTS = [
    "wwpdb.apps.msgmodule.util.ExtractMessage",
    "wwpdb.apps.msgmodule.util.AutoMessage",
    "wwpdb.apps.msgmodule.io.MessagingIo",
]
PIP_TIMEOUT = 60  # seconds for one pip call: a stalled index fails the test rather than hanging it


def _index_unreachable_reason() -> str | None:
    """Why the package index cannot be used, found in a few seconds; None if it answers."""
    import urllib.error
    import urllib.request

    index = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")
    try:
        with urllib.request.urlopen(f"{index}/wwpdb-apps-msgmodule/", timeout=5) as answer:
            answer.read(1)
    except (urllib.error.URLError, OSError) as exc:
        return f"the package index {index} cannot be reached ({exc}): needs the network"
    return None


@pytest.fixture(scope="module")
def package_index() -> None:
    """The package index answers, or a visible skip (a failure under CI, which reaches it)."""
    reason = _index_unreachable_reason()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {reason}")
        pytest.skip(reason)


def _venv_python(venv: Path, code: str) -> str:
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, cwd=venv, timeout=PIP_TIMEOUT
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _pip(venv: Path, *args: str, status: int | None = 0) -> str:
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", *args],
        capture_output=True,
        text=True,
        cwd=venv,
        timeout=PIP_TIMEOUT,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"},
    )
    if status is not None:
        assert result.returncode == status, f"pip {' '.join(args)}: {result.stdout}{result.stderr}"
    return result.stdout + result.stderr


# The distribution's files as the venv's own importlib.metadata sees them (RECORD or installed-files.txt).
_FILES = (
    "import json, importlib.metadata as m; "
    "print(json.dumps(sorted(str(f.locate().resolve()) for f in m.files('wwpdb.apps.msgmodule'))))"
)


@pytest.mark.slow
@pytest.mark.network
def test_the_wheel_installs_over_onedeps_release_and_satisfies_the_workflow_manager(package_index, dist, tmp_path):
    """pip replaces OneDep's 0.181.1 with this wheel in a fresh venv; the workflow manager's ~= 0.180 accepts it.

    OneDep's module comes from the package index with --no-deps (its own requirements are OneDep's
    stack); this wheel's requirements are resolved from the index, as at a site.
    """
    import json

    from packaging.requirements import Requirement
    from packaging.version import Version

    (wheel,) = dist.glob("*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=PIP_TIMEOUT)

    _pip(venv, "install", "--no-deps", f"wwpdb.apps.msgmodule=={ONEDEP_RELEASE}")
    version = "import importlib.metadata as m; print(m.version('wwpdb.apps.msgmodule'))"
    assert _venv_python(venv, version).strip() == ONEDEP_RELEASE
    onedep_files = set(json.loads(_venv_python(venv, _FILES)))

    installed = _pip(venv, "install", str(wheel))
    assert f"Found existing installation: wwpdb.apps.msgmodule {ONEDEP_RELEASE}" in installed, installed
    assert f"Successfully uninstalled wwpdb.apps.msgmodule-{ONEDEP_RELEASE}" in installed, installed
    assert f"Version: {__version__}" in _pip(venv, "show", "wwpdb.apps.msgmodule")
    assert "No broken requirements found." in _pip(venv, "check")

    # Every file OneDep's distribution had that this one lacks is gone, its metadata too.
    our_files = set(json.loads(_venv_python(venv, _FILES)))
    left_over = sorted(path for path in onedep_files - our_files if Path(path).exists())
    assert not left_over, left_over
    gone = {path.split("site-packages/", 1)[-1] for path in onedep_files - our_files}
    assert {"wwpdb/apps/msgmodule/db/DataAccessLayer.py", "wwpdb/apps/msgmodule/depict/MessagingDepict.py"} <= gone

    # The modules the workflow manager imports are this wheel's, byte for byte.
    where = json.loads(
        _venv_python(
            venv,
            "import importlib, json; "
            f"print(json.dumps({{n: importlib.import_module(n).__file__ for n in {WORKFLOW_MANAGER_IMPORTS!r}}}))",
        )
    )
    with zipfile.ZipFile(wheel) as archive:
        for name, path in where.items():
            member = name.replace(".", "/") + ".py"
            assert path.endswith(member) and path.startswith(str(venv)), (name, path)
            assert Path(path).read_bytes() == archive.read(member), f"{name}: {path} is not this wheel's"

    # The workflow manager's requirement, by packaging's rules and by pip's.
    _pip(venv, "install", "--no-deps", WORKFLOW_MANAGER)
    manager_requires = "import json, importlib.metadata as m; print(json.dumps(m.requires('wwpdb.apps.workmanager')))"
    requires = json.loads(_venv_python(venv, manager_requires))
    # The manager's other requirements (OneDep's stack) are not installed; none of pip's complaints is about us.
    complaints = _pip(venv, "check", status=None)
    assert "wwpdb-apps-workmanager 0.28.1 requires" in complaints, complaints  # pip did check the manager
    assert not [line for line in complaints.splitlines() if "msgmodule" in line], complaints
    (wanted,) = [Requirement(r) for r in requires if Requirement(r).name == "wwpdb.apps.msgmodule"]
    assert str(wanted.specifier) == "~=0.180"
    assert wanted.specifier.contains(Version(__version__))
