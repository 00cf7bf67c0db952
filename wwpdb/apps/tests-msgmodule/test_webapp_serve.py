"""`make serve` / `msgmodule serve`: the web service on gunicorn, several worker processes, 127.0.0.1 by
default, with the front end, the site's scripts and the session folders beside it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import urllib.request
from pathlib import Path

import psutil
import pytest
from conftest import REPO_ROOT
from test_makefile import fetch_until_up, free_port, stop
from web_support import DEP, FRONT_END, SITE_JS, make_web_site

from wwpdb.apps.msgmodule.cli import cli


def write_config(tmp_path: Path, config: dict[str, str]) -> Path:
    path = tmp_path / "serve.cfg"
    keys = {k: v for k, v in config.items() if k not in ("MSGMODULE_STAGE", "MSGMODULE_CONFIG")}
    if SITE_JS.is_dir():
        keys["MSGMODULE_SITE_JS_DIR"] = str(SITE_JS)
    path.write_text("[msgmodule]\n" + "".join(f"{k} = {v}\n" for k, v in keys.items()))
    return path


def get(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.headers.get("Content-Type", ""), response.read()


@pytest.mark.skipif(not FRONT_END.is_dir(), reason=f"OneDep's front end is not at {FRONT_END}")
def test_make_serve_runs_the_service_and_the_front_end_on_worker_processes(tmp_path: Path):
    web = make_web_site(tmp_path, "dual-write", f"sqlite:///{tmp_path}/m.db")
    port = free_port()
    process = subprocess.Popen(
        ["make", "-s", "serve", f"SERVE_PORT={port}", "SERVE_WORKERS=2"],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "MSGMODULE_CONFIG": str(write_config(tmp_path, web.config))},
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        index = fetch_until_up(f"{base}/", process)
        assert f"?identifier={DEP}&amp;filesource=archive" in index
        status, kind, page = get(f"{base}/service/messaging/new_session/wf?identifier={DEP}&filesource=archive")
        assert (status, kind.split(";")[0]) == (200, "text/html")
        found = re.search(rb"var SESSION_ID = '([0-9a-f]+)'", page)
        assert found is not None
        session = found.group(1).decode()
        query = f"sessionid={session}&identifier={DEP}&content_type=msgs&sEcho=1&iDisplayStart=0&iDisplayLength=10"
        status, kind, body = get(f"{base}/service/messaging/get_dtbl_data?{query}")
        assert kind.startswith("application/json") and json.loads(body)["iTotalRecords"] == 4
        assert get(f"{base}/msgmodule/js/msging-main.min.js")[0] == 200
        if SITE_JS.is_dir():
            assert get(f"{base}/js/jquery-2.1.3/core/jquery-2.1.3.js")[0] == 200
        (Path(web.config["MSGMODULE_SESSIONS_DIR"]) / session / "copied.txt").write_text("a copied file")
        assert get(f"{base}/sessions/{session}/copied.txt")[2] == b"a copied file"
        with pytest.raises(urllib.error.HTTPError) as refused:
            get(f"{base}/sessions/{session}/..%2F..%2Fserve.cfg")
        assert refused.value.code in (403, 404)
        # make -> msgmodule (gunicorn's arbiter) -> two worker processes
        workers = [
            p for p in psutil.Process(process.pid).children(recursive=True) if "msgmodule" in " ".join(p.cmdline())
        ]
        assert len(workers) >= 3, [p.cmdline() for p in workers]
        listening = {c.laddr.ip for p in workers for c in p.net_connections("tcp") if c.status == psutil.CONN_LISTEN}
        assert listening == {"127.0.0.1"}
    finally:
        stop(process)


def test_serve_listens_on_127_0_0_1_by_default():
    options = {param.name: param.default for param in cli.commands["serve"].params}
    assert (options["host"], options["workers"]) == ("127.0.0.1", 2)
