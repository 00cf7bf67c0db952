"""Files of the state folder (counters, breaker states, notify flags, the log) and the notes flags are never
written or read through a link planted at them, at their temporary files or at their lock files.

Real links to a real file outside the folder (the "victim"), which must stay as it was; each refusal names
the path that was a link. What the refused file is for keeps working: a breaker in memory, counters in
memory (saved once the link is gone), a caller's write.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

import pytest
from conftest import stage_config

from wwpdb.apps.msgmodule import metrics
from wwpdb.apps.msgmodule.config import load_settings
from wwpdb.apps.msgmodule.errors import ArchiveEntryError, StorageError
from wwpdb.apps.msgmodule.io.MessagingFactory import MessagingFactory
from wwpdb.apps.msgmodule.io.notify import NotesFlagging, StateFileNotifyFlags
from wwpdb.apps.msgmodule.journal import JsonLines
from wwpdb.apps.msgmodule.metrics import Metrics, combined
from wwpdb.apps.msgmodule.stores.breaker import (
    BreakerState,
    CircuitBreaker,
    CircuitOpenError,
    breaker_state_path,
    read_breaker_states,
)
from wwpdb.apps.msgmodule.tools.logfile import configure_logging, log_path, reset_logging, tail

DEPOSITION = "D_1000000001"


def temporary_of(path: Path) -> Path:
    """The temporary file a replacement of `path` by this thread is written to first."""
    return path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")


@pytest.fixture
def victim(tmp_path):
    """A file outside the state folder that a planted link points to; `unchanged()` checks it."""
    path = tmp_path / "outside" / "victim.json"
    path.parent.mkdir()
    original = json.dumps({"db": {"put": {"calls": 7, "errors": 0, "total_ms": 1.0, "max_ms": 1.0}}}).encode()
    path.write_bytes(original)

    class Victim:
        def __init__(self) -> None:
            self.path = path

        def unchanged(self) -> bool:
            return path.read_bytes() == original

    return Victim()


@pytest.fixture
def state(tmp_path):
    folder = tmp_path / "state"
    folder.mkdir()
    return folder


def plant(link: Path, target: Path) -> Path:
    link.symlink_to(target)
    return link


def warnings_naming(caplog, path: Path) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and str(path) in r.getMessage()]


# -- counters (backend-stats.json) ----------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["file", "temporary file", "lock file"])
def test_counters_are_not_saved_through_a_link_and_are_kept_until_they_can_be(state, victim, caplog, where):
    stats = state / "backend-stats.json"
    planted = {"file": stats, "temporary file": temporary_of(stats), "lock file": state / "backend-stats.json.lock"}
    link = plant(planted[where], victim.path)
    counters = Metrics()
    counters.persist_to(stats)
    counters.add("db", "put", 2.0)
    with caplog.at_level(logging.WARNING):
        counters.flush()  # never raises: counters are advisory
    assert victim.unchanged()
    assert os.readlink(link) == str(victim.path)
    messages = warnings_naming(caplog, link)
    assert messages and "symbolic link" in messages[0]
    link.unlink()
    counters.flush()
    assert json.loads(stats.read_bytes())["db"]["put"]["calls"] == 1  # kept in memory, saved now


def test_counters_are_not_read_through_a_link(state, victim, caplog):
    stats = plant(state / "backend-stats.json", victim.path)  # the victim holds valid counters: 7 calls
    with caplog.at_level(logging.WARNING):
        figures = combined(stats, Metrics())
    assert figures == {}
    assert warnings_naming(caplog, stats)


def test_a_callers_write_does_not_fail_over_counters_it_cannot_save(tmp_path, sqlite_url, victim, caplog, monkeypatch):
    from wwpdb.apps.msgmodule.db import schema_versions

    schema_versions.upgrade(sqlite_url)
    config = stage_config(tmp_path, "dual-write", sqlite_url)
    service = MessagingFactory.create_messaging_service(config=config)
    link = plant(load_settings(config).stats_path, victim.path)
    monkeypatch.setattr(metrics, "FLUSH_EVERY", 0.0)  # save at every count, as if a minute had passed
    with caplog.at_level(logging.WARNING):
        message_id = service.set(DEPOSITION, {"message_text": "kept, though the counters are not"})
    assert message_id
    assert victim.unchanged()
    assert warnings_naming(caplog, link)
    link.unlink()
    metrics.METRICS.flush()
    assert json.loads(load_settings(config).stats_path.read_bytes())  # the write's counts, kept and saved now


# -- circuit breakers (breaker-<name>.json) -------------------------------------------------------------------------


def fail() -> None:
    raise StorageError("the backend is down")


@pytest.mark.parametrize("where", ["file", "temporary file"])
def test_a_breaker_whose_state_file_is_a_link_still_opens_in_memory(state, victim, caplog, where):
    state_file = breaker_state_path(state, "db")
    link = plant(state_file if where == "file" else temporary_of(state_file), victim.path)
    breaker = CircuitBreaker("db", 1, 600.0, state_file)
    with caplog.at_level(logging.WARNING), pytest.raises(StorageError):
        breaker.call(fail)
    assert breaker.state is BreakerState.OPEN
    with pytest.raises(CircuitOpenError):
        breaker.call(lambda: "not called")
    assert victim.unchanged()
    assert os.readlink(link) == str(victim.path)  # refused, not replaced
    messages = warnings_naming(caplog, link)
    assert messages and "symbolic link" in messages[0]


def test_a_breakers_state_is_not_read_through_a_link(state, tmp_path, caplog):
    recorded = tmp_path / "outside-record.json"
    recorded.write_text(json.dumps({"name": "db", "state": "open", "consecutive_failures": 9}))
    link = plant(breaker_state_path(state, "db"), recorded)
    with caplog.at_level(logging.WARNING):
        assert read_breaker_states(state) == {}
    assert warnings_naming(caplog, link)


# -- notify flags (notify-flags.json) and notes flags --------------------------------------------------------------


@pytest.mark.parametrize("where", ["file", "temporary file", "lock file"])
def test_notify_flags_are_not_written_through_a_link(state, victim, where):
    flags_file = state / "notify-flags.json"
    planted = {
        "file": flags_file,
        "temporary file": temporary_of(flags_file),
        "lock file": state / "notify-flags.json.lock",
    }
    link = plant(planted[where], victim.path)
    with pytest.raises(ArchiveEntryError) as raised:
        StateFileNotifyFlags(state).record(DEPOSITION, "NT")
    assert raised.value.path == str(link)
    assert "symbolic link" in str(raised.value)
    assert victim.unchanged()
    assert os.readlink(link) == str(victim.path)


def test_notify_flags_are_not_read_through_a_link(state, victim):
    link = plant(state / "notify-flags.json", victim.path)
    with pytest.raises(ArchiveEntryError) as raised:
        StateFileNotifyFlags(state).read()
    assert raised.value.path == str(link)


@pytest.mark.parametrize("where", ["file", "temporary file"])
def test_a_notes_flag_is_not_written_through_a_link(tmp_path, victim, where):
    notes = NotesFlagging(tmp_path / "archive")
    flag = notes.path(DEPOSITION)
    flag.parent.mkdir(parents=True)
    link = plant(flag if where == "file" else temporary_of(flag), victim.path)
    with pytest.raises(ArchiveEntryError) as raised:
        notes.set(DEPOSITION, False)
    assert raised.value.path == str(link)
    assert victim.unchanged()


def test_a_notes_flag_is_not_read_through_a_link(tmp_path):
    notes = NotesFlagging(tmp_path / "archive")
    flag = notes.path(DEPOSITION)
    flag.parent.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("false\n")
    link = plant(flag, elsewhere)
    with pytest.raises(ArchiveEntryError) as raised:
        notes.active(DEPOSITION)
    assert raised.value.path == str(link)


# -- the command line's log (msgmodule.log) -------------------------------------------------------------------------


@pytest.fixture
def clean_logging():
    yield
    reset_logging()


def test_the_log_is_not_written_through_a_link(state, victim, capsys, clean_logging):
    link = plant(log_path(state), victim.path)
    assert configure_logging(state_dir=state) is None  # no log file; the command still runs
    logging.getLogger("wwpdb.apps.msgmodule.test").warning("a line for the log")
    assert victim.unchanged()
    err = capsys.readouterr().err
    assert f"no log file: {link}: is a symbolic link" in err


def test_a_link_planted_after_the_log_was_set_up_is_refused_at_its_opening(state, victim, capsys, clean_logging):
    assert configure_logging(state_dir=state) == log_path(state)  # the file is opened at the first line
    link = plant(log_path(state), victim.path)
    logging.getLogger("wwpdb.apps.msgmodule.test").warning("a line for the log")
    assert victim.unchanged()
    assert str(link) in capsys.readouterr().err  # logging's own report of the handler's refusal


def test_the_log_is_not_shown_through_a_link(state, victim):
    link = plant(log_path(state), victim.path)
    with pytest.raises(ArchiveEntryError) as raised:
        tail(log_path(state), 10)
    assert raised.value.path == str(link)


# -- shadow differences (shadow-mismatches.jsonl): refused already, pinned here ------------------------------------


@pytest.mark.parametrize("name", ["shadow-mismatches.jsonl", "shadow-mismatches.jsonl.lock"])
def test_shadow_differences_are_not_written_through_a_link(tmp_path, sqlite_url, victim, name):
    config = stage_config(tmp_path, "dual-write", sqlite_url)
    settings = load_settings(config)
    settings.prepare_state_dir()
    link = plant(settings.mismatch_log_path.with_name(name), victim.path)
    with pytest.raises(ArchiveEntryError) as raised:
        JsonLines(settings.mismatch_log_path, private=True).append({"deposition_id": DEPOSITION})
    assert raised.value.path == str(link)
    assert victim.unchanged()


# -- modes --------------------------------------------------------------------------------------------------------


def test_files_made_in_a_world_writable_state_folder_are_not_writable_by_others(state):
    """A sticky world-writable folder (as /tmp) gives its files no write for other accounts: counters,
    breakers and notify flags are the site's, not anyone's."""
    os.chmod(state, 0o1777)
    counters = Metrics()
    counters.persist_to(state / "backend-stats.json")
    counters.add("db", "put", 2.0)
    counters.flush()
    StateFileNotifyFlags(state).record(DEPOSITION, "annotator")
    made = [path for path in state.iterdir() if path.is_file()]
    assert {path.name for path in made} >= {"backend-stats.json", "notify-flags.json"}
    for path in made:
        assert not path.stat().st_mode & 0o002, f"{path.name} is writable by others"
