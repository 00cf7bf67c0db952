"""The database's incarnation: a random value that `init-db` and `restore` replace.

A document's revision (in `msgmodule_document`) is bumped by every write of
this library, so (incarnation, revision) names one content of a document for
as long as the database lives. A restored backup brings back old revisions
with other rows; the restore gives the database a new incarnation, so nothing
read before it is taken for what came back. Rows changed by hand in SQL bump
no revision: see `stores.answers`.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import bindparam, literal, select, update
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.sql import func

from .schema import documents, site

# The name of its row in msgmodule_site.
INCARNATION = "incarnation"


def renew_incarnation(connection: Connection) -> str:
    """Give the database a new incarnation (in the caller's transaction); returns it."""
    value = json.dumps(uuid.uuid4().hex)
    row = {"name": INCARNATION, "value": value}
    changed = {"value": value, "updated_at": func.current_timestamp()}
    if connection.dialect.name == "sqlite":
        statement = sqlite_insert(site).values(**row)
        connection.execute(statement.on_conflict_do_update(index_elements=[site.c.name], set_=changed))
    elif connection.dialect.name == "mysql":
        connection.execute(mysql_insert(site).values(**row).on_duplicate_key_update(**changed))
    elif connection.execute(update(site).where(site.c.name == INCARNATION).values(**changed)).rowcount == 0:
        connection.execute(site.insert().values(**row))
    return value


def versions_statement(count: int) -> Any:
    """The incarnation and the revisions of `count` content types of one deposition (parameters d, c0..).

    No row when the database has no incarnation (its schema was made before there was one: run init-db);
    one row with no content type when none of the documents has a row yet.
    """
    return (
        select(site.c.value, documents.c.source_content_type, documents.c.revision)
        .select_from(
            site.outerjoin(
                documents,
                (documents.c.source_deposition_id == bindparam("d"))
                & documents.c.source_content_type.in_([bindparam(f"c{n}") for n in range(count)]),
            )
        )
        .where(site.c.name == literal(INCARNATION))
    )
