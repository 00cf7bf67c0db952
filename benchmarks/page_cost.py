"""A db-only getMsgRowList page of 10, on a 1000- and a 30-message document: the first page after a write, and
the page read again.

    .venv/bin/python benchmarks/page_cost.py [--mysql-url URL] [--rounds 31] [--json bench-results/page-cost.json]

call_cost.py's page figure is the median of calls in a row, so it is the page
read again (the kept answer of stores.answers). OneDep's table is often opened
right after a message was sent: here every round first writes a message to each
document, then times the first page (nothing kept for that document), then the
same page again. Figures are medians over interleaved rounds; ratios 1000 vs 30.
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
from typing import Any

from call_cost import DEFAULT_MYSQL_URL, SIZES, make_site, median_ms, operations_of
from sqlalchemy import create_engine

from wwpdb.apps.msgmodule.db.engine import dispose_engines, mask_url

GOAL = 1.5


def measure(config: dict[str, str], rounds: int) -> dict[str, dict[str, list[float]]]:
    operations = operations_of(config, "db-only")
    times: dict[str, dict[str, list[float]]] = {
        "after a write": {k: [] for k in SIZES},
        "again": {k: [] for k in SIZES},
    }
    for number in range(rounds):
        for kind in list(SIZES) if number % 2 == 0 else list(reversed(SIZES)):
            operations["set"](kind)
            start = time.perf_counter()
            operations["page"](kind)
            times["after a write"][kind].append((time.perf_counter() - start) * 1000)
            times["again"][kind].append(median_ms(lambda: operations["page"](kind), 5))  # noqa: B023
    return times


def run(mysql_url: str, rounds: int) -> dict[str, Any]:
    name = f"msgpage_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = None
    try:
        admin = create_engine(mysql_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
        with admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        database, db_url = "mariadb", f"{mysql_url}/{name}?charset=utf8mb4"
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server means: measure on SQLite
        print(f"no MariaDB at {mask_url(mysql_url)} ({exc.__class__.__name__}): measuring on SQLite")
        admin, database, db_url = None, "sqlite", ""
    try:
        with tempfile.TemporaryDirectory(prefix="msgmodule-page-cost-") as folder:
            config = make_site("db-only", db_url or f"sqlite:///{folder}/db-only.db", Path(folder) / "db-only")
            times = measure(config, rounds)
    finally:
        if admin is not None:
            dispose_engines()
            with admin.connect() as connection:
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
    results: dict[str, Any] = {"database": database, "rounds": rounds, "ms": times}
    for which, by_kind in times.items():
        each = [long / short for long, short in zip(by_kind["long"], by_kind["short"], strict=True)]
        results[which] = {
            "short_ms": statistics.median(by_kind["short"]),
            "long_ms": statistics.median(by_kind["long"]),
            "ratio": statistics.median(by_kind["long"]) / statistics.median(by_kind["short"]),
            "round_ratios": each,
        }
    return results


def render(results: dict[str, Any]) -> str:
    lines = [f"db-only getMsgRowList page of 10 on {results['database']} (medians of {results['rounds']} rounds):"]
    for which in ("after a write", "again"):
        f = results[which]
        lines.append(
            f"  {which:<14} 30 messages {f['short_ms']:6.2f} ms  1000 messages {f['long_ms']:6.2f} ms  "
            f"{f['ratio']:.2f}x (rounds {min(f['round_ratios']):.2f}-{max(f['round_ratios']):.2f}; "
            f"goal <= {GOAL}x: {'meets' if f['ratio'] <= GOAL else 'MISSES'})"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mysql-url", default=DEFAULT_MYSQL_URL)
    parser.add_argument("--rounds", type=int, default=31)
    parser.add_argument("--json", type=Path, default=Path("bench-results/page-cost.json"))
    args = parser.parse_args()
    results = run(args.mysql_url, args.rounds)
    print(render(results))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1))
    print(f"figures written to {args.json}")


if __name__ == "__main__":
    main()
