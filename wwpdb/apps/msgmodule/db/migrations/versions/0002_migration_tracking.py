"""Track which archive file each document was migrated from.

Revision ID: 0002
Revises: 0001
The migration tool records the file, its version and checksum, and the
document revision it wrote, so a re-run skips unchanged documents and never
overwrites changes made in the database since.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("msgmodule_document") as batch:
        batch.add_column(sa.Column("source_file", sa.String(255), nullable=True))
        batch.add_column(sa.Column("source_version", sa.Integer, nullable=True))
        batch.add_column(sa.Column("source_checksum", sa.String(64), nullable=True))
        batch.add_column(sa.Column("migrated_revision", sa.Integer, nullable=True))
        batch.add_column(sa.Column("migrated_at", sa.DateTime, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("msgmodule_document") as batch:
        for column in ("migrated_at", "migrated_revision", "source_checksum", "source_version", "source_file"):
            batch.drop_column(column)
