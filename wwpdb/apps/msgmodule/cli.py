"""The `msgmodule` command: a thin layer over the library."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from . import __version__
from .config import Settings
from .errors import MessagingError
from .model import CATEGORIES, CONTENT_TYPES, validate_deposition_id
from .stage.policy import STAGES
from .tools import commands as operator_commands
from .tools.invocation import spelled
from .tools.logfile import LoggingGroup, note_error, note_figures, start_command_log
from .tools.options import common_options, settings_from


@click.group(cls=LoggingGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="msgmodule")
@click.option("-v", "--verbose", count=True, help="More on stderr: -v info, -vv debug (debug in the log file too).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Log records as text lines or as JSON objects, one per line.",
)
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: bool, log_format: str) -> None:
    """Store and move wwPDB OneDep deposition messages (CIF archive and database).

    Logs go to stderr and to msgmodule.log in the state directory (rotated; `msgmodule logs` shows them).
    """
    start_command_log(ctx, verbose, quiet, log_format)


for _command in operator_commands.COMMANDS:
    cli.add_command(_command)


@cli.command()
@common_options
@click.argument("deposition_ids", nargs=-1)
def show(deposition_ids: tuple[str, ...], **options: str | None) -> None:
    """Summarise the messages of depositions in the CIF archive (all when none given)."""
    from .stores.cif import CifMessageStore

    store = CifMessageStore(settings_from(**options).cif_root)
    ids = [validate_deposition_id(d) for d in deposition_ids] or store.list_depositions()
    short = {c.name: c.attribute.replace("_references", "_refs") for c in CATEGORIES}
    for deposition_id in ids:
        click.echo(deposition_id)
        for content_type in CONTENT_TYPES:
            path = store.current_file(deposition_id, content_type)
            if path is None:
                continue
            document = store.load(deposition_id, content_type)
            counts = ", ".join(f"{short[name]}={n}" for name, n in document.row_counts().items())
            click.echo(f"  {content_type:<24} {path.name.rsplit('.', 1)[-1]:<4} {counts}")
            for message in document.messages:
                subject = (message.message_subject or "")[:60]
                click.echo(f"    {message.timestamp or '?':<19}  {subject}")


@cli.command("backend-info")
@common_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def backend_info_command(as_json: bool, **options: str | None) -> None:
    """Show the stage, flags, backends, where the data is, and per-backend counters."""
    from .stage.routing import backend_info

    info = backend_info(settings_from(**options))
    if as_json:
        click.echo(json.dumps(info, indent=2, sort_keys=True))
        return
    click.echo(
        f"stage:           {info['stage']} (epoch {info['epoch']}, the site's record)"
        + (f"  (site {info['site_id']})" if info["site_id"] else "")
    )
    if info["process_stage_setting"]:
        click.echo(
            f"this process:    set to {info['process_stage_setting']}"
            + ("" if info["process_stage_setting"] == info["stage"] else "  DISAGREES: it refuses to serve")
        )
    click.echo(f"reads from:      {info['read_backend']}" + ("  (database compared: shadow)" if info["shadow"] else ""))
    click.echo(f"writes to:       {' then '.join(info['write_backends'])}")
    click.echo(f"cif root:        {info['cif_root']}")
    click.echo(f"database:        {info['db_url']}")
    click.echo(f"config file:     {info['config_file']}")
    click.echo(f"journal:         {info['journal']['pending']} pending at {info['journal']['path']}")
    click.echo(f"OneDep site config: {info['onedep_site_config']}")
    click.echo("settings:")
    for key, setting in info["settings"].items():
        click.echo(f"  {key} = {setting['value']}  ({setting['source']})")
    click.echo("flags:")
    for name, value in info["flags"].items():
        click.echo(f"  {name}={'true' if value else 'false'}")
    click.echo("counters:" + ("" if info["counters"] else " none recorded yet"))
    for backend, operations in sorted(info["counters"].items()):
        for operation, figures in sorted(operations.items()):
            click.echo(
                f"  {backend:<4} {operation:<6} calls={int(figures['calls'])} errors={int(figures['errors'])} "
                f"mean={figures['mean_ms']:.2f}ms max={figures['max_ms']:.2f}ms"
            )


@cli.command("feature-flags")
@common_options
def feature_flags(**options: str | None) -> None:
    """Show the four flags of the site's stage, this process's own setting if any, and every stage."""
    from .stage.lifecycle import read_site

    settings = settings_from(**options)
    record = read_site(settings)
    for name, value in STAGES[record.stage].flags.as_env().items():
        click.echo(f"{name}={'true' if value else 'false'}")
    click.echo(f"=> stage {record.stage} (epoch {record.epoch}, the site's record)")
    if settings.stage_given:
        click.echo(
            f"this process sets stage {settings.stage.name} ({settings.stage_setting()})"
            + (
                ""
                if settings.stage.name == record.stage
                else ": it DISAGREES with the site and refuses to serve; unset it (msgmodule stage moves the site)"
            )
        )
    click.echo("stages:")
    for stage in STAGES.values():
        flags = " ".join("1" if v else "0" for v in stage.flags.as_env().values())
        click.echo(
            f"  {stage.name:<11} flags(cifW cifR dbW dbR)={flags}  reads {stage.read_from}, "
            f"writes {' then '.join(stage.write_order)}"
        )


@cli.command()
@common_options
def health(**options: str | None) -> None:
    """Connect to every backend the stage uses; exit 0 only if all answered."""
    from .stage.routing import check_health

    checks = check_health(settings_from(**options))
    for check in checks:
        click.echo(spelled(f"{'OK  ' if check.ok else 'FAIL'} {check.backend:<8} {check.detail}"))
    failing = [check.backend for check in checks if not check.ok]
    note_figures(
        {"ok": len(checks) - len(failing), "failed": len(failing), **({"failing": failing} if failing else {})}
    )
    if failing:
        raise SystemExit(1)


@cli.command()
@common_options
@click.argument("name", required=False, type=click.Choice(list(STAGES)))
@click.option(
    "--force",
    is_flag=True,
    help="Move even if a guard fails (unreconciled journal entries, a missing, "
    "failed or stale validation, documents that cannot be exported); what was skipped is recorded.",
)
@click.option(
    "--compare-all",
    is_flag=True,
    help="A move back to the archive compares every database document with it, not only those "
    "changed since the archive was last validated equal.",
)
@click.option("--json", "as_json", is_flag=True, help="With no NAME: print the record, history and checks as JSON.")
def stage(name: str | None, force: bool, compare_all: bool, as_json: bool, **options: str | None) -> None:
    """Show the site's stage, epoch and history, or move the whole site to stage NAME.

    A move is one guarded step: running writes finish first, the journal is
    settled, a move to a stage that reads the database needs a fresh passed
    validation, and a move back to one that reads the archive first exports
    the database documents that differ into it. Running processes follow.
    """
    from .stage.lifecycle import describe_site, describe_validation, move_stage

    settings = settings_from(**options)
    if name is None:
        info = describe_site(settings)
        if as_json:
            click.echo(json.dumps(info, indent=2, sort_keys=True))
            return
        click.echo(f"stage:    {info['stage']}  (epoch {info['epoch']}; record {info['record']})")
        if info["since"]:
            click.echo(f"since:    {info['since']} GMT, by {info['by']}" + ("  FORCED" if info["forced"] else ""))
        for skipped in info["skipped"]:
            click.echo(f"  skipped: {skipped}")
        if info["moving_to"]:
            click.echo(f"MOVING to {info['moving_to']}")
        click.echo(
            f"journal:  {info['journal_pending']} to reconcile, "
            f"{info['journal_open_intents']} unfinished write(s) in all"
        )
        click.echo(f"validation: {describe_validation(info)[1]}")
        if settings.stage_given:
            agrees = settings.stage.name == info["stage"]
            click.echo(
                f"this process: set to {settings.stage.name} ({settings.stage_setting()})"
                + ("" if agrees else ": DISAGREES with the site, so it refuses to serve")
            )
        click.echo("history:" + ("" if info["history"] else " no moves yet"))
        for line in info["history"]:
            click.echo(
                f"  {line['epoch']:>3}  {line['time']}  {line['from']} -> {line['to']}  by {line['who']}"
                + ("  FORCED: " + "; ".join(line.get("skipped", [])) if line.get("forced") else "")
            )
        return
    move = move_stage(settings, name, force, say=lambda line: click.echo(f"  ... {line}"), compare_all=compare_all)
    for warning in move.warnings:
        click.echo(f"WARNING: {warning}", err=True)
    if not move.moved:
        click.echo(f"the site is already in stage {move.new} (epoch {move.epoch}); nothing changed")
        return
    for skipped in move.skipped:
        click.echo(f"FORCED past: {skipped}", err=True)
    note_figures({"stage": f"{move.old} -> {move.new}", "epoch": move.epoch, "reconciled": move.reconciled})
    click.echo(
        f"stage {move.old} -> {move.new} (epoch {move.epoch})"
        + (f"; reconciled {move.reconciled} document(s)" if move.reconciled else "")
        + (f"; exported {len(move.exported)} document(s) into the archive" if move.exported else "")
        + (f" ({move.compared} compared)" if move.compared else "")
    )


FLAG_ALIASES = {  # the four flags' lower-case names, as feature-flags-enable/-disable take them
    "cif_writes_enabled": "MSGCIF_WRITES_ENABLED",
    "cif_reads_enabled": "MSGCIF_READS_ENABLED",
    "database_writes_enabled": "MSGDB_WRITES_ENABLED",
    "database_reads_enabled": "MSGDB_READS_ENABLED",
}


def _flip(flag: str, value: bool, force: bool, options: dict[str, str | None]) -> None:
    """Move the site to the stage whose flags are the site's with one flag changed."""
    from .stage.lifecycle import read_site
    from .stage.policy import FLAG_NAMES, Flags, stage_for_flags

    name = FLAG_ALIASES.get(flag.strip().lower(), flag.strip().upper())
    if name not in FLAG_NAMES:
        raise click.UsageError(
            f"FLAG={flag!r} is not a flag: use one of {', '.join(FLAG_NAMES)} or {', '.join(FLAG_ALIASES)}"
        )
    settings = settings_from(**options)
    current = STAGES[read_site(settings).stage]
    flags = {**current.flags.as_env(), name: value}
    target = stage_for_flags(Flags(*(flags[key] for key in FLAG_NAMES)))  # refuses a combination with no stage
    click.echo(f"{name}={'true' if value else 'false'}: stage {current.name} -> {target.name}")
    ctx = click.get_current_context()
    ctx.invoke(stage, name=target.name, force=force, as_json=False, **options)


@cli.command("feature-flags-enable")
@common_options
@click.argument("flag")
@click.option("--force", is_flag=True, help="As for `msgmodule stage --force`.")
def feature_flags_enable(flag: str, force: bool, **options: str | None) -> None:
    """Turn one of the four flags on: the guarded move to the stage that makes (as `msgmodule stage`)."""
    _flip(flag, True, force, options)


@cli.command("feature-flags-disable")
@common_options
@click.argument("flag")
@click.option("--force", is_flag=True, help="As for `msgmodule stage --force`.")
def feature_flags_disable(flag: str, force: bool, **options: str | None) -> None:
    """Turn one of the four flags off: the guarded move to the stage that makes (as `msgmodule stage`)."""
    _flip(flag, False, force, options)


@cli.command()
@common_options
@click.option("--count-archive", is_flag=True, help="Also count the messages in the archive (reads every file).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--plot",
    "plot_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also draw the stage history and the writes per stage into this .png, .svg or .pdf file (needs matplotlib).",
)
def status(count_archive: bool, as_json: bool, plot_file: Path | None, **options: str | None) -> None:
    """Stage and epoch, journal, last validation, breakers, and counts of depositions and messages per store."""
    from .stage.lifecycle import describe_validation
    from .stores.breaker import describe_breaker
    from .tools.status import site_status

    info = site_status(settings_from(**options), count_archive)
    if plot_file is not None:
        from .tools.plots import write_status_plot

        written = write_status_plot(info, plot_file)
        click.echo(f"wrote the stage history and the writes per stage to {written}", err=as_json)
    if as_json:
        click.echo(json.dumps(info, indent=2, sort_keys=True, default=str))
        return
    click.echo(
        f"stage:       {info['stage']} (epoch {info['epoch']})"
        + ("  FORCED" if info["forced"] else "")
        + (f"  MOVING to {info['moving_to']}" if info["moving_to"] else "")
    )
    click.echo(f"journal:     {info['journal_pending']} document(s) to reconcile")
    click.echo(f"validation:  {describe_validation(info)[1]}")
    counted = info["stage_writes"]
    click.echo(
        "writes:      "
        + (
            ", ".join(f"{stage} {figures['calls']} ({figures['errors']} failed)" for stage, figures in counted.items())
            if counted
            else "none counted yet"
        )
    )
    for name, breaker in sorted(info["breakers"].items()):
        click.echo(f"breaker:     {describe_breaker(name, breaker).removeprefix('circuit breaker of ')}")
    click.echo(f"state:       {info['state_dir']}")
    if info["earlier_state"]:
        click.echo(f"EARLIER:     {info['earlier_state']}")
    for store, counts in info["counts"].items():
        shown = ", ".join(f"{key} {value}" for key, value in counts.items())
        click.echo(f"{store + ':':<12} {shown}")
    notify = info["notify_flags"]
    if "error" in notify:
        click.echo(f"notify:      {notify['error']}")
    else:
        recorded = notify["depositions"]
        click.echo(f"notify:      {len(recorded)} deposition(s) recorded in {notify['file']}")
        newest = sorted(recorded.items(), key=lambda item: str(item[1].get("time")), reverse=True)[:10]
        for deposition, entry in newest:
            click.echo(f"             {deposition} {entry.get('flags') or '-'} at {entry.get('time')} GMT")


@cli.command()
@common_options
def troubleshoot(**options: str | None) -> None:
    """Where settings came from, versions, connectivity, journal and validation, and what to do about each problem."""
    from .tools.status import diagnose

    problems = 0
    for section, lines in diagnose(settings_from(**options)):
        click.echo(f"{section}:")
        for ok, line in lines:
            problems += not ok
            click.echo(spelled(f"  {'ok  ' if ok else 'FIX '} {line}"))
    click.echo("no problem found" if not problems else f"{problems} problem(s): see the FIX lines")
    note_figures({"problems": problems})
    if problems:
        raise SystemExit(1)


@cli.command()
@common_options
def reconcile(**options: str | None) -> None:
    """Re-copy every journaled document from the authoritative backend; clear what succeeded."""
    from .stage.earlier_state import earlier_journal_problem
    from .stage.lifecycle import adopt_legacy_journal
    from .stage.reconcile import ReconcileResult
    from .stage.reconcile import reconcile as run_reconcile
    from .stage.record import SiteLock, SiteRecordReader
    from .stage.routing import all_backends, site_journals

    settings = settings_from(**options)
    adopt_legacy_journal(settings)
    earlier = earlier_journal_problem(settings)
    with SiteLock.of(settings.cif_root).shared():  # a write like any other: not while the stage moves
        record = SiteRecordReader(settings.cif_root).confirm()
        stage = STAGES[record.stage]
        result = ReconcileResult()
        for journal in site_journals(settings):
            try:
                found = run_reconcile(all_backends(settings), journal, authoritative=stage.read_from)
            except MessagingError as exc:
                if "db" in stage.write_order:
                    result.failed.append(("-", "-", journal.where, str(exc)))
                continue
            result.copied += found.copied
            result.failed += found.failed
    for deposition_id, content_type, into in result.copied:
        click.echo(f"copied {deposition_id} {content_type} into {into}")
    for deposition_id, content_type, into, error in result.failed:
        click.echo(f"FAILED {deposition_id} {content_type} into {into}: {error}", err=True)
    click.echo(f"reconciled {len(result.copied)}, failed {len(result.failed)}")
    note_figures({"reconciled": len(result.copied), "failed": len(result.failed)})
    if earlier:
        click.echo(f"NOT reconciled: {earlier}", err=True)
    if result.failed or earlier:
        raise SystemExit(1)


@cli.command("adopt-state")
@common_options
@click.argument("folder", type=click.Path(file_okay=False, exists=True, path_type=Path))
def adopt_state(folder: Path, **options: str | None) -> None:
    """Take over FOLDER, the state folder of an earlier version (./msgmodule-data), if it is this site's.

    Its journal's entries go into the site's journal (then run msgmodule reconcile); its counters,
    notify flags, shadow differences and logs move into the site's state folder where that has
    none of the same name. What stays is listed.
    """
    from .stage.earlier_state import adopt_earlier_state

    settings = settings_from(**options)
    result = adopt_earlier_state(settings, folder)
    click.echo(f"journal: {result.journal_entries} entry(ies) taken into {settings.journal_path}")
    for name in result.moved:
        click.echo(f"moved:   {name} -> {settings.state_dir}")
    for line in result.left:
        click.echo(f"left:    {line}")
    if result.journal_entries:
        click.echo("next: msgmodule reconcile")


@cli.command()
@common_options
@click.argument("deposition_ids", nargs=-1, required=True, metavar="ID...")
def resync(deposition_ids: tuple[str, ...], **options: str | None) -> None:
    """Replace these depositions' documents that differ from the stage's authoritative store, and verify them.

    Each replaced document is read back and compared as validate compares; one
    that does not compare equal is reported failed, with what differs.
    """
    from .stage.lifecycle import resync as run_resync

    settings = settings_from(**options)
    result = run_resync(settings, [validate_deposition_id(d) for d in deposition_ids])
    for deposition_id, content_type in result.copied:
        click.echo(f"replaced {deposition_id} {content_type}: reads back equal")
    for deposition_id, error in result.failed:
        click.echo(f"FAILED {deposition_id} {error}", err=True)
    click.echo(
        f"resynced {len(result.copied)} document(s) (verified equal), {len(result.equal)} already equal, "
        f"failed {len(result.failed)}"
    )
    note_figures({"resynced": len(result.copied), "equal": len(result.equal), "failed": len(result.failed)})
    if result.failed:
        raise SystemExit(1)


def selector_options(function):  # type: ignore[no-untyped-def]
    """--directory / --deposition ID... / --depositions-file / --shard, and the run options."""
    function = click.argument("more_ids", nargs=-1, metavar="[ID]...")(function)
    function = click.option(
        "--progress/--no-progress", default=None, help="Progress bar (default: only on a terminal)."
    )(function)
    function = click.option(
        "--report",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Write a JSON report, one entry per deposition.",
    )(function)
    function = click.option(
        "--batch-size",
        type=click.IntRange(1, 10000),
        default=50,
        show_default=True,
        help="Depositions per worker task (and per transaction).",
    )(function)
    function = click.option(
        "--workers", type=click.IntRange(1, 256), default=None, help="Worker processes [default: the number of cores]."
    )(function)
    function = click.option(
        "--shard",
        metavar="K/N",
        help="Take every Nth deposition starting with the Kth, so N machines can share one archive.",
    )(function)
    function = click.option(
        "--depositions-file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="A file of deposition ids, one per line (# comments).",
    )(function)
    function = click.option(
        "--deposition",
        "deposition_ids",
        multiple=True,
        metavar="ID",
        help="A deposition id; more may follow (--deposition D_1 D_2).",
    )(function)
    function = click.option(
        "--directory",
        type=click.Path(file_okay=False, path_type=Path),
        help="The archive root to read (else MSGCIF_ROOT / config).",
    )(function)
    return function


def _selection(
    settings: Settings,
    directory: Path | None,
    deposition_ids: tuple[str, ...],
    more_ids: tuple[str, ...],
    depositions_file: Path | None,
    shard: str | None,
    listing: Any = None,
) -> tuple[str, list[str], bool]:
    """(archive root, deposition ids, whether the whole archive was selected)."""
    from .archive_tools import select_depositions
    from .stores.cif import CifMessageStore

    root = str(directory) if directory else settings.cif_root
    if directory is not None and not directory.is_dir():
        raise click.UsageError(f"--directory {directory}: no such directory")
    named = (*deposition_ids, *more_ids)
    try:
        store = CifMessageStore(root)
        if listing is not None and not named and depositions_file is None:
            ids = select_depositions(store, listing(), None, shard)
        else:
            ids = select_depositions(store, named, depositions_file, shard)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    return root, ids, not named and depositions_file is None and not shard


class EmptyNamed:
    """Depositions named on the command line that turned out to have nothing: a mistyped id, most likely."""

    def __init__(self, named: bool, is_empty: Any) -> None:
        self.named = named
        self.is_empty = is_empty
        self.found: list[str] = []

    def __call__(self, outcome: Any) -> None:
        if self.named and self.is_empty(outcome):
            self.found.append(outcome.deposition_id)

    def refuse(self, what: str) -> None:
        if self.found:
            click.echo(f"named deposition(s) with {what}: {', '.join(sorted(self.found))}", err=True)
            raise SystemExit(1)


def _require_schema(db_url: str) -> None:
    from .db import schema_versions

    status = schema_versions.verify(db_url)
    if not status.ok:
        raise MessagingError(f"the database at {status.url} is not ready: " + "; ".join(status.problems))


def _print_summary(verb: str, summary: Any, target: str, report: Path | None) -> None:
    statuses = {status: count for status, count in sorted(summary.statuses.items()) if count and status != "failed"}
    first = summary.failures[0] if summary.failures else None
    note_figures(
        {
            verb: summary.total,
            **statuses,
            "failed": summary.failed,
            **({"first failure": f"{first[0]}: {first[1]}"[:300]} if first else {}),
        }
    )
    rate = summary.total / summary.elapsed if summary.elapsed else 0.0
    click.echo(f"{verb} {summary.total} deposition(s) in {summary.elapsed:.1f} s ({rate:.0f}/s): {target}")
    for status, count in sorted(summary.statuses.items(), key=lambda item: -item[1]):
        click.echo(f"  {status:<22}{count:>8}")
    if summary.rows:
        rows = ", ".join(
            f"{name.replace('pdbx_deposition_message_', '')} {count}" for name, count in summary.rows.items()
        )
        click.echo(f"  rows read: {rows}")
    if summary.failures:
        click.echo(f"failed ({len(summary.failures)}):", err=True)
        for deposition_id, error in summary.failures[:20]:
            click.echo(f"  {deposition_id}: {error}", err=True)
        if len(summary.failures) > 20:
            click.echo(f"  ... and {len(summary.failures) - 20} more (see the report)", err=True)
    if report:
        click.echo(f"report: {report}")


def _private_file(path: str, flags: int) -> int:
    """Open a file that is its owner's alone (0600 whatever the umask): reports quote message text."""
    fd = os.open(path, flags, 0o600)
    os.fchmod(fd, 0o600)
    return fd


def _open_report(report: Path | None) -> Any:
    import contextlib

    if report is None:
        return contextlib.nullcontext(None)
    try:
        report.parent.mkdir(parents=True, exist_ok=True)
        return open(report, "w", encoding="utf-8", opener=_private_file)
    except OSError as exc:  # a directory, a read-only folder, a missing mount: say so before any work
        raise click.UsageError(f"--report {report}: cannot write the report there: {exc.strerror or exc}") from None


@cli.command()
@common_options
@selector_options
@click.option("--dry-run", is_flag=True, help="Read, parse and compare, but write nothing.")
@click.option(
    "--force-overwrite",
    is_flag=True,
    help="Replace documents even where the database was changed since they were migrated.",
)
def migrate(
    directory: Path | None,
    deposition_ids: tuple[str, ...],
    more_ids: tuple[str, ...],
    depositions_file: Path | None,
    shard: str | None,
    workers: int | None,
    batch_size: int,
    report: Path | None,
    progress: bool | None,
    dry_run: bool,
    force_overwrite: bool,
    **options: str | None,
) -> None:
    """Copy the current version of each deposition's message files into the database.

    Idempotent: unchanged files are skipped, changed ones brought up to date;
    database changes made since migration are kept unless --force-overwrite.
    Exit 0 if every deposition migrated, 1 if any failed (the others still do).
    """
    from .archive_tools import MigrationOptions, default_workers, migrate_batch, run_batches
    from .db.engine import mask_url

    settings = settings_from(**options)
    root, ids, whole = _selection(settings, directory, deposition_ids, more_ids, depositions_file, shard)
    _require_schema(settings.db_url)
    run_options = MigrationOptions(root, settings.db_url, dry_run, force_overwrite)
    empty = EmptyNamed(not whole and not shard, lambda outcome: outcome.status == "no-files")
    with _open_report(report) as handle:
        summary = run_batches(
            migrate_batch,
            run_options,
            ids,
            workers or default_workers(),
            batch_size,
            handle,
            progress,
            on_outcome=empty,
        )
    verb = "checked (dry run)" if dry_run else "processed"
    _print_summary(verb, summary, f"{root} -> {mask_url(settings.db_url)}", report)
    empty.refuse(f"no message files in {root}")
    if summary.total and summary.statuses["unchanged"] + summary.statuses["no-files"] == summary.total:
        click.echo("nothing to do: every document is unchanged since it was migrated")
    if summary.statuses["conflict-kept"]:
        click.echo(
            f"{summary.statuses['conflict-kept']} deposition(s) kept database changes made since "
            "migration (see the report; --force-overwrite replaces them)"
        )
    if summary.failed:
        raise SystemExit(1)


@cli.command()
@common_options
@selector_options
@click.option(
    "--changed",
    is_flag=True,
    help="Only the depositions changed since the last validation (archive "
    "files or database documents); with the earlier evidence, a stage move needs nothing more.",
)
def validate(
    directory: Path | None,
    deposition_ids: tuple[str, ...],
    more_ids: tuple[str, ...],
    depositions_file: Path | None,
    shard: str | None,
    workers: int | None,
    batch_size: int,
    report: Path | None,
    progress: bool | None,
    changed: bool,
    **options: str | None,
) -> None:
    """Compare archive and database deposition by deposition; exit 0 only when all are equal.

    Validating the site's archive records what was found equal, which a move
    to a stage that reads the database needs (see `msgmodule stage`).
    """
    import os

    from .archive_tools import ValidationOptions, default_workers, run_batches, validate_batch
    from .db.engine import mask_url
    from .equivalence import describe
    from .stage.evidence import changed_depositions, record_validation
    from .stage.lifecycle import ensure_archive_id
    from .stores.db import DbMessageStore

    settings = settings_from(**options)
    if changed and (directory or deposition_ids or more_ids or depositions_file or shard):
        raise click.UsageError("--changed selects the depositions itself: give no other selector")
    ids: list[str] = []
    if changed:
        root, whole = settings.cif_root, False
    else:
        root, ids, whole = _selection(settings, directory, deposition_ids, more_ids, depositions_file, shard)
    _require_schema(settings.db_url)
    site_archive = settings.archive_root is not None and os.path.abspath(root) == os.path.abspath(settings.cif_root)
    archive_id = ensure_archive_id(settings).archive_id if site_archive else None
    if changed:
        ids = changed_depositions(root, settings.db_url)
        click.echo(f"{len(ids)} deposition(s) changed since the last validation")
    extra: list[str] = []
    if whole:  # depositions the database has and the archive does not are differences too
        archive_ids = set(ids)
        extra = sorted({d for d, _ in DbMessageStore(settings.db_url).document_keys()} - archive_ids)
    shown = 0

    empty = EmptyNamed(
        not whole and not changed and not shard,
        lambda outcome: outcome.status == "equal" and not outcome.files and not any(outcome.rows.values()),
    )

    def show(outcome: Any) -> None:
        nonlocal shown
        empty(outcome)
        if outcome.status == "different" and shown < 20:
            shown += 1
            click.echo(f"DIFFERENT {outcome.deposition_id}: {outcome.summary}")
            for line in describe(outcome.by_message, "archive", "database", limit=5):
                click.echo(f"  {line}")

    with _open_report(report) as handle:
        summary = run_batches(
            validate_batch,
            ValidationOptions(root, settings.db_url, record_evidence=archive_id is not None),
            ids + extra,
            workers or default_workers(),
            batch_size,
            handle,
            progress,
            on_outcome=show,
        )
    _print_summary("validated", summary, f"{root} vs {mask_url(settings.db_url)}", report)
    passed = summary.statuses["equal"] == summary.total
    if archive_id is not None and (whole or changed):
        record_validation(
            settings.db_url,
            archive_id,
            root,
            passed,
            summary.total,
            summary.total - summary.statuses["equal"],
            changed,
            str(report) if report else None,
        )
    click.echo("ALL EQUAL" if passed else f"{summary.total - summary.statuses['equal']} deposition(s) differ or failed")
    empty.refuse(f"no messages in {root} nor in the database")
    if not passed:
        raise SystemExit(1)


@cli.command()
@common_options
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write <DIR>/<ID>/<ID>_<content-type>_P1.cif.V1 files here.",
)
@click.option("--in-place", is_flag=True, help="Write into the archive root as new versions V<n+1>.")
@click.option("--deposition", "deposition_ids", multiple=True, metavar="ID", help="A deposition id (repeatable).")
@click.option("--depositions-file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--workers", type=click.IntRange(1, 256), default=None, help="Worker processes [default: the number of cores]."
)
@click.option(
    "--shard", metavar="K/N", help="Take every Nth deposition starting with the Kth, so N machines can share the work."
)
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("more_ids", nargs=-1, metavar="[ID]...")
def export(
    output_dir: Path | None,
    in_place: bool,
    deposition_ids: tuple[str, ...],
    depositions_file: Path | None,
    workers: int | None,
    shard: str | None,
    report: Path | None,
    more_ids: tuple[str, ...],
    **options: str | None,
) -> None:
    """Write database documents back as archive files: the rollback path."""
    from .archive_tools import ExportOptions, default_workers, export_batch, run_batches, select_depositions
    from .stores.cif import CifMessageStore
    from .stores.db import DbMessageStore

    settings = settings_from(**options)
    if bool(output_dir) == in_place:
        raise click.UsageError("give exactly one of --output-dir DIR and --in-place")
    target = settings.cif_root if in_place else str(output_dir)
    if not in_place and not Path(target).exists():
        Path(target).mkdir(parents=True)
        os.chmod(target, 0o700)  # an export outside the archive holds message text: its owner's alone
    Path(target).mkdir(parents=True, exist_ok=True)
    _require_schema(settings.db_url)
    named = (*deposition_ids, *more_ids)
    try:
        if named or depositions_file:
            ids = select_depositions(CifMessageStore(target), named, depositions_file, shard)
        else:
            stored = sorted({d for d, _ in DbMessageStore(settings.db_url).document_keys()})
            ids = select_depositions(CifMessageStore(target), stored, None, shard)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    with contextlib.ExitStack() as held, _open_report(report) as handle:
        if in_place:
            # A write into the site's archive like any other: under the site lock, and never over the
            # authoritative copy (in a stage that reads the archive, that is the archive).
            from .stage.lifecycle import read_site
            from .stage.policy import STAGES as ALL_STAGES
            from .stage.record import SiteLock

            held.enter_context(SiteLock.of(settings.cif_root).shared())
            stage = ALL_STAGES[read_site(settings).stage]
            if not stage.reads_from_database:
                raise click.UsageError(
                    f"--in-place: the site is in stage {stage.name}, where the archive is authoritative; writing "
                    "the database over it would hide messages. To go back to the archive from a stage that reads "
                    "the database, move the stage (msgmodule stage): the move exports what differs itself."
                )
        empty = EmptyNamed(bool(named or depositions_file), lambda outcome: outcome.status == "no-files")
        summary = run_batches(
            export_batch,
            ExportOptions(settings.db_url, target, in_place),
            ids,
            workers or default_workers(),
            report=handle,
            on_outcome=empty,
        )
    _print_summary("exported", summary, target, report)
    empty.refuse("no documents in the database")
    if summary.failed:
        raise SystemExit(1)


@cli.command("migration-guide")
def migration_guide() -> None:
    """Print the step-by-step walkthrough from CIF-only to db-only."""
    from .guide import migration_guide as guide

    click.echo(guide())


@cli.command("init-db")
@common_options
@click.option("--verify-only", is_flag=True, help="Change nothing; exit 1 and list the differences on a mismatch.")
@click.option("--reset", is_flag=True, help="DROP every message table and recreate the schema (destroys data).")
@click.option("--yes", is_flag=True, help="With --reset: do not ask for confirmation.")
def init_db(verify_only: bool, reset: bool, yes: bool, **options: str | None) -> None:
    """Create the message schema, or upgrade it to the current revision (safe to repeat)."""
    from .db import schema_versions
    from .db.engine import mask_url

    url = settings_from(**options).db_url
    if verify_only:
        status = schema_versions.verify(url)
        if status.ok:
            click.echo(f"schema OK at {status.url}: revision {status.current_revision}")
            return
        click.echo(
            f"schema MISMATCH at {status.url} (revision {status.current_revision}, expected {status.head_revision}):",
            err=True,
        )
        for problem in status.problems:
            click.echo(f"  - {problem}", err=True)
        raise SystemExit(1)
    if reset:
        if not yes:
            click.confirm(f"Drop ALL message tables and their data at {mask_url(url)}?", abort=True)
        schema_versions.reset(url)
        click.echo(f"schema dropped and recreated at {mask_url(url)}")
        return
    before, after = schema_versions.upgrade(url)
    if before == after:
        click.echo(f"schema already current at {mask_url(url)}: revision {after}; nothing changed")
    else:
        click.echo(f"schema {'upgraded from ' + before if before else 'created'} at {mask_url(url)}: revision {after}")


@cli.command("adopt-onedep")
@common_options
@selector_options
@click.option(
    "--onedep-db",
    "onedep_url",
    default=None,
    metavar="URL",
    help="The database OneDep's module wrote (else its tables are in the configured one, and are moved aside).",
)
@click.option(
    "--prefer",
    type=click.Choice(["onedep", "archive"]),
    default="onedep",
    show_default=True,
    help="Whose version of a message both hold with other content is stored (the other is reported).",
)
@click.option(
    "--force-overwrite", is_flag=True, help="Replace documents the database changed since a previous takeover."
)
def adopt_onedep(
    directory: Path | None,
    deposition_ids: tuple[str, ...],
    more_ids: tuple[str, ...],
    depositions_file: Path | None,
    shard: str | None,
    workers: int | None,
    batch_size: int,
    report: Path | None,
    progress: bool | None,
    onedep_url: str | None,
    prefer: str,
    force_overwrite: bool,
    **options: str | None,
) -> None:
    """Take over a database written by OneDep's module: its messages and the archive's, each once.

    OneDep's tables are kept: renamed to onedep_<name> when they are in the
    configured database, else read from --onedep-db. Idempotent; exit 0 only
    if every deposition was taken over and checked against both sources.
    """
    from .adoption import adopt_onedep as adopt
    from .archive_tools import default_workers
    from .db.engine import mask_url

    settings = settings_from(**options)
    root = str(directory) if directory else settings.cif_root
    with _open_report(report) as handle:
        result = adopt(
            root,
            settings.db_url,
            onedep_url,
            prefer=prefer,
            force_overwrite=force_overwrite,
            deposition_ids=(*deposition_ids, *more_ids),
            depositions_file=depositions_file,
            shard=shard,
            workers=workers or default_workers(),
            batch_size=batch_size,
            report=handle,
            progress=progress,
        )
    if result.moved_aside:
        click.echo(f"moved OneDep's tables aside: {', '.join(f'{a} -> {b}' for a, b in result.onedep_tables.items())}")
    click.echo(
        f"OneDep's rows kept in {result.onedep_db}: "
        + ", ".join(f"{name} {result.table_rows[own]}" for own, name in result.onedep_tables.items())
    )
    _print_summary("took over", result.summary, f"{root} + OneDep's tables -> {mask_url(settings.db_url)}", report)
    rows = result.summary.rows
    click.echo(
        f"  messages: archive {rows['messages in archive']}, OneDep {rows['messages in OneDep']}; "
        f"only in archive {rows['only in archive']}, only in OneDep {rows['only in OneDep']}, "
        f"in both {rows['in both']}, conflicts {rows['conflicts']} (kept {prefer}'s); stored {rows['messages stored']}"
    )
    for deposition_id, count in result.unplaced.items():
        click.echo(
            f"OneDep rows with deposition id {deposition_id!r} ({count} message(s)) name no deposition folder: "
            "not taken over; they stay in OneDep's tables",
            err=True,
        )
    for problem in result.problems:
        click.echo(f"check failed: {problem}", err=True)
    if not result.ok:
        raise SystemExit(1)
    click.echo("checked: every stored document against the archive and OneDep's tables")


def run(argv: list[str] | None = None, command: str | None = None, prog_name: str | None = None) -> int:
    """Run the command line (or one subcommand, as a script named `prog_name` does).

    Typed library errors become one line on stderr and status 1; usage errors status 2.
    """
    target: click.Command = cli if command is None else cli.commands[command]
    try:
        target.main(args=argv, prog_name=prog_name, standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        note_error(exc)
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort as exc:
        note_error(exc)
        click.echo("Aborted.", err=True)
        return 1
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    except (MessagingError, ValueError) as exc:
        note_error(exc)  # for the log's end line of a script's run (the group's run logged it already)
        click.echo(spelled(f"error: {exc}"), err=True)  # its hints (run: msgmodule init-db) as they run here
        return 1
    return 0


def main() -> None:
    """Console entry point of `msgmodule`."""
    sys.exit(run())


if __name__ == "__main__":
    main()
