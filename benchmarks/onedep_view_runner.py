"""Run under OneDep's own released package (not ours): time its MessagingIo opening the messages view.

Started by benchmarks/onedep_view.py with the python of a virtualenv that has
`wwpdb.apps.msgmodule==0.181.1` installed. Prints one JSON line: the package's
version and file, and per messages-to-depositor file the median ms of what
OneDep's page asks on opening (getMsgReadList, getMsgNoActionReqdList,
getMsgForReleaseList, then getMsgRowList's first page of 50).
Its archive path lookup needs a OneDep site; the files are given to MessagingIo
directly (its private path attributes), the rest is its own code unchanged.

    python benchmarks/onedep_view_runner.py ROUNDS SESSION_DIR DEP:TO_FILE:FROM_FILE ...

With ROUNDS 0 it first prints the package line, then answers each line read
from stdin with one round's timings (ms per deposition), so the caller can
interleave its own rounds with OneDep's.
"""

import json
import logging
import os
import statistics
import sys
import time

import pymysql

pymysql.install_as_MySQLdb()  # mysqlclient needs a C build here; PyMySQL is its documented stand-in

from importlib.metadata import version  # noqa: E402

from wwpdb.utils.session.WebRequest import InputRequest  # noqa: E402

from wwpdb.apps.msgmodule.io import MessagingIo as onedep_module  # noqa: E402

logging.disable(logging.CRITICAL)  # its INFO logging on every call is not what is measured


def open_view(session_dir, deposition, to_file, from_file):
    request = InputRequest(
        {
            "identifier": [deposition],
            "content_type": ["msgs"],
            "sessionid": ["bench"],
            "TopSessionPath": [session_dir],
            "WWPDB_SITE_ID": [os.environ.get("WWPDB_SITE_ID", "BENCH")],
        }
    )
    io = onedep_module.MessagingIo(request)
    io._MessagingIo__msgsToDpstrFilePath = to_file
    io._MessagingIo__msgsFrmDpstrFilePath = from_file
    io.getMsgReadList(deposition)
    io.getMsgNoActionReqdList(deposition)
    io.getMsgForReleaseList(deposition)
    rows = io.getMsgRowList(deposition, "Y", True, 0, 50, "", {})
    return rows


def one_round(session_dir, cases):
    timings = {}
    for case in cases:
        start = time.perf_counter()
        open_view(session_dir, *case)
        timings[case[0]] = (time.perf_counter() - start) * 1000
    return timings


def main():
    rounds, session_dir = int(sys.argv[1]), sys.argv[2]
    cases = [argument.split(":") for argument in sys.argv[3:]]
    for case in cases:  # warm up, and check it answered a page
        rows = open_view(session_dir, *case)
        if not rows.get("RECORD_LIST"):
            raise SystemExit(f"OneDep's getMsgRowList answered no rows for {case[0]}: {sorted(rows)}")
    if rounds == 0:  # rounds asked one at a time on stdin, interleaved with the caller's own
        print(json.dumps({"package": "wwpdb.apps.msgmodule " + version("wwpdb.apps.msgmodule"),
                          "module_file": onedep_module.__file__}), flush=True)  # fmt: skip
        for _ in sys.stdin:
            print(json.dumps(one_round(session_dir, cases)), flush=True)
        return
    timings = {case[0]: [] for case in cases}
    for _ in range(rounds):
        for case in cases:
            start = time.perf_counter()
            open_view(session_dir, *case)
            timings[case[0]].append((time.perf_counter() - start) * 1000)
    print(
        json.dumps(
            {
                "package": "wwpdb.apps.msgmodule " + version("wwpdb.apps.msgmodule"),
                "module_file": onedep_module.__file__,
                "ms": {deposition: statistics.median(values) for deposition, values in timings.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
