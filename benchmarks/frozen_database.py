"""What a database that stops answering costs a dual-write `set`, against cif-only.

    .venv/bin/python benchmarks/frozen_database.py [--messages 30] [--frozen-calls 3] [--json FILE]

A private mariadbd (its own port and data directory, as the tests start it) is
frozen with SIGSTOP while the pool holds established connections to it: a hung
server or a network partition as a client sees it. Cases, each on a fresh
archive, through `MessagingService` over the library's `DualStore`:
- cif-only: the archive alone;
- dual-write, database answering;
- dual-write, database frozen: each call waits for its second write's bound
  (MSGDB_SECOND_WRITE_TIMEOUT, the library's default unless given), then journals
  the document and returns.
Median `set` latency per case and its ratio to cif-only. Skipped (and said so
in the results) where mariadbd is not installed.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from wwpdb.apps.msgmodule import timeouts
from wwpdb.apps.msgmodule.db import schema_versions
from wwpdb.apps.msgmodule.db.engine import dispose_engines
from wwpdb.apps.msgmodule.journal import Journal
from wwpdb.apps.msgmodule.service import MessagingService
from wwpdb.apps.msgmodule.stores.base import MessageStore
from wwpdb.apps.msgmodule.stores.cif import CifMessageStore
from wwpdb.apps.msgmodule.stores.db import DbMessageStore
from wwpdb.apps.msgmodule.stores.dual import DualStore

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "wwpdb" / "apps" / "tests-msgmodule"))
from private_mariadb import PrivateMariaDB, available  # noqa: E402 - the tests' helper, beside them

TEXT = "Dear Depositors,\n\nPlease review the validation report for your entry.\n" * 20


def time_sets(store: MessageStore, messages: int, first: int = 0) -> list[float]:
    service = MessagingService(store)
    times = []
    for number in range(first, first + messages):
        start = time.perf_counter()
        service.set(f"D_{8200000000 + number % 10}", {"sender": "annotator@example.org", "message_text": TEXT})
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=30)
    parser.add_argument("--frozen-calls", type=int, default=3, help="calls measured while the database is frozen")
    parser.add_argument(
        "--second-write-timeout", type=float, default=None, help="MSGDB_SECOND_WRITE_TIMEOUT (default: the library's)"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    logging.getLogger("wwpdb.apps.msgmodule").setLevel(logging.ERROR)  # each journaled write would warn
    if args.second_write_timeout is not None:
        os.environ["MSGDB_SECOND_WRITE_TIMEOUT"] = str(args.second_write_timeout)
    bound = timeouts.setting("MSGDB_SECOND_WRITE_TIMEOUT")

    results: dict[str, object] = {}
    reason = available()
    if reason:
        print(f"frozen database: skipped ({reason})")
        results["skipped"] = reason
    else:
        with (
            tempfile.TemporaryDirectory(prefix="msgbench-frozen-") as tmp,
            PrivateMariaDB(Path(tmp) / "server") as db,
            db.database() as url,
        ):
            schema_versions.upgrade(url)

            def store(label: str, with_database: bool) -> MessageStore:
                root = Path(tmp) / label
                root.mkdir()
                cif = CifMessageStore(root)
                if not with_database:
                    return cif
                return DualStore(cif, DbMessageStore(url), Journal(root / "journal.jsonl"))

            time_sets(store("warm-up", False), 10)  # first calls pay for imports and caches
            base = time_sets(store("cif-only", False), args.messages)
            dual = store("dual-write", True)
            answering = time_sets(dual, args.messages)  # the pool now holds established connections
            with db.frozen():
                frozen = time_sets(dual, args.frozen_calls, args.messages)
            journaled = len(dual.journal.pending())
            dispose_engines()
        cif_ms = statistics.median(base)
        print(f"set latency, median ms (MSGDB_SECOND_WRITE_TIMEOUT={bound:g} s; private mariadbd, SIGSTOP)")
        for label, times in (
            ("cif-only", base),
            ("dual-write, database answering", answering),
            ("dual-write, database frozen", frozen),
        ):
            median = statistics.median(times)
            results[label] = {"median_ms": median, "x_cif_only": median / cif_ms, "calls": len(times)}
            print(f"{label:<36}{median:>10.2f}{median / cif_ms:>10.1f}x  ({len(times)} calls)")
        results["second_write_timeout_s"] = bound
        results["documents_journaled_while_frozen"] = journaled
        print(f"documents journaled for reconcile while frozen: {journaled}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
