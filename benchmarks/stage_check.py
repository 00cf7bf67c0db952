"""Cost of following the site's stage on every write: `set` through SiteStore vs the stage's store alone.

Both run side by side in one process, interleaved round by round, on the same
archive (and database, for dual-write): "direct" is what a service did before
the site-wide stage (the stage's store, fixed at startup); "site" takes the
site lock shared and confirms the record under it on every write. Prints the
median `set` latency of each and their ratio, and writes them to a JSON file.

    python benchmarks/stage_check.py [--rounds 15] [--calls 40] [--json bench-results/stage-check.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from wwpdb.apps.msgmodule.config import load_settings
from wwpdb.apps.msgmodule.db import schema_versions
from wwpdb.apps.msgmodule.service import MessagingService
from wwpdb.apps.msgmodule.stage.lifecycle import move_stage
from wwpdb.apps.msgmodule.stage.policy import STAGES
from wwpdb.apps.msgmodule.stage.routing import SiteStore, build_store


def measure(service: MessagingService, deposition_id: str, calls: int) -> float:
    start = time.perf_counter()
    for number in range(calls):
        service.set(deposition_id, {"message_text": f"message {number}"})
    return (time.perf_counter() - start) / calls * 1000


def bench_stage(root: Path, stage: str, rounds: int, calls: int) -> dict[str, float]:
    root.mkdir(parents=True)
    (root / "archive").mkdir()
    db_url = f"sqlite:///{root}/messages.db"
    schema_versions.upgrade(db_url)
    # An empty config file of its own: nothing comes from a msgmodule.cfg in the working directory.
    (root / "empty.cfg").write_text("")
    config = {
        "MSGCIF_ROOT": str(root / "archive"),
        "MSGDB_URL": db_url,
        "MSGMODULE_STATE_DIR": str(root / "state"),
        "MSGMODULE_CONFIG": str(root / "empty.cfg"),
    }
    settings = load_settings(config)
    move_stage(settings, stage, force=True)
    direct = MessagingService(build_store(settings, STAGES[stage]))
    site = MessagingService(SiteStore(settings))
    for service in (direct, site):  # warm up: files, engines, caches
        measure(service, "D_1000000000", 5)
    timings: dict[str, list[float]] = {"direct": [], "site": []}
    for round_number in range(rounds):
        order = [("direct", direct), ("site", site)] if round_number % 2 == 0 else [("site", site), ("direct", direct)]
        for name, service in order:
            # Each side writes a deposition of its own per round, so documents stay the same size on both.
            deposition_id = f"D_{2 * round_number + (name == 'site') + 1000000100}"
            timings[name].append(measure(service, deposition_id, calls))
    direct_ms, site_ms = statistics.median(timings["direct"]), statistics.median(timings["site"])
    return {"direct_set_ms": direct_ms, "site_set_ms": site_ms, "ratio": site_ms / direct_ms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--json", type=Path, default=Path("bench-results/stage-check.json"))
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="msgmodule-stage-bench-") as folder:
        for stage in ("cif-only", "dual-write"):
            figures = bench_stage(Path(folder) / stage, stage, args.rounds, args.calls)
            results[stage] = figures
            print(
                f"{stage:<11} set: stage's store alone {figures['direct_set_ms']:.3f} ms, through SiteStore "
                f"{figures['site_set_ms']:.3f} ms: {figures['ratio']:.3f}x (median of {args.rounds} interleaved "
                f"rounds of {args.calls})"
            )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    print(f"figures written to {args.json}")


if __name__ == "__main__":
    main()
