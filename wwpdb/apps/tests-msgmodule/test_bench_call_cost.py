"""benchmarks/call_cost.py's schedule of calls, and page_cost.py (which borrows from it) still runs."""

from __future__ import annotations

import importlib.util
import json

import pytest
from conftest import REPO_ROOT, run_benchmark

_spec = importlib.util.spec_from_file_location("call_cost", REPO_ROOT / "benchmarks" / "call_cost.py")
assert _spec is not None and _spec.loader is not None
call_cost = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(call_cost)

STAGES = ("cif-only", "dual-write", "db-only")


def scheduled_calls(monkeypatch, rounds=3, calls=5):
    """The (stage, call, document) of every call measure() makes, in order: the calls only record themselves."""
    made = []

    def operations_of(_config, stage):
        names = ("set", "mark_read", "tag", "page") if stage == "db-only" else ("set", "mark_read", "tag")
        return {name: (lambda kind, name=name: made.append((stage, name, kind))) for name in names}

    monkeypatch.setattr(call_cost, "operations_of", operations_of)
    figures = call_cost.measure({stage: {} for stage in STAGES}, rounds, calls)
    return made, figures


def test_a_db_only_call_never_follows_another_stages_call_on_its_own_document(monkeypatch):
    # A long db-only call right after a cif/dual call on the 1000-message file, and a short one right after
    # theirs on the 30-message file, would compare what ran before, not the documents.
    made, figures = scheduled_calls(monkeypatch)
    followed = [
        (before, call)
        for before, call in zip(made, made[1:], strict=False)
        if call[0] == "db-only" and before[0] != "db-only"
    ]
    assert followed, "the other stages run in the same rounds"
    assert all(before[2] != call[2] for before, call in followed), followed
    assert all(
        len(by_kind[kind]) == 3 for by_name in figures.values() for by_kind in by_name.values() for kind in by_kind
    )


def test_db_only_takes_turns_between_the_long_and_the_short_document(monkeypatch):
    made, _ = scheduled_calls(monkeypatch)
    db_only = [call for call in made if call[0] == "db-only"]
    assert len(db_only) == 3 * 4 * 2 * 5
    for start in range(0, len(db_only), 10):  # each call's block of a round: 5 calls on each document
        block = db_only[start : start + 10]
        assert len({name for _, name, _ in block}) == 1
        assert all(a[2] != b[2] for a, b in zip(block[::2], block[1::2], strict=True)), block


def test_the_cross_stage_figures_still_take_turns_call_by_call(monkeypatch):
    made, _ = scheduled_calls(monkeypatch)
    others = [call for call in made if call[0] != "db-only"]
    for a, b in zip(others[::2], others[1::2], strict=True):
        assert {a[0], b[0]} == {"cif-only", "dual-write"} and a[1:] == b[1:], (a, b)


@pytest.mark.slow
def test_the_page_cost_benchmark_runs_and_writes_its_figures(tmp_path):
    figures_file = tmp_path / "page-cost.json"
    run_benchmark("page_cost.py", "--rounds", "1", "--json", str(figures_file))
    figures = json.loads(figures_file.read_text())
    assert figures["database"] == "sqlite" and len(figures["again"]["round_ratios"]) == 1
