"""A stage rollback (db-only -> dual-write) with 1% of documents changed, and export's pace against migration's.

For each database (SQLite, and MariaDB when a server answers) and each size, a
generated archive is migrated, validated and moved to db-only; 1% of its
depositions get a message there. Then:

  rollback   the move back to dual-write, comparing what the validation evidence cannot vouch for
  baseline   the same move with --compare-all (every document compared, as before), after the site
             went forward again and 1% more were changed, so both start from the same kind of state

Each reports seconds, documents compared and exported, and the baseline's time over the rollback's.
Export vs migrate: depositions per second of `migrate` into an empty database and of `export` of
that database into an empty folder, same archive, same workers.

    python benchmarks/rollback_export.py [--sizes 5000] [--mysql-url URL] [--workers N]
                                         [--json bench-results/rollback-export.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from wwpdb.apps.msgmodule.archive_tools import (
    ExportOptions,
    MigrationOptions,
    ValidationOptions,
    default_workers,
    export_batch,
    migrate_batch,
    run_batches,
    validate_batch,
)
from wwpdb.apps.msgmodule.config import load_settings
from wwpdb.apps.msgmodule.db.engine import dispose_engines
from wwpdb.apps.msgmodule.io.MessagingFactory import MessagingFactory
from wwpdb.apps.msgmodule.stage.evidence import changed_depositions, record_validation
from wwpdb.apps.msgmodule.stage.lifecycle import ensure_archive_id, move_stage
from wwpdb.apps.msgmodule.synthetic import generate_archive

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
from bench import DEFAULT_MYSQL_URL, Databases  # noqa: E402


def validate(settings: Any, ids: list[str], workers: int, changed_only: bool = False) -> None:
    archive_id = ensure_archive_id(settings).archive_id
    options = ValidationOptions(settings.cif_root, settings.db_url, record_evidence=True)
    summary = run_batches(validate_batch, options, ids, workers, progress=False)
    assert summary.statuses["equal"] == len(ids), summary.statuses
    record_validation(settings.db_url, archive_id, settings.cif_root, True, len(ids), 0, changed_only, None)


def change(config: dict[str, str], ids: list[str], round_number: int) -> int:
    """One message in each of 1% of the depositions, through the service (the site is in db-only)."""
    service = MessagingFactory.create_messaging_service(config=config)
    chosen = ids[round_number::100]
    for deposition_id in chosen:
        service.set(deposition_id, {"message_text": f"written in db-only, round {round_number}"})
    return len(chosen)


def rollback(settings: Any, compare_all: bool) -> dict[str, Any]:
    start = time.perf_counter()
    move = move_stage(settings, "dual-write", compare_all=compare_all, progress=False)
    seconds = time.perf_counter() - start
    assert move.moved and not move.forced, move
    return {"seconds": round(seconds, 2), "compared": move.compared, "exported": len(move.exported)}


def bench_size(databases: Databases, kind: str, size: int, workers: int, workdir: Path) -> dict[str, Any]:
    root = workdir / f"{kind}-{size}"
    archive = root / "archive"
    ids = generate_archive(archive, size)
    url = databases.fresh(kind)
    config = {
        "MSGCIF_ROOT": str(archive),
        "MSGDB_URL": url,
        "MSGMODULE_STATE_DIR": str(root / "state"),
        "MSGMODULE_CONFIG": str(root / "none.cfg"),
    }
    (root / "none.cfg").write_text("")  # a config file of its own, empty: none in the working directory is read
    settings = load_settings(config)
    start = time.perf_counter()
    migrated = run_batches(migrate_batch, MigrationOptions(str(archive), url), ids, workers, progress=False)
    migrate_s = time.perf_counter() - start
    assert migrated.failed == 0
    out = root / "exported"
    out.mkdir()
    start = time.perf_counter()
    exported = run_batches(export_batch, ExportOptions(url, str(out)), ids, workers, progress=False)
    export_s = time.perf_counter() - start
    assert exported.statuses["exported"] == size, exported.statuses
    validate(settings, ids, workers)
    for stage in ("dual-write", "db-primary", "db-only"):
        move_stage(settings, stage)
    changed = change(config, ids, 0)
    fast = rollback(settings, compare_all=False)
    # Forward again (re-validating what the rollback wrote), 1% more changed, and back comparing everything.
    validate(settings, changed_depositions(str(archive), url), workers, changed_only=True)
    for stage in ("db-primary", "db-only"):
        move_stage(settings, stage)
    change(config, ids, 1)
    full = rollback(settings, compare_all=True)
    dispose_engines()
    return {
        "database": kind,
        "depositions": size,
        "workers": workers,
        "changed_depositions": changed,
        "rollback": fast,
        "baseline_compare_all": full,
        "rollback_speedup": round(full["seconds"] / max(fast["seconds"], 1e-9), 1),
        "migrate_per_s": round(size / migrate_s),
        "export_per_s": round(size / export_s),
        "export_vs_migrate": round(migrate_s / export_s, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="5000", help="depositions, comma-separated [%(default)s]")
    parser.add_argument("--mysql-url", default=DEFAULT_MYSQL_URL)
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--json", type=Path, default=REPO / "bench-results" / "rollback-export.json")
    args = parser.parse_args()
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="msgbench-rollback-") as tmp:
        databases = Databases(Path(tmp), args.mysql_url)
        try:
            for size in (int(text) for text in args.sizes.split(",")):
                for kind in databases.kinds():
                    result = bench_size(databases, kind, size, args.workers, Path(tmp))
                    results.append(result)
                    print(
                        f"{kind:8} {size:>7} deps: rollback {result['rollback']['seconds']}s "
                        f"({result['rollback']['compared']} compared, {result['rollback']['exported']} exported) vs "
                        f"compare-all {result['baseline_compare_all']['seconds']}s "
                        f"({result['baseline_compare_all']['compared']} compared): x{result['rollback_speedup']}; "
                        f"export {result['export_per_s']}/s vs migrate {result['migrate_per_s']}/s "
                        f"(x{result['export_vs_migrate']})",
                        flush=True,
                    )
        finally:
            databases.drop_all()
        figures = {  # written before the generated archives are removed, which takes a while
            "when": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
            "mariadb": databases.mysql_error or "measured",
            "results": results,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"figures: {args.json}", flush=True)


if __name__ == "__main__":
    main()
