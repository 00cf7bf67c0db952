"""The `msgmodule` command: a thin layer over the library."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import __version__
from .errors import MessagingError
from .model import CATEGORIES, CONTENT_TYPES, validate_deposition_id
from .stores.cif import CifMessageStore

DEFAULT_CIF_ROOT = "./msgmodule-data/archive"

cif_root_option = click.option(
    "--cif-root",
    envvar="MSGCIF_ROOT",
    default=DEFAULT_CIF_ROOT,
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Archive root holding the D_* deposition folders (env MSGCIF_ROOT).",
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


def main() -> None:
    """Entry point: typed library errors become one line on stderr and exit status 1."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except (MessagingError, ValueError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
