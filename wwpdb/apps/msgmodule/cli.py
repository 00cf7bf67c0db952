"""The `msgmodule` command: a thin layer over the library."""

from __future__ import annotations

import json
import sys

import click

from . import __version__
from .config import Settings, load_settings
from .errors import MessagingError
from .model import CATEGORIES, CONTENT_TYPES, validate_deposition_id
from .policy import STAGES


def common_options(function):  # type: ignore[no-untyped-def]
    """--db-url, --cif-root, --site and --config: explicit settings, above environment and file."""
    function = click.option("--config", "config_file", default=None, help="Config file (else MSGMODULE_CONFIG, "
                            "else ./msgmodule.cfg).")(function)
    function = click.option("--site", "site_id", default=None, help="Site id for [site:ID] config sections "
                            "(else WWPDB_SITE_ID).")(function)
    function = click.option("--cif-root", default=None, help="Archive root holding D_* folders (else "
                            "MSGCIF_ROOT, config, ./msgmodule-data/archive).")(function)
    function = click.option("--db-url", default=None, help="SQLAlchemy URL of the message database (else "
                            "MSGDB_URL or MSGDB_HOST..., config, the SQLite default).")(function)
    return function


def settings_from(db_url: str | None, cif_root: str | None, site_id: str | None, config_file: str | None) -> Settings:
    explicit = {"MSGDB_URL": db_url, "MSGCIF_ROOT": cif_root, "MSGMODULE_CONFIG": config_file}
    return load_settings({k: v for k, v in explicit.items() if v}, site_id)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="msgmodule")
def cli() -> None:
    """Store and move wwPDB OneDep deposition messages (CIF archive and database)."""


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
    from .backends import backend_info

    info = backend_info(settings_from(**options))
    if as_json:
        click.echo(json.dumps(info, indent=2, sort_keys=True))
        return
    click.echo(f"stage:           {info['stage']}" + (f"  (site {info['site_id']})" if info["site_id"] else ""))
    click.echo(f"reads from:      {info['read_backend']}" + ("  (database compared: shadow)" if info["shadow"] else ""))
    click.echo(f"writes to:       {' then '.join(info['write_backends'])}")
    click.echo(f"cif root:        {info['cif_root']}")
    click.echo(f"database:        {info['db_url']}")
    click.echo(f"config file:     {info['config_file']}")
    click.echo(f"journal:         {info['journal']['pending']} pending at {info['journal']['path']}")
    for key, source in sorted(info["sources"].items()):
        click.echo(f"  {key} from {source}")
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
    """Show the four flags and the stage they make, and every stage for reference."""
    settings = settings_from(**options)
    for name, value in settings.stage.flags.as_env().items():
        source = settings.sources.get(name, "from the stage or default")
        click.echo(f"{name}={'true' if value else 'false'}  ({source})")
    click.echo(f"=> stage {settings.stage.name}")
    click.echo("stages:")
    for stage in STAGES.values():
        flags = " ".join("1" if v else "0" for v in stage.flags.as_env().values())
        click.echo(f"  {stage.name:<11} flags(cifW cifR dbW dbR)={flags}  reads {stage.read_from}, "
                   f"writes {' then '.join(stage.write_order)}")


@cli.command()
@common_options
def health(**options: str | None) -> None:
    """Connect to every backend the stage uses; exit 0 only if all answered."""
    from .backends import check_health

    checks = check_health(settings_from(**options))
    for check in checks:
        click.echo(f"{'OK  ' if check.ok else 'FAIL'} {check.backend:<8} {check.detail}")
    if not all(check.ok for check in checks):
        raise SystemExit(1)


@cli.command()
@common_options
@click.argument("name", required=False, type=click.Choice(list(STAGES)))
@click.option("--force", is_flag=True, help="Move to a database-reading stage despite a failed or missing "
              "validation or a non-empty journal.")
def stage(name: str | None, force: bool, **options: str | None) -> None:
    """Show the stage, or persist a new one in the config file."""
    from .stage_control import change_stage

    settings = settings_from(**options)
    if name is None:
        click.echo(settings.stage.name)
        return
    change = change_stage(settings, name, force)
    for warning in change.warnings:
        click.echo(f"WARNING: {warning}", err=True)
    if not change.changed:
        click.echo(f"stage already {change.new} in {change.config_file}; nothing changed")
        return
    click.echo(f"stage {change.old} -> {change.new} (written to {change.config_file})")
    for key, (old, new) in change.changed.items():
        click.echo(f"  {key}: {old or '(unset)'} -> {new}")


@cli.command()
@common_options
def reconcile(**options: str | None) -> None:
    """Re-copy every journaled document from the authoritative backend; clear what succeeded."""
    from .backends import all_backends
    from .journal import Journal
    from .sync import reconcile as run_reconcile

    settings = settings_from(**options)
    result = run_reconcile(all_backends(settings), Journal(settings.journal_path))
    for deposition_id, content_type, into in result.copied:
        click.echo(f"copied {deposition_id} {content_type} into {into}")
    for deposition_id, content_type, into, error in result.failed:
        click.echo(f"FAILED {deposition_id} {content_type} into {into}: {error}", err=True)
    click.echo(f"reconciled {len(result.copied)}, failed {len(result.failed)}")
    if result.failed:
        raise SystemExit(1)


@cli.command("migration-guide")
def migration_guide() -> None:
    """Print the step-by-step walkthrough from CIF-only to db-only."""
    from .guide import MIGRATION_GUIDE

    click.echo(MIGRATION_GUIDE)


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
        click.echo(f"schema MISMATCH at {status.url} (revision {status.current_revision}, expected "
                   f"{status.head_revision}):", err=True)
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


def run(argv: list[str] | None = None) -> int:
    """Run the command line; typed library errors become one line on stderr and status 1."""
    try:
        cli.main(args=argv, standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 1
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    except (MessagingError, ValueError) as exc:
        click.echo(f"error: {exc}", err=True)
        return 1
    return 0


def main() -> None:
    """Console entry point of `msgmodule`."""
    sys.exit(run())


if __name__ == "__main__":
    main()
