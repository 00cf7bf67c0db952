"""A stage record edited by hand is never served: the database's copy of the record is the cross-check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import site_config

from wwpdb.apps.msgmodule.cli import run
from wwpdb.apps.msgmodule.db import schema_versions
from wwpdb.apps.msgmodule.io.MessagingFactory import MessagingFactory
from wwpdb.apps.msgmodule.stores.cif import CifMessageStore
from wwpdb.apps.msgmodule.stores.db import DbMessageStore

pytestmark = pytest.mark.integration
DEPOSITION = "D_1000000201"

# A new process of the site: reads the deposition, then writes one message; prints what it read.
PROCESS = """
import json, sys
from wwpdb.apps.msgmodule.io.MessagingFactory import MessagingFactory
svc = MessagingFactory.create_messaging_service(config=json.loads(sys.argv[1]))
print(len(svc.get(sys.argv[2])), flush=True)
svc.set(sys.argv[2], {"message_id": "written-after-the-edit", "message_text": "where does this go?"})
"""


def db_only_site(tmp_path: Path, db_url: str) -> dict[str, str]:
    """A site moved through the stages to db-only, holding three messages only the database has."""
    config = site_config(tmp_path, db_url)
    schema_versions.upgrade(db_url)
    site = ["--config", config["MSGMODULE_CONFIG"]]
    assert run(["migrate", *site]) == 0 and run(["validate", *site]) == 0
    for stage in ("dual-write", "db-primary", "db-only"):
        assert run(["stage", stage, *site]) == 0
    svc = MessagingFactory.create_messaging_service(config=config)
    for number in range(3):
        svc.set(DEPOSITION, {"message_text": f"written in db-only, number {number}"})
    return config


def edit_record(config: dict[str, str], stage: str) -> Path:
    """Change the stage in the record file by hand, keeping its epoch and everything else."""
    path = Path(config["MSGCIF_ROOT"]) / ".msgmodule" / "stage.json"
    record = json.loads(path.read_text())
    record["stage"] = stage
    path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    return path


def new_process(tmp_path: Path, config: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MSG", "MSGMODULE"))}
    return subprocess.run(
        [sys.executable, "-c", PROCESS, json.dumps(config), DEPOSITION],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )


def test_a_record_edited_to_another_stage_at_the_same_epoch_is_refused_by_a_new_process(tmp_path, db_url):
    config = db_only_site(tmp_path, db_url)
    archive, database = CifMessageStore(config["MSGCIF_ROOT"]), DbMessageStore(db_url)
    assert archive.load(DEPOSITION, "messages-to-depositor").messages == []
    epoch = json.loads((Path(config["MSGCIF_ROOT"]) / ".msgmodule" / "stage.json").read_text())["epoch"]
    path = edit_record(config, "cif-only")

    done = new_process(tmp_path, config)
    assert done.returncode != 0
    assert done.stdout.strip() != "0"  # it did not read an empty deposition
    last = done.stderr.strip().splitlines()[-1]
    assert "StageConflictError" in last
    assert f"{path} says stage cif-only at epoch {epoch}" in last
    history = path.with_name("stage-history.jsonl")
    assert f"shows stage db-only at that epoch; {history} records the move to db-only" in last
    assert f'Put "stage": "db-only" back into {path}' in last
    # Nothing was written anywhere: not to the archive alone, not to the database.
    assert archive.load(DEPOSITION, "messages-to-depositor").messages == []
    assert len(database.load(DEPOSITION, "messages-to-depositor").messages) == 3

    # A move from the edited stage would run the wrong guards (no export from the database): refused too.
    assert run(["stage", "dual-write", "--config", config["MSGMODULE_CONFIG"]]) == 1
    assert json.loads(path.read_text())["stage"] == "cif-only"

    # Put back as the message says, the site serves again, from the database.
    edit_record(config, "db-only")
    done = new_process(tmp_path, config)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "3"
    assert archive.load(DEPOSITION, "messages-to-depositor").messages == []
    assert len(database.load(DEPOSITION, "messages-to-depositor").messages) == 4


def test_a_running_process_notices_the_edit_too(tmp_path, sqlite_url):
    import time

    from wwpdb.apps.msgmodule.stage.routing import StageConflictError

    config = db_only_site(tmp_path, sqlite_url)
    running = MessagingFactory.create_messaging_service(config=config)
    assert len(running.get(DEPOSITION)) == 3
    edit_record(config, "dual-write")
    time.sleep(1.1)  # past the bound a read trusts the stage it saw
    with pytest.raises(StageConflictError, match="says stage dual-write at epoch"):
        running.get(DEPOSITION)
    with pytest.raises(StageConflictError, match="says stage dual-write at epoch"):
        running.set(DEPOSITION, {"message_text": "refused"})
    assert CifMessageStore(config["MSGCIF_ROOT"]).load(DEPOSITION, "messages-to-depositor").messages == []
