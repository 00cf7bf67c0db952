"""benchmarks/page_cost.py, which borrows from call_cost.py, still runs."""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys

import pytest
from conftest import REPO_ROOT

_spec = importlib.util.spec_from_file_location("call_cost", REPO_ROOT / "benchmarks" / "call_cost.py")
assert _spec is not None and _spec.loader is not None
call_cost = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(call_cost)


@pytest.mark.slow
def test_the_page_cost_benchmark_runs_and_writes_its_figures(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"mysql+pymysql://root@127.0.0.1:{sock.getsockname()[1]}"
    figures_file = tmp_path / "page-cost.json"
    result = subprocess.run(
        [
            sys.executable,
            "benchmarks/page_cost.py",
            "--rounds",
            "1",
            "--mysql-url",
            closed,
            "--json",
            str(figures_file),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    figures = json.loads(figures_file.read_text())
    assert figures["database"] == "sqlite" and len(figures["again"]["round_ratios"]) == 1
