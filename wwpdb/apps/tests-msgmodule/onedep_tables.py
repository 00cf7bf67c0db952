"""OneDep's own message tables (its module 0.181.1, database mode), written from the facts of its schema.

Columns, types, keys and the content_type enum are those of OneDep's
`scripts/init_messaging_database.py`, which declares the unique key on
`message_id` inline (its `db/Models.py` cannot create the tables on MariaDB:
the foreign keys would reference a column without a usable index). SQLite
gets the equivalent: a CHECK for the enum, the same unique and foreign keys.
Used by the tests and by `make bench`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from sqlalchemy import create_engine, inspect, text

from wwpdb.apps.msgmodule.model import Document, FileReference, Message, MessageStatus

CONTENT_TYPE_ENUM = "'messages-to-depositor', 'messages-from-depositor', 'notes-from-annotator'"

MYSQL_DDL = [
    f"""CREATE TABLE pdbx_deposition_message_info (
        ordinal_id BIGINT PRIMARY KEY AUTO_INCREMENT,
        message_id VARCHAR(64) UNIQUE NOT NULL,
        deposition_data_set_id VARCHAR(50) NOT NULL,
        timestamp DATETIME NOT NULL,
        sender VARCHAR(150) NOT NULL,
        context_type VARCHAR(50),
        context_value VARCHAR(255),
        parent_message_id VARCHAR(64),
        message_subject TEXT NOT NULL,
        message_text LONGTEXT NOT NULL,
        message_type VARCHAR(20) DEFAULT 'text',
        send_status CHAR(1) DEFAULT 'Y',
        content_type ENUM({CONTENT_TYPE_ENUM}) NOT NULL,
        created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
        updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
        INDEX idx_deposition_id (deposition_data_set_id),
        INDEX idx_message_id (message_id),
        INDEX idx_timestamp (timestamp),
        INDEX idx_sender (sender),
        INDEX idx_context_type (context_type),
        INDEX idx_content_type (content_type),
        INDEX idx_created_at (created_at),
        INDEX idx_ordinal_id (ordinal_id),
        FOREIGN KEY (parent_message_id) REFERENCES pdbx_deposition_message_info(message_id) ON DELETE SET NULL
    ) ENGINE=InnoDB CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci""",
    """CREATE TABLE pdbx_deposition_message_file_reference (
        ordinal_id BIGINT PRIMARY KEY AUTO_INCREMENT,
        message_id VARCHAR(64) NOT NULL,
        deposition_data_set_id VARCHAR(50) NOT NULL,
        content_type VARCHAR(50) NOT NULL,
        content_format VARCHAR(20) NOT NULL,
        partition_number INT DEFAULT 1,
        version_id INT DEFAULT 1,
        storage_type VARCHAR(20) DEFAULT 'archive',
        upload_file_name VARCHAR(255),
        created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
        INDEX idx_message_id (message_id),
        INDEX idx_deposition_id (deposition_data_set_id),
        INDEX idx_content_type (content_type),
        INDEX idx_storage_type (storage_type),
        INDEX idx_ordinal_id (ordinal_id),
        UNIQUE KEY uq_file_ref_message_content_version_partition
            (message_id, content_type, version_id, partition_number),
        FOREIGN KEY (message_id) REFERENCES pdbx_deposition_message_info(message_id) ON DELETE CASCADE
    ) ENGINE=InnoDB CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci""",
    """CREATE TABLE pdbx_deposition_message_status (
        message_id VARCHAR(64) PRIMARY KEY,
        deposition_data_set_id VARCHAR(50) NOT NULL,
        read_status CHAR(1) DEFAULT 'N',
        action_reqd CHAR(1) DEFAULT 'N',
        for_release CHAR(1) DEFAULT 'N',
        created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
        updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
        INDEX idx_deposition_id (deposition_data_set_id),
        INDEX idx_read_status (read_status),
        INDEX idx_action_reqd (action_reqd),
        INDEX idx_for_release (for_release),
        FOREIGN KEY (message_id) REFERENCES pdbx_deposition_message_info(message_id) ON DELETE CASCADE
    ) ENGINE=InnoDB CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci""",
]

SQLITE_DDL = [
    f"""CREATE TABLE pdbx_deposition_message_info (
        ordinal_id INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id VARCHAR(64) UNIQUE NOT NULL,
        deposition_data_set_id VARCHAR(50) NOT NULL,
        timestamp DATETIME NOT NULL,
        sender VARCHAR(150) NOT NULL,
        context_type VARCHAR(50),
        context_value VARCHAR(255),
        parent_message_id VARCHAR(64) REFERENCES pdbx_deposition_message_info(message_id) ON DELETE SET NULL,
        message_subject TEXT NOT NULL,
        message_text TEXT NOT NULL,
        message_type VARCHAR(20) DEFAULT 'text',
        send_status CHAR(1) DEFAULT 'Y',
        content_type VARCHAR(23) NOT NULL CHECK (content_type IN ({CONTENT_TYPE_ENUM})),
        created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
        updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
    )""",
    "CREATE INDEX idx_info_deposition_id ON pdbx_deposition_message_info (deposition_data_set_id)",
    "CREATE INDEX idx_info_content_type ON pdbx_deposition_message_info (content_type)",
    """CREATE TABLE pdbx_deposition_message_file_reference (
        ordinal_id INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id VARCHAR(64) NOT NULL REFERENCES pdbx_deposition_message_info(message_id) ON DELETE CASCADE,
        deposition_data_set_id VARCHAR(50) NOT NULL,
        content_type VARCHAR(50) NOT NULL,
        content_format VARCHAR(20) NOT NULL,
        partition_number INT DEFAULT 1,
        version_id INT DEFAULT 1,
        storage_type VARCHAR(20) DEFAULT 'archive',
        upload_file_name VARCHAR(255),
        created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
        UNIQUE (message_id, content_type, version_id, partition_number)
    )""",
    "CREATE INDEX idx_file_reference_deposition_id ON pdbx_deposition_message_file_reference (deposition_data_set_id)",
    """CREATE TABLE pdbx_deposition_message_status (
        message_id VARCHAR(64) PRIMARY KEY REFERENCES pdbx_deposition_message_info(message_id) ON DELETE CASCADE,
        deposition_data_set_id VARCHAR(50) NOT NULL,
        read_status CHAR(1) DEFAULT 'N',
        action_reqd CHAR(1) DEFAULT 'N',
        for_release CHAR(1) DEFAULT 'N',
        created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
        updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
    )""",
    "CREATE INDEX idx_status_deposition_id ON pdbx_deposition_message_status (deposition_data_set_id)",
]

TABLES = ("pdbx_deposition_message_info", "pdbx_deposition_message_file_reference", "pdbx_deposition_message_status")


def create_onedep_tables(url: str) -> None:
    engine = create_engine(url)
    ddl = SQLITE_DDL if engine.dialect.name == "sqlite" else MYSQL_DDL
    with engine.begin() as connection:
        for statement in ddl:
            connection.exec_driver_sql(statement)
    engine.dispose()


def insert_onedep_rows(
    url: str,
    messages: Iterable[tuple[str, Message]],
    file_references: Iterable[FileReference] = (),
    statuses: Iterable[MessageStatus] = (),
    prefix: str = "",
) -> None:
    """Rows as OneDep's module writes them (NOT NULL text as '' when missing, numbers as INT)."""
    engine = create_engine(url)
    info = [
        {
            **{item: getattr(m, item) for item in Message.ITEMS[1:]},
            "message_subject": m.message_subject or "",
            "message_text": m.message_text or "",
            "sender": m.sender or "",
            "content_type": content_type,
        }
        for content_type, m in messages
    ]
    refs = [
        {
            **{item: getattr(r, item) for item in FileReference.ITEMS[1:]},
            "partition_number": int(r.partition_number or 1),
            "version_id": int(r.version_id or 1),
        }
        for r in file_references
    ]
    states = [{item: getattr(s, item) for item in MessageStatus.ITEMS} for s in statuses]
    with engine.begin() as connection:
        for table, rows in zip(TABLES, (info, refs, states), strict=True):
            if rows:
                names = list(rows[0])
                connection.execute(
                    text(
                        f"INSERT INTO {prefix}{table} ({', '.join(names)}) VALUES ({', '.join(':' + n for n in names)})"
                    ),
                    rows,
                )
    engine.dispose()


def rows_of_documents(
    documents: Iterable[Document], keep: float = 1.0
) -> tuple[list[tuple[str, Message]], list[FileReference], list[MessageStatus]]:
    """OneDep's rows for these documents, as its migrator stores them: the first message of each
    id only, one file reference per unique key, status rows only for messages it stored, and
    (with keep < 1) only that share of each document's messages, the first ones."""
    messages: list[tuple[str, Message]] = []
    refs: list[FileReference] = []
    statuses: list[MessageStatus] = []
    seen: set[str] = set()
    ref_keys: set[tuple] = set()
    documents = list(documents)
    for document in documents:
        kept = document.messages[: max(0, round(len(document.messages) * keep))]
        for message in kept:
            if message.message_id in seen:
                continue
            seen.add(message.message_id)
            messages.append((document.content_type, message))
        for ref in document.file_references:
            key = (ref.message_id, ref.content_type, ref.version_id, ref.partition_number)
            if ref.message_id in seen and key not in ref_keys:
                ref_keys.add(key)
                refs.append(ref)
    status_seen: set[str] = set()
    for document in documents:
        for status in document.statuses:
            if status.message_id in seen and status.message_id not in status_seen:
                status_seen.add(status.message_id)
                statuses.append(status)
    return messages, refs, statuses


def onedep_checksum(url: str, prefix: str = "") -> str:
    """Every row and the definition of OneDep's three tables: equal before and after means untouched."""
    engine = create_engine(url)
    hasher = hashlib.sha256()
    with engine.connect() as connection:
        inspector = inspect(connection)
        for table in TABLES:
            name = prefix + table
            columns = inspector.get_columns(name)
            hasher.update(repr([(c["name"], str(c["type"]), c["nullable"]) for c in columns]).encode())
            hasher.update(repr(sorted(map(repr, inspector.get_indexes(name)))).encode())
            hasher.update(repr(sorted(map(repr, inspector.get_unique_constraints(name)))).encode())
            hasher.update(repr(len(inspector.get_foreign_keys(name))).encode())
            key = columns[0]["name"]
            for row in connection.execute(text(f"SELECT * FROM {name} ORDER BY {key}")):
                hasher.update(repr(tuple(row)).encode())
    engine.dispose()
    return hasher.hexdigest()
