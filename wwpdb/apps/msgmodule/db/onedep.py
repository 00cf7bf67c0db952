"""OneDep's own message tables (its module 0.180 and later, "database mode"): recognise, move aside, read.

OneDep's module names its tables after the categories too, with other
columns: `pdbx_deposition_message_info` has a `content_type` column (which of
the three files the message belongs to) and a unique `message_id`;
`pdbx_deposition_message_file_reference` and `pdbx_deposition_message_status`
(one row per message id) follow; there is no table of original-communication
references. This module never writes into those tables: `init-db`, `migrate`
and `health` refuse a database that holds them under their own names, and
`msgmodule adopt-onedep` renames them (all three at once) to `onedep_<name>`
before it creates this module's schema, or reads them from another database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import column, inspect, select, table
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from ..errors import StorageError
from ..model import FileReference, Message, MessageStatus
from .engine import mask_url, translate

INFO = "pdbx_deposition_message_info"
FILE_REFERENCE = "pdbx_deposition_message_file_reference"
STATUS = "pdbx_deposition_message_status"
ONEDEP_TABLES = (INFO, FILE_REFERENCE, STATUS)
# Where `adopt-onedep` moves OneDep's tables when both schemas share one database.
ASIDE_PREFIX = "onedep_"
# The msgmodule_site entry recording where OneDep's tables are and what the last takeover found.
ADOPTION_RECORD = "onedep_adoption"

# OneDep's columns are the archive's items in the archive's order (`read_rows` fills the model's rows
# from them by position); its info table adds which of the three files a message belongs to.
INFO_COLUMNS = (*Message.ITEMS, "content_type")
FILE_REFERENCE_COLUMNS = FileReference.ITEMS
STATUS_COLUMNS = MessageStatus.ITEMS


class OneDepSchemaError(StorageError):
    """The database holds OneDep's message tables under their own names; nothing was changed."""


def onedep_prefix(connection: Connection) -> str | None:
    """The prefix OneDep's tables have in this database ("" or ASIDE_PREFIX), or None if it has none.

    OneDep's info table is told from this module's by its `content_type`
    column and the missing `source_deposition_id`.
    """
    inspector = inspect(connection)
    names = set(inspector.get_table_names())
    for prefix in ("", ASIDE_PREFIX):
        if prefix + INFO not in names:
            continue
        columns = {c["name"] for c in inspector.get_columns(prefix + INFO)}
        if "content_type" in columns and "source_deposition_id" not in columns:
            return prefix
    return None


def refusal(url: Any, doing: str) -> str:
    """What to say when asked to `doing` on a database holding OneDep's tables under their own names."""
    return (
        f"the database at {mask_url(url)} holds OneDep's own message tables ({', '.join(ONEDEP_TABLES)}, "
        f"written by OneDep's module in database mode): refusing to {doing}, which would change them. "
        "Nothing was changed. To take the site over keeping OneDep's rows, run: msgmodule adopt-onedep "
        "(README, 'Taking over a database written by OneDep's module'); or point MSGDB_URL at another database "
        "and give this one as --onedep-db"
    )


def check_not_onedep(engine: Engine, url: Any, doing: str) -> None:
    """Raise OneDepSchemaError if OneDep's tables hold their own names in this database."""
    try:
        with engine.connect() as connection:
            found = onedep_prefix(connection)
    except SQLAlchemyError as exc:
        raise translate(exc, url, "look for OneDep's message tables") from exc
    if found == "":
        raise OneDepSchemaError(refusal(url, doing))


def has_own_tracking(engine: Engine, url: Any) -> bool:
    """Whether this module's document table is in the database (a takeover was made here before)."""
    try:
        with engine.connect() as connection:
            return "msgmodule_document" in inspect(connection).get_table_names()
    except SQLAlchemyError as exc:
        raise translate(exc, url, "look for this module's tables") from exc


def move_aside(engine: Engine, url: Any) -> dict[str, str]:
    """Rename OneDep's three tables to `onedep_<name>`, all at once; returns {own name: new name}.

    One RENAME TABLE on MySQL (atomic); one transaction on SQLite, whose DDL is
    transactional. Foreign keys between the three follow the rename on both.
    """
    renamed = {name: ASIDE_PREFIX + name for name in ONEDEP_TABLES}
    try:
        with engine.begin() as connection:
            existing = set(inspect(connection).get_table_names())
            taken = [new for new in renamed.values() if new in existing]
            if taken:
                raise OneDepSchemaError(
                    f"cannot move OneDep's tables aside in {mask_url(url)}: {', '.join(taken)} already exist(s). "
                    "A previous takeover left them there; rename or drop one set by hand (README) and run again"
                )
            if connection.dialect.name == "sqlite":
                for old, new in renamed.items():
                    connection.exec_driver_sql(f'ALTER TABLE "{old}" RENAME TO "{new}"')
            else:
                connection.exec_driver_sql(
                    "RENAME TABLE " + ", ".join(f"`{old}` TO `{new}`" for old, new in renamed.items())
                )
    except SQLAlchemyError as exc:
        raise translate(exc, url, "move OneDep's message tables aside") from exc
    return renamed


# -- reading OneDep's rows -----------------------------------------------------------------


@dataclass
class OneDepRows:
    """OneDep's rows of some depositions, as this module's rows, in OneDep's stored order."""

    messages: list[tuple[str, Message]]  # (content_type, message)
    file_references: list[FileReference]
    statuses: list[MessageStatus]


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")  # the archive's timestamp form (GMT)
    return str(value)  # version and partition numbers are INT columns


def _table(prefix: str, name: str, names: tuple[str, ...]) -> Any:
    return table(prefix + name, *(column(n) for n in names))


def read_rows(connection: Connection, prefix: str, deposition_ids: list[str]) -> dict[str, OneDepRows]:
    """OneDep's rows whose deposition_data_set_id is one of `deposition_ids`, by that id."""
    found = {d: OneDepRows([], [], []) for d in deposition_ids}
    info = _table(prefix, INFO, INFO_COLUMNS)
    query = select(*info.c).where(info.c.deposition_data_set_id.in_(deposition_ids)).order_by(info.c.ordinal_id)
    # A case-insensitive collation (OneDep's utf8mb4_unicode_ci) matches more than the exact ids: skipped.
    for row in connection.execute(query):
        values = [_text(v) for v in row]
        if (rows := found.get(values[2] or "")) is not None:
            rows.messages.append((values[12] or "", Message(None, *values[1:12])))
    refs = _table(prefix, FILE_REFERENCE, FILE_REFERENCE_COLUMNS)
    query = select(*refs.c).where(refs.c.deposition_data_set_id.in_(deposition_ids)).order_by(refs.c.ordinal_id)
    for row in connection.execute(query):
        values = [_text(v) for v in row]
        if (rows := found.get(values[2] or "")) is not None:
            rows.file_references.append(FileReference(None, *values[1:]))
    status = _table(prefix, STATUS, STATUS_COLUMNS)
    query = select(*status.c).where(status.c.deposition_data_set_id.in_(deposition_ids)).order_by(status.c.message_id)
    for row in connection.execute(query):
        values = [_text(v) for v in row]
        if (rows := found.get(values[1] or "")) is not None:
            rows.statuses.append(MessageStatus(*values))
    return found


def deposition_ids(connection: Connection, prefix: str) -> list[str]:
    """Every deposition_data_set_id in OneDep's three tables, sorted."""
    ids: set[str] = set()
    for name in ONEDEP_TABLES:
        t = _table(prefix, name, ("deposition_data_set_id",))
        ids.update(v for (v,) in connection.execute(select(t.c.deposition_data_set_id).distinct()) if v is not None)
    return sorted(ids)


def row_counts(connection: Connection, prefix: str) -> dict[str, int]:
    """Rows in each of OneDep's tables."""
    from sqlalchemy import func

    counts = {}
    for name in ONEDEP_TABLES:
        t = _table(prefix, name, ("message_id",))
        counts[name] = connection.execute(select(func.count()).select_from(t)).scalar_one()
    return counts
