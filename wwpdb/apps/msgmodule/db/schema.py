"""Tables: one per category, columns named after the items, plus what a database needs.

Every category table carries a surrogate key, `source_deposition_id` and
`source_content_type` (the document a row belongs to: the archive folder and
file, which can differ from the id inside the row), `row_order` (the row's
position in the document, so a document reads back in file order), and
created/updated times. No constraint rejects a row that real data has: no
uniqueness on message ids, no foreign keys, generous sizes.

`msgmodule_document` has one row per stored document; writers lock it, which
serialises read-modify-writes of one document across processes. Its
`revision` counts writes; the migration columns record the archive file a
document was copied from; the tail columns keep the next ordinal_ids, so a new
message is appended without reading the document.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects import mysql

from ..model import CATEGORIES, Category

MYSQL_TABLE_OPTIONS: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
}

metadata = MetaData()

ID = String(255)  # deposition ids, message ids: indexed, so not TEXT
SHORT = String(255)  # codes and flags; wide because real data is dirty
LONG_TEXT = Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
MEDIUM_TEXT = Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")

# Column type of each item. Free text is TEXT; anything indexed is a VARCHAR.
ITEM_TYPES = {
    "ordinal_id": String(32),
    "message_id": ID,
    "deposition_data_set_id": ID,
    "timestamp": String(64),
    "sender": String(1000),
    "context_type": String(1000),
    "context_value": String(1000),
    "parent_message_id": ID,
    "message_subject": MEDIUM_TEXT,
    "message_text": LONG_TEXT,
    "message_type": SHORT,
    "send_status": SHORT,
    "content_type": SHORT,
    "content_format": SHORT,
    "partition_number": SHORT,
    "version_id": SHORT,
    "storage_type": SHORT,
    "upload_file_name": MEDIUM_TEXT,
    "read_status": SHORT,
    "action_reqd": SHORT,
    "for_release": SHORT,
    "orig_message_id": MEDIUM_TEXT,
    "orig_deposition_data_set_id": SHORT,
    "orig_timestamp": String(64),
    "orig_sender": MEDIUM_TEXT,
    "orig_recipient": MEDIUM_TEXT,
    "orig_message_subject": MEDIUM_TEXT,
    "orig_attachments": MEDIUM_TEXT,
}

SOURCE_COLUMNS = ("source_deposition_id", "source_content_type")


def _category_table(category: Category) -> Table:
    columns: list[Column[Any]] = [
        Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
        Column("source_deposition_id", String(32), nullable=False),
        Column("source_content_type", String(32), nullable=False),
        Column("row_order", Integer, nullable=False),
    ]
    columns += [Column(item, ITEM_TYPES[item], nullable=True) for item in category.items]
    columns += [
        Column("created_at", DateTime, nullable=False, server_default=func.current_timestamp()),
        Column("updated_at", DateTime, nullable=False, server_default=func.current_timestamp()),
    ]
    table = Table(category.name, metadata, *columns, **MYSQL_TABLE_OPTIONS)
    Index(f"ix_{category.name}_document", table.c.source_deposition_id, table.c.source_content_type, table.c.row_order)
    Index(f"ix_{category.name}_message", table.c.message_id)
    return table


CATEGORY_TABLES: dict[str, Table] = {category.name: _category_table(category) for category in CATEGORIES}

# A page of messages (revision 0003) is ordered and filtered from this index alone, not the rows.
PAGE_INDEX = Index(
    "ix_pdbx_deposition_message_info_page",
    *(
        CATEGORY_TABLES["pdbx_deposition_message_info"].c[name]
        for name in (
            "source_deposition_id",
            "source_content_type",
            "timestamp",
            "send_status",
            "message_type",
            "row_order",
        )
    ),
)

documents = Table(
    "msgmodule_document",
    metadata,
    Column("source_deposition_id", String(32), primary_key=True),
    Column("source_content_type", String(32), primary_key=True),
    Column("revision", Integer, nullable=False, server_default="0"),
    Column("created_at", DateTime, nullable=False, server_default=func.current_timestamp()),
    Column("updated_at", DateTime, nullable=False, server_default=func.current_timestamp()),
    # Set by the archive migration (revision 0002): where the rows came from, and the
    # document revision written then, so later database changes are recognised.
    Column("source_file", String(255), nullable=True),
    Column("source_version", Integer, nullable=True),
    Column("source_checksum", String(64), nullable=True),
    Column("migrated_revision", Integer, nullable=True),
    Column("migrated_at", DateTime, nullable=True),
    # Revision 0004: the next ordinal_id of each table that numbers its rows (as text: an ordinal can
    # be longer than any integer column), right while `tail_revision` equals `revision`. Writes that
    # keep them right move both; any other write (or a revision bumped by hand) bumps `revision` alone.
    Column("tail_revision", Integer, nullable=True),
    Column("next_message_ordinal", String(40), nullable=True),
    Column("next_file_ordinal", String(40), nullable=True),
    Column("next_origcomm_ordinal", String(40), nullable=True),
    **MYSQL_TABLE_OPTIONS,
)

# The column of `documents` holding the next ordinal_id of each table whose rows carry one.
NEXT_ORDINAL_COLUMNS = {
    "pdbx_deposition_message_info": "next_message_ordinal",
    "pdbx_deposition_message_file_reference": "next_file_ordinal",
    "pdbx_deposition_message_origcomm_reference": "next_origcomm_ordinal",
}

# -- site control (revision 0003) ---------------------------------------------------
# `msgmodule_site` holds named JSON values the whole site shares through the database:
# the stage (a mirror of the archive's record, for operators) and the last validation.
site = Table(
    "msgmodule_site",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", DateTime, nullable=False, server_default=func.current_timestamp()),
    **MYSQL_TABLE_OPTIONS,
)

# What validation saw of each archive file it found equal to the database: enough to tell,
# without reading the file again, that it has not changed since (inode, size, mtime, ctime), and
# the document revision in the database then. A stage move that starts reading the database
# trusts only this evidence.
validated = Table(
    "msgmodule_validated",
    metadata,
    Column("source_deposition_id", String(32), primary_key=True),
    Column("source_content_type", String(32), primary_key=True),
    Column("file_name", String(255), nullable=False),
    Column("file_inode", BigInteger, nullable=False),
    Column("file_size", BigInteger, nullable=False),
    Column("file_mtime_ns", BigInteger, nullable=False),
    Column("file_ctime_ns", BigInteger, nullable=False),
    Column("checksum", String(64), nullable=False),
    Column("revision", Integer, nullable=True),
    Column("validated_at", DateTime, nullable=False, server_default=func.current_timestamp()),
    **MYSQL_TABLE_OPTIONS,
)

# The journal of dual writes whose authoritative store is the database (db-primary): kept in the
# database, outside the archive that is then the store that may miss a write.
journal_entries = Table(
    "msgmodule_journal",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("deposition_id", String(32), nullable=False),
    Column("content_type", String(32), nullable=False),
    Column("failed", String(8), nullable=False),
    Column("error", Text, nullable=False),
    Column("time", String(19), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("host", String(255), nullable=True),
    Column("pid", Integer, nullable=True),
    Column("started", String(32), nullable=True),
    **MYSQL_TABLE_OPTIONS,
)
