"""No write below the archive root goes through a link; archive files keep the mode and group the site gave.

Real links (dangling, to another deposition's file, out of the root), real
modes and a real non-root group (we run as root, so any group can be given).
"""

from __future__ import annotations

import grp
import os
import shutil
import stat
from pathlib import Path

import pytest
from conftest import put_site_in_stage, stage_config

from wwpdb.apps.msgmodule.config import load_settings
from wwpdb.apps.msgmodule.db import schema_versions
from wwpdb.apps.msgmodule.errors import ArchiveEntryError
from wwpdb.apps.msgmodule.io.attachments import ArchiveAttachments, AttachmentError
from wwpdb.apps.msgmodule.io.MessagingFactory import MessagingFactory
from wwpdb.apps.msgmodule.service import MessagingService
from wwpdb.apps.msgmodule.stage.reconcile import reconcile
from wwpdb.apps.msgmodule.stage.routing import journal_outside
from wwpdb.apps.msgmodule.stores.authority import SITE_WRITER
from wwpdb.apps.msgmodule.stores.cif import CifMessageStore, file_name
from wwpdb.apps.msgmodule.stores.db import DbMessageStore

TO = "messages-to-depositor"
MINE, OTHER = "D_1000000001", "D_1000000002"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="gives files another group and owner: needs root")


def a_group() -> int:
    """A real group that is not root's."""
    return next(g.gr_gid for g in grp.getgrall() if g.gr_gid not in (0, os.getgid()))


def current(root: Path, deposition_id: str, version: int = 1) -> Path:
    return root / deposition_id / file_name(deposition_id, TO, version)


def message_ids(root: Path, deposition_id: str) -> list[str]:
    return [m.message_id for m in CifMessageStore(root).load(deposition_id, TO).messages]


def site_journal(config):
    """The site's journal, as the service and reconcile open it (for writes the database may miss)."""
    return journal_outside(load_settings(config), "db")


def everything_under(folder: Path) -> dict[str, bytes | str]:
    """Each entry below `folder`: a file's bytes, a link's target."""
    found: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            found[str(path)] = os.readlink(path)
        elif path.is_file():
            found[str(path)] = path.read_bytes()
    return found


@pytest.fixture
def two_depositions(tmp_path):
    """An archive in which two depositions each hold an acknowledged message, and a folder outside it."""
    root = tmp_path / "archive"
    root.mkdir()
    (tmp_path / "outside").mkdir()
    service = MessagingService(CifMessageStore(root))
    acknowledged = {dep: service.set(dep, {"message_text": f"acknowledged in {dep}"}) for dep in (MINE, OTHER)}
    return {"root": root, "outside": tmp_path / "outside", "service": service, "acknowledged": acknowledged}


# -- item 2: writes never follow links ----------------------------------------------------------------------------


def test_a_dangling_prev0_link_out_of_the_root_refuses_the_write_and_nothing_is_made_outside(two_depositions):
    root, outside = two_depositions["root"], two_depositions["outside"]
    mine = current(root, MINE)
    before = mine.read_bytes()
    prev0 = mine.with_name(mine.name + ".PREV0")
    prev0.symlink_to(outside / "planted")
    with pytest.raises(ArchiveEntryError) as raised:
        two_depositions["service"].set(MINE, {"message_text": "refused"})
    assert raised.value.path == str(prev0)
    assert "symbolic link" in str(raised.value)
    assert not (outside / "planted").exists()
    assert mine.read_bytes() == before
    assert sorted(p.name for p in mine.parent.iterdir() if not p.name.endswith(".lock")) == [mine.name, prev0.name]


def test_a_prev0_link_to_another_depositions_next_version_never_becomes_its_current_file(two_depositions):
    root = two_depositions["root"]
    mine, theirs = current(root, MINE), current(root, OTHER)
    next_version = current(root, OTHER, 2)
    mine.with_name(mine.name + ".PREV0").symlink_to(Path("..") / OTHER / next_version.name)
    with pytest.raises(ArchiveEntryError, match=r"PREV0: is a symbolic link"):
        two_depositions["service"].set(MINE, {"message_text": "refused"})
    assert not os.path.lexists(next_version)
    assert CifMessageStore(root).current_file(OTHER, TO) == theirs
    assert message_ids(root, OTHER) == [two_depositions["acknowledged"][OTHER]]


def test_a_link_at_a_version_file_is_refused_and_its_target_is_left_alone(two_depositions):
    # This held before the rest of the rule (the current file is looked at without following); kept here.
    root = two_depositions["root"]
    theirs = current(root, OTHER)
    before = theirs.read_bytes()
    planted = current(root, MINE, 2)
    planted.symlink_to(theirs)
    with pytest.raises(ArchiveEntryError) as raised:
        two_depositions["service"].set(MINE, {"message_text": "refused"})
    assert raised.value.path == str(planted)
    assert theirs.read_bytes() == before and os.readlink(planted) == str(theirs)


@pytest.mark.parametrize("points_to", ["another deposition's file", "nothing, outside the root"])
def test_a_link_at_a_documents_lock_file_is_refused_and_nothing_is_written_through_it(two_depositions, points_to):
    root, outside = two_depositions["root"], two_depositions["outside"]
    theirs = current(root, OTHER)
    before = theirs.read_bytes()
    target = theirs if points_to == "another deposition's file" else outside / "lock"
    lock = root / MINE / f".{MINE}_{TO}.lock"
    lock.unlink()
    lock.symlink_to(target)
    with pytest.raises(ArchiveEntryError) as raised:
        two_depositions["service"].set(MINE, {"message_text": "refused"})
    assert raised.value.path == str(lock)
    assert theirs.read_bytes() == before
    assert not (outside / "lock").exists()
    assert message_ids(root, MINE) == [two_depositions["acknowledged"][MINE]]


@pytest.fixture
def site(tmp_path, sqlite_url):
    """A dual-write site (archive first, database second) with an acknowledged message in each of two
    depositions, and a folder outside the archive."""
    schema_versions.upgrade(sqlite_url)
    config = stage_config(tmp_path, "dual-write", sqlite_url)
    service = MessagingFactory.create_messaging_service(config=config)
    acknowledged = {dep: service.set(dep, {"message_text": f"acknowledged in {dep}"}) for dep in (MINE, OTHER)}
    (tmp_path / "outside").mkdir()
    root = Path(config["MSGCIF_ROOT"])
    return {
        "config": config,
        "root": root,
        "site": root / ".msgmodule",
        "outside": tmp_path / "outside",
        "acknowledged": acknowledged,
        "db_url": sqlite_url,
    }


def test_a_site_folder_replaced_by_a_link_is_neither_read_nor_written(site):
    outside_site = site["outside"] / "site"
    shutil.move(site["site"], outside_site)  # the site's own files, now outside the root
    site["site"].symlink_to(outside_site)
    before = everything_under(site["outside"])
    with pytest.raises(ArchiveEntryError) as raised:
        MessagingFactory.create_messaging_service(config=site["config"]).set(MINE, {"message_text": "refused"})
    assert raised.value.path == str(site["site"])
    with pytest.raises(ArchiveEntryError) as raised:
        put_site_in_stage(site["config"], "cif-only")  # record, history and locks
    assert raised.value.path == str(site["site"])
    with pytest.raises(ArchiveEntryError) as raised:
        site_journal(site["config"]).record(MINE, TO, "db", "refused")
    assert raised.value.path == str(site["site"])
    assert everything_under(site["outside"]) == before


@pytest.mark.parametrize("lock", ["stage.lock", "move.lock", "journal.jsonl.lock"])
@pytest.mark.parametrize("points_to", ["another deposition's file", "nothing, outside the root"])
def test_a_link_at_a_site_lock_file_is_refused_and_nothing_is_written_through_it(site, lock, points_to):
    theirs = current(site["root"], OTHER)
    before = theirs.read_bytes()
    planted = site["site"] / lock
    planted.unlink(missing_ok=True)
    planted.symlink_to(theirs if points_to == "another deposition's file" else site["outside"] / "lock")
    with pytest.raises(ArchiveEntryError) as raised:
        if lock != "journal.jsonl.lock":  # a move takes both site locks afresh
            put_site_in_stage(site["config"], "cif-only")
        else:
            MessagingFactory.create_messaging_service(config=site["config"]).set(MINE, {"message_text": "refused"})
    assert raised.value.path == str(planted)
    assert theirs.read_bytes() == before
    assert not (site["outside"] / "lock").exists()
    assert message_ids(site["root"], OTHER) == [site["acknowledged"][OTHER]]


def test_a_link_at_the_journals_temporary_file_stops_reconcile_before_it_writes_through_it(site):
    theirs = current(site["root"], OTHER)
    before = theirs.read_bytes()
    journal = site_journal(site["config"])
    journal.record(MINE, TO, "db", "a second write that failed")
    planted = site["site"] / ".journal.jsonl.tmp"
    planted.symlink_to(theirs)
    stores = {  # as the site's reconcile opens them: written whatever the stage
        "cif": CifMessageStore(site["root"], site_writer=SITE_WRITER),
        "db": DbMessageStore(site["db_url"], site_writer=SITE_WRITER),
    }
    with pytest.raises(ArchiveEntryError) as raised:
        reconcile(stores, journal, authoritative="cif")
    assert raised.value.path == str(planted)
    assert theirs.read_bytes() == before
    assert message_ids(site["root"], OTHER) == [site["acknowledged"][OTHER]]
    assert os.readlink(planted) == str(theirs) and not journal.path.is_symlink()
    assert [entry.deposition_id for entry in journal.entries()] == [MINE]  # still there for the next run


def test_a_link_at_the_stage_records_temporary_file_is_refused(site):
    theirs = current(site["root"], OTHER)
    before = theirs.read_bytes()
    planted = site["site"] / f".stage.json.{os.getpid()}.tmp"
    planted.symlink_to(theirs)
    with pytest.raises(ArchiveEntryError) as raised:
        put_site_in_stage(site["config"], "cif-only")
    assert raised.value.path == str(planted)
    assert theirs.read_bytes() == before


# -- item 5: modes and groups ---------------------------------------------------------------------------------------


def mode_and_owner(path: Path) -> tuple[str, int, int]:
    status = os.lstat(path)
    return oct(stat.S_IMODE(status.st_mode)), status.st_uid, status.st_gid


def test_a_rewrite_keeps_the_files_mode_owner_and_group(two_depositions):
    group = a_group()
    mine = current(two_depositions["root"], MINE)
    os.chown(mine, 65534, group)  # another account's file, shared through its group
    mine.chmod(0o640)
    two_depositions["service"].set(MINE, {"message_text": "second"})
    assert mode_and_owner(mine) == ("0o640", 65534, group)
    assert mode_and_owner(mine.with_name(mine.name + ".PREV0")) == ("0o640", 65534, group)
    assert len(message_ids(two_depositions["root"], MINE)) == 2


def test_a_snapshot_copied_where_hard_links_fail_keeps_the_mode_and_group(two_depositions, monkeypatch):
    from wwpdb.apps.msgmodule.stores import cif

    def no_hard_links(*args, **kwargs):
        raise PermissionError(1, "Operation not permitted")  # as on a file system without hard links

    group = a_group()
    mine = current(two_depositions["root"], MINE)
    before = mine.read_bytes()
    os.chown(mine, -1, group)
    mine.chmod(0o640)
    monkeypatch.setattr(cif.os, "link", no_hard_links)
    two_depositions["service"].set(MINE, {"message_text": "second"})
    snapshot = mine.with_name(mine.name + ".PREV0")
    assert snapshot.read_bytes() == before
    assert mode_and_owner(snapshot) == ("0o640", 0, group)
    assert mode_and_owner(mine) == ("0o640", 0, group)


def test_a_new_version_takes_its_predecessors_mode_and_group(two_depositions):
    group = a_group()
    root = two_depositions["root"]
    mine = current(root, MINE)
    os.chown(mine, -1, group)
    mine.chmod(0o660)
    store = CifMessageStore(root)
    written = store.save_new_version(store.load(MINE, TO))
    assert written == current(root, MINE, 2)
    assert mode_and_owner(written) == ("0o660", 0, group)
    assert mode_and_owner(mine) == ("0o660", 0, group)


def test_a_new_file_and_folder_take_their_folders_mode_and_group(tmp_path):
    group = a_group()
    root = tmp_path / "archive"
    root.mkdir()
    os.chown(root, -1, group)
    root.chmod(0o2770)  # group-shared, new entries inherit the group
    MessagingService(CifMessageStore(root)).set(MINE, {"message_text": "first"})
    assert mode_and_owner(root / MINE) == ("0o2770", 0, group)
    assert mode_and_owner(current(root, MINE)) == ("0o660", 0, group)
    assert mode_and_owner(root / MINE / f".{MINE}_{TO}.lock") == ("0o660", 0, group)
    # A deposition folder made by another tool with its own group: the file takes that folder's.
    other_group = next(g.gr_gid for g in grp.getgrall() if g.gr_gid not in (0, os.getgid(), group))
    (root / OTHER).mkdir()
    os.chown(root / OTHER, -1, other_group)
    (root / OTHER).chmod(0o750)
    MessagingService(CifMessageStore(root)).set(OTHER, {"message_text": "first"})
    assert mode_and_owner(current(root, OTHER)) == ("0o640", 0, other_group)


def test_the_site_folders_files_take_the_roots_mode_and_group_and_keep_their_own(tmp_path, sqlite_url):
    schema_versions.upgrade(sqlite_url)
    group = a_group()
    root = tmp_path / "archive"
    root.mkdir()
    os.chown(root, -1, group)
    root.chmod(0o2750)
    config = stage_config(tmp_path, "dual-write", sqlite_url)
    site = root / ".msgmodule"
    assert mode_and_owner(site) == ("0o2750", 0, group)
    for name in ("stage.json", "stage-history.jsonl", "stage.lock", "move.lock"):
        assert mode_and_owner(site / name) == ("0o640", 0, group), name
    service = MessagingFactory.create_messaging_service(config=config)
    service.set(MINE, {"message_text": "first"})
    assert mode_and_owner(site / "journal.jsonl") == ("0o640", 0, group)
    assert mode_and_owner(site / "journal.jsonl.lock") == ("0o640", 0, group)
    # Files the site changed keep what it gave them: the record across a move, the journal across a compaction.
    other_group = next(g.gr_gid for g in grp.getgrall() if g.gr_gid not in (0, os.getgid(), group))
    for name in ("stage.json", "journal.jsonl"):
        os.chown(site / name, 65534, other_group)
        (site / name).chmod(0o660)
    put_site_in_stage(config, "cif-only")
    journal = site_journal(config)
    journal.lines.rewrite(lambda records: records)
    assert mode_and_owner(site / "stage.json") == ("0o660", 65534, other_group)
    assert mode_and_owner(site / "journal.jsonl") == ("0o660", 65534, other_group)


def test_an_attachments_milestone_copy_is_never_written_through_a_link(two_depositions):
    root = two_depositions["root"]
    theirs = current(root, OTHER)
    before = theirs.read_bytes()
    (root / MINE / f"{MINE}_model_P1.cif.V1").write_text("model")
    planted = root / MINE / f".{MINE}_model-annotate_P1.cif.V1.tmp"
    planted.symlink_to(theirs)
    with pytest.raises(AttachmentError, match=rf"{planted}: is a symbolic link"):
        ArchiveAttachments(root).attach(MINE, "model", "pdbx")
    assert theirs.read_bytes() == before
    assert not (root / MINE / f"{MINE}_model-annotate_P1.cif.V1").exists()


def test_an_attachments_new_milestone_version_takes_its_predecessors_mode_and_group(two_depositions):
    group = a_group()
    root = two_depositions["root"]
    model = root / MINE / f"{MINE}_model_P1.cif.V1"
    model.write_text("model")
    attachments = ArchiveAttachments(root)
    attachments.attach(MINE, "model", "pdbx")
    first = root / MINE / f"{MINE}_model-annotate_P1.cif.V1"
    os.chown(first, -1, group)
    first.chmod(0o640)
    model.write_text("model, changed")
    attachments.attach(MINE, "model", "pdbx")
    assert mode_and_owner(first.with_name(f"{MINE}_model-annotate_P1.cif.V2")) == ("0o640", 0, group)
