"""The library's counters in Prometheus text format, printed once or served over HTTP.

What is exported, read afresh at every scrape: the per-backend call counts,
errors and latencies of `metrics.py` and the site's writes counted by the stage
they ran in (merged from every process through the stats file in the state
directory, plus this process's own), the circuit breakers' states (this
process's and those recorded in the state directory; one recorded by a process
that has ended counts as closed), the journal's pending
entries, the library version, the stage and its epoch, and the outcome of the
last validation. `monitoring/grafana-dashboard.json` in the source tree is a
Grafana dashboard of these.
"""

from __future__ import annotations

import calendar
import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .. import __version__
from ..config import Settings, database_exists
from ..errors import MessagingError
from ..metrics import METRICS, by_backend, by_stage, combined
from ..stage.record import SiteRecord
from ..stage.routing import pending_in, site_journals
from ..stores.breaker import BreakerState, live_breakers, read_breaker_states

BREAKER_STATE_VALUES = {BreakerState.CLOSED.value: 0, BreakerState.HALF_OPEN.value: 1, BreakerState.OPEN.value: 2}


class MessagingCollector(Collector):
    """Collects the figures of one configured installation at each scrape."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def collect(self) -> Iterator[Metric]:
        settings = self.settings
        info = GaugeMetricFamily("msgmodule_info", "Library version and the site's stage", labels=["version", "stage"])
        scrape_errors: list[str] = []
        epoch = GaugeMetricFamily("msgmodule_stage_epoch", "The site's stage epoch: one more at every stage move")
        try:
            record = site_record(settings)
            stage = record.stage
            epoch.add_metric([], record.epoch)
        except MessagingError as exc:
            stage = "unknown"
            scrape_errors.append(f"stage: {exc}")
        info.add_metric([__version__, stage], 1)
        yield info
        yield epoch

        labels = ["backend", "operation"]
        calls = CounterMetricFamily("msgmodule_backend_calls", "Calls to a backend", labels=labels)
        errors = CounterMetricFamily("msgmodule_backend_errors", "Calls to a backend that failed", labels=labels)
        seconds = CounterMetricFamily(
            "msgmodule_backend_call_seconds", "Time spent in calls to a backend", labels=labels
        )
        slowest = GaugeMetricFamily("msgmodule_backend_call_max_seconds", "Slowest call to a backend", labels=labels)
        figures_now = combined(settings.stats_path, METRICS)
        for backend, operations in sorted(by_backend(figures_now).items()):
            for operation, figures in sorted(operations.items()):
                key = [backend, operation]
                calls.add_metric(key, figures["calls"])
                errors.add_metric(key, figures["errors"])
                seconds.add_metric(key, figures["total_ms"] / 1000.0)
                slowest.add_metric(key, figures["max_ms"] / 1000.0)
        yield from (calls, errors, seconds, slowest)

        stage_writes = CounterMetricFamily(
            "msgmodule_stage_writes", "The site's writes, by the stage they ran in", labels=["stage"]
        )
        stage_errors = CounterMetricFamily(
            "msgmodule_stage_write_errors", "The site's writes that failed, by the stage they ran in", labels=["stage"]
        )
        for name, figures in sorted(by_stage(figures_now).items()):
            stage_writes.add_metric([name], figures["calls"])
            stage_errors.add_metric([name], figures["errors"])
        yield from (stage_writes, stage_errors)

        try:
            yield from validation_metrics(settings)
        except MessagingError as exc:
            scrape_errors.append(f"validation: {exc}")

        pending = GaugeMetricFamily("msgmodule_journal_pending", "Journal entries awaiting reconcile")
        try:
            pending.add_metric([], pending_in(site_journals(settings))[0])
            yield pending
        except MessagingError as exc:
            scrape_errors.append(f"journal: {exc}")

        state = GaugeMetricFamily(
            "msgmodule_circuit_breaker_state", "Circuit breaker: 0 closed, 1 half-open, 2 open", labels=["backend"]
        )
        failures = GaugeMetricFamily(
            "msgmodule_circuit_breaker_consecutive_failures", "Consecutive backend failures seen", labels=["backend"]
        )
        for name, snapshot in sorted(breaker_states(settings).items()):
            if snapshot.get("stale"):  # left by a process that has ended: no running process skips the backend
                state.add_metric([name], BREAKER_STATE_VALUES[BreakerState.CLOSED.value])
                failures.add_metric([name], 0)
                continue
            state.add_metric([name], BREAKER_STATE_VALUES.get(snapshot["state"], 0))
            failures.add_metric([name], snapshot.get("consecutive_failures", 0))
        yield from (state, failures)

        broken = GaugeMetricFamily("msgmodule_scrape_errors", "Figures that could not be read at this scrape")
        broken.add_metric([], len(scrape_errors))
        yield broken


def site_record(settings: Settings) -> SiteRecord:
    """The stage record of the site (the stage every process follows, and its epoch)."""
    from ..stage.lifecycle import read_site

    return read_site(settings)


def validation_metrics(settings: Settings) -> list[Metric]:
    """The last validation's outcome, as the database it validated records it (none without a database)."""
    from ..stage.evidence import last_validation

    if not database_exists(settings.db_url):  # never create an SQLite file just to look
        return []
    validation = last_validation(settings.db_url)
    if validation is None:
        return []
    figures = (
        (
            "msgmodule_validation_passed",
            "Whether the last validation found every deposition equal (1) or not (0)",
            1 if validation.get("passed") else 0,
        ),
        ("msgmodule_validation_depositions", "Depositions the last validation compared", validation.get("depositions")),
        (
            "msgmodule_validation_failed_depositions",
            "Depositions the last validation found different or unreadable",
            validation.get("failed"),
        ),
    )
    found: list[Metric] = []
    for name, documentation, value in figures:
        gauge = GaugeMetricFamily(name, documentation)
        gauge.add_metric([], float(value or 0))
        found.append(gauge)
    when = validation.get("time")
    if when:
        gauge = GaugeMetricFamily("msgmodule_validation_timestamp_seconds", "When the last validation ran (Unix time)")
        gauge.add_metric([], calendar.timegm(time.strptime(when, "%Y-%m-%d %H:%M:%S")))
        found.append(gauge)
    return found


def breaker_states(settings: Settings) -> dict[str, dict[str, Any]]:
    """Breakers by name: recorded in the state directory, overridden by this process's live ones that record there."""
    states = read_breaker_states(settings.state_dir)
    here = os.path.realpath(settings.state_dir)
    for breaker in live_breakers():
        # Only this site's: a breaker of another state directory (or none) says nothing about this one.
        if breaker.state_file is not None and os.path.realpath(breaker.state_file.parent) == here:
            states[breaker.name] = breaker.snapshot()
    return states


def registry_for(settings: Settings) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MessagingCollector(settings))
    return registry


def metrics_text(settings: Settings) -> str:
    """Every figure, in Prometheus text exposition format."""
    return generate_latest(registry_for(settings)).decode("utf-8")


def serve(settings: Settings, host: str, port: int) -> tuple[Any, threading.Thread]:
    """Serve /metrics on host:port in a background thread; returns the server and its thread."""
    server, thread = start_http_server(port, addr=host, registry=registry_for(settings))
    return server, thread


def serve_until_stopped(settings: Settings, host: str, port: int, announce: Any = print) -> None:
    """Serve until SIGINT or SIGTERM, then shut the server down cleanly."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    server, thread = serve(settings, host, port)
    try:
        bound_host, bound_port = server.server_address[:2]
        announce(f"serving metrics on http://{bound_host}:{bound_port}/metrics (Ctrl-C or SIGTERM stops)")
        while not stop.wait(1.0):
            pass
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
