"""The speed figures the project is held to, each with its goal, from the JSON `make bench` wrote.

    .venv/bin/python benchmarks/issue_figures.py [bench-results]   # or a bench-*.json file

The last step of `make bench`: it reads the newest bench-results/bench-*.json
(bench.py's figures, with call_cost's inside) and, beside it, page-cost.json
(the first page after a write, shown but not counted among the goals), and
prints one table, so the figures are the last thing the run shows whatever
ran between. A figure the
JSON lacks (MariaDB not reached, OneDep's migrator not run, per-call figures
not run) is shown as not measured and counts as missed. Exit status 0 either
way: the table is a report, not a test.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DB_ONLY_SET = "db-only set, 1000 vs 30 messages"
DB_ONLY_PAGE = "db-only getMsgRowList page of 10, 1000 vs 30"
DUAL_SET_30 = "dual-write set / cif-only set, 30 messages"
# The rows are ours to store: OneDep's migrator drops some (its share is shown), which is why it is the baseline.
ONEDEP_GOAL = ">= 15x, ours storing every row"


@dataclass(frozen=True)
class Figure:
    name: str
    now: str  # the value as shown, with how it was taken
    goal: str
    met: bool  # False when not measured
    extra: bool = False  # shown beside the goals, not one of them


def newest_bench_json(where: Path) -> Path | None:
    """`where` itself when it is a file, else the newest bench-*.json in it (names carry a sortable stamp)."""
    if where.is_file():
        return where
    found = sorted(where.glob("bench-*.json"))
    return found[-1] if found else None


def _not_measured(name: str, goal: str, why: str) -> Figure:
    return Figure(name, f"NOT MEASURED ({why})", goal, False)


def _call_ratio(calls: dict[str, Any], name: str, goal: float, label: str) -> Figure:
    """A call_cost ratio; a figure judged round by round uses its worst round when the JSON has the rounds."""
    ratios = calls.get("ratios", {})
    if name not in ratios:
        return _not_measured(label, f"<= {goal}x", "no such per-call figure in the JSON")
    where = f"on {calls.get('database', '?')}"
    if calls.get("database") != "mariadb":
        where += ", NOT MariaDB"
    return Figure(
        label,
        f"{ratios[name]:.2f}x (median of {_rounds(calls.get('rounds', '?'))}, {where})",
        f"<= {goal}x",
        ratios[name] <= goal,
    )


def _every_round_ratio(calls: dict[str, Any], name: str, goal: float, label: str) -> Figure:
    """A ratio that must hold in every round: its worst round when the JSON has per-round ratios, else the
    ratio of the medians (and it says which)."""
    by_round = calls.get("round_ratios", {}).get(name)
    if not by_round or "worst" not in by_round:
        figure = _call_ratio(calls, name, goal, label)
        if not figure.now.startswith("NOT"):
            note = "; no per-round ratios in the JSON: the median, not the worst round"
            figure = Figure(label, figure.now + note, f"<= {goal}x in every round", figure.met)
        return figure
    worst = float(by_round["worst"])
    rounds = by_round.get("rounds", [])
    spread = f", rounds {min(rounds):.2f}-{max(rounds):.2f}x" if rounds else ""
    where = "" if calls.get("database") == "mariadb" else f", on {calls.get('database', '?')}, NOT MariaDB"
    return Figure(
        label,
        f"{worst:.2f}x worst of {_rounds(len(rounds) or '?')}{spread}{where}",
        f"<= {goal}x in every round",
        worst <= goal,
    )


def _rounds(count: Any) -> str:
    return "1 round" if count == 1 else f"{count} rounds"


def _range(found: dict[str, Any] | None, median: float, digits: int) -> str:
    if found and "min" in found and "max" in found:
        return f"{median:.{digits}f}x [{found['min']:.{digits}f}-{found['max']:.{digits}f}]"
    return f"{median:.{digits}f}x"


def figures_of(bench: dict[str, Any]) -> list[Figure]:
    """The goals' figures, in the order of the issue that set them."""
    rows: list[Figure] = []
    calls = bench.get("call_cost")
    per_call = [
        (DB_ONLY_SET, 1.3, "db-only set, 1000-message / 30-message document"),
        (DUAL_SET_30, 1.5, "dual-write / cif-only set, 30 messages"),
        (DB_ONLY_PAGE, 1.5, "db-only getMsgRowList page of 10, 1000 / 30 messages"),
    ]
    for name, goal, label in per_call:
        if not calls:
            rows.append(_not_measured(label, f"<= {goal}x", "per-call figures not run: --call-rounds 0"))
        elif name == DUAL_SET_30:
            rows.append(_every_round_ratio(calls, name, goal, label))
        else:
            rows.append(_call_ratio(calls, name, goal, label))
    size = f"{bench.get('depositions', 0):,}"
    workers = bench.get("machine", {}).get("workers", "?")
    raw_label = f"migrate {size} depositions, {workers} workers / raw limit"
    onedep_label = f"OneDep's real migrator / ours ({workers} workers), {size} depositions"
    maria = bench.get("mariadb")
    if not maria:
        why = bench.get("mariadb_not_measured", "no MariaDB figures in the JSON")
        rows.append(_not_measured(raw_label, "<= 0.75x", why))
        rows.append(_not_measured(onedep_label, ONEDEP_GOAL, why))
        return rows
    ratio = maria["migration_over_raw_limit"]
    rows.append(
        Figure(raw_label, _range(maria.get("migration_over_raw_limit_range"), ratio, 2), "<= 0.75x", ratio <= 0.75)
    )
    theirs = maria.get("onedep")
    if not theirs or "speedup_vs_onedep" not in maria:
        rows.append(_not_measured(onedep_label, ONEDEP_GOAL, "OneDep's migrator not run"))
        return rows
    speedup = maria["speedup_vs_onedep"]
    share = theirs.get("stored_fraction", 0.0)
    stored = theirs.get("stored")
    shown = f"{_range(maria.get('speedup_vs_onedep_range'), speedup, 1)}; OneDep stored {share:.1%} of the rows"
    if stored is not None and bench.get("rows"):
        shown += f" ({stored} of {bench['rows']})"
    real = bool(theirs.get("real"))
    if not real:
        shown += f"; NOT OneDep's release: {theirs.get('what', 'a reconstruction')}"
    every_row = bool(maria.get("stored_every_row"))
    shown += "; ours stored every row" if every_row else "; ours NOT counted as storing every row"
    rows.append(Figure(onedep_label, shown, ONEDEP_GOAL, real and speedup >= 15 and every_row))
    return rows


def page_after_write(page_cost: dict[str, Any]) -> Figure:
    """page_cost.py's first page after a write (call_cost's page figure is the page read again)."""
    found = page_cost.get("after a write", {})
    label = "db-only page of 10, first after a write, 1000 / 30 messages"
    if "ratio" not in found:
        return Figure(label, "NOT MEASURED (no figure in page-cost.json)", "<= 1.5x", False, extra=True)
    where = "" if page_cost.get("database") == "mariadb" else f", on {page_cost.get('database', '?')}, NOT MariaDB"
    return Figure(
        label,
        f"{found['ratio']:.2f}x (median of {_rounds(page_cost.get('rounds', '?'))}{where})",
        "<= 1.5x",
        found["ratio"] <= 1.5,
        extra=True,
    )


def render(figures: list[Figure], source: Path) -> str:
    width = max(len(f.name) for f in figures)
    shown = max(len(f.now) for f in figures)
    goal_width = max(len(f.goal) for f in figures)
    lines = [
        "",
        f"=== goals of the speed work, from {source} ===",
        f"{'figure':<{width}}  {'now':<{shown}}  {'goal':<{goal_width}}  verdict",
    ]
    for f in figures:
        verdict = ("meets" if f.met else "MISSES") + (" (extra: not counted)" if f.extra else "")
        lines.append(f"{f.name:<{width}}  {f.now:<{shown}}  {f.goal:<{goal_width}}  {verdict}")
    goals = [f for f in figures if not f.extra]
    missed = sum(not f.met for f in goals)
    lines.append(f"{len(goals) - missed} of {len(goals)} goals met" + (f", {missed} missed" if missed else ""))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("where", type=Path, nargs="?", default=Path("bench-results"))
    args = parser.parse_args(argv)
    source = newest_bench_json(args.where)
    if source is None:
        print(f"\n=== goals of the speed work: no bench-*.json in {args.where} (bench.py did not finish) ===")
        return 0
    figures = figures_of(json.loads(source.read_text()))
    page_cost = source.parent / "page-cost.json"
    if page_cost.exists():
        figures.append(page_after_write(json.loads(page_cost.read_text())))
    print(render(figures, source))
    return 0


if __name__ == "__main__":
    sys.exit(main())
