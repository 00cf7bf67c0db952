"""`msgmodule status --plot FILE`: the site's stage history and its writes per stage, as a picture.

Drawn with matplotlib's Agg renderer (no display needed), which is an optional
extra: `pip install 'wwpdb.apps.msgmodule[plot]'`. The format follows the
file's suffix: .png, .svg or .pdf.
"""

from __future__ import annotations

import calendar
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInputError, MessagingError
from ..stage.policy import STAGES

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FORMATS = (".png", ".svg", ".pdf")
STAGE_ORDER = list(STAGES)  # cif-only .. db-only: the way a migration goes, bottom to top


class PlottingUnavailableError(MessagingError):
    """The optional plotting library is not installed."""


def _figure_class() -> type[Figure]:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401 - the renderer the figure uses
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise PlottingUnavailableError(
            f"drawing the status needs matplotlib, which is not installed ({exc}): "
            "pip install 'wwpdb.apps.msgmodule[plot]' (or pip install matplotlib), or use `msgmodule status --json`"
        ) from None
    return Figure


def _when(text: str | None) -> datetime | None:
    """A time as the site records them (GMT, "%Y-%m-%d %H:%M:%S"), or None when missing or malformed."""
    if not text:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(time.strptime(text, "%Y-%m-%d %H:%M:%S")), timezone.utc)
    except ValueError:
        return None


def stage_steps(info: dict[str, Any], now: datetime | None = None) -> tuple[list[datetime], list[str]]:
    """The stage history as steps: the times the stage changed (and now, last) and the stage from each on.

    A site with no move recorded has been in its stage all along: one step, from
    its record's time (or now) to now.
    """
    now = now or datetime.now(timezone.utc)
    times: list[datetime] = []
    stages: list[str] = []
    for move in info.get("history", []):
        when = _when(move.get("time"))
        if when is None or move.get("to") not in STAGES:
            continue
        if not stages and move.get("from") in STAGES:
            times.append(when)
            stages.append(move["from"])
        times.append(when)
        stages.append(move["to"])
    if not stages:
        times.append(_when(info.get("since")) or now)
        stages.append(info["stage"])
    times.append(max(now, times[-1]))
    stages.append(stages[-1])
    return times, stages


def status_figure(info: dict[str, Any], now: datetime | None = None) -> Figure:
    """The figure of `site_status` with `stage_writes`: the stage over time, and writes and errors per stage."""
    figure = _figure_class()(figsize=(10, 7), layout="constrained")
    history, writes = figure.subplots(2, 1, height_ratios=(3, 2))

    times, stages = stage_steps(info, now)
    levels = [STAGE_ORDER.index(stage) for stage in stages]
    history.step(times, levels, where="post", linewidth=2, label="stage")
    for move in info.get("history", []):
        when = _when(move.get("time"))
        if when is not None and move.get("to") in STAGES:
            history.plot(
                [when],
                [STAGE_ORDER.index(move["to"])],
                "o",
                color="tab:red" if move.get("forced") else "tab:blue",
                label="forced move" if move.get("forced") else "move",
            )
    validation = info.get("validation") or {}
    validated = _when(validation.get("time"))
    if validated is not None:
        passed = bool(validation.get("passed"))
        history.axvline(
            validated,
            color="tab:green" if passed else "tab:red",
            linestyle="--",
            label=f"last validation {'passed' if passed else 'FAILED'}: {validation.get('depositions')} deposition(s), "
            f"{validation.get('failed')} failed",
        )
    history.set_yticks(range(len(STAGE_ORDER)), STAGE_ORDER)
    history.set_ylim(-0.5, len(STAGE_ORDER) - 0.5)
    history.set_title(f"stage history: now {info['stage']} (epoch {info['epoch']})")
    history.set_xlabel("time (UTC)")
    history.grid(True, alpha=0.3)
    handles, labels = history.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))  # one legend entry per kind of mark
    history.legend(unique.values(), unique.keys(), loc="upper left", fontsize="small")
    figure.autofmt_xdate()

    counted = info.get("stage_writes", {})
    calls = [counted.get(stage, {}).get("calls", 0) for stage in STAGE_ORDER]
    errors = [counted.get(stage, {}).get("errors", 0) for stage in STAGE_ORDER]
    places = range(len(STAGE_ORDER))
    writes.bar([p - 0.2 for p in places], calls, width=0.4, label="writes", color="tab:blue")
    writes.bar([p + 0.2 for p in places], errors, width=0.4, label="failed writes", color="tab:red")
    writes.set_xticks(list(places), STAGE_ORDER)
    writes.set_ylabel("count")
    writes.set_title("the site's writes by the stage they ran in (every process, from the stats file)")
    writes.legend(loc="upper left", fontsize="small")
    return figure


def write_status_plot(info: dict[str, Any], path: str | Path) -> Path:
    """Draw `status_figure` into `path` (.png, .svg or .pdf); returns the path written."""
    target = Path(path)
    if target.suffix.lower() not in FORMATS:
        raise InvalidInputError(f"--plot {target}: name a {', '.join(FORMATS)} file (the suffix picks the format)")
    if not target.parent.is_dir():
        raise InvalidInputError(f"--plot {target}: the folder {target.parent} does not exist")
    figure = status_figure(info)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)  # the Agg renderer: draws without a display
    figure.savefig(target, dpi=100)
    return target
