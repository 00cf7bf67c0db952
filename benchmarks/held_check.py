"""What checking row positions costs the database half of a dual write, against counting rows only.

    .venv/bin/python benchmarks/held_check.py [--rows 40 400] [--changes 300] [--mysql-url URL] [--json FILE]

Before the database writes a change by position, one query (in the same batch as
the writes, on MariaDB) asks whether it holds the document the change starts
from. It now checks that each changed table's positions run 0..n-1, not only the
row count. Both forms are timed here in turns on the same document, so the ratio
is of the check alone: `apply_change` adds one message and its file reference to
a document of --rows file references, again and again.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import bindparam, create_engine, func, select

from wwpdb.apps.msgmodule.db import schema_versions
from wwpdb.apps.msgmodule.db.engine import dispose_engines
from wwpdb.apps.msgmodule.db.schema import CATEGORY_TABLES
from wwpdb.apps.msgmodule.model import CATEGORIES, Document, FileReference, Message
from wwpdb.apps.msgmodule.stores import db as db_store
from wwpdb.apps.msgmodule.stores.db import DbMessageStore

DEP, TO = "D_8100000001", "messages-to-depositor"

# The query as it was: the row count alone (the baseline).
COUNT_ONLY = {
    name: select(func.count())
    .select_from(table)
    .where(table.c.source_deposition_id == bindparam("d"), table.c.source_content_type == bindparam("c"))
    for name, table in CATEGORY_TABLES.items()
}


def count_only(connection, before, after, run):  # type: ignore[no-untyped-def]
    """stores.db._count_rows as it was (its own key: statements are compiled once per key)."""
    changed = [category for category in CATEGORIES if before.rows(category) != after.rows(category)]
    if not changed:
        return [], None
    names = tuple(category.name for category in changed)
    counted = run(
        connection,
        ("holds, count only", names),
        lambda _dialect: select(*(COUNT_ONLY[name].scalar_subquery() for name in names)),
        {"d": before.deposition_id, "c": before.content_type},
    )
    return changed, counted


def a_document(references: int) -> Document:
    document = Document(DEP, TO)
    for number in range(references // 2):
        message_id = f"m{number}"
        document.messages.append(Message(str(number + 1), message_id, DEP, "2024-01-01 00:00:00", message_text="x"))
        for kind in ("model", "sf"):
            document.file_references.append(
                FileReference(str(len(document.file_references) + 1), message_id, DEP, kind, "pdbx", "1", "1")
            )
    return document


def grown(document: Document, number: int) -> Document:
    after = document.copy()
    message_id = f"new{number}"
    after.messages.append(Message(str(len(after.messages) + 1), message_id, DEP, "2024-02-02 00:00:00"))
    after.file_references.append(FileReference(str(len(after.file_references) + 1), message_id, DEP, "model"))
    return after


def measure(url: str, references: int, changes: int) -> dict[str, float]:
    schema_versions.upgrade(url)
    store = DbMessageStore(url)
    current = a_document(references)
    store.save(current)
    checked = db_store._count_rows
    times: dict[str, list[float]] = {"positions": [], "count only": []}
    for number in range(changes):
        label = "positions" if number % 2 else "count only"
        db_store._count_rows = checked if label == "positions" else count_only
        after = grown(current, number)
        start = time.perf_counter()
        store.apply_change(DEP, TO, current, after)
        times[label].append(time.perf_counter() - start)
        current = after
    db_store._count_rows = checked
    assert store.load(DEP, TO) == current, "a change went wrong: the figures mean nothing"
    return {label: statistics.median(values) * 1000 for label, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[40, 400])
    parser.add_argument("--changes", type=int, default=300)
    parser.add_argument(
        "--mysql-url", default=os.environ.get("MSGMODULE_BENCH_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306")
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    admin = create_engine(args.mysql_url, isolation_level="AUTOCOMMIT")
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.rows:
            for database in ("sqlite", "mariadb"):
                name = f"msgbench_{uuid.uuid4().hex[:8]}"
                if database == "mariadb":
                    try:
                        with admin.connect() as connection:
                            connection.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
                    except Exception as exc:  # noqa: BLE001 - report what could not be measured
                        print(f"{database}: SKIPPED, no server at {args.mysql_url} ({exc.__class__.__name__})")
                        continue
                    url = f"{args.mysql_url}/{name}?charset=utf8mb4"
                else:
                    url = f"sqlite:///{tmp}/{name}.db"
                try:
                    results[f"{database}, {rows} rows"] = measure(url, rows, args.changes)
                finally:
                    dispose_engines()
                    if database == "mariadb":
                        with admin.connect() as connection:
                            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
    print(f"median apply_change over {args.changes // 2} changes each, taken in turns")
    print(f"{'database, document':<24}{'count only ms':>15}{'positions ms':>15}{'ratio':>8}")
    for label, figures in results.items():
        print(
            f"{label:<24}{figures['count only']:>15.3f}{figures['positions']:>15.3f}"
            f"{figures['positions'] / figures['count only']:>8.3f}"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
