"""Failures that used to surface as raw Python errors: each is a typed error with a message saying what to do,
and the command line ends in one readable line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FakeRequest, read_only

from wwpdb.apps.msgmodule.cli import run
from wwpdb.apps.msgmodule.config import load_settings
from wwpdb.apps.msgmodule.db import schema_versions
from wwpdb.apps.msgmodule.errors import InvalidInputError, StorageError
from wwpdb.apps.msgmodule.io.MessagingIo import MessagingIo
from wwpdb.apps.msgmodule.stage.lifecycle import move_stage, read_site
from wwpdb.apps.msgmodule.stores.cif import CifMessageStore

pytestmark = pytest.mark.integration


def site(tmp_path: Path, url: str) -> dict[str, str]:
    (tmp_path / "archive").mkdir()
    schema_versions.upgrade(url)
    return {"MSGCIF_ROOT": str(tmp_path / "archive"), "MSGDB_URL": url, "MSGMODULE_STATE_DIR": str(tmp_path / "s")}


def stage_command(tmp_path: Path, config: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wwpdb.apps.msgmodule.cli", "stage", *args],
        env={**os.environ, **config},
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )


def test_moving_the_stage_of_a_read_only_archive_is_a_storage_error_in_one_line(tmp_path, sqlite_url):
    config = site(tmp_path, sqlite_url)
    root = Path(config["MSGCIF_ROOT"])
    with read_only(root):  # a new site: the site folder cannot even be made
        with pytest.raises(StorageError, match=r"\.msgmodule.*: Operation not permitted"):
            move_stage(load_settings(config), "dual-write")
        done = stage_command(tmp_path, config, "dual-write")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: cannot ") and f"{root / '.msgmodule'}" in line and "Operation not permitted" in line
    assert not (root / ".msgmodule").exists()

    # A site with a record, all of it read-only (a share mounted read-only).
    assert run(["stage", "dual-write", "--force", "--cif-root", str(root), "--db-url", sqlite_url]) == 0
    folder = root / ".msgmodule"
    with read_only(root), read_only(folder), read_only(folder / "move.lock"), read_only(folder / "stage.json"):
        done = stage_command(tmp_path, config, "cif-only")
        assert done.returncode == 1 and "Traceback" not in done.stderr
        (line,) = done.stderr.strip().splitlines()
        assert line.startswith("error: cannot ") and str(folder) in line
        assert "Operation not permitted" in line
    assert read_site(load_settings(config)).stage == "dual-write"  # nothing changed


def test_auto_msg_and_template_data_refuse_none_with_a_typed_error(tmp_path):
    store = CifMessageStore(tmp_path)
    io = MessagingIo(FakeRequest(identifier="D_1000000001", content_type="msgs"), store=store, archive_root=tmp_path)
    with pytest.raises(InvalidInputError, match=r"autoMsg sends to a list of deposition ids \(p_depIdList\), not a "):
        io.autoMsg(None)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="not a str: pass"):
        io.autoMsg("D_1000000001")
    with pytest.raises(InvalidInputError, match=r"fills the dict it is given \(p_returnDict\), not a NoneType"):
        io.getMsgTmpltDataItems(None)  # type: ignore[arg-type]
    assert io.autoMsg([]) == {}
    assert store.load("D_1000000001", "messages-to-depositor").messages == []  # nothing was sent
    # A bad deposition id is still answered as OneDep answers it: the dict is left unfilled.
    values = {"identifier": "not-an-id"}
    bad = MessagingIo(FakeRequest(content_type="msgs"), store=store, archive_root=tmp_path)
    assert bad.getMsgTmpltDataItems(values) is None and values == {"identifier": "not-an-id"}
