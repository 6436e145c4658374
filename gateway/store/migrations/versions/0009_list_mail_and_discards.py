"""a community may hold mail from other lists; every discarded mail is recorded

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 09:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN: a batch copy of communities would, on SQLite, delete the rows
    # that reference it (ON DELETE CASCADE) when the old table is dropped.
    op.add_column(
        "communities",
        sa.Column("hold_list_mail", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "discarded_mail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sender", sa.String(length=254), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("discarded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discarded_mail")),
    )
    op.create_index(op.f("ix_discarded_mail_discarded_at"), "discarded_mail", ["discarded_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_discarded_mail_discarded_at"), table_name="discarded_mail")
    op.drop_table("discarded_mail")
    with op.batch_alter_table("communities", schema=None) as batch_op:
        batch_op.drop_column("hold_list_mail")
