"""Opening the messages view: our web service against OneDep's own `MessagingIo`, on the same files.

OneDep's released package (`wwpdb.apps.msgmodule==0.181.1` from the package
index) is installed with `--no-deps` into a virtualenv of its own, with the
packages it imports (each `--no-deps` too; PyMySQL stands in for mysqlclient,
which needs a C build), and run as a separate process
(benchmarks/onedep_view_runner.py): getMsgReadList, getMsgNoActionReqdList,
getMsgForReleaseList and getMsgRowList's first page of 50, what its page asks
on opening. Ours: `get_dtbl_config_dtls` and `get_dtbl_data`'s first page
through the WSGI app, dual-write (reads the same archive files). The two
run in interleaved rounds (OneDep's process answers one round at a time), so
the shared machine's load falls on both alike; medians, and the range of the
rounds' own ratios. Goal: ours 10x faster or more. When the package cannot
be installed, says so.

    python benchmarks/onedep_view.py [--rounds 15] [--venv .venv/onedep-0.181.1] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import venv
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from web_messages_view import SIZES, prepare_stage, time_round  # noqa: E402 - the same depositions and measure

from wwpdb.apps.msgmodule.stores.cif import CifMessageStore  # noqa: E402

HERE = Path(__file__).resolve().parent
ONEDEP = "wwpdb.apps.msgmodule==0.181.1"
# What its MessagingIo imports, found by trying (each installed without its own dependencies).
IMPORTS = [
    "mmcif", "mmcif.utils", "wwpdb.utils.config", "wwpdb.utils.session", "python-dateutil", "oslo.concurrency",
    "wwpdb.utils.wf", "wwpdb.utils.dp", "wwpdb.utils.nmr", "wwpdb.io", "wwpdb.utils.db", "wwpdb.utils.emdb",
    "wwpdb.utils.align", "sqlalchemy", "typing_extensions", "pymysql", "requests", "urllib3", "idna", "certifi",
    "msgpack", "munkres", "pynmrstar", "rmsd", "numpy", "scipy", "packaging", "chardet", "striprtf", "dbscan",
    "antlr4-python3-runtime", "debtcollector", "fasteners", "oslo.config", "netaddr", "rfc3986", "stevedore",
    "oslo.utils", "iso8601", "oslo.i18n", "lxml", "six",
]  # fmt: skip
# A OneDep site supplies its settings as a generated `ConfigInfoFileCache` module; the least it needs here.
SITE_MODULE = """class ConfigInfoFileCache:
    _configD = {"BENCH": {"RO_RESOURCE_PATH": %r}}

    @classmethod
    def getConfigDictionary(cls, siteId):
        return cls._configD[siteId]
"""


def onedep_python(where: Path) -> tuple[Path | None, str]:
    """The virtualenv's python with OneDep's package importable, or None and why not."""
    python = where / "bin" / "python"
    if not (where / ".installed").exists():
        try:
            venv.create(where, with_pip=True, clear=True)
            pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps"]
            subprocess.run([*pip, ONEDEP, *IMPORTS], check=True, capture_output=True, text=True, timeout=900)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
            detail = getattr(exc, "stderr", "") or str(exc)
            return None, f"could not install {ONEDEP} into {where}: {detail.strip()[-500:]}"
        (where / ".installed").write_text(ONEDEP + "\n")
    return python, ""


def start_onedep(python: Path, root: Path, archive: Path) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """OneDep's runner, warmed up, answering one round per line sent (see onedep_view_runner.py)."""
    (root / "sitepy").mkdir()
    (root / "resources").mkdir()
    (root / "sitepy" / "ConfigInfoFileCache.py").write_text(SITE_MODULE % str(root / "resources"))
    store = CifMessageStore(archive)
    cases = []
    for deposition in SIZES:
        to_file = store.current_file(deposition, "messages-to-depositor")
        from_file = store.current_file(deposition, "messages-from-depositor")
        cases.append(f"{deposition}:{to_file}:{from_file}")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root / "sitepy"), "WWPDB_SITE_ID": "BENCH"}
    runner = subprocess.Popen(
        [str(python), str(HERE / "onedep_view_runner.py"), "0", str(root / "onedep-sessions"), *cases],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert runner.stdout is not None
    line = runner.stdout.readline()
    if not line:
        raise SystemExit(f"OneDep's MessagingIo failed: {runner.communicate()[1][-2000:]}")
    return runner, json.loads(line)


def onedep_round(runner: subprocess.Popen[str]) -> dict[str, float]:
    assert runner.stdin is not None and runner.stdout is not None
    runner.stdin.write("go\n")
    runner.stdin.flush()
    line = runner.stdout.readline()
    if not line:
        raise SystemExit(f"OneDep's MessagingIo failed: {runner.communicate()[1][-2000:]}")
    return json.loads(line)  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--venv", type=Path, default=HERE.parent / ".venv" / "onedep-0.181.1")
    parser.add_argument("--json", type=Path, default=None, help="Also write the figures here.")
    args = parser.parse_args()
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="msgmodule-onedep-view-") as tmp:
        root = Path(tmp)
        app, session = prepare_stage(root / "dual-write", "dual-write")
        python, why = onedep_python(args.venv)
        if python is None:
            figures["onedep_not_measured"] = why
            print(f"OneDep's own MessagingIo: NOT MEASURED, {why}")
        else:
            runner, package = start_onedep(python, root, root / "dual-write" / "archive")
            print(f"OneDep's own MessagingIo: the real package, {package['package']} ({package['module_file']})")
            ours: dict[str, list[float]] = {deposition: [] for deposition in SIZES}
            theirs: dict[str, list[float]] = {deposition: [] for deposition in SIZES}
            try:
                for number in range(args.rounds):  # interleaved: the machine's load falls on both alike
                    first, second = (ours, theirs) if number % 2 == 0 else (theirs, ours)
                    for timings in (first, second):
                        found = time_round(app, session, number) if timings is ours else onedep_round(runner)
                        for deposition, ms in found.items():
                            timings[deposition].append(ms)
            finally:
                runner.communicate("")
            figures["onedep"] = {**package, "ms": {d: statistics.median(v) for d, v in theirs.items()}}
            figures["ours_dual_write"] = {d: statistics.median(v) for d, v in ours.items()}
            figures["speedup"] = {}
            for deposition in SIZES:
                theirs_ms, ours_ms = statistics.median(theirs[deposition]), statistics.median(ours[deposition])
                per_round = [t / o for t, o in zip(theirs[deposition], ours[deposition], strict=True)]
                speedup = round(theirs_ms / ours_ms, 1)
                figures["speedup"][str(SIZES[deposition])] = speedup
                print(
                    f"messages view, {SIZES[deposition]} messages: OneDep {theirs_ms:.1f} ms, ours (dual-write) "
                    f"{ours_ms:.2f} ms: {speedup}x faster (goal >= 10x; rounds {min(per_round):.1f}-"
                    f"{max(per_round):.1f}x)"
                )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
