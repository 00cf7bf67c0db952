"""Latency that dual-write adds to `set` and `get`, against cif-only, in one run.

    .venv/bin/python benchmarks/dual_write_latency.py [--messages 200] [--mysql-url URL] [--json FILE]

Each stage gets a fresh archive (and database); `set` adds messages spread
over 20 depositions, then `get` reads every deposition back.
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

from sqlalchemy import create_engine

from wwpdb.apps.msgmodule.config import load_settings
from wwpdb.apps.msgmodule.db import schema_versions
from wwpdb.apps.msgmodule.db.engine import dispose_engines
from wwpdb.apps.msgmodule.io.MessagingFactory import MessagingFactory
from wwpdb.apps.msgmodule.stage.lifecycle import move_stage

DEPOSITIONS = 20
TEXT = "Dear Depositors,\n\nPlease review the validation report for your entry.\n" * 20


def run_stage(stage: str, db_url: str, messages: int, workdir: Path) -> dict[str, float]:
    (workdir / "archive").mkdir(parents=True)
    schema_versions.upgrade(db_url)
    # An empty config file of its own: nothing comes from a msgmodule.cfg in the working directory.
    (workdir / "empty.cfg").write_text("")
    config = {
        "MSGCIF_ROOT": str(workdir / "archive"),
        "MSGDB_URL": db_url,
        "MSGMODULE_STATE_DIR": str(workdir / "state"),
        "MSGMODULE_CONFIG": str(workdir / "empty.cfg"),
    }
    # The stage is the site's: move this fresh site to it, as `msgmodule stage NAME --force` does.
    move_stage(load_settings(config), stage, force=True)
    svc = MessagingFactory.create_messaging_service(config=config)
    set_times, get_times = [], []
    for number in range(messages):
        deposition = f"D_{8000000000 + number % DEPOSITIONS}"
        start = time.perf_counter()
        svc.set(
            deposition,
            {"sender": "annotator@example.org", "message_subject": f"Message {number}", "message_text": TEXT},
            file_references=[{"content_type": "model-annotate"}],
        )
        set_times.append(time.perf_counter() - start)
    for _ in range(3):
        for number in range(DEPOSITIONS):
            start = time.perf_counter()
            svc.get(f"D_{8000000000 + number}")
            get_times.append(time.perf_counter() - start)
    return {"set_ms": statistics.median(set_times) * 1000, "get_ms": statistics.median(get_times) * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument(
        "--mysql-url", default=os.environ.get("MSGMODULE_BENCH_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306")
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    admin = create_engine(args.mysql_url, isolation_level="AUTOCOMMIT")
    with tempfile.TemporaryDirectory() as tmp:
        cases = [("cif-only", "sqlite"), ("dual-write", "sqlite"), ("dual-write", "mariadb"), ("db-only", "mariadb")]
        for stage, database in cases:
            workdir = Path(tmp) / f"{stage}-{database}"
            name = f"msgbench_{uuid.uuid4().hex[:8]}"
            if database == "mariadb":
                try:
                    with admin.connect() as connection:
                        connection.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
                except Exception as exc:  # noqa: BLE001 - report what could not be measured
                    print(f"{stage} on {database}: SKIPPED, no server at {args.mysql_url} ({exc.__class__.__name__})")
                    continue
                url = f"{args.mysql_url}/{name}?charset=utf8mb4"
            else:
                url = f"sqlite:///{workdir}/messaging.db"
            try:
                results[f"{stage} ({database})"] = run_stage(stage, url, args.messages, workdir)
            finally:
                dispose_engines()
                if database == "mariadb":
                    with admin.connect() as connection:
                        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
    base = results["cif-only (sqlite)"]
    print(f"median latency over {args.messages} set() and {3 * DEPOSITIONS} get() calls")
    print(f"{'stage':<24}{'set ms':>9}{'x cif':>8}{'get ms':>9}{'x cif':>8}")
    for label, figures in results.items():
        print(
            f"{label:<24}{figures['set_ms']:>9.2f}{figures['set_ms'] / base['set_ms']:>8.2f}"
            f"{figures['get_ms']:>9.2f}{figures['get_ms'] / base['get_ms']:>8.2f}"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
