"""The command line's logging: stderr, and a rotating log file in the state directory.

`msgmodule -v ...` shows INFO on stderr (`-vv` DEBUG), `-q` only errors; the
file always gets INFO and above (DEBUG with `-vv`), as text or, with
`--log-format json`, one JSON object per line. `msgmodule logs` prints the
last lines of the file, reaching back into rotated files when needed.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import sys
import time
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

LOG_FILE_NAME = "msgmodule.log"
MAX_BYTES = 5 * 1024 * 1024
BACKUP_COUNT = 5
PACKAGE_LOGGER = "wwpdb.apps.msgmodule"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"
# Commands that only read the log or the counters: running them adds nothing worth keeping.
QUIET_COMMANDS = {"logs", "metrics"}

log = logging.getLogger(f"{PACKAGE_LOGGER}.cli")

# Attributes every LogRecord has; anything else was passed with `extra=` and goes into the JSON.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonLineFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, pid, extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def log_path(state_dir: str | os.PathLike[str]) -> Path:
    """The command line's log file in a state directory."""
    return Path(state_dir) / LOG_FILE_NAME


def configure_logging(
    verbosity: int = 0, quiet: bool = False, log_format: str = "text", state_dir: str | os.PathLike[str] | None = None
) -> Path | None:
    """Send the package's log records to stderr and to the rotating file in `state_dir`.

    Safe to call again: handlers set up by an earlier call are replaced. Returns
    the log file, or None when there is none (no state directory, or it cannot
    be created: the command still runs, logging to stderr only).
    """
    reset_logging()
    logger = logging.getLogger(PACKAGE_LOGGER)
    formatter: logging.Formatter = JsonLineFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)

    console_level = logging.ERROR if quiet else {0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    file_level = logging.DEBUG if verbosity >= 2 else logging.INFO
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(console_level)
    console.setFormatter(formatter)
    _add(logger, console)

    path: Path | None = None
    if state_dir is not None:
        path = log_path(state_dir)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            rotating = logging.handlers.RotatingFileHandler(
                path, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8", delay=True
            )
        except OSError as exc:
            logger.warning("no log file: cannot create %s: %s", path.parent, exc)
            path = None
        else:
            rotating.setLevel(file_level)
            rotating.setFormatter(formatter)
            _add(logger, rotating)
    logger.setLevel(min(console_level, file_level if path else console_level))
    logger.propagate = False
    return path


def _add(logger: logging.Logger, handler: logging.Handler) -> None:
    handler.msgmodule_cli = True  # type: ignore[attr-defined]
    logger.addHandler(handler)


class LoggingGroup(click.Group):
    """A click group that keeps its raw arguments, so logging can honour a subcommand's --config."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["msgmodule.args"] = list(args)
        return super().parse_args(ctx, args)


# The command line's options that decide the settings, hence the state folder the log goes to.
_SETTING_OPTIONS = {"--config": "MSGMODULE_CONFIG", "--cif-root": "MSGCIF_ROOT", "--env": "MSGMODULE_ENV"}


def _setting_arguments(args: Sequence[str]) -> tuple[dict[str, str], str | None]:
    """(settings given by options among `args`, the --site given), as `load_settings` takes them."""
    found: dict[str, str] = {}
    site = None
    for index, arg in enumerate(args):
        name, _, value = arg.partition("=")
        if not value and index + 1 < len(args):
            value = args[index + 1]
        if name in _SETTING_OPTIONS and value:
            found[_SETTING_OPTIONS[name]] = value
        elif name == "--site" and value:
            site = value
    return found, site


def _state_dir(args: Sequence[str]) -> str | None:
    """The state folder of the settings this command line names, made when missing; None when there is none
    (a missing config file, no archive root...: the command reports that itself, and nothing is created)."""
    from ..config import load_settings
    from ..errors import MessagingError

    explicit, site = _setting_arguments(args)
    try:
        return str(load_settings(explicit or None, site).prepare_state_dir())
    except (MessagingError, ValueError, OSError):
        return None


def start_command_log(ctx: click.Context, verbosity: int, quiet: bool, log_format: str) -> None:
    """Set up logging for one command line run, and log its start and end in the file."""
    args = ctx.meta.get("msgmodule.args", [])
    path = configure_logging(verbosity, quiet, log_format, _state_dir(args))
    command = ctx.invoked_subcommand or ""
    logged = path is not None and command not in QUIET_COMMANDS
    started = time.monotonic()
    if logged:
        log.info("start: msgmodule %s", " ".join(_mask(args)), extra={"command": command})
    done: list[bool] = []

    def finished() -> None:
        if done:  # click may close the context twice when the command exits with a status
            return
        done.append(True)
        if logged:
            log.info("end: msgmodule %s after %.2f s", command, time.monotonic() - started, extra={"command": command})
        reset_logging()  # a run inside a longer-lived process (tests, a shell) leaves no handler behind

    ctx.call_on_close(finished)


def reset_logging() -> None:
    """Remove the handlers `configure_logging` added; the package logs as any library again."""
    logger = logging.getLogger(PACKAGE_LOGGER)
    for handler in list(logger.handlers):
        if getattr(handler, "msgmodule_cli", False):
            logger.removeHandler(handler)
            handler.close()
    logger.setLevel(logging.NOTSET)
    logger.propagate = True


@contextmanager
def log_script_run(command: str, args: Sequence[str]) -> Iterator[None]:
    """Logging for a console script that runs one subcommand without the group (`msgmodule-migrate`)."""
    path = configure_logging(state_dir=_state_dir(args))
    started = time.monotonic()
    if path is not None:
        log.info("start: msgmodule %s %s", command, " ".join(_mask(args)), extra={"command": command})
    try:
        yield
    finally:
        if path is not None:
            log.info("end: msgmodule %s after %.2f s", command, time.monotonic() - started, extra={"command": command})
        reset_logging()


def _mask(args: Sequence[str]) -> list[str]:
    from ..db.engine import mask_url

    return [mask_url(a) if "://" in a else a for a in args]


# -- reading the log -----------------------------------------------------------------


def tail(path: Path, lines: int) -> list[str]:
    """The last `lines` lines of the log, older rotated files first when the current one is short."""
    if lines <= 0:
        return []
    kept: deque[str] = deque(maxlen=lines)
    for candidate in reversed(list(_log_files(path))):
        for line in _last_lines(candidate, lines):
            kept.append(line)
    return list(kept)


def _log_files(path: Path) -> Iterator[Path]:
    """The current file, then .1, .2, ... (newest first), those that exist."""
    if path.exists():
        yield path
    for number in range(1, BACKUP_COUNT + 1):
        rotated = path.with_name(f"{path.name}.{number}")
        if rotated.exists():
            yield rotated


def _last_lines(path: Path, lines: int, block: int = 64 * 1024) -> list[str]:
    # Read backwards in blocks: a log of any size costs only what is shown.
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        end = handle.tell()
        data = b""
        while end > 0 and data.count(b"\n") <= lines:
            start = max(0, end - block)
            handle.seek(start)
            data = handle.read(end - start) + data
            end = start
    text = data.decode("utf-8", errors="replace").splitlines()
    return text[-lines:]
