"""The options every `msgmodule` command shares, and the settings they name.

Used by the commands in `cli.py` and in `tools/commands.py` alike.
"""

from __future__ import annotations

import click

from ..config import Settings, load_settings


def common_options(function):  # type: ignore[no-untyped-def]
    """--db-url, --cif-root, --site, --env and --config: explicit settings, above environment and file."""
    function = click.option(
        "--config",
        "config_file",
        default=None,
        help="Config file, which must exist (else MSGMODULE_CONFIG, else ./msgmodule.cfg if present).",
    )(function)
    function = click.option(
        "--env",
        "env_name",
        default=None,
        metavar="NAME",
        help="Use the config file's [env:NAME] section too (development, staging, production; else MSGMODULE_ENV).",
    )(function)
    function = click.option(
        "--site", "site_id", default=None, help="Site id for [site:ID] config sections (else WWPDB_SITE_ID)."
    )(function)
    function = click.option(
        "--cif-root",
        default=None,
        help="Archive root holding D_* folders (else MSGCIF_ROOT or the config file; one is needed).",
    )(function)
    function = click.option(
        "--db-url",
        default=None,
        help="SQLAlchemy URL of the message database (else MSGDB_URL or MSGDB_HOST..., config, else SQLite in "
        "<archive root>/.msgmodule/messaging.db).",
    )(function)
    return function


def settings_from(
    db_url: str | None, cif_root: str | None, site_id: str | None, config_file: str | None, env_name: str | None = None
) -> Settings:
    explicit = {
        "MSGDB_URL": db_url,
        "MSGCIF_ROOT": cif_root,
        "MSGMODULE_CONFIG": config_file,
        "MSGMODULE_ENV": env_name,
    }
    settings = load_settings({k: v for k, v in explicit.items() if v}, site_id)
    from ..stage.earlier_state import warn_of_earlier_state

    warn_of_earlier_state(settings)  # an earlier version's state in ./msgmodule-data is named, never ignored
    return settings
