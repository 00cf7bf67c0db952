"""Pictures of the site: `msgmodule status --plot FILE`, and the Grafana dashboard shipped for `msgmodule monitor`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from conftest import put_site_in_stage, site_config
from prometheus_client.parser import text_string_to_metric_families
from test_monitoring import monitor_serving, open_breaker

from wwpdb.apps.msgmodule.config import load_settings
from wwpdb.apps.msgmodule.db import schema_versions
from wwpdb.apps.msgmodule.stage.policy import STAGES
from wwpdb.apps.msgmodule.tools.plots import status_figure

MSGMODULE = str(Path(sys.executable).with_name("msgmodule"))
DASHBOARD = Path(__file__).resolve().parents[3] / "monitoring" / "grafana-dashboard.json"
WRITER = """
import sys
from wwpdb.apps.msgmodule.io.MessagingFactory import create_messaging_service
svc = create_messaging_service(config={"MSGMODULE_CONFIG": sys.argv[1]})
for n in range(int(sys.argv[2])):
    svc.set(deposition_id="D_1000000001", message_data={"message_text": f"m{n}"}, content_type="messages-to-depositor")
"""


def write_in_another_process(config: dict[str, str], count: int) -> None:
    """Writes through the service in a process of their own: their counters reach the stats file as it exits."""
    subprocess.run([sys.executable, "-c", WRITER, config["MSGMODULE_CONFIG"], str(count)], check=True)


@pytest.fixture
def moved_site(tmp_path):
    """A site that wrote 2 messages in cif-only, moved to dual-write, and wrote 3 more there."""
    url = f"sqlite:///{tmp_path}/messaging.db"
    schema_versions.upgrade(url)
    config = site_config(tmp_path, url)
    write_in_another_process(config, 2)
    put_site_in_stage(config, "dual-write")
    write_in_another_process(config, 3)
    return config


def test_the_status_figure_shows_the_stage_history_and_the_writes_per_stage(moved_site):
    # Asked of a fresh process, as an operator does: this one's own counters hold other tests' writes too.
    shown = subprocess.run(
        [MSGMODULE, "status", "--json", "--config", moved_site["MSGMODULE_CONFIG"]], capture_output=True, text=True
    )
    assert shown.returncode == 0, shown.stderr
    info = json.loads(shown.stdout)
    assert {stage: figures["calls"] for stage, figures in info["stage_writes"].items()} == {
        "cif-only": 2,
        "dual-write": 3,
    }

    history, writes = status_figure(info).axes
    (steps,) = [line for line in history.get_lines() if line.get_label() == "stage"]
    order = list(STAGES)
    assert list(steps.get_ydata()) == [order.index("cif-only"), order.index("dual-write"), order.index("dual-write")]
    written, failed = writes.containers
    assert [bar.get_height() for bar in written] == [{"cif-only": 2, "dual-write": 3}.get(stage, 0) for stage in order]
    assert [bar.get_height() for bar in failed] == [0] * len(order)
    assert [label.get_text() for label in writes.get_xticklabels()] == order


def test_status_plot_writes_a_png_a_person_can_open(moved_site, tmp_path):
    from matplotlib.image import imread

    picture = tmp_path / "status.png"
    result = subprocess.run(
        [MSGMODULE, "status", "--config", moved_site["MSGMODULE_CONFIG"], "--plot", str(picture)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert f"to {picture}" in result.stdout
    assert "writes:      cif-only 2 (0 failed), dual-write 3 (0 failed)" in result.stdout
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert imread(picture).shape[:2] == (700, 1000)  # 10 x 7 inches at 100 dpi


def test_status_plot_says_what_to_install_when_matplotlib_is_absent_and_writes_nothing(moved_site, tmp_path):
    picture = tmp_path / "status.png"
    without = (
        "import sys; sys.modules['matplotlib'] = None\n"  # as if it were not installed
        "from wwpdb.apps.msgmodule.cli import main\n"
        "sys.argv = ['msgmodule'] + sys.argv[1:]\n"
        "main()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", without, "status", "--config", moved_site["MSGMODULE_CONFIG"], "--plot", str(picture)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "needs matplotlib" in result.stderr and "wwpdb.apps.msgmodule[plot]" in result.stderr
    assert not picture.exists()


def test_status_plot_refuses_a_file_it_cannot_draw_and_names_it(moved_site, tmp_path):
    result = subprocess.run(
        [MSGMODULE, "status", "--config", moved_site["MSGMODULE_CONFIG"], "--plot", str(tmp_path / "status.txt")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1 and "status.txt" in result.stderr and ".png" in result.stderr


# -- the Grafana dashboard ---------------------------------------------------------------------------

PANEL_TYPES = {"row", "timeseries", "stat", "state-timeline"}


def dashboard_expressions(dashboard: dict) -> list[str]:
    found = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    found += [v["query"]["query"] for v in dashboard["templating"]["list"] if isinstance(v.get("query"), dict)]
    return found


def test_the_dashboard_is_grafana_json_with_the_panels_it_needs():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["title"] and dashboard["uid"] and dashboard["schemaVersion"] >= 36
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource" and variables["DS_PROMETHEUS"]["query"] == "prometheus"
    panels = dashboard["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    taken: set[tuple[int, int]] = set()
    for panel in panels:
        assert panel["type"] in PANEL_TYPES and panel["title"], panel
        place = panel["gridPos"]
        assert place["x"] + place["w"] <= 24 and place["h"] > 0, panel["title"]
        cells = {(place["x"] + dx, place["y"] + dy) for dx in range(place["w"]) for dy in range(place["h"])}
        assert not cells & taken, f"{panel['title']} overlaps another panel"
        taken |= cells
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}" and panel["targets"], panel["title"]
            for target in panel["targets"]:
                assert target["refId"] and target["expr"], panel["title"]
    titles = {panel["title"] for panel in panels}
    assert {"Stage over time", "Writes per second, by stage", "Validation progress", "Circuit breakers"} <= titles


def test_every_metric_the_dashboard_queries_is_served_by_msgmodule_monitor(moved_site, tmp_path):
    settings = load_settings(moved_site)
    # A validation and an opened breaker, so every figure is there to be served.
    subprocess.run([MSGMODULE, "validate", "--config", moved_site["MSGMODULE_CONFIG"]], check=True, capture_output=True)
    open_breaker(Path(settings.state_dir))
    with monitor_serving(moved_site["MSGMODULE_CONFIG"]) as url, urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()

    served = {sample.name for family in text_string_to_metric_families(text) for sample in family.samples}
    queried = {
        name
        for expr in dashboard_expressions(json.loads(DASHBOARD.read_text()))
        for name in re.findall(r"\bmsgmodule_[a-z_]+", expr)
    }
    assert queried, "the dashboard queries no msgmodule metric"
    assert queried <= served, f"queried but not served: {sorted(queried - served)}"
    # The figures behind the stage panels are this site's.
    values = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    assert values[("msgmodule_stage_writes_total", (("stage", "dual-write"),))] == 3
    assert values[("msgmodule_validation_passed", ())] == 1
