"""The CIF archive store: layout, versions, snapshots, atomic writes, locking."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import gemmi
import pytest
from conftest import read_only, split_name

from wwpdb.apps.msgmodule.cifformat import parse_file
from wwpdb.apps.msgmodule.errors import BackendUnavailableError, CifParseError, StorageError
from wwpdb.apps.msgmodule.model import Document, Message
from wwpdb.apps.msgmodule.stores.cif import CifMessageStore

TO = "messages-to-depositor"


def snapshot_tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_current_version_is_the_highest_number_and_snapshots_are_ignored(example_archive):
    store = CifMessageStore(example_archive)
    current = store.current_file("D_1000000002", TO)
    assert current is not None and current.name.endswith(".V10")
    document = store.load("D_1000000002", TO)
    assert all("Superseded" not in (m.message_subject or "") for m in document.messages)
    assert [m.message_subject for m in document.messages] == ["Same message_id as in D_1000000001", "Second message"]


def test_list_depositions_finds_d_and_g_folders_only(example_archive):
    (example_archive / "not-a-deposition").mkdir()
    (example_archive / "D_123.tar").write_text("x")
    assert CifMessageStore(example_archive).list_depositions() == ["D_1000000001", "D_1000000002", "G_1000003"]


def test_missing_deposition_is_an_empty_document(example_archive):
    document = CifMessageStore(example_archive).load("D_4242", TO)
    assert document.is_empty() and document.deposition_id == "D_4242"


def test_missing_archive_root_is_an_error_not_an_empty_result(tmp_path):
    store = CifMessageStore(tmp_path / "no-such-root")
    with pytest.raises(BackendUnavailableError, match="no-such-root"):
        store.load("D_1", TO)
    with pytest.raises(BackendUnavailableError):
        store.list_depositions()


def test_first_write_creates_v1(example_archive):
    store = CifMessageStore(example_archive)
    store.put_message("D_555", TO, Message(message_id="m1", deposition_data_set_id="D_555", message_text="hi"))
    assert sorted(p.name for p in (example_archive / "D_555").iterdir() if not p.name.startswith(".")) == [
        "D_555_messages-to-depositor_P1.cif.V1"
    ]


def test_writes_rewrite_the_current_version_in_place_keeping_five_prev_snapshots(example_archive):
    store = CifMessageStore(example_archive)
    folder = example_archive / "D_1000000001"
    current = folder / "D_1000000001_messages-to-depositor_P1.cif.V1"
    contents = [current.read_bytes()]
    for number in range(7):
        store.put_message("D_1000000001", TO, Message(message_id=f"new-{number}", message_text=str(number)))
        contents.append(current.read_bytes())
    names = sorted(p.name for p in folder.iterdir() if "messages-to-depositor" in p.name and not p.name.startswith("."))
    assert names == [current.name] + [f"{current.name}.PREV{i}" for i in range(5)]
    # PREV0 is the version before the last write, PREV4 the oldest kept.
    for index in range(5):
        assert (folder / f"{current.name}.PREV{index}").read_bytes() == contents[-2 - index]
    assert len(store.load("D_1000000001", TO).messages) == 4 + 7


def test_save_of_a_loaded_document_is_equivalent_and_keeps_ordinals(sample_archive):
    store = CifMessageStore(sample_archive)
    for deposition_id in store.list_depositions():
        for content_type, document in store.load_all(deposition_id).items():
            if document.is_empty():
                continue
            store.save(document)
            again = store.load(deposition_id, content_type)
            assert again == document
            written = store.current_file(deposition_id, content_type)
            gemmi.cif.read(str(written))


def test_unparseable_current_file_raises_with_file_and_line(example_archive):
    path = example_archive / "D_1000000001" / "D_1000000001_notes-from-annotator_P1.cif.V2"
    path.write_text("data_messages\nloop_\n_pdbx_deposition_message_info.ordinal_id\n_x.y 'open\n")
    with pytest.raises(CifParseError, match=r"notes-from-annotator_P1\.cif\.V2, line 4"):
        CifMessageStore(example_archive).load("D_1000000001", "notes-from-annotator")


@pytest.mark.parametrize("bad", ["../D_1000000001", "/tmp/D_1", "D_1/../../etc", "", "D_x"])
def test_bad_ids_raise_value_error_and_touch_nothing(example_archive, bad):
    before = snapshot_tree(example_archive.parent)
    store = CifMessageStore(example_archive)
    with pytest.raises(ValueError, match="invalid deposition id"):
        store.put_message(bad, TO, Message(message_id="m"))
    with pytest.raises(ValueError):
        store.load(bad, TO)
    with pytest.raises(ValueError):
        store.set_status(bad, "m", read_status="Y")
    assert snapshot_tree(example_archive.parent) == before


def test_failed_change_stores_nothing(example_archive):
    store = CifMessageStore(example_archive)
    before = snapshot_tree(example_archive)

    def broken(document: Document) -> None:
        document.messages.clear()
        raise RuntimeError("change failed half way")

    with pytest.raises(RuntimeError):
        store.update("D_1000000001", TO, broken)
    after = {k: v for k, v in snapshot_tree(example_archive).items() if not Path(k).name.startswith(".")}
    assert after == before


def test_write_into_a_read_only_folder_fails_and_keeps_the_file(example_archive):
    folder = example_archive / "D_1000000001"
    before = snapshot_tree(folder)
    with read_only(folder), pytest.raises(StorageError, match="D_1000000001"):
        CifMessageStore(example_archive).put_message("D_1000000001", TO, Message(message_id="x"))
    assert snapshot_tree(folder) == before


# -- a killed writer ---------------------------------------------------------------


WRITER = textwrap.dedent(
    """
    import sys
    from wwpdb.apps.msgmodule.model import Document, Message
    from wwpdb.apps.msgmodule.stores.cif import CifMessageStore
    store = CifMessageStore(sys.argv[1])
    n = 0
    while True:
        n += 1
        text = ("generation %d " % n) * 2_000_000  # ~26 MB: a save takes a while
        store.save(Document("D_7000000002", "messages-to-depositor",
                            messages=[Message("1", "big", "D_7000000002", message_text=text)]))
        print(n, flush=True)
    """
)


@pytest.mark.slow
def test_a_killed_writer_never_leaves_a_half_written_current_file(tmp_path):
    root = tmp_path / "archive"
    root.mkdir()
    store = CifMessageStore(root)
    store.save(Document("D_7000000002", TO, messages=[Message("1", "big", "D_7000000002", message_text="start")]))
    current = store.current_file("D_7000000002", TO)
    assert current is not None
    for delay in (0.15, 0.3, 0.45, 0.6, 0.9):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(root)], stdout=subprocess.PIPE)
        time.sleep(delay)
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        document = parse_file(current, *split_name(current))  # parses: never half a file
        text = document.messages[0].message_text
        if text != "start":
            generation = text.split(" ", 2)[1]
            assert text == f"generation {generation} " * 2_000_000, "a torn or mixed write"
    leftovers = [p.name for p in current.parent.iterdir() if p.name.endswith(".tmp")]
    # Temporary files of killed writers may remain; they are never read as data.
    assert store.current_file("D_7000000002", TO) == current
    assert all(name.startswith(".") for name in leftovers)


def test_a_kept_parse_is_never_changed_by_what_a_caller_does_with_its_copy(tmp_path, monkeypatch):
    from wwpdb.apps.msgmodule.stores.cif import PARSED_FILES, ParsedFiles

    monkeypatch.setattr(ParsedFiles, "SETTLE_NS", 0)
    PARSED_FILES.clear()
    store = CifMessageStore(tmp_path)
    (tmp_path / "D_1000000001").mkdir()
    document = Document("D_1000000001", "messages-to-depositor")
    document.put_message(Message.from_dict({"message_id": "m1", "message_subject": "as written"}))
    store.save(document)
    for _ in range(2):  # the first load parses and keeps, the second is answered from what was kept
        loaded = store.load("D_1000000001", "messages-to-depositor")
        loaded.messages[0].message_subject = "changed by a caller"
        loaded.messages.append(loaded.messages[0])
    for _ in range(2):  # a page is read from the kept parse: its rows are copies too
        page = store.page_messages("D_1000000001", ["messages-to-depositor"])
        page.messages[0][1].message_subject = "changed in a page"
    again = store.load("D_1000000001", "messages-to-depositor")
    assert [m.message_subject for m in again.messages] == ["as written"]
    assert str(store.current_file("D_1000000001", "messages-to-depositor")) in PARSED_FILES._files


def test_keeping_a_file_costs_its_first_read_no_copy(tmp_path, monkeypatch):
    """A cold read (the file's first in the process) is the parse alone: what is kept is the parse's columns,
    shared with the caller's document, never a copy of the document (bench: store read vs bare gemmi parse)."""
    from wwpdb.apps.msgmodule.stores.cif import PARSED_FILES, ParsedFiles

    monkeypatch.setattr(ParsedFiles, "SETTLE_NS", 0)
    PARSED_FILES.clear()
    store = CifMessageStore(tmp_path)
    (tmp_path / "D_1000000001").mkdir()
    document = Document("D_1000000001", "messages-to-depositor")
    for number in range(3):
        document.put_message(Message.from_dict({"message_id": f"m{number}", "message_subject": f"subject {number}"}))
    store.save(document)
    path = str(store.current_file("D_1000000001", "messages-to-depositor"))

    def no_copy(self):  # type: ignore[no-untyped-def]
        raise AssertionError("a read copied a whole document")

    monkeypatch.setattr(Document, "copy", no_copy)
    first = store.load("D_1000000001", "messages-to-depositor")  # parsed and kept
    assert path in PARSED_FILES._files
    second = store.load("D_1000000001", "messages-to-depositor")  # made from what was kept
    assert first is not second and first.messages[0] is not second.messages[0]
    assert [m.message_subject for m in second.messages] == ["subject 0", "subject 1", "subject 2"]
    first.messages[0].message_subject = "changed by a caller"
    third = store.load("D_1000000001", "messages-to-depositor")
    assert third.messages[0].message_subject == "subject 0"
    # The one document shared with the store's own readers is made once, from the same columns.
    shared, identity = PARSED_FILES.shared(path, "D_1000000001", "messages-to-depositor")
    assert identity is not None and PARSED_FILES.shared(path, "D_1000000001", "messages-to-depositor")[0] is shared
    assert [m.message_subject for m in shared.messages] == ["subject 0", "subject 1", "subject 2"]
    assert store.flag_lists("D_1000000001", "messages-to-depositor") == store.flag_lists(
        "D_1000000001", "messages-to-depositor"
    )
