"""`make bench`: taking over a database OneDep's module wrote (`msgmodule adopt-onedep`), beside a migration.

    .venv/bin/python benchmarks/adopt_onedep.py [--depositions 1000] [--mysql-url URL] [--json FILE]

The archive is `make bench`'s generated one. OneDep's tables (its exact schema, in the same
database, as a site that switched has them) hold what its migrator stored (the first 85% of each
document's messages, one file reference per unique key, statuses of stored messages), one message
per deposition written since the switch, and one message in ten edited since (conflicts).
Measured side by side on each database: the takeover (tables moved aside, schema created, merged,
stored, checked against both sources), a re-run (nothing to do), and a migration of the same
archive into an empty schema. Reports the counts from each source and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

from wwpdb.apps.msgmodule.adoption import adopt_onedep
from wwpdb.apps.msgmodule.archive_tools import MigrationOptions, default_workers, migrate_batch, run_batches
from wwpdb.apps.msgmodule.db import schema_versions
from wwpdb.apps.msgmodule.db.engine import dispose_engines, mask_url
from wwpdb.apps.msgmodule.model import Message, MessageStatus
from wwpdb.apps.msgmodule.synthetic import deposition_documents, generate_archive

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "wwpdb" / "apps" / "tests-msgmodule"))
from onedep_tables import create_onedep_tables, insert_onedep_rows, rows_of_documents  # noqa: E402

DEFAULT_MYSQL_URL = os.environ.get("MSGMODULE_BENCH_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306")


def onedep_rows(ids: list[str]) -> tuple[list[tuple[str, Message]], list[Any], list[MessageStatus]]:
    documents = [
        d for index, deposition_id in enumerate(ids) for d in deposition_documents(deposition_id, 7 * 1_000_003 + index)
    ]
    messages, refs, statuses = rows_of_documents(documents, keep=0.85)
    for index, (_, message) in enumerate(messages):
        if index % 100 < 10 and message.message_text:
            message.message_text += "\nEdited in OneDep after the switch."
    for deposition_id in ids:
        mid = str(uuid.uuid4())
        messages.append(
            (
                "messages-to-depositor",
                Message(
                    None, mid, deposition_id, "2025-06-01 12:00:00", "annotator@example.org", None, None, mid,
                    "Written since the switch", "Only in OneDep's tables.", "text", "Y",
                ),
            )
        )  # fmt: skip
        statuses.append(MessageStatus(mid, deposition_id, "N", "N", "N"))
    return messages, refs, statuses


class Databases:
    def __init__(self, workdir: Path, mysql_url: str | None) -> None:
        self.workdir = workdir
        self.mysql_url = mysql_url
        self.created: list[str] = []
        self.admin: Any = None
        if mysql_url:
            self.admin = create_engine(mysql_url, isolation_level="AUTOCOMMIT")

    def empty(self, kind: str) -> str:
        name = f"msgadopt_{uuid.uuid4().hex[:10]}"
        if kind == "sqlite":
            return f"sqlite:///{self.workdir / name}.db"
        with self.admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        self.created.append(name)
        return f"{self.mysql_url}/{name}?charset=utf8mb4"

    def drop_all(self) -> None:
        dispose_engines()
        if self.admin is not None:
            with self.admin.connect() as connection:
                for name in self.created:
                    connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
            self.admin.dispose()


def measure(root: Path, ids: list[str], rows: tuple, url: str, migrate_url: str, workers: int) -> dict[str, Any]:
    create_onedep_tables(url)
    insert_onedep_rows(url, *rows)
    schema_versions.upgrade(migrate_url)
    start = time.perf_counter()
    result = adopt_onedep(str(root), url, workers=workers, progress=False)
    adopt_s = time.perf_counter() - start
    start = time.perf_counter()
    again = adopt_onedep(str(root), url, workers=workers, progress=False)
    rerun_s = time.perf_counter() - start
    start = time.perf_counter()
    migration = run_batches(migrate_batch, MigrationOptions(str(root), migrate_url), ids, workers, progress=False)
    migrate_s = time.perf_counter() - start
    dispose_engines()
    counts = dict(result.summary.rows)
    return {
        "ok": result.ok and again.ok and not migration.failed,
        "adopt_s": adopt_s,
        "rerun_s": rerun_s,
        "migrate_s": migrate_s,
        "adopt_over_migrate": adopt_s / migrate_s,
        "depositions_per_s": len(ids) / adopt_s,
        "statuses": dict(result.summary.statuses),
        "rerun_statuses": dict(again.summary.statuses),
        "onedep_table_rows": result.table_rows,
        "counts": counts,
    }


def render(figures: dict[str, Any]) -> str:
    lines = []
    for kind in ("sqlite", "mariadb"):
        if kind not in figures:
            continue
        f = figures[kind]
        c = f["counts"]
        lines += [
            f"adopt-onedep ({kind}, {figures['depositions']} depositions, {figures['workers']} workers): "
            f"{f['adopt_s']:.2f} s ({f['depositions_per_s']:.0f} depositions/s); re-run {f['rerun_s']:.2f} s "
            f"(nothing to do: {f['rerun_statuses']}); migrating the archive alone {f['migrate_s']:.2f} s; "
            f"takeover / migration {f['adopt_over_migrate']:.2f}x; checked: {'ok' if f['ok'] else 'FAILED'}",
            f"  messages: archive {c.get('messages in archive', 0)}, OneDep {c.get('messages in OneDep', 0)} "
            f"({f['onedep_table_rows']}); only in archive {c.get('only in archive', 0)}, only in OneDep "
            f"{c.get('only in OneDep', 0)}, in both {c.get('in both', 0)}, conflicts {c.get('conflicts', 0)}; "
            f"stored {c.get('messages stored', 0)}",
        ]
    if "mariadb_not_measured" in figures:
        lines.append(f"adopt-onedep (mariadb): SKIPPED ({figures['mariadb_not_measured']})")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--depositions", type=int, default=1000)
    parser.add_argument("--mysql-url", default=DEFAULT_MYSQL_URL)
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--json", type=Path, default=REPO / "bench-results" / "adopt-onedep.json")
    args = parser.parse_args()
    figures: dict[str, Any] = {"depositions": args.depositions, "workers": args.workers}
    with tempfile.TemporaryDirectory(prefix="msgadopt-") as tmp:
        workdir = Path(tmp)
        root = workdir / "archive"
        ids = generate_archive(root, args.depositions)
        rows = onedep_rows(ids)
        kinds = ["sqlite"]
        try:
            with create_engine(args.mysql_url, connect_args={"connect_timeout": 5}).connect():
                kinds.append("mariadb")
        except Exception as exc:  # noqa: BLE001 - a benchmark reports what it could not measure
            figures["mariadb_not_measured"] = f"no server at {mask_url(args.mysql_url)}: {exc.__class__.__name__}"
        databases = Databases(workdir, args.mysql_url if "mariadb" in kinds else None)
        try:
            for kind in kinds:
                figures[kind] = measure(root, ids, rows, databases.empty(kind), databases.empty(kind), args.workers)
        finally:
            databases.drop_all()
    print(render(figures))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=1))
    print(f"written: {args.json}")


if __name__ == "__main__":
    main()
