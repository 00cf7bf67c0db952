"""The first message schema: four category tables and the document table.

Revision ID: 0001
Revises:
A revision is frozen history: it spells out its own DDL rather than reading
today's schema module.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

OPTIONS: dict = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}
ID = sa.String(255)
SHORT = sa.String(255)
LONG_TEXT = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
MEDIUM_TEXT = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")

TABLES = {
    "pdbx_deposition_message_info": [
        ("ordinal_id", sa.String(32)),
        ("message_id", ID),
        ("deposition_data_set_id", ID),
        ("timestamp", sa.String(64)),
        ("sender", sa.String(1000)),
        ("context_type", sa.String(1000)),
        ("context_value", sa.String(1000)),
        ("parent_message_id", ID),
        ("message_subject", MEDIUM_TEXT),
        ("message_text", LONG_TEXT),
        ("message_type", SHORT),
        ("send_status", SHORT),
    ],
    "pdbx_deposition_message_file_reference": [
        ("ordinal_id", sa.String(32)),
        ("message_id", ID),
        ("deposition_data_set_id", ID),
        ("content_type", SHORT),
        ("content_format", SHORT),
        ("partition_number", SHORT),
        ("version_id", SHORT),
        ("storage_type", SHORT),
        ("upload_file_name", MEDIUM_TEXT),
    ],
    "pdbx_deposition_message_status": [
        ("message_id", ID),
        ("deposition_data_set_id", ID),
        ("read_status", SHORT),
        ("action_reqd", SHORT),
        ("for_release", SHORT),
    ],
    "pdbx_deposition_message_origcomm_reference": [
        ("ordinal_id", sa.String(32)),
        ("message_id", ID),
        ("deposition_data_set_id", ID),
        ("orig_message_id", MEDIUM_TEXT),
        ("orig_deposition_data_set_id", SHORT),
        ("orig_timestamp", sa.String(64)),
        ("orig_sender", MEDIUM_TEXT),
        ("orig_recipient", MEDIUM_TEXT),
        ("orig_message_subject", MEDIUM_TEXT),
        ("orig_attachments", MEDIUM_TEXT),
    ],
}


def _times() -> list:
    return [
        sa.Column("created_at", sa.DateTime, nullable=False, server_default=sa.func.current_timestamp()),
        sa.Column("updated_at", sa.DateTime, nullable=False, server_default=sa.func.current_timestamp()),
    ]


def upgrade() -> None:
    for name, items in TABLES.items():
        op.create_table(
            name,
            sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
            sa.Column("source_deposition_id", sa.String(32), nullable=False),
            sa.Column("source_content_type", sa.String(32), nullable=False),
            sa.Column("row_order", sa.Integer, nullable=False),
            *[sa.Column(item, kind, nullable=True) for item, kind in items],
            *_times(),
            **OPTIONS,
        )
        op.create_index(f"ix_{name}_document", name, ["source_deposition_id", "source_content_type", "row_order"])
        op.create_index(f"ix_{name}_message", name, ["message_id"])
    op.create_table(
        "msgmodule_document",
        sa.Column("source_deposition_id", sa.String(32), primary_key=True),
        sa.Column("source_content_type", sa.String(32), primary_key=True),
        sa.Column("revision", sa.Integer, nullable=False, server_default="0"),
        *_times(),
        **OPTIONS,
    )


def downgrade() -> None:
    op.drop_table("msgmodule_document")
    for name in reversed(list(TABLES)):
        op.drop_table(name)
