"""email actions: thread mutes, and the peer, envelope sender and outcome of action mail

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 23:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "thread_mutes",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("thread_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_thread_mutes_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["threads.id"],
            name=op.f("fk_thread_mutes_thread_id_threads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("person_id", "thread_id", name=op.f("pk_thread_mutes")),
    )
    with op.batch_alter_table("thread_mutes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_thread_mutes_thread_id"), ["thread_id"], unique=False)
    with op.batch_alter_table("action_mail", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("peer", sa.String(length=64), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("envelope_sender", sa.String(length=254), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("outcome", sa.String(length=32), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("action_mail", schema=None) as batch_op:
        batch_op.drop_column("outcome")
        batch_op.drop_column("envelope_sender")
        batch_op.drop_column("peer")
    with op.batch_alter_table("thread_mutes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_thread_mutes_thread_id"))
    op.drop_table("thread_mutes")
