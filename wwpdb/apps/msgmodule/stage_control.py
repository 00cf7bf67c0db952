"""Moving a site from one stage to another, persisted in the config file.

Moving to a stage that reads from the database is refused unless the last
validation of the archive passed and the journal is empty; `force` overrides
that, and the result says so.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import Settings, write_config_values
from .journal import Journal
from .policy import FLAG_NAMES, ConfigurationError, stage_named


def record_validation(
    settings: Settings, passed: bool, depositions: int, failed: int, report: str | None, cif_root: str | None = None
) -> None:
    """Remember the outcome of the latest validation of an archive (default: the configured one)."""
    from .db.engine import mask_url

    path = settings.validation_record_path
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "time": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "passed": passed,
        "depositions": depositions,
        "failed": failed,
        "cif_root": os.path.abspath(cif_root or settings.cif_root),
        "db_url": mask_url(settings.db_url),
        "report": report,
    }
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(record, indent=1))
    os.replace(tmp, path)


def last_validation(settings: Settings) -> dict[str, Any] | None:
    try:
        return json.loads(Path(settings.validation_record_path).read_text())
    except (OSError, ValueError):
        return None


@dataclass
class StageChange:
    old: str
    new: str
    config_file: Path
    changed: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (old value, new value)
    warnings: list[str] = field(default_factory=list)


def why_not_ready_for_database_reads(settings: Settings) -> list[str]:
    reasons = []
    from .db.engine import mask_url

    validation = last_validation(settings)
    if validation is None:
        reasons.append("the archive has never been validated against the database (run validate_migration.py)")
    elif (validation.get("cif_root"), validation.get("db_url")) != (
        os.path.abspath(settings.cif_root), mask_url(settings.db_url)
    ):
        reasons.append(
            f"the last validation compared {validation.get('cif_root')} with {validation.get('db_url')}, "
            f"not this site's {os.path.abspath(settings.cif_root)} and {mask_url(settings.db_url)}"
        )
    elif not validation.get("passed"):
        reasons.append(
            f"the last validation ({validation.get('time')}) found {validation.get('failed')} deposition(s) "
            "that differ or failed"
        )
    pending = Journal(settings.journal_path).pending()
    if pending:
        reasons.append(f"the journal holds {len(pending)} document(s) not yet reconciled (run msgmodule reconcile)")
    return reasons


def change_stage(settings: Settings, new_name: str, force: bool = False) -> StageChange:
    """Persist a new stage in the config file (the site's section when a site is set)."""
    new = stage_named(new_name)
    change = StageChange(settings.stage.name, new.name, settings.config_file)
    if new.reads_from_database and not settings.stage.reads_from_database:
        reasons = why_not_ready_for_database_reads(settings)
        if reasons and not force:
            raise ConfigurationError(
                f"refusing to move to {new.name}, which reads from the database: " + "; ".join(reasons)
                + ". Use --force to override."
            )
        for reason in reasons:
            change.warnings.append(f"FORCED past a safety check: {reason}")
    updates: dict[str, str | None] = {"MSGMODULE_STAGE": new.name}
    updates.update({name: None for name in FLAG_NAMES})  # the stage alone says it; stale flags would conflict
    previous = write_config_values(settings.config_file, updates, settings.site_id)
    for key, old_value in previous.items():
        change.changed[key] = (old_value, updates[key] or "(removed)")
    overriding = [
        key for key, source in settings.sources.items()
        if source in ("environment", "argument") and (key == "MSGMODULE_STAGE" or key in FLAG_NAMES)
    ]
    if overriding:
        change.warnings.append(
            f"{', '.join(overriding)} set in the environment override the config file: unset them for the "
            "new stage to take effect"
        )
    return change
