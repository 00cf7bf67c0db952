"""Routing: build the store a stage asks for, check backends, describe the configuration.

The only place that turns settings into stores. Backends are opened through
the registry, so a CIF-only configuration never imports a database driver.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import Settings
from .errors import MessagingError
from .journal import Journal, JsonLines
from .metrics import METRICS, combined
from .policy import CIF, DB
from .stores import open_store
from .stores.base import MessageStore
from .stores.dual import DualStore, MeteredStore


def open_backend(name: str, settings: Settings) -> MessageStore:
    """The plain store of one backend ("cif" or "db") as configured."""
    if name == CIF:
        return open_store(CIF, root=settings.cif_root)
    return open_store(DB, url=settings.db_url)


def build_store(settings: Settings) -> MessageStore:
    """The store for the configured stage: one backend, or two in step."""
    METRICS.persist_to(settings.stats_path)
    stage = settings.stage
    stores = [MeteredStore(open_backend(name, settings)) for name in stage.write_order]
    if len(stores) == 1:
        return stores[0]
    primary, secondary = stores
    shadow_log = JsonLines(settings.mismatch_log_path) if stage.shadow else None
    return DualStore(primary, secondary, Journal(settings.journal_path), shadow_log, settings.shadow_sample)


def all_backends(settings: Settings) -> dict[str, MessageStore]:
    """Both backends, whatever the stage (reconcile and validation need both)."""
    return {name: open_backend(name, settings) for name in (CIF, DB)}


@dataclass
class HealthCheck:
    backend: str
    ok: bool
    detail: str


def check_health(settings: Settings) -> list[HealthCheck]:
    """Really talk to every backend the stage uses: query the database, read and write the archive."""
    checks = []
    for name in settings.stage.write_order:
        try:
            detail = _check_cif(settings) if name == CIF else _check_db(settings)
            checks.append(HealthCheck(name, True, detail))
        except (MessagingError, OSError) as exc:
            checks.append(HealthCheck(name, False, str(exc)))
    journal = Journal(settings.journal_path)
    pending = len(journal.pending())
    checks.append(HealthCheck("journal", pending == 0, f"{pending} document(s) awaiting reconcile at {journal.path}"))
    return checks


def _check_cif(settings: Settings) -> str:
    root = Path(settings.cif_root)
    if not root.is_dir():
        raise MessagingError(f"archive root {root} does not exist or is not a directory (MSGCIF_ROOT)")
    with os.scandir(root) as entries:
        next(entries, None)
    fd, probe = tempfile.mkstemp(prefix=".msgmodule-health-", dir=root)
    os.close(fd)
    os.unlink(probe)
    return f"archive root {root} is readable and writable"


def _check_db(settings: Settings) -> str:
    store = open_backend(DB, settings)
    store.ping()  # type: ignore[attr-defined]
    from .db import schema_versions

    status = schema_versions.verify(settings.db_url)
    if not status.ok:
        raise MessagingError("; ".join(status.problems))
    return f"{store.describe()} answered; schema revision {status.current_revision}"


def backend_info(settings: Settings) -> dict[str, Any]:
    """Stage, flags, backends, where the data is (password masked), and the counters."""
    from .db.engine import mask_url

    stage = settings.stage
    return {
        "stage": stage.name,
        "site_id": settings.site_id,
        "flags": stage.flags.as_env(),
        "read_backend": stage.read_from,
        "write_backends": list(stage.write_order),
        "shadow": stage.shadow,
        "shadow_sample": settings.shadow_sample if stage.shadow else None,
        "cif_root": str(Path(settings.cif_root)),
        "db_url": mask_url(settings.db_url),
        "config_file": str(settings.config_file),
        "sources": settings.sources,
        "journal": {"path": str(settings.journal_path), "pending": len(Journal(settings.journal_path).pending())},
        "counters": combined(settings.stats_path, METRICS),
    }
