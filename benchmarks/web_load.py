"""Load on `msgmodule serve`: 8 concurrent annotator clients, dual-write against cif-only.

Each client loops over what an annotator does: open a deposition's messages
view (`get_dtbl_config_dtls` and the first page of `get_dtbl_data`), send a
message (`submit_msg`), mark a message read (`mark_msg_read`). The service
runs on gunicorn (the `serve` command, its worker processes) on 127.0.0.1.
Bounded: each client does at most --iterations rounds and stops at
--seconds. Dual-write writes MariaDB at --mysql-url (a scratch database,
dropped after), else SQLite when no server answers (said so).
Goals: dual-write throughput >= 0.7x cif-only's, p99 latency <= 2x.

    python benchmarks/web_load.py [--clients 8] [--workers 4] [--json bench-results/web-load.json]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

from wwpdb.apps.msgmodule.config import load_settings
from wwpdb.apps.msgmodule.db import schema_versions
from wwpdb.apps.msgmodule.stage.lifecycle import move_stage
from wwpdb.apps.msgmodule.stores.authority import SITE_WRITER
from wwpdb.apps.msgmodule.stores.cif import CifMessageStore
from wwpdb.apps.msgmodule.stores.db import DbMessageStore
from wwpdb.apps.msgmodule.webapp.sessions import SessionFolders

sys.path.insert(0, str(Path(__file__).resolve().parent))
from web_messages_view import documents  # noqa: E402 - the same seeded history as the view benchmark

MSGMODULE = Path(sys.executable).with_name("msgmodule")
SEEDED = 60  # messages per deposition before the load starts
PAGE = 50


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def post(base: str, path: str, fields: dict[str, str]) -> float:
    """One request; its latency in ms (a failure ends the benchmark: the figures would mean nothing)."""
    body = urllib.parse.urlencode(fields).encode()
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(f"{base}/service/messaging/{path}", data=body, timeout=60) as response:
            text = response.read()
    except urllib.error.HTTPError as exc:
        raise SystemExit(f"{path} answered {exc.code}: {exc.read()[:300]!r}") from None
    elapsed = (time.perf_counter() - start) * 1000
    if path in ("submit_msg", "mark_msg_read") and json.loads(text).get("success") != "true":
        raise SystemExit(f"{path} did not succeed: {text[:300]!r}")
    return elapsed


def client(
    base: str, session: str, deposition: str, iterations: int, until: float, out: list[float], started: list[float]
) -> None:
    common = {"sessionid": session, "identifier": deposition, "content_type": "msgs", "send_status": "Y"}
    for number in range(-1, iterations):  # round -1 warms the workers (imports, connections): not counted
        if time.monotonic() > until:
            return
        if number == 0:
            out.clear()
            started.append(time.perf_counter())
        out.append(post(base, "get_dtbl_config_dtls", common))
        page = {"sEcho": "1", "iDisplayStart": "0", "iDisplayLength": str(PAGE), "iColumns": "12"}
        out.append(post(base, "get_dtbl_data", {**common, **page}))
        send = {"subject": f"Load {number + 1}", "message": "Dear depositor, a load test.", "sender": "CS"}
        out.append(post(base, "submit_msg", {**common, **send, "context_type": "default"}))
        seeded = (number + 1) * 3 % SEEDED  # a seeded message to the depositor (every third is from)
        message_id = f"{deposition}-{seeded:05d}"
        out.append(post(base, "mark_msg_read", {**common, "msg_id": message_id}))


def run_stage(root: Path, stage: str, db_url: str, args: argparse.Namespace) -> dict[str, Any]:
    archive = root / "archive"
    archive.mkdir(parents=True)
    schema_versions.upgrade(db_url)
    cfg = root / "msgmodule.cfg"
    keys = {
        "MSGCIF_ROOT": str(archive),
        "MSGDB_URL": db_url,
        "MSGMODULE_STATE_DIR": str(root / "state"),
        "MSGMODULE_SESSIONS_DIR": str(root / "sessions"),
    }
    cfg.write_text("[msgmodule]\n" + "".join(f"{k} = {v}\n" for k, v in keys.items()))
    move_stage(load_settings({**keys, "MSGMODULE_CONFIG": str(cfg)}), stage, force=True)
    # Seeding the site as a migration would: the site's own writer, whatever its stage.
    cif = CifMessageStore(archive, site_writer=SITE_WRITER)
    db = DbMessageStore(db_url, site_writer=SITE_WRITER)
    depositions = [f"D_10000{number:05d}" for number in range(1, args.clients + 1)]
    for deposition in depositions:
        for document in documents(deposition, SEEDED):
            cif.save(document)
            if stage != "cif-only":
                db.save(document)
    sessions = SessionFolders(root / "sessions")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MSG")}
    server = subprocess.Popen(
        [str(MSGMODULE), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers)],
        env={**env, "MSGMODULE_CONFIG": str(cfg)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:  # up when a request is answered at all
            try:
                post(
                    base,
                    "get_dtbl_config_dtls",
                    {"sessionid": sessions.create().session_id, "identifier": depositions[0], "content_type": "msgs"},
                )
                break
            except (urllib.error.URLError, ConnectionError):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"msgmodule serve never answered (exit {server.poll()})") from None
                time.sleep(0.2)
        latencies: list[list[float]] = [[] for _ in depositions]
        started: list[float] = []
        until = time.monotonic() + args.seconds
        threads = [
            threading.Thread(
                target=client,
                args=(
                    base,
                    sessions.create().session_id,
                    deposition,
                    args.iterations,
                    until,
                    latencies[index],
                    started,
                ),
            )
            for index, deposition in enumerate(depositions)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - min(started)  # from the first counted round to the last reply
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
    every = sorted(value for values in latencies for value in values)
    if not every:
        raise SystemExit(f"{stage}: no request was answered")
    p99 = every[min(len(every) - 1, int(len(every) * 0.99))]
    return {
        "stage": stage,
        "database": db_url.split(":", 1)[0] if stage != "cif-only" else None,
        "requests": len(every),
        "seconds": round(elapsed, 2),
        "requests_per_second": round(len(every) / elapsed, 1),
        "p50_ms": round(every[len(every) // 2], 1),
        "p99_ms": round(p99, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--iterations", type=int, default=30, help="rounds per client at most (4 requests each)")
    parser.add_argument("--seconds", type=float, default=60.0, help="stop starting rounds after this")
    parser.add_argument(
        "--mysql-url", default=os.environ.get("MSGMODULE_BENCH_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306")
    )
    parser.add_argument("--json", type=Path, default=None, help="Also write the figures here.")
    args = parser.parse_args()
    results: dict[str, dict[str, Any]] = {}
    name = f"msgmodule_webload_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.mysql_url, isolation_level="AUTOCOMMIT") if args.mysql_url else None
    created = False
    try:
        with tempfile.TemporaryDirectory(prefix="msgmodule-web-load-") as tmp:
            db_url = f"sqlite:///{tmp}/messages.db"
            if admin is not None:
                try:
                    with admin.connect() as connection:
                        connection.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
                    created = True
                    db_url = f"{args.mysql_url}/{name}?charset=utf8mb4"
                except Exception as exc:  # noqa: BLE001 - no server: SQLite, and said so
                    print(f"no MariaDB at {args.mysql_url} ({exc.__class__.__name__}): dual-write writes SQLite")
            for stage in ("cif-only", "dual-write"):
                results[stage] = run_stage(Path(tmp) / stage, stage, db_url, args)
                r = results[stage]
                print(
                    f"web load ({stage}{', ' + r['database'] if r['database'] else ''}, {args.clients} clients, "
                    f"{args.workers} workers): {r['requests']} requests in {r['seconds']} s, "
                    f"{r['requests_per_second']} req/s, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms"
                )
    finally:
        if created and admin is not None:
            with admin.connect() as connection:
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
    cif_only, dual = results["cif-only"], results["dual-write"]
    throughput = round(dual["requests_per_second"] / cif_only["requests_per_second"], 2)
    p99 = round(dual["p99_ms"] / cif_only["p99_ms"], 2)
    print(f"web load, dual-write vs cif-only: throughput {throughput}x (goal >= 0.7x), p99 {p99}x (goal <= 2x)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        summary = {"throughput_ratio": throughput, "p99_ratio": p99, "clients": args.clients, "workers": args.workers}
        args.json.write_text(json.dumps({"stages": list(results.values()), **summary}, indent=2))


if __name__ == "__main__":
    main()
