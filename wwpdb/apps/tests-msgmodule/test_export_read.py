"""Export reads a batch's documents from MariaDB in one query per part, as the statement-by-statement read does.

Real databases: a generated archive migrated into MariaDB, and rows written by
hand the way dirty data holds them (positions out of order, repeated or with
gaps, documents stored without rows, rows of one deposition in several documents).
"""

from __future__ import annotations

import pymysql.connections
import pytest
from sqlalchemy import insert

from wwpdb.apps.msgmodule.archive_tools import (
    EXPORT_PARTS,
    ExportOptions,
    MigrationOptions,
    export_batch,
    migrate_batch,
)
from wwpdb.apps.msgmodule.db import schema_versions
from wwpdb.apps.msgmodule.db.engine import get_engine
from wwpdb.apps.msgmodule.db.schema import CATEGORY_TABLES, documents
from wwpdb.apps.msgmodule.model import CATEGORIES
from wwpdb.apps.msgmodule.stores.db import _read_stored_statement_by_statement, read_stored_documents
from wwpdb.apps.msgmodule.synthetic import generate_archive


def _queries_sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The text of every query the driver sends from now on (counted on the way: each is sent as it was)."""
    sent: list[str] = []
    original = pymysql.connections.Connection.query

    def counted(self, sql, unbuffered=False):  # type: ignore[no-untyped-def]
        sent.append(sql if isinstance(sql, str) else sql.decode("utf-8", "replace"))
        return original(self, sql, unbuffered)

    monkeypatch.setattr(pymysql.connections.Connection, "query", counted)
    return sent


@pytest.mark.mysql
def test_an_export_batch_reads_in_one_query_for_many_depositions_as_for_few(tmp_path, mysql_url, monkeypatch):
    root = tmp_path / "archive"
    ids = generate_archive(root, 20)
    schema_versions.upgrade(mysql_url)
    assert all(o.status == "migrated" for o in migrate_batch(MigrationOptions(str(root), mysql_url), ids))
    (tmp_path / "warm").mkdir()  # a first export opens the connection (which asks the server's settings)
    export_batch(ExportOptions(mysql_url, str(tmp_path / "warm")), ids[-1:])
    sent = _queries_sent(monkeypatch)
    queries = {}
    for size in (2, 18):
        out = tmp_path / f"out-{size}"
        out.mkdir()
        sent.clear()
        outcomes = export_batch(ExportOptions(mysql_url, str(out)), ids[:size])
        assert [o.status for o in outcomes] == ["exported"] * size
        queries[size] = [q for q in sent if q.lstrip().upper().startswith(("SET TRANSACTION", "SELECT"))]
    # One query per part of the batch (see EXPORT_PARTS), whatever its size; each holds the snapshot's
    # statement and every select: the keys, then one per table.
    assert len(queries[2]) == len(queries[18]) == EXPORT_PARTS, queries
    assert all(query.count("SELECT") == 1 + len(CATEGORIES) for query in queries[18])


@pytest.mark.mysql
def test_the_one_query_read_gives_every_document_as_the_statement_by_statement_read(mysql_url):
    schema_versions.upgrade(mysql_url)
    engine = get_engine(mysql_url)
    info = CATEGORY_TABLES["pdbx_deposition_message_info"]
    status = CATEGORY_TABLES["pdbx_deposition_message_status"]
    ids = [f"D_{8000000000 + n}" for n in range(520)]  # more than one chunk of 500 depositions
    with engine.begin() as connection:
        keys = [{"source_deposition_id": d, "source_content_type": "messages-to-depositor"} for d in ids[::3]]
        keys.append({"source_deposition_id": ids[1], "source_content_type": "notes-from-annotator"})  # no rows
        connection.execute(insert(documents), keys)
        rows, statuses = [], []
        for n, key in enumerate(keys[:-1]):
            # Positions written out of order, one repeated, one skipped: read back by position, then id.
            for order, text in ((3, "third"), (0, "first"), (1, "second"), (1, "second again"), (7, "last")):
                rows.append({**key, "row_order": order, "message_id": f"m{n}-{text}", "message_text": text})
            statuses.append({**key, "row_order": 0, "message_id": f"m{n}-first", "read_status": "Y"})
            statuses.append({**key, "row_order": 0, "message_id": f"m{n}-first", "read_status": "N"})  # duplicated
        # A status row of a document stored elsewhere (no document row of its own), among the others.
        statuses.append(
            {
                "source_deposition_id": ids[0],
                "source_content_type": "messages-from-depositor",
                "row_order": 5,
                "message_id": "elsewhere",
                "read_status": "Y",
            }
        )
        connection.execute(insert(info), rows)
        connection.execute(insert(status), statuses)
    wanted = ids[::-1] + ["D_8999999999"]  # in any order, and one stored nowhere
    read = read_stored_documents(engine, wanted)
    assert read == _read_stored_statement_by_statement(engine, sorted(set(wanted)))
    assert list(read) == sorted(read)
    assert len(read) == len(keys)
    assert [m.message_text for m in read[(ids[3], "messages-to-depositor")].messages] == [
        "first",
        "second",
        "second again",
        "third",
        "last",
    ]
    assert read[(ids[1], "notes-from-annotator")].is_empty()


def test_a_part_of_an_export_batch_that_cannot_be_read_fails_its_depositions_only(tmp_path, sqlite_url, monkeypatch):
    """The parts are read one after the other (the next while the one before is written): a read that
    fails (injected: a database that fails for one part only) costs that part, the others are written."""
    import wwpdb.apps.msgmodule.archive_tools as archive_tools
    from wwpdb.apps.msgmodule.errors import MessagingError

    root = tmp_path / "archive"
    ids = generate_archive(root, 6)
    schema_versions.upgrade(sqlite_url)
    assert all(o.status == "migrated" for o in migrate_batch(MigrationOptions(str(root), sqlite_url), ids))
    real_read = archive_tools.read_stored

    def failing_for_the_first_part(db, part):  # type: ignore[no-untyped-def]
        if ids[0] in part:
            raise MessagingError("the database went away")
        return real_read(db, part)

    monkeypatch.setattr(archive_tools, "read_stored", failing_for_the_first_part)
    out = tmp_path / "out"
    out.mkdir()
    outcomes = {o.deposition_id: o for o in export_batch(ExportOptions(sqlite_url, str(out)), ids)}
    first = ids[: -(-len(ids) // EXPORT_PARTS)]
    assert all(outcomes[d].status == "failed" and "went away" in outcomes[d].errors[0] for d in first)
    assert all(outcomes[d].status == "exported" and outcomes[d].files for d in ids if d not in first)
    assert sorted(p.name for p in out.iterdir()) == sorted(d for d in ids if d not in first)
