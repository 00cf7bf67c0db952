"""Create, upgrade and verify the message schema, with Alembic revisions.

`upgrade` brings any database (empty or older) to the current revision and
is safe to run again. `verify` changes nothing and lists every difference
between the database and the schema this version of the library expects.
`reset` is the only thing that drops data, and callers must confirm it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from .engine import get_engine, mask_url, translate
from .incarnation import renew_incarnation
from .onedep import check_not_onedep, onedep_prefix, refusal
from .schema import metadata

MIGRATIONS = Path(__file__).with_name("migrations")


@dataclass
class SchemaStatus:
    """What `verify` found: the revisions and every difference, empty when all is well."""

    url: str
    current_revision: str | None
    head_revision: str
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def upgrade(url: str, engine: Engine | None = None) -> tuple[str | None, str]:
    """Create or upgrade the schema to the current revision; returns (before, after)."""
    engine = engine or get_engine(url)
    check_not_onedep(engine, url, "create or upgrade this module's schema")
    try:
        with engine.begin() as connection:
            before = MigrationContext.configure(connection).get_current_revision()
            config = _config()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            after = MigrationContext.configure(connection).get_current_revision()
            # Answers a process kept from this database before are not taken for what it holds now.
            renew_incarnation(connection)
    except SQLAlchemyError as exc:
        raise translate(exc, url, "create or upgrade the schema") from exc
    return before, after or head_revision()


def verify(url: str, engine: Engine | None = None) -> SchemaStatus:
    """Compare the database with the expected schema; changes nothing."""
    engine = engine or get_engine(url)
    head = head_revision()
    problems: list[str] = []
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection)
            current = context.get_current_revision()
            if onedep_prefix(connection) == "":  # its tables' columns are not this schema's to report
                return SchemaStatus(mask_url(url), current, head, [refusal(url, "use it as this module's database")])
            if current is None:
                problems.append("no message schema (no alembic_version): run: msgmodule init-db")
            elif current != head:
                problems.append(f"schema revision is {current}, this library needs {head}: run the init script")
            existing = set(inspect(connection).get_table_names())
            for table in metadata.sorted_tables:
                if table.name not in existing:
                    problems.append(f"table {table.name} is missing")
            for diff in compare_metadata(context, metadata):
                problems.extend(_describe(diff, existing))
    except SQLAlchemyError as exc:
        raise translate(exc, url, "verify the schema") from exc
    # A missing table is already reported once; drop autogenerate's duplicate.
    unique = list(dict.fromkeys(problems))
    return SchemaStatus(mask_url(url), current, head, unique)


def _describe(diff: object, existing: set[str]) -> list[str]:
    if isinstance(diff, list):  # column modifications come grouped
        return [line for item in diff for line in _describe(item, existing)]
    kind = diff[0]  # type: ignore[index]
    if kind == "add_table":
        return [f"table {diff[1].name} is missing"]  # type: ignore[index]
    if kind == "remove_table":
        return []  # alembic_version, and tables of other applications that share the database
    if kind == "add_column":
        return [f"column {diff[2]}.{diff[3].name} is missing"]  # type: ignore[index]
    if kind == "remove_column":
        return [f"column {diff[2]}.{diff[3].name} is not in the expected schema"]  # type: ignore[index]
    if kind == "add_index":
        return [f"index {diff[1].name} is missing"]  # type: ignore[index]
    if kind == "remove_index" and diff[1].table.name not in metadata.tables:  # type: ignore[index]
        return []  # an index of another application's table (OneDep's, kept aside after adopt-onedep)
    if kind == "remove_index":
        return [f"index {diff[1].name} is not in the expected schema"]  # type: ignore[index]
    if kind == "modify_nullable":
        return [f"column {diff[2]}.{diff[3]} nullability differs"]  # type: ignore[index]
    if kind == "modify_type":
        return [f"column {diff[2]}.{diff[3]} has type {diff[5]}, expected {diff[6]}"]  # type: ignore[index]
    return []


def reset(url: str, engine: Engine | None = None) -> None:
    """Drop every message table and recreate the schema. Destroys data: callers confirm first."""
    engine = engine or get_engine(url)
    check_not_onedep(engine, url, "drop and recreate the message tables")
    try:
        with engine.begin() as connection:
            metadata.drop_all(connection)
            connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    except SQLAlchemyError as exc:
        raise translate(exc, url, "drop the schema") from exc
    upgrade(url, engine)
