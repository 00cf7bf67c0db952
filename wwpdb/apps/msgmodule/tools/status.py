"""What `msgmodule status` and `msgmodule troubleshoot` show: the site at a glance, and the usual fixes."""

from __future__ import annotations

import contextlib
import os
import platform
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from .. import __version__
from ..config import Settings, database_exists
from ..errors import MessagingError
from ..metrics import METRICS, by_stage, combined
from ..stage.earlier_state import find_earlier_state
from ..stage.lifecycle import describe_site, describe_validation
from ..stage.policy import STAGES
from ..stage.routing import check_health
from ..stores.cif import CifMessageStore


def site_status(settings: Settings, count_archive: bool = False) -> dict[str, Any]:
    """Stage, epoch, journal, last validation, breakers, writes per stage, and depositions and messages per store."""
    from .monitoring import breaker_states

    info = describe_site(settings)
    info["breakers"] = breaker_states(settings)
    info["stage_writes"] = by_stage(combined(settings.stats_path, METRICS))
    info["counts"] = {"archive": _archive_counts(settings, count_archive), "database": _database_counts(settings)}
    info["notify_flags"] = _notify_flags(settings)
    info["state_dir"] = settings.state_dir
    earlier = find_earlier_state(settings)
    info["earlier_state"] = earlier.describe(settings.state_dir) if earlier else None
    return info


def _notify_flags(settings: Settings) -> dict[str, Any]:
    """The notify flags the web service's check_global_msg_status last recorded (the default site part's file)."""
    from ..io.notify import StateFileNotifyFlags

    flags = StateFileNotifyFlags(settings.state_dir)
    try:
        return {"file": str(flags.path), "depositions": flags.read()}
    except MessagingError as exc:
        return {"file": str(flags.path), "error": str(exc)}


def _archive_counts(settings: Settings, count_messages: bool) -> dict[str, Any]:
    store = CifMessageStore(settings.cif_root)
    try:
        depositions = store.list_depositions()
    except MessagingError as exc:
        return {"error": str(exc)}
    counts: dict[str, Any] = {"depositions": len(depositions)}
    if count_messages:
        messages = 0
        for deposition_id in depositions:
            with contextlib.suppress(MessagingError):
                messages += sum(len(d.messages) for d in store.load_all(deposition_id).values())
        counts["messages"] = messages
    else:
        counts["messages"] = "not counted (--count-archive reads every file)"
    return counts


def _database_counts(settings: Settings) -> dict[str, Any]:
    from ..db.engine import get_engine, run_with_retries
    from ..db.schema import CATEGORY_TABLES, documents

    if not database_exists(settings.db_url):
        return {"error": f"no database file at {settings.db_url.removeprefix('sqlite:///')}"}
    engine = get_engine(settings.db_url)
    info = CATEGORY_TABLES["pdbx_deposition_message_info"]

    def work() -> dict[str, Any]:
        with engine.connect() as connection:
            return {
                "depositions": connection.execute(
                    select(func.count(documents.c.source_deposition_id.distinct()))
                ).scalar_one(),
                "messages": connection.execute(select(func.count()).select_from(info)).scalar_one(),
            }

    try:
        return run_with_retries(engine, "count depositions and messages", work)
    except MessagingError as exc:
        return {"error": str(exc)}


# What to do when a check fails, by the words its message carries.
FIXES = (
    ("does not exist", "create the folder or set MSGCIF_ROOT to the archive root (is its share mounted?)"),
    ("cannot reach the database server", "start the database server, or check MSGDB_URL / MSGDB_HOST and MSGDB_PORT"),
    ("refused the login", "check MSGDB_USER / MSGDB_PASS and the user's grants"),
    ("schema is missing", "run: msgmodule init-db"),
    ("refusing to serve", "unset MSGMODULE_STAGE and the *_ENABLED flags: processes follow `msgmodule stage`"),
    ("no validated migration", "run: msgmodule migrate, then msgmodule validate"),
    ("awaiting reconcile", "run: msgmodule reconcile"),
    ("adopt-state", "if it is this site's: msgmodule adopt-state FOLDER, then msgmodule reconcile"),
    (
        "circuit breaker",
        "bring the backend back: a running process's breaker lets one call through after its cool-down "
        "and closes when it succeeds, and any call that succeeds in any process records the breaker closed; "
        "to clear what is recorded at once: msgmodule breaker reset [db|cif|all]",
    ),
)


def _fix_for(message: str) -> str:
    for words, fix in FIXES:
        if words in message:
            return f" -> {fix}"
    return ""


def diagnose(settings: Settings) -> Iterator[tuple[str, list[tuple[bool, str]]]]:
    """Sections of (ok, line): settings and their sources, versions, each check with its usual fix."""
    yield (
        "settings",
        [(True, f"{key} from {source}") for key, source in sorted(settings.sources.items())]
        + [(True, f"config file {settings.config_file}" + ("" if Path(settings.config_file).exists() else " (none)"))]
        + [
            (
                True,
                f"state folder {settings.state_dir}"
                + (" (MSGMODULE_STATE_DIR)" if settings.state_dir_given else " (the site's own, in the archive root)"),
            )
        ],
    )
    versions = [f"msgmodule {__version__}", f"python {platform.python_version()}"]
    for package in ("SQLAlchemy", "PyMySQL", "gemmi", "alembic"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions.append(f"{package} {metadata.version(package)}")
    yield "versions", [(True, ", ".join(versions))]
    yield (
        "checks",
        [
            (check.ok, f"{check.backend}: {check.detail}" + ("" if check.ok else _fix_for(check.detail)))
            for check in check_health(settings)
        ],
    )
    info = describe_site(settings)
    validation = info["validation"]
    stage = STAGES[info["stage"]]
    lines = [(True, f"stage {info['stage']} at epoch {info['epoch']}, {len(info['history'])} move(s) recorded")]
    if validation is None:
        lines.append((True, "last validation: none recorded"))
    else:
        # A failed one needs fixing while the database is written; one merely not current (writes since) is
        # re-checked by `validate --changed` or by the move itself, and its line says so.
        _, line = describe_validation(info)
        lines.append((bool(validation.get("passed")) or not stage.flags.db_writes, f"last validation: {line}"))
    if os.environ.get("MSGMODULE_STAGE"):
        lines.append((False, "MSGMODULE_STAGE is set in this environment -> unset it; processes follow the site"))
    yield "site", lines
