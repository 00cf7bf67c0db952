"""The command line's logging: stderr, and a rotating log file in the state directory.

`msgmodule -v ...` shows INFO on stderr (`-vv` DEBUG), `-q` only errors; the
file always gets INFO and above (DEBUG with `-vv`), as text or, with
`--log-format json`, one JSON object per line. `msgmodule logs` prints the
last lines of the file, reaching back into rotated files when needed.

Each run of a command is a start line and an end line. The end line says how
the run ended: exit status, outcome (ok, failed, usage error, interrupted,
aborted), duration, the figures the command noted (`note_figures`: depositions
migrated, failed, ...) and, for a failure, the error's type and message, with
passwords hidden.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import re
import sys
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from ..archive_files import existing_status, open_file, open_regular
from ..errors import StorageError

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
                entry[key] = value if isinstance(value, (str, int, float, bool, type(None), dict)) else repr(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=repr)


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
    if verbosity < 1:
        # A run's end line is for the file (and -v): on failure the command already told stderr what went wrong.
        console.addFilter(lambda record: not getattr(record, "_command_end", False))
    _add(logger, console)

    path: Path | None = None
    if state_dir is not None:
        path = log_path(state_dir)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            existing_status(path)  # a link planted at the log file is refused here, naming it
            rotating = NoFollowRotatingFileHandler(
                path, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8", delay=True
            )
        except StorageError as exc:
            logger.warning("no log file: %s", exc)
            path = None
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


class NoFollowRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """The rotating log file, opened (and reopened after each rotation) never through a link: a link
    planted at it raises ArchiveEntryError naming it, and nothing is written through it."""

    def _open(self) -> Any:
        fd = open_file(self.baseFilename, os.O_WRONLY | os.O_APPEND)
        return os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)


def _add(logger: logging.Logger, handler: logging.Handler) -> None:
    handler.msgmodule_cli = True  # type: ignore[attr-defined]
    logger.addHandler(handler)


class LoggingGroup(click.Group):
    """A click group that logs each run: a start line, and an end line saying how it ended."""

    def main(self, args: Sequence[str] | None = None, *more: Any, **options: Any) -> Any:
        arguments = list(sys.argv[1:] if args is None else args)
        run = _begin_run(CommandRun(arguments, _named_command(arguments)))
        try:
            result = super().main(arguments, *more, **options)
        except BaseException as error:
            _end_run(run, status_of(error), error)
            raise
        _end_run(run, result if isinstance(result, int) else 0, None)
        return result

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # The raw arguments, so logging can honour a subcommand's --config.
        ctx.meta["msgmodule.args"] = list(args)
        return super().parse_args(ctx, args)


def _named_command(args: Sequence[str]) -> str:
    """The subcommand `args` name, as far as can be told before click parses them."""
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--log-format":  # the group's one option that takes a value
            skip = True
        elif not arg.startswith("-"):
            return arg
    return ""


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


# -- one run of a command, from its start line to its end line --------------------------------------


class CommandRun:
    """One run of a command line: what ran, since when, the figures it noted, and the error that ended it."""

    def __init__(self, args: Sequence[str], command: str = "") -> None:
        self.args = list(args)
        self.command = command
        self.started = time.monotonic()
        self.figures: dict[str, Any] = {}
        self.error: BaseException | None = None
        self.begun = False  # logging is set up for it
        self.logged = False  # and its lines go to the log file

    def begin(self, verbosity: int = 0, quiet: bool = False, log_format: str = "text", command: str = "") -> None:
        """Set up logging and write the start line."""
        self.command = command or self.command
        path = configure_logging(verbosity, quiet, log_format, _state_dir(self.args))
        self.begun = True
        self.logged = path is not None and self.command not in QUIET_COMMANDS
        if self.logged:
            log.info("start: msgmodule %s", " ".join(_mask(self.args)), extra={"command": self.command})

    def end(self, status: int, error: BaseException | None = None) -> None:
        """Write the end line (exit status, outcome, duration, figures, error); then drop the handlers."""
        if self.error is not None and (error is None or isinstance(error, SystemExit)):
            error = self.error  # the error `cli.run` turned into the status the run exits with
        outcome = outcome_of(status, error)
        if not self.begun:
            if outcome == "ok" or not self.command:
                return  # --help, --version, or a bare `msgmodule`: no command ran
            self.begin()  # it failed before the command started (a usage error): log it all the same
        try:
            if self.logged:
                self._write_end(status, outcome, error)
        finally:
            reset_logging()  # a run inside a longer-lived process (tests, a shell) leaves no handler behind

    def _write_end(self, status: int, outcome: str, error: BaseException | None) -> None:
        seconds = time.monotonic() - self.started
        figures = {key: _without_secrets(value) for key, value in self.figures.items()}
        described = describe_error(error) if error is not None and outcome != "ok" else None
        text = f"end: msgmodule {self.command}: exit {status} ({outcome}) after {seconds:.2f} s"
        if figures:
            text += "; " + ", ".join(f"{key} {_shown(value)}" for key, value in figures.items())
        extra: dict[str, Any] = {
            "command": self.command,
            "exit_status": status,
            "outcome": outcome,
            "duration_s": round(seconds, 3),
            "_command_end": True,
        }
        if figures:
            extra["counts"] = figures
        if described is not None:
            kind, message = described
            text += f"; error: {kind}" + (f": {message}" if message else "")
            extra["error_type"], extra["error"] = kind, message
        log.log(logging.INFO if outcome == "ok" else logging.ERROR, "%s", text, extra=extra)


def _shown(value: Any) -> str:
    return "[" + ", ".join(map(str, value)) + "]" if isinstance(value, (list, tuple)) else str(value)


_active: CommandRun | None = None


def _begin_run(run: CommandRun) -> CommandRun:
    global _active
    _active = run
    return run


def _end_run(run: CommandRun, status: int, error: BaseException | None) -> None:
    global _active
    if _active is run:
        _active = None
        run.end(status, error)


def note_figures(figures: Mapping[str, Any]) -> None:
    """Figures of the running command, for its end line in the log (migrated 10, failed 2, ...)."""
    if _active is not None:
        _active.figures.update(figures)


def note_error(error: BaseException) -> None:
    """The error that ended the running command, when it is turned into an exit status before the run ends."""
    if _active is not None and _active.error is None:
        _active.error = error


def start_command_log(ctx: click.Context, verbosity: int, quiet: bool, log_format: str) -> None:
    """Set up logging for the run `ctx` belongs to and write its start line (the group's callback calls it)."""
    run = _active
    if run is None:  # the group was invoked without its main(): end the run when its context closes
        run = _begin_run(CommandRun(ctx.meta.get("msgmodule.args", [])))
        ctx.call_on_close(lambda: _end_run(run, 0, None))
    command = ctx.invoked_subcommand or ""
    chosen = ctx.command.commands.get(command) if isinstance(ctx.command, click.Group) else None
    if isinstance(chosen, click.Group):  # `breaker reset`: name the command of the group too
        words = run.args[run.args.index(command) + 1 :] if command in run.args else []
        command = f"{command} {_named_command(words)}".strip()
    run.begin(verbosity, quiet, log_format, command)


def status_of(error: BaseException | None) -> int:
    """The exit status of a run that ended with `error`, as `cli.run` gives it."""
    if error is None:
        return 0
    if isinstance(error, SystemExit):
        code = error.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    if isinstance(error, click.exceptions.Exit):
        return error.exit_code
    if isinstance(error, click.ClickException):
        return error.exit_code
    if isinstance(error, KeyboardInterrupt):
        return 130
    return 1


def outcome_of(status: int, error: BaseException | None) -> str:
    """How a run ended: ok, failed, usage error, interrupted (Ctrl-C) or aborted (a question answered no)."""
    if isinstance(error, click.UsageError):
        return "usage error"
    if isinstance(error, KeyboardInterrupt) or isinstance(_cause(error), KeyboardInterrupt):
        return "interrupted"
    if isinstance(error, click.exceptions.Abort):
        return "aborted"
    return "ok" if status == 0 else "failed"


def _cause(error: BaseException | None) -> BaseException | None:
    # click turns Ctrl-C into Abort, raised from (or while handling) the KeyboardInterrupt.
    return None if error is None else (error.__cause__ or error.__context__)


MAX_ERROR_CHARS = 2000
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")


def describe_error(error: BaseException) -> tuple[str, str] | None:
    """The type and message of the error that ended a run: one line, passwords hidden (None for an exit status)."""
    if isinstance(error, SystemExit):
        return None  # the command chose its status; its figures say why
    cause = _cause(error)
    if isinstance(error, click.exceptions.Abort) and cause is not None:
        error = cause
    message = error.format_message() if isinstance(error, click.ClickException) else str(error)
    message = " ".join(hide_secrets(message).split())
    if len(message) > MAX_ERROR_CHARS:
        message = message[: MAX_ERROR_CHARS - 3] + "..."
    return type(error).__name__, message


def _without_secrets(value: Any) -> Any:
    if isinstance(value, str):
        return hide_secrets(value)
    if isinstance(value, (list, tuple)):
        return [_without_secrets(each) for each in value]
    return value


def hide_secrets(text: str) -> str:
    """`text` with the password of every URL in it hidden, and MSGDB_PASS's value wherever it appears."""
    from ..db.engine import mask_url

    text = _URL.sub(lambda match: mask_url(match.group(0)), text)
    password = os.environ.get("MSGDB_PASS")
    if password:
        text = text.replace(password, "***")
    return text


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
def log_script_run(command: str, args: Sequence[str]) -> Iterator[CommandRun]:
    """Logging for a console script that runs one subcommand without the group (`msgmodule-migrate`).

    The script exits inside the block (sys.exit with the run's status), so its end line has the status;
    `cli.run` notes the error it turned into that status (`note_error`).
    """
    run = _begin_run(CommandRun([command, *args], command))
    run.begin(command=command)
    try:
        yield run
    except BaseException as error:
        _end_run(run, status_of(error), error)
        raise
    _end_run(run, 0, None)


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
    if os.path.lexists(path):
        yield path
    for number in range(1, BACKUP_COUNT + 1):
        rotated = path.with_name(f"{path.name}.{number}")
        if os.path.lexists(rotated):
            yield rotated


def _last_lines(path: Path, lines: int, block: int = 64 * 1024) -> list[str]:
    # Read backwards in blocks: a log of any size costs only what is shown.
    fd = open_regular(path)  # a link planted there is refused, naming it: never read through
    if fd is None:
        return []
    with os.fdopen(fd, "rb") as handle:
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
