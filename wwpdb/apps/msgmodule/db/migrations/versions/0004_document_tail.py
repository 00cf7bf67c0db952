"""What appending a message needs, kept in the document's row: the next ordinal_id of each table that numbers
its rows, and the revision at which those are right.

Revision ID: 0004
Revises: 0003
A new message's ordinals continue the document's numbering; finding the highest one
otherwise reads every row of the document. Columns start NULL (not known): the first
append to a document after the upgrade counts them once.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_COLUMNS = ("next_message_ordinal", "next_file_ordinal", "next_origcomm_ordinal")


def upgrade() -> None:
    with op.batch_alter_table("msgmodule_document") as batch:
        batch.add_column(sa.Column("tail_revision", sa.Integer, nullable=True))
        for name in _COLUMNS:
            batch.add_column(sa.Column(name, sa.String(40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("msgmodule_document") as batch:
        for name in reversed(_COLUMNS):
            batch.drop_column(name)
        batch.drop_column("tail_revision")
