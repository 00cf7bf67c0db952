"""`make bench`: migration and CIF-read speed, and migration memory, as ratios against baselines run beside them.

    .venv/bin/python benchmarks/bench.py [--depositions 1000] [--memory-sizes 1000,10000]
                                         [--mysql-url mysql+pymysql://root@127.0.0.1:3306] [--out bench-results]

Measured in one run, on a generated archive shaped like the OneDep samples:
- migration (the real tool, worker processes, batched transactions) into SQLite and MariaDB, against
  a per-row insert-and-commit baseline (read, parse, one INSERT and COMMIT per row; run on a subset
  and compared as rows per second) and against the raw limit: a bare gemmi parse of the same files
  and plain batched INSERTs of the rows, in one process, written here without the library's read or
  insert code (`raw_limit`); on MariaDB also against OneDep's own migrator, its released code run
  in a process and virtualenv of its own (benchmarks/onedep_migrator.py), with the share of the rows
  it stored; these in interleaved rounds (`--rounds`), as medians with their ranges, every row of
  ours counted after each run;
- reading every deposition through the CIF store against the `mmcif` package's PdbxReader and
  against gemmi's bare parse of the same files;
- peak memory of a migration at each archive size: the whole process tree (the command and every
  worker), sampled while it runs, as proportional set size (shared pages counted once) and RSS.
Without a MariaDB server (`--mysql-url`, or MSGMODULE_BENCH_MYSQL_URL) the MariaDB figures are
skipped and the report says so. Figures go to a JSON file and a table; the targets are printed
beside them. Never fails on a missed target: it reports.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gemmi import cif
from sqlalchemy import create_engine, func, insert, select

from wwpdb.apps.msgmodule.archive_tools import MigrationOptions, default_workers, migrate_batch, run_batches
from wwpdb.apps.msgmodule.codec import decode_text
from wwpdb.apps.msgmodule.db import schema_versions
from wwpdb.apps.msgmodule.db.engine import dispose_engines, get_engine, mask_url
from wwpdb.apps.msgmodule.db.schema import CATEGORY_TABLES
from wwpdb.apps.msgmodule.model import CATEGORIES, Document
from wwpdb.apps.msgmodule.stores.cif import CifMessageStore
from wwpdb.apps.msgmodule.stores.db import row_params
from wwpdb.apps.msgmodule.synthetic import generate_archive

sys.path.insert(0, str(Path(__file__).resolve().parent))
import call_cost  # noqa: E402 - a sibling benchmark
import onedep_migrator  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MYSQL_URL = os.environ.get("MSGMODULE_BENCH_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306")
CURRENT_FILE = re.compile(r"(?P<dep>[DG]_\d+)_(?P<ct>[a-z-]+)_P1\.cif\.V(?P<version>\d+)")
BASELINE_DEPOSITIONS = 100  # the per-row baseline is slow by design: measured on a subset, compared per row


class Databases:
    """Fresh, empty databases with the schema: SQLite files and uniquely named MariaDB databases."""

    def __init__(self, workdir: Path, mysql_url: str) -> None:
        self.workdir = workdir
        self.mysql_url = mysql_url
        self.created: list[str] = []
        self.admin: Any = None
        self.mysql_error: str | None = None
        try:
            self.admin = create_engine(mysql_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
            with self.admin.connect():
                pass
        except Exception as exc:  # noqa: BLE001 - a benchmark reports what it could not measure
            detail = str(exc).splitlines()[0] if str(exc) else ""
            self.mysql_error = f"no server at {mask_url(mysql_url)}: {exc.__class__.__name__}: {detail}"

    def kinds(self) -> list[str]:
        return ["sqlite"] + ([] if self.mysql_error else ["mariadb"])

    def fresh(self, kind: str) -> str:
        name = f"msgbench_{uuid.uuid4().hex[:10]}"
        if kind == "sqlite":
            url = f"sqlite:///{self.workdir / name}.db"
        else:
            with self.admin.connect() as connection:
                connection.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
            self.created.append(name)
            url = f"{self.mysql_url}/{name}?charset=utf8mb4"
        schema_versions.upgrade(url)
        return url

    def drop_all(self) -> None:
        dispose_engines()
        if self.admin is None:
            return
        if self.created:
            with self.admin.connect() as connection:
                for name in self.created:
                    connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        self.admin.dispose()


def parsed_documents(root: Path, ids: list[str]) -> list[Document]:
    store = CifMessageStore(root)
    return [document for d in ids for document in store.load_all(d).values() if not document.is_empty()]


def total_rows(documents: list[Document]) -> int:
    return sum(sum(document.row_counts().values()) for document in documents)


def server_cpu_seconds() -> float | None:
    """CPU seconds a MariaDB/MySQL server process on this machine has used (None: none found or readable)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if text[text.find("(") + 1 : text.rfind(")")] in ("mariadbd", "mysqld"):
            fields = text[text.rfind(")") + 2 :].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    return None


def own_cpu_seconds() -> float:
    """CPU seconds of this process and of its children that have ended (pool workers are joined)."""
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in usage)


def time_migration(root: Path, url: str, ids: list[str], workers: int) -> float:
    start = time.perf_counter()
    summary = run_batches(migrate_batch, MigrationOptions(str(root), url), ids, workers, progress=False)
    elapsed = time.perf_counter() - start
    if summary.failed:
        raise RuntimeError(f"migration failed: {summary.failures[:3]}")
    return elapsed


def category_rows(documents: list[Document]) -> dict[str, int]:
    """The archive's rows per table."""
    counts = dict.fromkeys(CATEGORY_TABLES, 0)
    for document in documents:
        for name, count in document.row_counts().items():
            counts[name] += count
    return counts


def check_stored(url: str, expected: dict[str, int]) -> None:
    """Every row of the archive is in the database after our migration (counted per table), or raise."""
    with get_engine(url).connect() as connection:
        stored = {
            name: connection.execute(select(func.count()).select_from(table)).scalar_one()
            for name, table in CATEGORY_TABLES.items()
        }
    if stored != expected:
        raise RuntimeError(f"the migration stored {stored} rows, the archive holds {expected}")


def spread(values: list[float]) -> dict[str, Any]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "all": values}


def compare_migrations(
    root: Path,
    databases: Databases,
    kind: str,
    ids: list[str],
    expected: dict[str, int],
    workers: int,
    rounds: int,
    onedep: tuple[Path | None, str] | None,
) -> dict[str, Any]:
    """Ours (default workers, 1 worker), the raw limit and OneDep's migrator, in interleaved rounds.

    Each round runs every way once, into a fresh database, in turn (reversed every other
    round); the figures are medians with their ranges, and each ratio's median and range is
    taken over the rounds (a round's two runs saw the same machine). Our migration's rows
    are counted after every run: all of them, or the bench stops.
    """
    ways: dict[str, Callable[[], float]] = {}

    def ours(count: int) -> Callable[[], float]:
        def run() -> float:
            url = databases.fresh(kind)
            seconds = time_migration(root, url, ids, count)
            check_stored(url, expected)
            return seconds

        return run

    def raw() -> float:
        seconds, inserted = raw_limit(root, databases.fresh(kind), ids)
        if inserted != sum(expected.values()):
            raise RuntimeError(f"the raw limit inserted {inserted} rows, the archive holds {sum(expected.values())}")
        return seconds

    onedep_runs: list[onedep_migrator.OneDepRun] = []

    def theirs() -> float:
        assert onedep is not None
        run = onedep_migrator.migrate(onedep[0], onedep[1], root, databases.mysql_url, ids)
        onedep_runs.append(run)
        return run.seconds

    ways["migration"] = ours(workers)
    ways["migration_1_worker"] = ours(1)
    ways["raw_limit"] = raw
    if onedep is not None:
        ways["onedep"] = theirs
    times: dict[str, list[float]] = {name: [] for name in ways}
    for number in range(rounds):
        for name in list(ways) if number % 2 == 0 else list(reversed(ways)):
            times[name].append(ways[name]())

    def ratio(top: str, bottom: str) -> dict[str, Any]:
        return spread([a / b for a, b in zip(times[top], times[bottom], strict=True)])

    figures: dict[str, Any] = {f"{name}_s": statistics.median(values) for name, values in times.items()}
    figures["rounds"] = {name: spread(values) for name, values in times.items()}
    figures["migration_over_raw_limit"] = ratio("migration", "raw_limit")["median"]
    figures["migration_over_raw_limit_range"] = ratio("migration", "raw_limit")
    figures["over_raw_limit_1_worker"] = ratio("migration_1_worker", "raw_limit")["median"]
    figures["stored_every_row"] = True  # checked after each of our runs (check_stored)
    if onedep_runs:
        first = onedep_runs[0]
        figures["onedep"] = {
            "real": first.real,
            "what": first.what,
            "stored": first.stored,
            "stored_fraction": first.stored / sum(expected.values()),
            "cpu_s": [run.cpu_seconds for run in onedep_runs],
        }
        figures["speedup_vs_onedep"] = ratio("onedep", "migration")["median"]
        figures["speedup_vs_onedep_range"] = ratio("onedep", "migration")
    return figures


def time_per_row_baseline(root: Path, url: str, ids: list[str]) -> tuple[float, int]:
    """Read, parse, then one INSERT and one COMMIT per row: what a naive migration does."""
    engine = get_engine(url)
    start = time.perf_counter()
    documents = parsed_documents(root, ids)
    for document in documents:
        for category in CATEGORIES:
            table = CATEGORY_TABLES[category.name]
            for order, row in enumerate(document.rows(category)):
                with engine.begin() as connection:
                    connection.execute(insert(table).values(**row_params(document, category, row, order)))
    return time.perf_counter() - start, total_rows(documents)


def current_files(folder: Path) -> list[tuple[str, Path]]:
    """(content type, file) of a deposition folder's highest versions, found without the library."""
    best: dict[str, tuple[int, Path]] = {}
    for path in folder.iterdir():
        match = CURRENT_FILE.fullmatch(path.name)
        if match and path.is_file():
            version = int(match["version"])
            if match["ct"] not in best or version > best[match["ct"]][0]:
                best[match["ct"]] = (version, path)
    return [(content_type, path) for content_type, (_, path) in sorted(best.items())]


def raw_rows(folder: Path) -> dict[str, list[dict[str, Any]]]:
    """A deposition's rows by table, from a bare gemmi parse: no decoding, no model objects."""
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in CATEGORY_TABLES}
    for content_type, path in current_files(folder):
        for block in cif.read(str(path)):  # an empty file has no block, and no rows
            _block_rows(block, folder.name, content_type, rows)
    return rows


def _block_rows(block: Any, deposition_id: str, content_type: str, rows: dict[str, list[dict[str, Any]]]) -> None:
    for name, table in CATEGORY_TABLES.items():
        found = block.find_mmcif_category(f"_{name}.")
        if not found:
            continue
        tags = [tag.split(".", 1)[1] for tag in found.tags]
        columns = [tag for tag in tags if tag in table.c]
        for order, row in enumerate(found):
            values: dict[str, Any] = {
                tag: None if row[i] in ("?", ".") else cif.as_string(row[i])
                for i, tag in enumerate(tags)
                if tag in columns
            }
            values.update(source_deposition_id=deposition_id, source_content_type=content_type, row_order=order)
            rows[name].append(values)


def raw_limit(root: Path, url: str, ids: list[str], batch: int = 50) -> tuple[float, int]:
    """The raw limit: gemmi parse plus plain batched INSERTs (executemany), one process, independent code."""
    engine = create_engine(url)
    start = time.perf_counter()
    inserted = 0
    for first in range(0, len(ids), batch):
        parsed = [raw_rows(root / deposition_id) for deposition_id in ids[first : first + batch]]
        with engine.begin() as connection:
            for name, table in CATEGORY_TABLES.items():
                batch_rows = [row for rows in parsed for row in rows[name]]
                if batch_rows:
                    # One statement per column set: rows missing an item get a NULL, as in the files.
                    columns = sorted({column for row in batch_rows for column in row})
                    connection.execute(insert(table), [{c: row.get(c) for c in columns} for row in batch_rows])
                    inserted += len(batch_rows)
    elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed, inserted


def pdbx_reader_document(path: Path, deposition_id: str, content_type: str) -> Document:
    """The legacy way: PdbxReader, then rows into the same model objects (same null and text rules)."""
    from mmcif.io.PdbxReader import PdbxReader

    containers: list[Any] = []
    with open(path, encoding="utf-8") as handle:
        PdbxReader(handle).read(containers)
    document = Document(deposition_id, content_type)
    for container in containers:
        for category in CATEGORIES:
            table = container.getObj(category.name)
            if table is None:
                continue
            names = table.getAttributeList()
            positions = [names.index(item) if item in names else None for item in category.items]
            for row in table.getRowList():
                values = [None if p is None or row[p] in ("?", ".") else decode_text(row[p]) for p in positions]
                document.rows(category).append(category.row_type(*values))
    return document


def time_reads(root: Path, ids: list[str], rounds: int = 7) -> dict[str, float]:
    """Each way of reading every deposition's current files, in interleaved rounds: the median seconds."""
    from mmcif.io.PdbxReader import PdbxReader

    store = CifMessageStore(root)
    files = [(path, d, ct) for d in ids for ct, (path, _) in store.current_files(d).items()]

    def bare_pdbx() -> None:
        for path, _, _ in files:
            with open(path, encoding="utf-8") as handle:
                PdbxReader(handle).read([])

    def each(read: Callable[[Any], Any], items: list[Any]) -> Callable[[], None]:
        # One at a time, each result dropped before the next read, as a caller reads depositions.
        def run() -> None:
            for item in items:
                read(item)

        return run

    ways: dict[str, Callable[[], Any]] = {
        "cif_store": each(store.load_all, ids),
        "gemmi_parse": each(lambda f: cif.read(str(f[0])), files),
        "pdbx_reader": bare_pdbx,
        "pdbx_reader_to_objects": each(lambda f: pdbx_reader_document(*f), files),
    }
    times: dict[str, list[float]] = {name: [] for name in ways}
    for round_number in range(rounds):
        order = list(ways) if round_number % 2 == 0 else list(reversed(ways))
        for name in order:
            start = time.perf_counter()
            ways[name]()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def peak_memory_of_migration(root: Path, url: str, workers: int) -> dict[str, float]:
    """Peak memory (MiB) of the whole process tree of a migration run as the operator runs it.

    Sampled every 20 ms: the command and all its workers together, as PSS (each shared page
    counted once, so forked workers are not counted twice) and as the plain sum of RSS.
    """
    import psutil

    command = [
        sys.executable,
        str(REPO / "scripts" / "migrate_cif_to_db.py"),
        "--directory",
        str(root),
        "--db-url",
        url,
        "--workers",
        str(workers),
        "--no-progress",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    top = psutil.Process(process.pid)
    peak_pss = peak_rss = 0.0
    most = 0
    while process.poll() is None:
        pss = rss = 0.0
        try:
            tree = [top, *top.children(recursive=True)]
        except psutil.Error:
            break
        for member in tree:
            try:
                info = member.memory_full_info()
            except psutil.Error:
                continue  # a worker that just ended
            pss += getattr(info, "pss", info.rss)
            rss += info.rss
        peak_pss, peak_rss, most = max(peak_pss, pss), max(peak_rss, rss), max(most, len(tree))
        time.sleep(0.02)
    _, errors = process.communicate()
    if process.returncode:
        raise RuntimeError(f"migration failed: {errors.decode(errors='replace')[-500:]}")
    return {"pss_mib": peak_pss / 2**20, "rss_sum_mib": peak_rss / 2**20, "processes": most}


def at_scale(workdir: Path, databases: Databases, size: int, workers: int) -> dict[str, Any]:
    """A migration of `size` generated depositions on the default workers, on MariaDB when there is one."""
    root = workdir / f"archive-{size}"
    start = time.perf_counter()
    ids = generate_archive(root, size)
    generated = time.perf_counter() - start
    kind = databases.kinds()[-1]
    seconds = time_migration(root, databases.fresh(kind), ids, workers)
    shutil.rmtree(root)
    return {"depositions": size, "database": kind, "workers": workers, "migration_s": seconds, "generate_s": generated}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--depositions", type=int, default=1000)
    parser.add_argument("--memory-sizes", default="1000,10000")
    parser.add_argument(
        "--mysql-url",
        default=DEFAULT_MYSQL_URL,
        help="MariaDB/MySQL server (no database) [default: MSGMODULE_BENCH_MYSQL_URL or %(default)s]",
    )
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument(
        "--scale", type=int, default=100_000, help="depositions of the at-scale migration (0: not run) [%(default)s]"
    )
    parser.add_argument("--call-rounds", type=int, default=9, help="rounds of the per-call figures (0: not run)")
    parser.add_argument(
        "--rounds", type=int, default=3, help="interleaved rounds of the migration comparison [%(default)s]"
    )
    parser.add_argument(
        "--onedep-venv",
        type=Path,
        default=onedep_migrator.VENV,
        help="virtualenv for OneDep's released package, installed there if missing [%(default)s]",
    )
    parser.add_argument("--out", type=Path, default=REPO / "bench-results")
    args = parser.parse_args()
    figures: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "machine": {"python": platform.python_version(), "cores": os.cpu_count(), "workers": args.workers},
        "depositions": args.depositions,
    }
    with tempfile.TemporaryDirectory(prefix="msgbench-") as tmp:
        workdir = Path(tmp)
        databases = Databases(workdir, args.mysql_url)
        try:
            root = workdir / "archive"
            ids = generate_archive(root, args.depositions)
            documents = parsed_documents(root, ids)
            rows = total_rows(documents)
            figures["rows"] = rows
            figures["archive_bytes"] = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
            if databases.mysql_error:
                figures["mariadb_not_measured"] = databases.mysql_error
            expected = category_rows(documents)
            onedep = onedep_migrator.release_python(args.onedep_venv) if "mariadb" in databases.kinds() else None
            for kind in databases.kinds():
                # The CPU a migration takes, in its processes and in the server, from one run outside the rounds.
                own, server_before = own_cpu_seconds(), server_cpu_seconds() if kind == "mariadb" else None
                time_migration(root, databases.fresh(kind), ids, args.workers)
                own = own_cpu_seconds() - own
                server_after = server_cpu_seconds() if server_before is not None else None
                server = (
                    server_after - server_before if server_after is not None and server_before is not None else None
                )
                compared = compare_migrations(
                    root,
                    databases,
                    kind,
                    ids,
                    expected,
                    args.workers,
                    args.rounds,
                    onedep if kind == "mariadb" else None,
                )
                baseline_seconds, baseline_rows = time_per_row_baseline(
                    root, databases.fresh(kind), ids[:BASELINE_DEPOSITIONS]
                )
                migration = compared["migration_s"]
                figures[kind] = {
                    **compared,
                    "migration_cpu_s": own,
                    "server_cpu_s": server,
                    "migration_rows_per_s": rows / migration,
                    "per_row_baseline_rows_per_s": baseline_rows / baseline_seconds,
                    "speedup_vs_per_row": (rows / migration) / (baseline_rows / baseline_seconds),
                }
            reads = time_reads(root, ids)
            figures["cif_read"] = {
                **{f"{k}_s": v for k, v in reads.items()},
                "speedup_vs_pdbx_reader_to_objects": reads["pdbx_reader_to_objects"] / reads["cif_store"],
                "speedup_vs_pdbx_reader_parse_only": reads["pdbx_reader"] / reads["cif_store"],
                "over_gemmi_parse": reads["cif_store"] / reads["gemmi_parse"],
            }
            memory = {}
            for size in (int(s) for s in args.memory_sizes.split(",") if s):
                sized_root = workdir / f"archive-{size}"
                generate_archive(sized_root, size)
                memory[str(size)] = peak_memory_of_migration(sized_root, databases.fresh("sqlite"), args.workers)
            figures["peak_memory_mib"] = memory
            if args.scale:
                figures["at_scale"] = at_scale(workdir, databases, args.scale, args.workers)
            if len(memory) >= 2:
                values = [m["pss_mib"] for m in memory.values()]
                figures["memory_growth"] = values[-1] / values[0]
        finally:
            databases.drop_all()
    if args.call_rounds:
        figures["call_cost"] = call_cost.run(args.mysql_url, args.call_rounds, 5)
    table = render(figures)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    (args.out / f"bench-{stamp}.json").write_text(json.dumps(figures, indent=1))
    (args.out / f"bench-{stamp}.txt").write_text(table + "\n")
    print(f"written: {args.out}/bench-{stamp}.json and .txt")


def render(figures: dict[str, Any]) -> str:
    lines = [
        f"msgmodule bench {figures['when']} UTC: {figures['depositions']} depositions, {figures['rows']} rows, "
        f"{figures['archive_bytes'] / 1e6:.1f} MB, {figures['machine']['workers']} workers"
    ]

    def check(ok: bool) -> str:
        return "meets" if ok else "MISSES"

    for kind in ("sqlite", "mariadb"):
        if kind not in figures:
            continue
        f = figures[kind]
        runs = f["rounds"]
        lines += [
            f"{kind}: migration {seconds(runs['migration'])} ({f['migration_rows_per_s']:.0f} rows/s, every row "
            f"stored: counted); 1 worker {seconds(runs['migration_1_worker'])}; raw limit "
            f"{seconds(runs['raw_limit'])}; per-row baseline {f['per_row_baseline_rows_per_s']:.0f} rows/s "
            f"(medians of {len(runs['migration']['all'])} interleaved rounds, [range])",
            f"  speed-up over per-row insert+commit: {f['speedup_vs_per_row']:.1f}x "
            f"(target >= 10x: {check(f['speedup_vs_per_row'] >= 10)})",
            f"  migration / raw limit: {times(f['migration_over_raw_limit_range'], 2)} "
            f"(target <= 2x: {check(f['migration_over_raw_limit'] <= 2)})",
        ]
        if "onedep" in f:
            theirs = f["onedep"]
            lines += [
                f"  OneDep's migrator: {seconds(runs['onedep'])}, stored {theirs['stored_fraction']:.0%} of the "
                f"rows ({theirs['stored']} of {figures['rows']}); it ran "
                + (theirs["what"] if theirs["real"] else f"NOT OneDep's release but {theirs['what']}"),
                f"  OneDep's migrator / this migration ({figures['machine']['workers']} workers): "
                f"{times(f['speedup_vs_onedep_range'], 1)} (goal >= 15x: {check(f['speedup_vs_onedep'] >= 15)})",
            ]
    if "mariadb_not_measured" in figures:
        lines.append(
            f"mariadb: SKIPPED, not measured ({figures['mariadb_not_measured']}); "
            "give a server with --mysql-url or MSGMODULE_BENCH_MYSQL_URL"
        )
    r = figures["cif_read"]
    lines += [
        f"cif read (files to model objects): store {r['cif_store_s']:.2f} s; gemmi parse only "
        f"{r['gemmi_parse_s']:.2f} s; PdbxReader to the same objects {r['pdbx_reader_to_objects_s']:.2f} s "
        f"(parse only {r['pdbx_reader_s']:.2f} s)",
        f"  speed-up over PdbxReader (OneDep's reader) to objects: {r['speedup_vs_pdbx_reader_to_objects']:.1f}x; "
        f"over its parse alone: {r['speedup_vs_pdbx_reader_parse_only']:.1f}x (for information: the target "
        "is the bare gemmi parse)",
        f"  store / bare gemmi parse: {r['over_gemmi_parse']:.2f}x "
        f"(target <= 1.3x: {check(r['over_gemmi_parse'] <= 1.3)})",
    ]
    memory = figures.get("peak_memory_mib", {})
    if memory:
        shown = ", ".join(
            f"{size} depositions {m['pss_mib']:.0f} MiB PSS ({m['rss_sum_mib']:.0f} MiB RSS summed "
            f"over {m['processes']} processes)"
            for size, m in memory.items()
        )
        growth = figures.get("memory_growth")
        lines.append(
            f"peak memory of a migration: {shown}"
            + (f"; growth {growth:.2f}x (target <= 1.2x: {check(growth <= 1.2)})" if growth else "")
        )
    if "call_cost" in figures:
        lines.append(call_cost.render(figures["call_cost"]))
    lines += ["", *cost_table(figures), *cpu_ceiling(figures)]
    return "\n".join(lines)


def seconds(run: dict[str, Any]) -> str:
    """A median and its range, in seconds."""
    return f"{run['median']:.2f} s [{run['min']:.2f}-{run['max']:.2f}]"


def times(run: dict[str, Any], digits: int) -> str:
    """A ratio's median and its range over the rounds."""
    return f"{run['median']:.{digits}f}x [{run['min']:.{digits}f}-{run['max']:.{digits}f}]"


def cpu_ceiling(figures: dict[str, Any]) -> list[str]:
    """What the machine allows the migration against OneDep's: the CPU the run used, spread on every core."""
    maria = figures.get("mariadb", {})
    if maria.get("server_cpu_s") is None or "onedep_s" not in maria:
        return []
    cores = figures["machine"]["cores"] or 1
    used = maria["migration_cpu_s"] + maria["server_cpu_s"]
    return [
        f"  (a run used {maria['migration_cpu_s']:.2f} s of CPU in the migration's processes and "
        f"{maria['server_cpu_s']:.2f} s in the MariaDB server, which other work on the machine adds to, on {cores} "
        f"cores: that work cannot take under {used / cores:.2f} s here, so at most "
        f"{maria['onedep_s'] * cores / used:.1f}x against OneDep's migrator's {maria['onedep_s']:.2f} s)"
    ]


# Per-call cost and migration speed as measured before the work that brought them down (column `at filing`).
AT_FILING = {
    "db-only set, 1000 vs 30 messages": "6.4x",
    "dual-write set / cif-only set, 30 messages": "3.3x",
    "dual-write set / cif-only set, 1000 messages": "1.97x",
    "db-only getMsgRowList page of 10, 1000 vs 30": "6.7x",
}


def cost_table(figures: dict[str, Any]) -> list[str]:
    """One table of every per-call and migration figure, with its value at filing and its goal."""
    rows: list[tuple[str, str, str, str, bool | None]] = []
    ratios = figures.get("call_cost", {}).get("ratios", {})
    for name, goal in call_cost.GOALS.items():
        if name in ratios:
            now = call_cost.describe_ratio(figures["call_cost"], name)
            rows.append((name, AT_FILING.get(name, "-"), now, f"<= {goal}x", ratios[name] <= goal))
    maria = figures.get("mariadb")
    if maria:
        size, workers = f"{figures['depositions']:,}", figures["machine"]["workers"]
        if "speedup_vs_onedep" in maria:
            theirs = maria["onedep"]
            speedup = maria["speedup_vs_onedep"]
            rows.append(
                (
                    f"migrate {size} depositions: OneDep's migrator"
                    + ("" if theirs["real"] else " (RECONSTRUCTION, not its release)")
                    + f" / ours, {workers} workers",
                    "6-8x",
                    f"{times(maria['speedup_vs_onedep_range'], 1)}; stored: it {theirs['stored_fraction']:.0%}, "
                    "we 100%",
                    ">= 15x",
                    speedup >= 15,
                )
            )
        ratio = maria["migration_over_raw_limit"]
        rows.append(
            (
                f"migrate {size} depositions, {workers} workers / raw limit (MariaDB)",
                "0.79x",
                times(maria["migration_over_raw_limit_range"], 2),
                "<= 0.75x",
                ratio <= 0.75,
            )
        )
        ratio = maria["over_raw_limit_1_worker"]
        rows.append(("migrate, 1 worker / raw limit (MariaDB)", "1.4-1.6x", f"{ratio:.2f}x", "<= 1.0x", ratio <= 1.0))
    read = figures["cif_read"]["over_gemmi_parse"]
    rows.append(("CIF store read / bare gemmi parse", "-", f"{read:.2f}x", "<= 1.3x", read <= 1.3))
    if "memory_growth" in figures:
        sizes = " vs ".join(f"{size}" for size in figures["peak_memory_mib"])
        growth = figures["memory_growth"]
        rows.append(
            (f"peak memory of a migration, {sizes} depositions", "-", f"{growth:.2f}x", "flat (<= 1.2x)", growth <= 1.2)
        )
    scale = figures.get("at_scale")
    if scale:
        rate = scale["depositions"] / scale["migration_s"]
        rows.append(
            (
                f"migrate {scale['depositions']:,} depositions, {scale['workers']} workers ({scale['database']})",
                "-",
                f"{scale['migration_s']:.0f} s ({rate:.0f} depositions/s)",
                "reported",
                None,
            )
        )
    width = max(len(row[0]) for row in rows)
    shown = max(44, *(len(row[2]) for row in rows))
    lines = [f"{'figure':<{width}}  {'at filing':>9}  {'now':<{shown}}  goal"]
    for name, before, now, goal, met in rows:
        verdict = "" if met is None else ("meets" if met else "MISSES")
        lines.append(f"{name:<{width}}  {before:>9}  {now:<{shown}}  {goal} {verdict}")
    return lines


if __name__ == "__main__":
    main()
