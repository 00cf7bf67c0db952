"""What a database outage costs a dual-write `set`, with and without the circuit breaker, against cif-only.

    .venv/bin/python benchmarks/breaker_latency.py [--messages 30] [--connect-timeout 1] [--json FILE]

Cases, each on a fresh archive with the same messages, through `MessagingService`:
- cif-only: the archive alone;
- dual-write, database refusing: the second store's server port is closed (refused at once);
- dual-write, database hanging: the port accepts connections and never answers, so every call
  waits for the connect timeout (MSGDB_CONNECT_TIMEOUT) before the failure is journaled;
- the same behind `BreakerStore`: after the breaker's threshold of failures, calls skip the
  database at once and the document is journaled, until the cool-down ends.
Median `set` latency per case and its ratio to cif-only. The composition is the library's own
(`DualStore` with a `BreakerStore` around the database store), built here directly.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from wwpdb.apps.msgmodule.db.engine import dispose_engines
from wwpdb.apps.msgmodule.journal import Journal
from wwpdb.apps.msgmodule.service import MessagingService
from wwpdb.apps.msgmodule.stores.base import MessageStore
from wwpdb.apps.msgmodule.stores.breaker import BreakerStore, CircuitBreaker
from wwpdb.apps.msgmodule.stores.cif import CifMessageStore
from wwpdb.apps.msgmodule.stores.db import DbMessageStore
from wwpdb.apps.msgmodule.stores.dual import DualStore

THRESHOLD = 3
TEXT = "Dear Depositors,\n\nPlease review the validation report for your entry.\n" * 20


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def time_sets(store: MessageStore, messages: int) -> list[float]:
    service = MessagingService(store)
    times = []
    for number in range(messages):
        start = time.perf_counter()
        service.set(f"D_{8100000000 + number % 10}", {"sender": "annotator@example.org", "message_text": TEXT})
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=30)
    parser.add_argument(
        "--slow-messages",
        type=int,
        default=THRESHOLD,
        help="calls measured without a breaker while the database hangs (each waits for the timeout)",
    )
    parser.add_argument("--connect-timeout", type=float, default=1.0, help="MSGDB_CONNECT_TIMEOUT in seconds")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    logging.getLogger("wwpdb.apps.msgmodule").setLevel(logging.ERROR)  # each journaled write would warn
    os.environ["MSGDB_CONNECT_TIMEOUT"] = str(args.connect_timeout)

    hanging = socket.socket()  # accepts into its backlog, never answers: a hung server
    hanging.bind(("127.0.0.1", 0))
    hanging.listen(1024)
    hanging_url = f"mysql+pymysql://root@127.0.0.1:{hanging.getsockname()[1]}/x"
    refused_url = f"mysql+pymysql://root@127.0.0.1:{free_port()}/x"

    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="msgbench-breaker-") as tmp:

        def case(label: str, messages: int, secondary: Callable[[], MessageStore] | None) -> list[float]:
            root = Path(tmp) / label.replace(" ", "-").replace(",", "")
            root.mkdir()
            cif = CifMessageStore(root)
            store = cif if secondary is None else DualStore(cif, secondary(), Journal(root / "journal.jsonl"))
            times = time_sets(store, messages)
            dispose_engines()
            return times

        base = case("cif-only", args.messages, None)
        refused = case("dual-write db refusing", args.messages, lambda: DbMessageStore(refused_url))
        hung = case("dual-write db hanging", args.slow_messages, lambda: DbMessageStore(hanging_url))
        breaker = CircuitBreaker("db", THRESHOLD, cooldown=3600.0)
        guarded = case(
            "dual-write db hanging breaker",
            THRESHOLD + args.messages,
            lambda: BreakerStore(DbMessageStore(hanging_url), breaker),
        )
    hanging.close()

    cif_ms = statistics.median(base)
    rows = [
        ("cif-only", base),
        ("dual-write, database refusing", refused),
        ("dual-write, database hanging", hung),
        (f"  same, breaker: first {THRESHOLD} calls", guarded[:THRESHOLD]),
        ("  same, breaker open: later calls", guarded[THRESHOLD:]),
    ]
    print(
        f"set latency, median ms (MSGDB_CONNECT_TIMEOUT={args.connect_timeout:g} s; breaker after {THRESHOLD} "
        f"failures; opened {breaker.opened_total}x, skipped {breaker.rejected_total} calls)"
    )
    for label, times in rows:
        median = statistics.median(times)
        results[label.strip()] = {"median_ms": median, "x_cif_only": median / cif_ms, "calls": len(times)}
        print(f"{label:<40}{median:>10.2f}{median / cif_ms:>9.2f}x  ({len(times)} calls)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
