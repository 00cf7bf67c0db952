"""Whether a store may be written directly: only while the site's stage makes it the authority.

The stage in force decides which backend answers reads and is written first.
A message written straight into the other one is not seen, and a move back
copies the authority's version over it. So a `CifMessageStore` refuses writes
to an archive whose site record names a stage that reads the database, and a
`DbMessageStore` refuses writes to a database whose copy of the site's stage
names one that reads the archive (a database that shows no stage belongs to
no site and is written freely).

The site's own layers (routing, dual writes, reconcile, migrate, export,
adoption, the stage moves) write every store the stage uses, in order; they
build their stores with `site_writer=SITE_WRITER`, which skips the check.

The check reuses what routing reads: the process's one cached reader of the
site's record (a look at most READ_CHECK_SECONDS old) and, for the database,
its copy of the stage read at most that often.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError, NotAuthoritativeError

USE_INSTEAD = (
    "Write through the site's service, which writes every store the stage uses in order: "
    "create_messaging_service() from wwpdb.apps.msgmodule.io.MessagingFactory, or "
    "open_site_store(load_settings()) from wwpdb.apps.msgmodule.stage.routing"
)


class _SiteWriter:
    """The one token the site's own layers pass to build stores that write whatever the stage."""

    def __repr__(self) -> str:
        return "SITE_WRITER"


SITE_WRITER = _SiteWriter()


def checks_authority(site_writer: object) -> bool:
    """Whether a store built with this `site_writer` argument checks the stage before it writes."""
    if site_writer is None:
        return True
    if site_writer is SITE_WRITER:
        return False
    raise InvalidInputError(
        f"site_writer={site_writer!r}: only the site's own layers pass it, and only as stores.authority.SITE_WRITER. "
        + USE_INSTEAD
    )


def check_archive_write(root: Path, deposition_id: str, content_type: str, reader: Any) -> None:
    """Refuse a direct write to the archive at `root` while the site's stage reads the database.

    `reader` is the site's shared `SiteRecordReader`; a move under way to such a
    stage refuses too (its validation is about to stop counting the archive).
    """
    from ..stage.policy import CIF, STAGES  # the stage sits above the stores: imported when first needed

    record = reader.current()
    for name in (record.stage, record.moving_to):
        if name is None or STAGES[name].read_from == CIF:
            continue
        moving = f", moving to {record.moving_to}" if record.moving_to else ""
        raise NotAuthoritativeError(
            "cif",
            record.stage,
            f"refusing to write {deposition_id} {content_type} straight to the CIF archive at {root}: the site is in "
            f"stage {record.stage} (epoch {record.epoch}{moving}; {reader.path}), where the database answers reads, "
            "so the message would not be seen, and a move back to the archive would copy the database's version "
            f"over it. {USE_INSTEAD}.",
        )


# Per database URL: (when read, the stage its copy of the site record shows, or None).
_DATABASE_STAGES: dict[str, tuple[float, dict[str, Any] | None]] = {}
_DATABASE_STAGES_MUTEX = threading.Lock()


def database_stage(engine: Any, max_age: float) -> dict[str, Any] | None:
    """The stage the database's copy of the site record shows, read at most every `max_age` seconds."""
    import json

    from sqlalchemy import select

    from ..db.schema import site

    key = str(engine.url)
    now = time.monotonic()
    with _DATABASE_STAGES_MUTEX:
        seen = _DATABASE_STAGES.get(key)
    if seen is not None and now - seen[0] <= max_age:
        return seen[1]
    with engine.connect() as connection:
        text = connection.execute(select(site.c.value).where(site.c.name == "stage")).scalar_one_or_none()
    shown = None if text is None else json.loads(text)
    with _DATABASE_STAGES_MUTEX:
        _DATABASE_STAGES[key] = (now, shown)
    return shown


def forget_database_stage(engine: Any) -> None:
    """Read the database's stage afresh at the next check (this process just moved it)."""
    with _DATABASE_STAGES_MUTEX:
        _DATABASE_STAGES.pop(str(engine.url), None)


def check_database_write(engine: Any, where: str, deposition_id: str, content_type: str) -> None:
    """Refuse a direct write to the database while its copy of the site's stage reads the archive."""
    from ..stage.policy import DB, STAGES
    from ..stage.record import READ_CHECK_SECONDS

    shown = database_stage(engine, READ_CHECK_SECONDS)
    name = None if shown is None else shown.get("stage")
    if name not in STAGES or STAGES[name].read_from == DB:
        return
    assert shown is not None
    raise NotAuthoritativeError(
        "db",
        name,
        f"refusing to write {deposition_id} {content_type} straight to the {where}: it belongs to a site in stage "
        f"{name} (epoch {shown.get('epoch')}, as the database's copy of the site record shows), where the CIF "
        "archive answers reads, so the message would not be seen, and the next migration or move would replace "
        f"the database's copy with the archive's. {USE_INSTEAD}.",
    )
