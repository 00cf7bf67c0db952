"""A store written directly refuses while the site's stage makes it not the authority; the site's layers write on."""

from __future__ import annotations

import pytest
from conftest import put_site_in_stage, site_config

from wwpdb.apps.msgmodule.config import load_settings
from wwpdb.apps.msgmodule.db import schema_versions
from wwpdb.apps.msgmodule.errors import InvalidInputError, NotAuthoritativeError
from wwpdb.apps.msgmodule.io.MessagingFactory import create_messaging_service
from wwpdb.apps.msgmodule.model import Document, Message
from wwpdb.apps.msgmodule.stage.lifecycle import move_stage
from wwpdb.apps.msgmodule.stores.authority import SITE_WRITER
from wwpdb.apps.msgmodule.stores.cif import CifMessageStore
from wwpdb.apps.msgmodule.stores.db import DbMessageStore

DEP, CT = "D_1000000001", "messages-to-depositor"


def a_message(text: str) -> Message:
    return Message(message_id=f"id-{text}", message_text=text, message_subject="s")


# Every way a store writes one document: each must be refused, not just put_message.
WRITES = {
    "put_message": lambda store: store.put_message(DEP, CT, a_message("direct")),
    "save": lambda store: store.save(Document(DEP, CT)),
    "update": lambda store: store.update(DEP, CT, lambda document: None),
    "overwrite": lambda store: store.overwrite(DEP, CT, lambda: Document(DEP, CT)),
    "set_status": lambda store: store.set_status(DEP, "id-x", read_status="Y"),
    "apply_change": lambda store: store.apply_change(DEP, CT, None, Document(DEP, CT)),
}


@pytest.fixture
def site(tmp_path):
    """A site on SQLite with one message written through the service in cif-only."""
    url = f"sqlite:///{tmp_path}/messaging.db"
    schema_versions.upgrade(url)
    config = site_config(tmp_path, url)
    create_messaging_service(config=config).set(
        deposition_id=DEP, message_data={"message_text": "first", "message_subject": "s"}, content_type=CT
    )
    return config


def texts(store, content_type: str = CT) -> list[str | None]:
    return [message.message_text for message in store.load(DEP, content_type).messages]


@pytest.mark.parametrize("stage", ["db-primary", "db-only"])
def test_the_archive_refuses_a_direct_write_while_the_database_is_the_authority(site, stage):
    put_site_in_stage(site, stage)
    settings = load_settings(site)
    store = CifMessageStore(settings.cif_root)
    folder = store.deposition_dir(DEP)
    before = {path.name: path.read_bytes() for path in folder.iterdir()}

    for name, write in WRITES.items():
        with pytest.raises(NotAuthoritativeError) as refused:
            write(store)
        said = str(refused.value)
        assert refused.value.backend == "cif" and refused.value.stage == stage, name
        assert f"stage {stage}" in said and DEP in said and "create_messaging_service" in said, name
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == before  # nothing written, no lock file


@pytest.mark.parametrize("stage", ["dual-write", "shadow", "cif-only"])
def test_the_database_refuses_a_direct_write_while_the_archive_is_the_authority(site, stage):
    put_site_in_stage(site, "dual-write")
    if stage != "dual-write":
        put_site_in_stage(site, stage)
    store = DbMessageStore(load_settings(site).db_url)
    before = store.load_all(DEP)

    for name, write in WRITES.items():
        with pytest.raises(NotAuthoritativeError) as refused:
            write(store)
        said = str(refused.value)
        assert refused.value.backend == "db" and refused.value.stage == stage, name
        assert f"stage {stage}" in said and DEP in said and "create_messaging_service" in said, name
    assert store.load_all(DEP) == before


def test_each_store_is_written_directly_while_it_is_the_authority(site):
    settings = load_settings(site)
    CifMessageStore(settings.cif_root).put_message(DEP, CT, a_message("cif-only"))  # a site with no move: cif-only
    put_site_in_stage(site, "dual-write")
    CifMessageStore(settings.cif_root).put_message(DEP, CT, a_message("dual-write"))
    put_site_in_stage(site, "db-primary")
    DbMessageStore(settings.db_url).put_message(DEP, CT, a_message("db-primary"))
    assert texts(DbMessageStore(settings.db_url))[-1] == "db-primary"
    assert texts(CifMessageStore(settings.cif_root))[-2:] == ["cif-only", "dual-write"]


def test_a_standalone_store_with_no_site_record_is_written_freely(tmp_path):
    url = f"sqlite:///{tmp_path}/alone.db"
    schema_versions.upgrade(url)
    DbMessageStore(url).put_message(DEP, CT, a_message("db"))
    (tmp_path / "archive").mkdir()
    CifMessageStore(tmp_path / "archive").put_message(DEP, CT, a_message("cif"))
    assert texts(DbMessageStore(url)) == ["db"] and texts(CifMessageStore(tmp_path / "archive")) == ["cif"]


def test_the_service_writes_where_the_direct_store_was_refused_and_a_rollback_keeps_it(site):
    """The operator's case: in db-primary the message goes through the service, and moving back keeps it."""
    put_site_in_stage(site, "db-primary")
    settings = load_settings(site)
    with pytest.raises(NotAuthoritativeError):
        CifMessageStore(settings.cif_root).put_message(DEP, CT, a_message("lost"))
    service = create_messaging_service(config=site)
    service.set(deposition_id=DEP, message_data={"message_text": "kept", "message_subject": "s"}, content_type=CT)

    move_stage(settings, "dual-write")  # the rollback exports the database's documents into the archive

    # (The forced move skipped the migration, so "first" never reached the database the rollback exports.)
    assert texts(CifMessageStore(settings.cif_root)) == ["kept"]
    assert [m["message_text"] for m in create_messaging_service(config=site).get(DEP, CT)] == ["kept"]


def test_the_site_layers_token_writes_whatever_the_stage_and_nothing_else_passes_for_it(site):
    put_site_in_stage(site, "db-primary")
    settings = load_settings(site)
    CifMessageStore(settings.cif_root, site_writer=SITE_WRITER).put_message(DEP, CT, a_message("internal"))
    assert texts(CifMessageStore(settings.cif_root))[-1] == "internal"
    for fake in (True, "SITE_WRITER", object()):
        with pytest.raises(InvalidInputError, match="site_writer"):
            CifMessageStore(settings.cif_root, site_writer=fake)
        with pytest.raises(InvalidInputError, match="site_writer"):
            DbMessageStore(settings.db_url, site_writer=fake)


def test_a_direct_archive_write_is_refused_while_a_move_to_the_database_is_under_way(site):
    from dataclasses import replace

    from wwpdb.apps.msgmodule.stage.lifecycle import read_site
    from wwpdb.apps.msgmodule.stage.record import write_record

    settings = load_settings(site)
    put_site_in_stage(site, "dual-write")
    write_record(settings.cif_root, replace(read_site(settings), moving_to="db-primary"))
    with pytest.raises(NotAuthoritativeError, match="moving to db-primary"):
        CifMessageStore(settings.cif_root).put_message(DEP, CT, a_message("racing"))
