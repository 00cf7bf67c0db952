"""Opening the messages view through the web service: a 1000-message deposition vs a 30-message one.

What the page asks when it opens the messages table: `get_dtbl_config_dtls`
(skeleton, read/action/release lists, counts) and the first page of
`get_dtbl_data` (DataTables' first draw: 50 rows, no search, no sorting),
both through the WSGI application as a browser calls it. Each stage's reads
are measured (dual-write and cif-only read the archive, db-only the database;
SQLite).
The goal: the long history opens at most 1.5x slower than the short one.

    python benchmarks/web_messages_view.py [--rounds 300] [--json bench-results/web-messages-view.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from webob import Request

from wwpdb.apps.msgmodule.config import load_settings
from wwpdb.apps.msgmodule.db import schema_versions
from wwpdb.apps.msgmodule.model import Document, Message, MessageStatus
from wwpdb.apps.msgmodule.stage.lifecycle import move_stage
from wwpdb.apps.msgmodule.stores.authority import SITE_WRITER
from wwpdb.apps.msgmodule.stores.cif import CifMessageStore, ParsedFiles
from wwpdb.apps.msgmodule.stores.db import DbMessageStore
from wwpdb.apps.msgmodule.webapp.sessions import SessionFolders
from wwpdb.apps.msgmodule.webapp.wsgi import MessagingWsgiApp

SIZES = {"D_1000000030": 30, "D_1000001000": 1000}
PAGE = 50
TEXT = "Dear depositors, thank you for your deposition. " * 12


def documents(deposition_id: str, count: int) -> list[Document]:
    """`count` messages, two thirds to the depositor and a third from, each with its status row."""
    to_dep = Document(deposition_id, "messages-to-depositor")
    from_dep = Document(deposition_id, "messages-from-depositor")
    for number in range(count):
        target = from_dep if number % 3 == 2 else to_dep
        message_id = f"{deposition_id}-{number:05d}"
        when = f"2024-{1 + number // 28 % 12:02d}-{1 + number % 28:02d} {number % 24:02d}:00:00"
        sender = "depositor@example.org" if target is from_dep else "CS"
        target.messages.append(
            Message(
                str(len(target.messages) + 1),
                message_id,
                deposition_id,
                when,
                sender,
                None,
                None,
                message_id,
                f"Message {number}",
                TEXT,
                "text",
                "Y",
            )
        )
        to_dep.statuses.append(MessageStatus(message_id, deposition_id, "Y" if number % 2 else "N", "N", "N"))
    return [to_dep, from_dep, Document(deposition_id, "notes-from-annotator")]


def open_view(app: MessagingWsgiApp, session: str, deposition_id: str) -> None:
    common = {"sessionid": session, "identifier": deposition_id, "content_type": "msgs", "send_status": "Y"}
    for path, extra in (
        ("get_dtbl_config_dtls", {}),
        ("get_dtbl_data", {"sEcho": "1", "iDisplayStart": "0", "iDisplayLength": str(PAGE), "iColumns": "12"}),
    ):
        response = Request.blank(f"/service/messaging/{path}", POST={**common, **extra}).get_response(app)
        if response.status_int != 200:
            raise SystemExit(f"{path} answered {response.status}: {response.text[:300]}")
        if path == "get_dtbl_data" and len(json.loads(response.text)["aaData"]) != min(PAGE, SIZES[deposition_id]):
            raise SystemExit(f"{path} of {deposition_id} did not answer a full first page")


def prepare_stage(root: Path, stage: str) -> tuple[MessagingWsgiApp, str]:
    """A site on `stage` holding both depositions (long written), its WSGI app warmed up, and a session."""
    archive = root / "archive"
    archive.mkdir(parents=True)
    db_url = f"sqlite:///{root}/messages.db"
    schema_versions.upgrade(db_url)
    # An empty config file of its own: nothing comes from a msgmodule.cfg in the working directory.
    (root / "empty.cfg").write_text("")
    config = {
        "MSGCIF_ROOT": str(archive),
        "MSGDB_URL": db_url,
        "MSGMODULE_STATE_DIR": str(root / "state"),
        "MSGMODULE_CONFIG": str(root / "empty.cfg"),
        "MSGMODULE_SESSIONS_DIR": str(root / "sessions"),
    }
    move_stage(load_settings(config), stage, force=True)
    # Seeding the site as a migration would: the site's own writer, whatever its stage.
    cif = CifMessageStore(archive, site_writer=SITE_WRITER)
    db = DbMessageStore(db_url, site_writer=SITE_WRITER)
    for deposition_id, count in SIZES.items():
        for document in documents(deposition_id, count):
            cif.save(document)
            db.save(document)
    # A long history was written long before it is viewed: past the settling time of the parsed-file cache.
    time.sleep(ParsedFiles.SETTLE_NS / 1e9 + 0.1)
    app = MessagingWsgiApp(config=config)
    session = SessionFolders(root / "sessions").create().session_id
    for deposition_id in SIZES:  # warm up: engines, caches, files
        open_view(app, session, deposition_id)
    return app, session


def time_round(app: MessagingWsgiApp, session: str, round_number: int) -> dict[str, float]:
    """One round: each deposition's view once (the order alternating between rounds), in ms."""
    order = list(SIZES) if round_number % 2 == 0 else list(reversed(SIZES))
    timings = {}
    for deposition_id in order:
        start = time.perf_counter()
        open_view(app, session, deposition_id)
        timings[deposition_id] = (time.perf_counter() - start) * 1000
    return timings


def bench_stage(root: Path, stage: str, rounds: int) -> dict[str, Any]:
    app, session = prepare_stage(root, stage)
    timings: dict[str, list[float]] = {deposition_id: [] for deposition_id in SIZES}
    for round_number in range(rounds):
        for deposition_id, ms in time_round(app, session, round_number).items():
            timings[deposition_id].append(ms)
    small, large = (statistics.median(timings[d]) for d in SIZES)
    # Each round's own ratio (its two views ran side by side): how much the shared machine moved the figure.
    rounds_ratios = [big / short for short, big in zip(*(timings[d] for d in SIZES), strict=True)]
    return {
        "stage": stage,
        "messages_30_ms": round(small, 2),
        "messages_1000_ms": round(large, 2),
        "ratio": round(large / small, 2),
        "round_ratio_range": [round(min(rounds_ratios), 2), round(max(rounds_ratios), 2)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300)  # the machine is shared: medians of fewer drift
    parser.add_argument("--json", type=Path, default=None, help="Also write the figures here.")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="msgmodule-web-bench-") as tmp:
        for stage in ("dual-write", "db-only", "cif-only"):
            result = bench_stage(Path(tmp) / stage, stage, args.rounds)
            results.append(result)
            low, high = result["round_ratio_range"]
            print(
                f"messages view ({stage}): 30 messages {result['messages_30_ms']} ms, "
                f"1000 messages {result['messages_1000_ms']} ms: {result['ratio']}x (goal <= 1.5x; "
                f"rounds {low}-{high}x)"
            )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
