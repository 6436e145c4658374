"""delivery queue and bounces: deliveries of generated mail, bounce state, Reply-To

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 20:43:03.015335
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("communities", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("reply_to", sa.String(length=254), nullable=False, server_default="community")
        )

    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("community_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("recipient", sa.String(length=254), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("kind", sa.String(length=32), nullable=False, server_default="post")
        )
        batch_op.add_column(sa.Column("content", sa.LargeBinary(), nullable=True))
        batch_op.alter_column("message_id", existing_type=sa.INTEGER(), nullable=True)
        batch_op.alter_column("person_id", existing_type=sa.INTEGER(), nullable=True)
        batch_op.create_foreign_key(
            batch_op.f("fk_deliveries_community_id_communities"),
            "communities",
            ["community_id"],
            ["id"],
            ondelete="CASCADE",
        )

    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bounced_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_column("disabled_at")
        batch_op.drop_column("bounced_at")

    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_deliveries_community_id_communities"), type_="foreignkey"
        )
        batch_op.alter_column("person_id", existing_type=sa.INTEGER(), nullable=False)
        batch_op.alter_column("message_id", existing_type=sa.INTEGER(), nullable=False)
        batch_op.drop_column("content")
        batch_op.drop_column("kind")
        batch_op.drop_column("recipient")
        batch_op.drop_column("community_id")

    with op.batch_alter_table("communities", schema=None) as batch_op:
        batch_op.drop_column("reply_to")
