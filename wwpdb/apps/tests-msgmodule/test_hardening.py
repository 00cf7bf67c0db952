"""Hardening: odd archive entries, values a backend cannot store, bad arguments, unreachable servers.

Each case is built from the real thing (symbolic links, FIFOs, /dev/zero, a
closed port, a listener that never answers, MariaDB's own limits) and checks
that the error is typed and names what is wrong, and that nothing already
stored is lost or changed.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO_ROOT
from sqlalchemy import text

from wwpdb.apps.msgmodule.cifformat import format_document
from wwpdb.apps.msgmodule.cli import run
from wwpdb.apps.msgmodule.db import schema_versions
from wwpdb.apps.msgmodule.db.engine import get_engine, mask_url, normalise_url
from wwpdb.apps.msgmodule.db.schema import metadata
from wwpdb.apps.msgmodule.errors import (
    ArchiveEntryError,
    BackendUnavailableError,
    InvalidDepositionIdError,
    InvalidInputError,
    MessagingError,
)
from wwpdb.apps.msgmodule.model import MAX_DEPOSITION_ID_LENGTH, Document, Message, validate_deposition_id
from wwpdb.apps.msgmodule.service import MessagingService
from wwpdb.apps.msgmodule.stores.cif import CifMessageStore, file_name
from wwpdb.apps.msgmodule.stores.db import DbMessageStore

TO = "messages-to-depositor"
MIGRATE = REPO_ROOT / "scripts" / "migrate_cif_to_db.py"


def put(root: Path, deposition_id: str, *messages: Message, content_type: str = TO) -> Path:
    """A real message file written by the CIF store; returns its path."""
    root.mkdir(parents=True, exist_ok=True)
    store = CifMessageStore(root)
    store.save(Document(deposition_id, content_type, list(messages)))
    path = store.current_file(deposition_id, content_type)
    assert path is not None
    return path


def message(message_id: str, deposition_id: str, text_: str = "hello") -> Message:
    return Message(
        None,
        message_id,
        deposition_id,
        "2024-01-01 00:00:00",
        "annotator",
        None,
        None,
        message_id,
        "subject",
        text_,
        "text",
        "Y",
    )


def report_of(path: Path) -> dict[str, dict]:
    return {entry["deposition_id"]: entry for entry in json.loads(path.read_text())["depositions"]}


def stored_ids(db_url: str, deposition_id: str) -> list[str | None]:
    return [m.message_id for m in DbMessageStore(db_url).load(deposition_id, TO).messages]


def migrate_in_process(root: Path, db_url: str, report: Path, *extra: str) -> int:
    return run(
        [
            "migrate",
            "--directory",
            str(root),
            "--db-url",
            db_url,
            "--workers",
            "1",
            "--no-progress",
            "--report",
            str(report),
            *extra,
        ]
    )


@contextlib.contextmanager
def fifo_unblocker(*fifos: Path, after: float = 30.0) -> Iterator[None]:
    """A hang guard, not a timing assertion: should a reader block on one of these FIFOs, open its
    writing end after `after` seconds so that the read ends (and the test fails on what it read)."""

    def unblock() -> None:
        for fifo in fifos:
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))

    timer = threading.Timer(after, unblock)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def script_command(script: Path, *args: str) -> list[str]:
    """Run a script with its address space capped: a reader of /dev/zero fails with MemoryError
    there instead of taking the machine's memory (set in the child, not in a preexec_fn)."""
    bootstrap = (
        "import resource, runpy, sys; resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30)); "
        "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
    )
    return [sys.executable, "-c", bootstrap, str(script), *args]


# -- 1. a deposition the database refuses fails alone ---------------------------------------------


def test_an_absurd_version_number_fails_only_its_deposition(tmp_path, db_url):
    root = tmp_path / "archive"
    for number in range(1, 6):
        put(root, f"D_{number}", message(f"m{number}", f"D_{number}"))
    current = root / "D_3" / file_name("D_3", TO, 1)
    absurd = current.with_name(file_name("D_3", TO, 99999999999999999999))
    current.rename(absurd)
    report = tmp_path / "report.json"

    assert migrate_in_process(root, db_url, report) == 1
    entries = report_of(report)
    assert {d: e["status"] for d, e in entries.items()} == {
        "D_1": "migrated",
        "D_2": "migrated",
        "D_3": "failed",
        "D_4": "migrated",
        "D_5": "migrated",
    }
    assert str(absurd) in entries["D_3"]["errors"][0] and "version number" in entries["D_3"]["errors"][0]
    assert stored_ids(db_url, "D_3") == [] and stored_ids(db_url, "D_5") == ["m5"]

    # A re-run: the others are unchanged, only D_3 fails again, for the same reason.
    assert migrate_in_process(root, db_url, report) == 1
    assert {d: e["status"] for d, e in report_of(report).items()} == {
        "D_1": "unchanged",
        "D_2": "unchanged",
        "D_3": "failed",
        "D_4": "unchanged",
        "D_5": "unchanged",
    }


@pytest.mark.mysql
def test_a_mysql_column_overflow_fails_only_its_deposition_and_keeps_what_it_had(tmp_path, mysql_url):
    schema_versions.upgrade(mysql_url)
    root = tmp_path / "archive"
    for number in range(1, 6):
        put(root, f"D_{number}", message(f"m{number}", f"D_{number}"))
    report = tmp_path / "report.json"
    assert migrate_in_process(root, mysql_url, report) == 0

    # D_4's file changes into one whose message_id is longer than the column; D_2 and D_5 change too.
    put(root, "D_4", message("x" * 300, "D_4"))
    put(root, "D_2", message("m2", "D_2"), message("m2b", "D_2"))
    put(root, "D_5", message("m5", "D_5"), message("m5b", "D_5"))
    assert migrate_in_process(root, mysql_url, report, "--batch-size", "50") == 1
    entries = report_of(report)
    assert {d: e["status"] for d, e in entries.items()} == {
        "D_1": "unchanged",
        "D_2": "migrated",
        "D_3": "unchanged",
        "D_4": "failed",
        "D_5": "migrated",
    }
    error = entries["D_4"]["errors"][0]
    assert "message_id" in error and "does not fit its column" in error
    assert stored_ids(mysql_url, "D_4") == ["m4"]  # what it had, untouched
    assert stored_ids(mysql_url, "D_2") == ["m2", "m2b"] and stored_ids(mysql_url, "D_5") == ["m5", "m5b"]


@pytest.mark.mysql
def test_a_row_over_mysql_max_allowed_packet_is_reported_as_too_large_not_as_a_lost_connection(tmp_path, mysql_url):
    schema_versions.upgrade(mysql_url)
    with get_engine(mysql_url).connect() as connection:
        limit = connection.execute(text("SELECT @@max_allowed_packet")).scalar_one()
    root = tmp_path / "archive"
    for number in range(1, 4):
        put(root, f"D_{number}", message(f"m{number}", f"D_{number}"))
    # Under the limit as characters, over it as sent: every newline is escaped by the driver.
    put(root, "D_2", message("big", "D_2", "x\n" * (limit // 2 - 1000)))
    report = tmp_path / "report.json"

    assert migrate_in_process(root, mysql_url, report) == 1
    entries = report_of(report)
    assert {d: e["status"] for d, e in entries.items()} == {"D_1": "migrated", "D_2": "failed", "D_3": "migrated"}
    error = entries["D_2"]["errors"][0]
    assert "max_allowed_packet" in error and "message_text" in error and "'big'" in error
    assert "lost the connection" not in error
    assert stored_ids(mysql_url, "D_2") == [] and stored_ids(mysql_url, "D_3") == ["m3"]


@pytest.mark.mysql
def test_an_update_over_mysql_max_allowed_packet_is_too_large_and_changes_nothing(mysql_url):
    schema_versions.upgrade(mysql_url)
    with get_engine(mysql_url).connect() as connection:
        limit = connection.execute(text("SELECT @@max_allowed_packet")).scalar_one()
    store = DbMessageStore(mysql_url)
    service = MessagingService(store)
    service.set("D_1", {"message_id": "draft", "message_text": "short"})
    with pytest.raises(MessagingError, match="max_allowed_packet") as raised:
        service.set("D_1", {"message_id": "draft", "message_text": "'" * (limit // 2)})
    assert "message_text" in str(raised.value) and "lost the connection" not in str(raised.value)
    assert [m.message_text for m in store.load("D_1", TO).messages] == ["short"]


# -- 2. walking the archive ----------------------------------------------------------------------


@pytest.fixture
def odd_archive(tmp_path: Path) -> dict[str, Path]:
    """An archive holding good depositions and every kind of entry that must not be followed or opened."""
    root = tmp_path / "archive"
    outside = tmp_path / "outside"
    for deposition_id in ("D_1", "D_2"):
        put(root, deposition_id, message(f"m-{deposition_id}", deposition_id))
    put(outside, "D_3", message("outside", "D_3"))
    paths = {"root": root, "outside": outside}
    paths["loop"] = root / "D_10"
    paths["loop"].symlink_to("D_10")  # a link to itself
    paths["linked_out"] = root / "D_3"
    paths["linked_out"].symlink_to(outside / "D_3")
    paths["fifo_folder"] = root / "D_11"
    os.mkfifo(paths["fifo_folder"])
    put(root, "D_4", message("m-D_4", "D_4"))
    paths["fifo"] = root / "D_4" / file_name("D_4", TO, 2)  # the current file is a FIFO
    os.mkfifo(paths["fifo"])
    put(root, "D_5", message("m-D_5", "D_5"))
    paths["zero"] = root / "D_5" / file_name("D_5", TO, 2)
    paths["zero"].symlink_to("/dev/zero")
    put(root, "D_6", message("m-D_6", "D_6"))
    paths["inner_link"] = root / "D_6" / file_name("D_6", TO, 2)
    paths["inner_link"].symlink_to(root / "D_1" / file_name("D_1", TO, 1))  # inside the root: not followed either
    put(root, "D_7", message("m-D_7", "D_7"), content_type="notes-from-annotator")
    (root / "D_7" / file_name("D_7", "notes-from-annotator", 1)).rename(
        root / "D_7" / file_name("D_7", "notes-from-annotator", 2)
    )
    paths["old_fifo"] = root / "D_7" / file_name("D_7", "notes-from-annotator", 1)  # an older version: not data
    os.mkfifo(paths["old_fifo"])
    paths["long_id"] = root / ("D_" + "1" * (MAX_DEPOSITION_ID_LENGTH - 1))
    paths["long_id"].mkdir()
    return paths


def test_walking_lists_only_real_folders_and_reports_the_rest(odd_archive):
    store = CifMessageStore(odd_archive["root"])
    found, skipped = store.scan_depositions()
    assert found == ["D_1", "D_2", "D_4", "D_5", "D_6", "D_7"]
    assert store.list_depositions() == found
    reasons = {Path(entry.path).name: entry.reason for entry in skipped}
    assert set(reasons) == {"D_10", "D_11", "D_3", odd_archive["long_id"].name}
    assert "symbolic link to D_10" in reasons["D_10"] and "not followed" in reasons["D_10"]
    assert f"symbolic link to {odd_archive['outside'] / 'D_3'}" in reasons["D_3"]
    assert "FIFO" in reasons["D_11"]
    assert "32" in reasons[odd_archive["long_id"].name]


def test_links_fifos_and_devices_are_refused_by_name_and_never_opened(odd_archive):
    store = CifMessageStore(odd_archive["root"])
    with fifo_unblocker(odd_archive["fifo"]):
        with pytest.raises(ArchiveEntryError, match="FIFO") as raised:
            store.load("D_4", TO)
        assert raised.value.path == str(odd_archive["fifo"])
        with pytest.raises(ArchiveEntryError, match="FIFO"):
            MessagingService(store).get("D_4")
    with pytest.raises(ArchiveEntryError, match="symbolic link to /dev/zero") as raised:
        store.load("D_5", TO)
    assert raised.value.path == str(odd_archive["zero"])
    with pytest.raises(ArchiveEntryError, match="symbolic link"):
        store.load("D_6", TO)
    with pytest.raises(ArchiveEntryError, match=r"symbolic link to D_10"):
        store.load_all("D_10")
    with pytest.raises(ArchiveEntryError, match="not a deposition folder"):
        store.load("D_3", TO)
    # An older version that is a FIFO is not data: the current file reads.
    assert [m.message_id for m in store.load("D_7", "notes-from-annotator").messages] == ["m-D_7"]


def test_nothing_is_written_through_a_link_or_over_a_fifo(odd_archive):
    store = CifMessageStore(odd_archive["root"])
    service = MessagingService(store)
    outside_files = sorted(p.name for p in (odd_archive["outside"] / "D_3").iterdir())
    with pytest.raises(ArchiveEntryError, match="not a deposition folder"):
        service.set("D_3", {"message_text": "must not land outside the archive"})
    assert sorted(p.name for p in (odd_archive["outside"] / "D_3").iterdir()) == outside_files
    assert [m.message_id for m in CifMessageStore(odd_archive["outside"]).load("D_3", TO).messages] == ["outside"]
    with fifo_unblocker(odd_archive["fifo"]), pytest.raises(ArchiveEntryError, match="FIFO"):
        service.set("D_4", {"message_text": "new"})
    assert odd_archive["fifo"].is_fifo()
    with pytest.raises(ArchiveEntryError):
        service.set("D_5", {"message_text": "new"})
    assert os.readlink(odd_archive["zero"]) == "/dev/zero"


def test_migration_and_validation_report_each_odd_entry_and_go_on(odd_archive, sqlite_url, tmp_path):
    """In a subprocess: a regression that blocks on a FIFO or reads /dev/zero must fail, not hang the suite."""
    schema_versions.upgrade(sqlite_url)
    report = tmp_path / "migrate.json"
    command = script_command(
        MIGRATE,
        "--directory",
        str(odd_archive["root"]),
        "--db-url",
        sqlite_url,
        "--workers",
        "2",
        "--batch-size",
        "3",
        "--report",
        str(report),
    )
    with fifo_unblocker(odd_archive["fifo"], odd_archive["old_fifo"], odd_archive["fifo_folder"], after=120):
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    entries = report_of(report)
    long_id = odd_archive["long_id"].name
    assert {d: e["status"] for d, e in entries.items()} == {
        "D_1": "migrated",
        "D_2": "migrated",
        "D_7": "migrated",
        "D_3": "failed",
        "D_4": "failed",
        "D_5": "failed",
        "D_6": "failed",
        "D_10": "failed",
        "D_11": "failed",
        long_id: "failed",
    }
    for deposition_id, where, kind in [
        ("D_3", "linked_out", "symbolic link"),
        ("D_4", "fifo", "FIFO"),
        ("D_5", "zero", "/dev/zero"),
        ("D_6", "inner_link", "symbolic link"),
        ("D_10", "loop", "symbolic link"),
        ("D_11", "fifo_folder", "FIFO"),
    ]:
        error = entries[deposition_id]["errors"][0]
        assert str(odd_archive[where]) in error and kind in error, (deposition_id, error)
    assert "32" in entries[long_id]["errors"][0]
    assert any(str(odd_archive["old_fifo"]) in warning for warning in entries["D_7"]["warnings"])
    assert DbMessageStore(sqlite_url).list_depositions() == ["D_1", "D_2", "D_7"]

    command = script_command(
        REPO_ROOT / "scripts" / "validate_migration.py",
        "--directory",
        str(odd_archive["root"]),
        "--db-url",
        sqlite_url,
        "--workers",
        "1",
        "--report",
        str(tmp_path / "validate.json"),
    )
    with fifo_unblocker(odd_archive["fifo"], odd_archive["old_fifo"], odd_archive["fifo_folder"], after=120):
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    validated = report_of(tmp_path / "validate.json")
    assert {d for d, e in validated.items() if e["status"] == "equal"} == {"D_1", "D_2", "D_7"}
    assert str(odd_archive["fifo"]) in validated["D_4"]["errors"][0]


# -- 3. one rule for deposition ids ------------------------------------------------------------


def test_deposition_ids_are_held_to_the_database_column_size():
    longest = "D_" + "1" * (MAX_DEPOSITION_ID_LENGTH - 2)
    assert validate_deposition_id(longest) == longest
    with pytest.raises(InvalidDepositionIdError, match=f"at most {MAX_DEPOSITION_ID_LENGTH} characters"):
        validate_deposition_id(longest + "1")
    key_columns = [
        table.c.source_deposition_id for table in metadata.tables.values() if "source_deposition_id" in table.c
    ]
    assert len(key_columns) >= 5
    assert {column.type.length for column in key_columns} == {MAX_DEPOSITION_ID_LENGTH}  # type: ignore[attr-defined]


def test_the_longest_id_round_trips_and_one_more_character_writes_nothing(store):
    longest = "G_" + "7" * (MAX_DEPOSITION_ID_LENGTH - 2)
    service = MessagingService(store)
    mid = service.set(longest, {"message_text": "fits"})
    assert [m["message_id"] for m in service.get(longest)] == [mid]
    with pytest.raises(InvalidDepositionIdError, match=str(MAX_DEPOSITION_ID_LENGTH)):
        service.set(longest + "7", {"message_text": "too long an id"})
    assert store.list_depositions() == [longest]


# -- 4. values no backend can store --------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("message_text", "lone \udc80 surrogate"),
        ("message_subject", b"bytes"),
        ("sender", {"a": 1}),
        ("message_text", ["a list"]),
        ("context_value", True),
        ("message_text", 1.5),
    ],
)
def test_a_value_that_is_not_text_is_refused_naming_the_field_and_nothing_is_written(store, field, value):
    service = MessagingService(store)
    kept = service.set("D_1", {"message_id": "kept", "message_text": "kept"})
    with pytest.raises(InvalidInputError, match=field):
        service.set("D_1", {"message_text": "new", field: value})
    with pytest.raises(InvalidInputError, match=field):  # an edit of the stored message, too
        service.set("D_1", {"message_id": kept, field: value})
    assert [(m["message_id"], m["message_text"]) for m in service.get("D_1")] == [("kept", "kept")]


def test_file_reference_values_are_checked_too_and_numbers_are_their_text(store):
    service = MessagingService(store)
    with pytest.raises(InvalidInputError, match="upload_file_name"):
        service.set("D_1", {"message_text": "x"}, file_references=[{"upload_file_name": b"f.cif"}])
    assert service.get("D_1") == []
    mid = service.set("D_1", {"message_text": "x"}, file_references=[{"content_type": "model", "version_id": 2}])
    assert service.get_message("D_1", mid)["file_references"][0]["version_id"] == "2"


def test_a_surrogate_given_to_a_store_directly_is_refused_by_the_store(store):
    with pytest.raises(InvalidInputError, match="message_text"):
        store.put_message("D_1", TO, Message(message_id="m", message_text="\ud800"))
    with pytest.raises(InvalidInputError, match="not Unicode"):
        store.save(Document("D_1", TO, [Message("1", "m", "D_1", message_text="a\udfff")]))
    assert store.load("D_1", TO).is_empty()


def test_the_cif_writer_names_the_item_holding_a_surrogate():
    document = Document("D_1", TO, [Message("1", "m1", "D_1"), Message("2", "m2", "D_1", sender="x\udc80")])
    with pytest.raises(InvalidInputError, match=r"pdbx_deposition_message_info\.sender of message 'm2'"):
        format_document(document)


# -- 7. passwords in database URLs -----------------------------------------------------------------


@pytest.mark.parametrize("password", ["p#ss", "p@ss", "pa/ss", "p:ss", "a@b/c#d:e", "s3cret?x=1"])
def test_a_password_never_shows_in_a_masked_url(password):
    url = f"mysql+pymysql://onedep:{password}@db.example.org:3307/msgs?charset=utf8mb4"
    assert mask_url(url) == "mysql+pymysql://onedep:***@db.example.org:3307/msgs?charset=utf8mb4"
    assert "s3cret" not in mask_url("mysql+pymysql://u@h/db?password=s3cret&charset=utf8mb4")


def test_an_unencoded_at_in_the_password_is_a_clear_error_that_shows_no_part_of_it():
    with pytest.raises(InvalidInputError, match="(?i)percent-encode") as raised:
        normalise_url("mysql+pymysql://onedep:p@ss@127.0.0.1:3306/msgs")
    assert "p@ss" not in str(raised.value) and "ss@" not in str(raised.value)
    with pytest.raises(InvalidInputError):
        DbMessageStore("mysql://onedep:p@ss@127.0.0.1:3306/msgs")


# -- 8. unreachable servers fail once --------------------------------------------------------------


def test_a_closed_port_fails_at_once_as_unreachable(monkeypatch):
    monkeypatch.setenv("MSGDB_CONNECT_TIMEOUT", "1")
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    with pytest.raises(BackendUnavailableError, match=f"cannot reach the database server at .*:{port}"):
        DbMessageStore(f"mysql+pymysql://root:pw@127.0.0.1:{port}/msgs").ping()


def test_a_server_that_never_answers_is_tried_once_not_five_times(monkeypatch):
    monkeypatch.setenv("MSGDB_CONNECT_TIMEOUT", "1")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    accepted: list[socket.socket] = []

    def accept_all() -> None:
        while True:
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept_all, daemon=True).start()
    try:
        with pytest.raises(BackendUnavailableError, match="MSGDB_CONNECT_TIMEOUT") as raised:
            DbMessageStore(f"mysql+pymysql://root:s3cret-pw@127.0.0.1:{port}/msgs").ping()
    finally:
        listener.close()
        for connection in accepted:
            connection.close()
    assert "cannot reach the database server" in str(raised.value) and "s3cret" not in str(raised.value)
    assert len(accepted) == 1


# -- 6. the --report path ---------------------------------------------------------------------------


def test_a_report_path_that_cannot_be_written_is_a_usage_error_naming_it(example_archive, sqlite_url, tmp_path, capsys):
    from conftest import read_only

    schema_versions.upgrade(sqlite_url)
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "taken").mkdir()
    for report in (folder / "taken", folder / "sub" / "r.json", folder / "r.json"):
        with read_only(folder):
            status = run(
                [
                    "migrate",
                    "--directory",
                    str(example_archive),
                    "--db-url",
                    sqlite_url,
                    "--workers",
                    "1",
                    "--no-progress",
                    "--report",
                    str(report),
                ]
            )
        captured = capsys.readouterr()
        assert status == 2, captured.err
        assert "--report" in captured.err and str(report) in captured.err and "Traceback" not in captured.err
    assert DbMessageStore(sqlite_url).list_depositions() == []  # refused before any work
