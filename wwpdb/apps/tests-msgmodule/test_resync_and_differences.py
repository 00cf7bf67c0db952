"""Rows deleted by hand in the database: resync repairs them and proves it, writes by position do not
repeat rows, validation tells the cause per message, and status agrees with the stage guard.

On a real OneDep file (37 file-reference rows over three messages), in a real
archive and a real database (SQLite, and MariaDB when reachable).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import SAMPLES, site_config
from sqlalchemy import text

from wwpdb.apps.msgmodule.cifformat import parse_file
from wwpdb.apps.msgmodule.cli import run
from wwpdb.apps.msgmodule.config import load_settings
from wwpdb.apps.msgmodule.db import schema_versions
from wwpdb.apps.msgmodule.db.engine import get_engine
from wwpdb.apps.msgmodule.equivalence import compare, differences
from wwpdb.apps.msgmodule.model import CONTENT_TYPES, FileReference, Message
from wwpdb.apps.msgmodule.stage.lifecycle import StageMoveRefused, describe_site, move_stage, why_not_validated
from wwpdb.apps.msgmodule.stores.cif import CifMessageStore
from wwpdb.apps.msgmodule.stores.db import DbMessageStore

DEP = "D_0000265933"
TO = "messages-to-depositor"
FIRST = "c8b1ad66-57c8-4ff7-b22e-0cf78dd827ec"  # message 1: file-reference rows 1-10
SECOND = "381585c8-3378-443d-8ef8-79ec4d7873f7"  # message 4: file-reference rows 11-20
REFS = "pdbx_deposition_message_file_reference"
INFO = "pdbx_deposition_message_info"


@pytest.fixture
def sample_file() -> Path:
    path = SAMPLES / f"{DEP}_{TO}_P1.cif.V1"
    if not path.exists():
        pytest.skip(f"the real OneDep sample {path.name} is not present in {SAMPLES}")
    return path


def cli(config: dict[str, str], *args: str) -> int:
    return run([*args, "--config", config["MSGMODULE_CONFIG"]])


def validated_site(tmp_path: Path, db_url: str, sample_file: Path) -> dict[str, str]:
    """The sample deposition in an archive, migrated, validated, the site in dual-write."""
    config = site_config(tmp_path, db_url)
    schema_versions.upgrade(db_url)
    folder = Path(config["MSGCIF_ROOT"]) / DEP
    folder.mkdir()
    for path in SAMPLES.glob(f"{DEP}_*_P1.cif.V1"):
        shutil.copyfile(path, folder / path.name)
    assert cli(config, "migrate") == 0
    assert cli(config, "validate") == 0
    assert cli(config, "stage", "dual-write") == 0
    return config


def by_hand(db_url: str, statement: str, **params: str | int) -> int:
    """SQL run behind the library's back, as an operator would; the rows it touched."""
    with get_engine(db_url).begin() as connection:
        return connection.execute(text(statement), params).rowcount


def delete_refs(db_url: str, *orders: int) -> None:
    for order in orders:
        assert (
            by_hand(
                db_url,
                f"DELETE FROM {REFS} WHERE source_deposition_id = :d AND source_content_type = :c AND row_order = :o",
                d=DEP,
                c=TO,
                o=order,
            )
            == 1
        )


def stores(config: dict[str, str]) -> tuple[CifMessageStore, DbMessageStore]:
    return CifMessageStore(config["MSGCIF_ROOT"]), DbMessageStore(config["MSGDB_URL"])


# -- resync -------------------------------------------------------------------------------------


def test_resync_replaces_a_document_missing_rows_deleted_by_hand_and_validate_proves_it_equal(
    tmp_path, db_url, sample_file, capsys
):
    config = validated_site(tmp_path, db_url, sample_file)
    delete_refs(db_url, 0, 1)  # the first two file-reference rows
    capsys.readouterr()
    assert cli(config, "resync", DEP) == 0
    out = capsys.readouterr().out
    assert f"replaced {DEP} {TO}: reads back equal" in out
    assert "resynced 1 document(s) (verified equal), 2 already equal, failed 0" in out
    cif, db = stores(config)
    stored = db.load(DEP, TO)
    assert stored == cif.load(DEP, TO)
    assert [r.ordinal_id for r in stored.file_references] == [str(n) for n in range(1, 38)]  # none repeated
    assert cli(config, "validate") == 0  # the whole archive, recorded
    assert "ALL EQUAL" in capsys.readouterr().out
    assert why_not_validated(load_settings(config)) == []


def test_resync_reports_a_copy_that_does_not_read_back_equal_as_failed_with_what_differs(
    tmp_path, db_url, sample_file, capsys
):
    config = validated_site(tmp_path, db_url, sample_file)
    delete_refs(db_url, 0, 1)
    # The database itself changes what it is given: a trigger rewrites one message's subject on insert.
    if db_url.startswith("sqlite"):
        trigger = (
            f"CREATE TRIGGER mangle AFTER INSERT ON {INFO} WHEN NEW.message_id = '{SECOND}' BEGIN "
            f"UPDATE {INFO} SET message_subject = 'mangled' WHERE id = NEW.id; END"
        )
    else:
        trigger = (
            f"CREATE TRIGGER mangle BEFORE INSERT ON {INFO} FOR EACH ROW "
            f"IF NEW.message_id = '{SECOND}' THEN SET NEW.message_subject = 'mangled'; END IF"
        )
    by_hand(db_url, trigger)
    capsys.readouterr()
    assert cli(config, "resync", DEP) == 1
    captured = capsys.readouterr()
    assert "resynced 0 document(s) (verified equal), 2 already equal, failed 1" in captured.out
    assert (
        f"FAILED {DEP} {TO}: the database copy reads back different from the archive after the copy: "
        "1 changed value(s) in 1 message(s)"
    ) in captured.err


# -- writes by position -------------------------------------------------------------------------------


def test_an_update_after_rows_were_deleted_by_hand_writes_no_row_twice(db_url, sample_file):
    schema_versions.upgrade(db_url)
    original = parse_file(sample_file, DEP, TO)
    db = DbMessageStore(db_url)
    db.save(original)
    delete_refs(db_url, 0, 1)

    def add_a_reference(document):
        document.file_references.append(FileReference("38", FIRST, DEP, "model", "pdbx", "1", "9", "archive", None))

    db.update(DEP, TO, add_a_reference)
    expected = original.copy()
    del expected.file_references[:2]
    add_a_reference(expected)
    assert db.load(DEP, TO) == expected
    # Messages appended without reading the document go after the last row, whatever the gaps.
    db.put_message(DEP, TO, Message(message_id="appended"), [FileReference(content_type="model")])
    db.update(DEP, TO, lambda document: setattr(document.file_references[0], "version_id", "7"))
    stored = db.load(DEP, TO)
    assert [r.ordinal_id for r in stored.file_references] == [str(n) for n in range(3, 40)]
    assert stored.file_references[0].version_id == "7"
    assert [m.message_id for m in stored.messages][-1] == "appended"


def test_a_change_handed_over_to_a_copy_with_the_right_count_but_moved_rows_is_replaced_whole(db_url, sample_file):
    """Two rows deleted by hand, two appended since: the count is right again, the positions are not."""
    schema_versions.upgrade(db_url)
    before = parse_file(sample_file, DEP, TO)
    db = DbMessageStore(db_url)
    db.save(before)
    delete_refs(db_url, 0, 1)
    db.put_message(
        DEP, TO, Message(message_id="later"), [FileReference(content_type="a"), FileReference(content_type="b")]
    )
    after = before.copy()
    after.file_references[5].content_format = "cif"  # what the first store just wrote
    db.apply_change(DEP, TO, before, after)
    assert db.load(DEP, TO) == after


# -- differences per message --------------------------------------------------------------------------


def test_validate_tells_two_deleted_rows_and_a_changed_subject_per_message_missing_rows_first(
    tmp_path, db_url, sample_file, capsys
):
    config = validated_site(tmp_path, db_url, sample_file)
    delete_refs(db_url, 10, 11)  # the first two file references of the fourth message
    by_hand(db_url, f"UPDATE {INFO} SET message_subject = 'edited by hand' WHERE message_id = :m", m=FIRST)
    report = tmp_path / "report.json"
    capsys.readouterr()
    assert cli(config, "validate", "--report", str(report)) == 1
    out = capsys.readouterr().out
    shown = out[out.index(f"DIFFERENT {DEP}") :].splitlines()
    assert shown[:7] == [
        f"DIFFERENT {DEP}: 2 row(s) missing from the database, 1 changed value(s) in 2 message(s)",
        f"  {TO}, message {SECOND}:",
        "    missing from the database: file_reference row 11 of the archive (ordinal_id '11', content_type "
        "'model-annotate', content_format 'pdbx', partition_number '1', version_id '2', storage_type 'archive')",
        "    missing from the database: file_reference row 12 of the archive (ordinal_id '12', content_type "
        "'model-review', content_format 'pdbx', partition_number '1', version_id '2', storage_type 'archive')",
        f"  {TO}, message {FIRST}:",
        "    changed info message_subject (row 1): archive 'PDB ID XXXX - Validation report and processed files "
        "are read...', database 'edited by hand'",
        "validated 1 deposition(s) in " + shown[6].split(" in ", 1)[1],
    ]
    (entry,) = json.loads(report.read_text())["depositions"]
    assert entry["summary"] == "2 row(s) missing from the database, 1 changed value(s) in 2 message(s)"
    first, second = entry["by_message"]
    assert (first["message_id"], second["message_id"]) == (SECOND, FIRST)
    assert [(row["row"], row["held_by"], row["missing_from"]) for row in first["missing"]] == [
        (11, "archive", "database"),
        (12, "archive", "database"),
    ]
    assert second["changed"] == [
        {
            "category": INFO,
            "item": "message_subject",
            "rows": {"archive": 1, "database": 1},
            "values": {
                "archive": "PDB ID XXXX - Validation report and processed files are ready for your review",
                "database": "edited by hand",
            },
        }
    ]
    assert len(entry["differences"]) > 50  # what positional comparison makes of the same two rows


def test_rows_only_in_the_database_and_rows_in_another_order_are_named_too(sample_file):
    archive = parse_file(sample_file, DEP, TO)
    database = archive.copy()
    database.file_references.append(FileReference("99", FIRST, DEP, "extra", "pdbx", "1", "1", "archive", None))
    database.statuses.reverse()
    found = compare([(archive, database)])
    assert found.summary() == (
        f"1 row(s) missing from the archive in 1 message(s); rows in another order in {TO} status"
    )
    assert found.lines()[:2] == [
        f"{TO}, message {FIRST}:",
        "  missing from the archive: file_reference row 38 of the database (ordinal_id '99', content_type "
        "'extra', content_format 'pdbx', partition_number '1', version_id '1', storage_type 'archive')",
    ]
    assert not compare([(archive, archive.copy())])


# -- status and the stage guard ---------------------------------------------------------------------


def test_status_does_not_say_passed_while_the_guard_refuses_and_says_so_once_it_would_not(
    tmp_path, db_url, sample_file, capsys
):
    config = validated_site(tmp_path, db_url, sample_file)
    settings = load_settings(config)
    capsys.readouterr()
    assert cli(config, "status") == 0
    assert "validation:  passed at " in capsys.readouterr().out
    # A OneDep tool writes into the archive behind the library's back; the database misses it.
    CifMessageStore(config["MSGCIF_ROOT"]).put_message(DEP, TO, Message(message_id="behind", message_text="x"))
    with pytest.raises(StageMoveRefused, match="changed since the last validation"):
        move_stage(settings, "db-primary")
    for command in ("status", "stage"):
        assert cli(config, command) == 0
        out = capsys.readouterr().out
        (line,) = [line for line in out.splitlines() if line.startswith("validation:")]
        assert "NOT CURRENT" in line and DEP in line and "passed" not in line.split("NOT CURRENT")[0], line
    info = describe_site(settings)
    assert info["validation_problems"] == why_not_validated(settings) != []
    assert cli(config, "resync", DEP) == 0
    assert cli(config, "validate", "--changed") == 0
    capsys.readouterr()
    assert cli(config, "status") == 0
    assert "validation:  passed at " in capsys.readouterr().out
    move_stage(settings, "db-primary")
    cif, db = stores(config)
    for content_type in CONTENT_TYPES:
        assert differences(cif.load(DEP, content_type), db.load(DEP, content_type)) == []
