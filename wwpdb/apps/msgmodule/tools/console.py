"""Console scripts of the installed package, one per documented script (`msgmodule-migrate`, ...).

Each runs one `msgmodule` subcommand, as the scripts in a checkout's `scripts/` do.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..cli import run
from .logfile import log_script_run


def _run(command: str) -> None:
    args = sys.argv[1:]
    with log_script_run(command, args):  # logs the run's end, the status it exits with among it
        sys.exit(run(args, command=command, prog_name=Path(sys.argv[0]).name))


def init_db() -> None:
    """`msgmodule-init-db`: create, upgrade or verify the schema (scripts/init_messaging_database.py)."""
    _run("init-db")


def migrate() -> None:
    """`msgmodule-migrate`: copy archive files into the database (scripts/migrate_cif_to_db.py)."""
    _run("migrate")


def validate() -> None:
    """`msgmodule-validate`: compare archive and database (scripts/validate_migration.py)."""
    _run("validate")


def export() -> None:
    """`msgmodule-export`: write database documents back as archive files (scripts/export_db_to_cif.py)."""
    _run("export")


def validate_integration() -> None:
    """`msgmodule-validate-integration`: check an installation end to end (scripts/validate_integration.py)."""
    _run("validate-integration")
