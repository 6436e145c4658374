"""threading references and action mail

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 19:25:46.444976
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "action_mail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column("token", sa.String(length=128), nullable=False),
        sa.Column("sender", sa.String(length=254), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=False),
        sa.Column("raw_sha256", sa.String(length=64), nullable=False),
        sa.Column("raw_size", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_action_mail_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_mail")),
    )
    with op.batch_alter_table("action_mail", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_action_mail_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_action_mail_handled_at"), ["handled_at"], unique=False)

    op.create_table(
        "message_references",
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("referenced_id", sa.String(length=998), nullable=False),
        sa.Column("in_reply_to", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_message_references_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("message_id", "position", name=op.f("pk_message_references")),
    )
    with op.batch_alter_table("message_references", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_message_references_referenced_id"), ["referenced_id"], unique=False
        )

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("thread_index", sa.String(length=255), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("conversation", sa.String(length=64), nullable=False, server_default="")
        )
        batch_op.create_index(
            batch_op.f("ix_messages_conversation"), ["conversation"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_messages_conversation"))
        batch_op.drop_column("conversation")
        batch_op.drop_column("thread_index")

    with op.batch_alter_table("message_references", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_message_references_referenced_id"))

    op.drop_table("message_references")
    with op.batch_alter_table("action_mail", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_action_mail_handled_at"))
        batch_op.drop_index(batch_op.f("ix_action_mail_action"))

    op.drop_table("action_mail")
