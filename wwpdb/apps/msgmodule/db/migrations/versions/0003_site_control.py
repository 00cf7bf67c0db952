"""Site control: the database's copy of the stage, the last validation and its per-file evidence, and the
journal of dual writes in which the database is authoritative, and an index that pages messages.

Revision ID: 0003
Revises: 0002
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_OPTIONS: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}


def upgrade() -> None:
    op.create_table(
        "msgmodule_site",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False, server_default=sa.func.current_timestamp()),
        **_OPTIONS,
    )
    op.create_table(
        "msgmodule_validated",
        sa.Column("source_deposition_id", sa.String(32), primary_key=True),
        sa.Column("source_content_type", sa.String(32), primary_key=True),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("file_inode", sa.BigInteger, nullable=False),
        sa.Column("file_size", sa.BigInteger, nullable=False),
        sa.Column("file_mtime_ns", sa.BigInteger, nullable=False),
        sa.Column("file_ctime_ns", sa.BigInteger, nullable=False),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.Column("revision", sa.Integer, nullable=True),
        sa.Column("validated_at", sa.DateTime, nullable=False, server_default=sa.func.current_timestamp()),
        **_OPTIONS,
    )

    op.create_table(
        "msgmodule_journal",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("deposition_id", sa.String(32), nullable=False),
        sa.Column("content_type", sa.String(32), nullable=False),
        sa.Column("failed", sa.String(8), nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("time", sa.String(19), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("host", sa.String(255), nullable=True),
        sa.Column("pid", sa.Integer, nullable=True),
        sa.Column("started", sa.String(32), nullable=True),
        **_OPTIONS,
    )

    op.create_index(
        "ix_pdbx_deposition_message_info_page",
        "pdbx_deposition_message_info",
        ["source_deposition_id", "source_content_type", "timestamp", "send_status", "message_type", "row_order"],
    )


def downgrade() -> None:
    op.drop_index("ix_pdbx_deposition_message_info_page", "pdbx_deposition_message_info")
    op.drop_table("msgmodule_journal")
    op.drop_table("msgmodule_validated")
    op.drop_table("msgmodule_site")
