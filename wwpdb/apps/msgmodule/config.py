"""Configuration values read from arguments, the environment and defaults (SPEC section 5)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import quote_plus

DEFAULT_CIF_ROOT = "./msgmodule-data/archive"
DEFAULT_DB_URL = "sqlite:///./msgmodule-data/messaging.db"


def resolve_db_url(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The database URL: an explicit one, else MSGDB_URL, else MSGDB_HOST/PORT/NAME/USER/PASS, else SQLite."""
    env = os.environ if environ is None else environ
    if explicit:
        return explicit
    if env.get("MSGDB_URL"):
        return env["MSGDB_URL"]
    host = env.get("MSGDB_HOST")
    if host:
        user = quote_plus(env.get("MSGDB_USER", "root"))
        password = env.get("MSGDB_PASS", "")
        credentials = f"{user}:{quote_plus(password)}" if password else user
        port = env.get("MSGDB_PORT", "3306")
        name = env.get("MSGDB_NAME", "wwpdb_messaging")
        return f"mysql+pymysql://{credentials}@{host}:{port}/{name}?charset=utf8mb4"
    return DEFAULT_DB_URL


def resolve_cif_root(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The archive root: an explicit one, else MSGCIF_ROOT, else ./msgmodule-data/archive."""
    env = os.environ if environ is None else environ
    return explicit or env.get("MSGCIF_ROOT") or DEFAULT_CIF_ROOT
