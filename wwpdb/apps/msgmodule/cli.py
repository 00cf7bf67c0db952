"""The `msgmodule` command: a thin layer over the library."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import __version__
from .config import DEFAULT_CIF_ROOT, resolve_db_url
from .errors import MessagingError
from .model import CATEGORIES, CONTENT_TYPES, validate_deposition_id
from .stores.cif import CifMessageStore

cif_root_option = click.option(
    "--cif-root",
    envvar="MSGCIF_ROOT",
    default=DEFAULT_CIF_ROOT,
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Archive root holding the D_* deposition folders (env MSGCIF_ROOT).",
)
db_url_option = click.option(
    "--db-url",
    default=None,
    help="SQLAlchemy URL of the message database (else MSGDB_URL, MSGDB_HOST..., else the SQLite default).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="msgmodule")
def cli() -> None:
    """Store and move wwPDB OneDep deposition messages (CIF archive and database)."""


@cli.command()
@cif_root_option
@click.argument("deposition_ids", nargs=-1)
def show(cif_root: Path, deposition_ids: tuple[str, ...]) -> None:
    """Summarise the messages of depositions in the CIF archive (all when none given)."""
    store = CifMessageStore(cif_root)
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


@cli.command("init-db")
@db_url_option
@click.option("--verify-only", is_flag=True, help="Change nothing; exit 1 and list the differences on a mismatch.")
@click.option("--reset", is_flag=True, help="DROP every message table and recreate the schema (destroys data).")
@click.option("--yes", is_flag=True, help="With --reset: do not ask for confirmation.")
def init_db(db_url: str | None, verify_only: bool, reset: bool, yes: bool) -> None:
    """Create the message schema, or upgrade it to the current revision (safe to repeat)."""
    from .db import schema_versions
    from .db.engine import mask_url

    url = resolve_db_url(db_url)
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
