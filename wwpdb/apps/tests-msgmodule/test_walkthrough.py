"""The operator's walkthrough runs as printed: the README's and the one `make backend-migration-guide` prints.

Every command is run exactly as the text shows it, in order, in one shell, from a checkout's folder
(a throwaway one holding the checkout's files and its .venv, so reports and state land there), on
a throwaway site: an archive of the example files plus generated depositions, and a SQLite file or
a uniquely named MariaDB database. The only thing the test types itself is what the walkthrough
tells the operator to type: the values of its `export NAME=...` lines.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLE_ARCHIVE, REPO_ROOT, scratch_mysql_database

from wwpdb.apps.msgmodule.guide import COMMAND_INDENT
from wwpdb.apps.msgmodule.synthetic import generate_archive

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        Path(sys.prefix).resolve() != (REPO_ROOT / ".venv").resolve(),
        reason="the walkthrough runs in the checkout's .venv; this run uses another environment (tox)",
    ),
]

WALKTHROUGH_MARK = "<!-- walkthrough -->"
# What the walkthrough asks the operator to set, and nothing else.
SETTINGS = {"MSGCIF_ROOT", "MSGDB_URL"}
EXPORT = re.compile(r"^export (?P<name>[A-Z_]+)=")


def readme_commands() -> list[str]:
    """The lines of every shell block the README marks as the walkthrough's, in order."""
    lines = (REPO_ROOT / "README.md").read_text().splitlines()
    commands: list[str] = []
    for number, line in enumerate(lines):
        if line.strip() != WALKTHROUGH_MARK:
            continue
        assert lines[number + 1].startswith("```bash"), f"README line {number + 2}: a marked block must follow"
        end = lines.index("```", number + 2)
        commands += [command for command in lines[number + 2 : end] if command.strip()]
    return commands


def guide_commands(printed: str) -> list[str]:
    """The command lines of the printed guide: those indented as commands, in order."""
    return [line[len(COMMAND_INDENT) :] for line in printed.splitlines() if line.startswith(COMMAND_INDENT)]


def checkout_folder(tmp_path: Path) -> Path:
    """A folder with the checkout's files and its .venv, as `git clone` + `make install` leave one."""
    folder = tmp_path / "checkout"
    folder.mkdir()
    for name in ("Makefile", "setup.py", "pyproject.toml", "scripts", "wwpdb", ".venv"):
        (folder / name).symlink_to(REPO_ROOT / name)
    return folder


def throwaway_archive(tmp_path: Path) -> Path:
    archive = tmp_path / "site" / "archive"
    shutil.copytree(EXAMPLE_ARCHIVE, archive)
    generate_archive(archive, 6)
    return archive


def operator_environment() -> dict[str, str]:
    """The shell of an operator who has set nothing yet: no MSG* setting, the checkout's .venv not on PATH."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("MSGCIF_", "MSGDB_", "MSGMODULE_", "VIRTUAL_ENV")) and name != "WWPDB_SITE_ID"
    }
    venv_bin = (REPO_ROOT / ".venv" / "bin").resolve()
    path = [entry for entry in environment.get("PATH", "").split(os.pathsep) if Path(entry).resolve() != venv_bin]
    environment["PATH"] = os.pathsep.join(path)
    return environment


def with_site(commands: list[str], site: dict[str, str]) -> list[str]:
    """The commands, the values of the walkthrough's `export` lines being this site's."""
    exported = set()
    typed = []
    for command in commands:
        match = EXPORT.match(command)
        if match and match["name"] in site:
            exported.add(match["name"])
            command = f"export {match['name']}={shlex.quote(site[match['name']])}"
        typed.append(command)
    assert exported == SETTINGS, f"the walkthrough should have the operator set {SETTINGS}, it sets {exported}"
    return typed


def run_in_order(commands: list[str], cwd: Path) -> str:
    """Run the commands in one shell, in order, stopping at the first that fails; its output."""
    script = "set -e -o pipefail\ntrap 'echo \"FAILED: $BASH_COMMAND\" >&2' ERR\n" + "\n".join(
        f"echo {shlex.quote('$ ' + command)}\n{command}" for command in commands
    )
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=cwd,
        env=operator_environment(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return result.stdout


def moves(archive: Path) -> list[str]:
    """The stages the site was moved to, from its history."""
    history = (archive / ".msgmodule" / "stage-history.jsonl").read_text().splitlines()
    return [json.loads(line)["to"] for line in history]


@pytest.fixture(params=["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def site_database(request, tmp_path):
    """A SQLite file, or a uniquely named empty MariaDB database dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/messaging.db"
        return
    with scratch_mysql_database(request.getfixturevalue("mysql_server")) as url:
        yield url


def test_the_readme_walkthrough_runs_as_typed(tmp_path, site_database):
    commands = readme_commands()
    assert commands[0] == ". .venv/bin/activate"
    assert any("init_messaging_database.py" in command for command in commands)
    assert {"make migration-phase-1", "make migration-phase-2", "make migration-phase-3"} <= set(commands)
    archive = throwaway_archive(tmp_path)
    checkout = checkout_folder(tmp_path)
    site = {"MSGCIF_ROOT": str(archive), "MSGDB_URL": site_database}

    run_in_order(with_site(commands, site), checkout)

    assert (checkout / "migrate.json").is_file() and (checkout / "validate.json").is_file()
    assert moves(archive) == ["dual-write", "shadow", "db-primary", "db-only", "dual-write"]


def test_the_printed_guide_runs_as_printed(tmp_path):
    """On SQLite only (the README's walkthrough runs on MariaDB too): the commands are what is tested."""
    site_database = f"sqlite:///{tmp_path}/messaging.db"
    checkout = checkout_folder(tmp_path)
    printed = run_in_order(["make -s backend-migration-guide"], checkout)
    commands = guide_commands(printed)
    assert len(commands) >= 8, printed
    archive = throwaway_archive(tmp_path)
    site = {"MSGCIF_ROOT": str(archive), "MSGDB_URL": site_database}

    run_in_order(with_site(commands, site), checkout)

    assert (checkout / "migrate.json").is_file() and (checkout / "validate.json").is_file()
    assert moves(archive) == ["dual-write", "db-primary", "db-only", "dual-write"]


def test_a_script_run_by_a_python_without_the_package_runs_under_the_checkouts_venv(tmp_path):
    bare = Path(getattr(sys, "_base_executable", "") or shutil.which("python3") or "")
    probe = subprocess.run([str(bare), "-c", "import sqlalchemy, gemmi"], capture_output=True)
    if probe.returncode == 0:
        pytest.skip(f"{bare} has the package's dependencies: nothing to find")
    result = subprocess.run(
        [str(bare), str(REPO_ROOT / "scripts" / "init_messaging_database.py"), "--verify-only"],
        cwd=tmp_path,
        env={**operator_environment(), "MSGDB_URL": f"sqlite:///{tmp_path}/m.db"},
        capture_output=True,
        text=True,
    )
    assert "ModuleNotFoundError" not in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert "init-db" in result.stdout + result.stderr  # the command's own answer: no schema yet


def test_a_hint_names_a_command_that_runs_as_printed(tmp_path):
    """`run: msgmodule init-db` in an error, printed where msgmodule is not on PATH, runs as printed."""
    (tmp_path / "archive").mkdir()
    site = {"MSGCIF_ROOT": str(tmp_path / "archive"), "MSGDB_URL": f"sqlite:///{tmp_path}/m.db"}
    environment = {**operator_environment(), **site}
    command = [str(REPO_ROOT / ".venv" / "bin" / "msgmodule"), "validate"]
    first = subprocess.run(command, cwd=tmp_path, env=environment, capture_output=True, text=True)
    hint = re.search(r"run: (.+? init-db)", first.stderr)
    assert first.returncode == 1 and hint, first.stderr

    subprocess.run(["bash", "-c", hint[1]], cwd=tmp_path, env=environment, check=True, capture_output=True)

    again = subprocess.run(command, cwd=tmp_path, env=environment, capture_output=True, text=True)
    assert "init-db" not in again.stderr, again.stderr
