"""Operator commands of `msgmodule`: metrics, monitor, logs, breaker, backup, restore, validate-config,
validate-integration.

`cli.py` adds `COMMANDS` to the `msgmodule` group. Each is a few lines over
the library code in this package.
"""

from __future__ import annotations

from pathlib import Path

import click

from ..config import config_file_path
from .invocation import msgmodule_command
from .logfile import note_figures
from .options import common_options, settings_from


def _explicit(options: dict[str, str | None]) -> dict[str, str]:
    """The settings given on the command line, as `load_settings` takes them."""
    named = {
        "MSGDB_URL": options.get("db_url"),
        "MSGCIF_ROOT": options.get("cif_root"),
        "MSGMODULE_CONFIG": options.get("config_file"),
    }
    return {key: value for key, value in named.items() if value}


@click.command()
@common_options
def metrics(**options: str | None) -> None:
    """Print the counters, circuit breakers and journal in Prometheus text format."""
    from .monitoring import metrics_text

    click.echo(metrics_text(settings_from(**options)), nl=False)


@click.command()
@common_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=9464,
    show_default=True,
    help="Port to listen on (0: any free port, printed at start).",
)
def monitor(host: str, port: int, **options: str | None) -> None:
    """Serve the metrics at http://HOST:PORT/metrics (Prometheus) until stopped (Ctrl-C, SIGTERM)."""
    from .monitoring import serve_until_stopped

    serve_until_stopped(settings_from(**options), host, port, announce=lambda line: click.echo(line))


@click.command()
@common_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True, help="Port to listen on.")
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True, help="Worker processes.")
def serve(host: str, port: int, workers: int, **options: str | None) -> None:
    """Serve OneDep's messaging web service (/service/messaging/*) on gunicorn until stopped.

    With MSGMODULE_WEB_TEMPLATE_DIR (OneDep's front end) it also serves /msgmodule/, /js/
    (MSGMODULE_SITE_JS_DIR) and /sessions/, and lists the archive's depositions at /.
    """
    from ..webapp.server import serve as run

    run(host, port, workers, _explicit(options) or None, options.get("site_id"), announce=click.echo)


@click.command()
@common_options
@click.option(
    "-n", "--lines", type=click.IntRange(1, 1_000_000), default=50, show_default=True, help="How many lines to show."
)
def logs(lines: int, **options: str | None) -> None:
    """Show the last lines of the command line's log (msgmodule.log in the state directory)."""
    from .logfile import log_path, tail

    path = log_path(settings_from(**options).state_dir)
    if not path.exists():
        click.echo(f"no log yet at {path}", err=True)
        return
    for line in tail(path, lines):
        click.echo(line)


@click.group()
def breaker() -> None:
    """The circuit breakers' states recorded in the state directory: show them, or clear them."""


@breaker.command("show")
@common_options
def breaker_show(**options: str | None) -> None:
    """Each breaker's recorded state, the process that recorded it, and whether that process still runs."""
    from ..stores.breaker import describe_breaker, read_breaker_states

    states = read_breaker_states(settings_from(**options).state_dir)
    if not states:
        click.echo("no circuit breaker state recorded")
    for name, record in sorted(states.items()):
        click.echo(describe_breaker(name, record) + f" ({record['file']}, written {record.get('time')} GMT)")


@breaker.command("reset")
@common_options
@click.argument("name", required=False, default="all", type=click.Choice(["db", "cif", "all"]))
def breaker_reset(name: str, **options: str | None) -> None:
    """Remove the recorded state of the breaker of NAME (db, cif, or all, the default).

    `health` and `status` then show no breaker for it until a process records one again.
    A running process whose breaker is open keeps skipping the backend until its own
    probe, after its cool-down, succeeds.
    """
    from ..stores.breaker import clear_breaker_states

    removed = clear_breaker_states(settings_from(**options).state_dir, None if name == "all" else [name])
    note_figures({"removed": len(removed)})
    if not removed:
        click.echo("no circuit breaker state recorded" + ("" if name == "all" else f" for {name}") + ": nothing to do")
    for each, record in removed.items():
        writer = f"process {record['pid']} on {record.get('host')}" if "pid" in record else "an unknown process"
        alive = record.get("writer_alive")
        ended = "" if alive is None else ", still running" if alive else ", which has ended"
        click.echo(f"removed {record['file']}: {each} {record.get('state')}, recorded by {writer}{ended}")
        if record.get("writer_alive") and record.get("state") != "closed":
            click.echo(
                f"  process {record.get('pid')} still runs with its breaker {record.get('state')}: it skips the "
                f"{each} backend until its next probe succeeds, and records its state again then",
                err=True,
            )


@click.command()
@common_options
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("backups"),
    show_default=True,
    help="Folder in which the backup folder is made.",
)
@click.option("--name", help="Name of the backup folder [default: msgmodule-backup-<UTC time>].")
def backup(output_dir: Path, name: str | None, **options: str | None) -> None:
    """Back up the configuration, the state folders and the database (with its own tools), with a manifest."""
    from .backup import create_backup

    result = create_backup(settings_from(**options), output_dir, name)
    database = result.manifest["database"]
    click.echo(f"backup written to {result.path}")
    click.echo(
        f"  database {database['kind']} {database['url']} at schema revision {result.manifest['schema_revision']}"
    )
    click.echo(f"  {len(result.manifest['files'])} file(s); manifest {result.path / 'manifest.json'}")
    click.echo(f"restore with: {msgmodule_command()} restore {result.path}")


@click.command()
@common_options
@click.argument("backup_dir", metavar="BACKUP", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def restore(backup_dir: Path, yes: bool, **options: str | None) -> None:
    """Put back the database, state folders and config file of BACKUP (same schema revision only)."""
    from .backup import check_backup, restore_backup

    settings = settings_from(**options)
    manifest = check_backup(backup_dir)
    if not yes:
        click.confirm(
            f"Replace the database ({manifest['database']['url']} -> configured), the state folders and the "
            f"config file with the backup of {manifest['created']}? Writes wait while it runs.",
            abort=True,
        )
    restore_backup(settings, backup_dir)
    click.echo(f"restored {backup_dir} (made {manifest['created']}, schema revision {manifest['schema_revision']})")


@click.command("validate-config")
@click.argument("config_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
def validate_config(config_file: Path | None) -> None:
    """Check a config file (default: MSGMODULE_CONFIG, else ./msgmodule.cfg); exit 1 naming each bad key."""
    from .config_check import check_config_file

    path = config_file or config_file_path()
    problems = check_config_file(path)
    for problem in problems:
        click.echo(f"ERROR {problem}", err=True)
    if problems:
        raise SystemExit(1)
    click.echo(f"{path}: OK")


@click.command("validate-integration")
@common_options
def validate_integration(**options: str | None) -> None:
    """Check the configured installation end to end; exit 0 only when every check passed."""
    from .integration import SCRATCH_DEPOSITION, run_checks

    checks = run_checks(_explicit(options) or None, options.get("site_id"))
    for check in checks:
        click.echo(f"{'OK  ' if check.ok else 'FAIL'} {check.name:<13} {check.detail}")
    failed = [check.name for check in checks if not check.ok]
    note_figures(
        {
            "passed": len(checks) - len(failed),
            "failed": len(failed),
            **({"failing": failed} if failed else {}),
        }
    )
    if failed:
        click.echo(f"failed: {', '.join(failed)}", err=True)
        raise SystemExit(1)
    click.echo(f"all {len(checks)} checks passed (scratch deposition {SCRATCH_DEPOSITION} removed)")


COMMANDS = (metrics, monitor, serve, logs, breaker, backup, restore, validate_config, validate_integration)
