"""digest windows: what each digest covered, and its delivery

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 21:25:26.308940
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("digest_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("window_start", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("window_end", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("delivery_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_digest_runs_delivery_id_deliveries"),
            "deliveries",
            ["delivery_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("digest_runs", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_digest_runs_delivery_id_deliveries"), type_="foreignkey"
        )
        batch_op.drop_column("delivery_id")
        batch_op.drop_column("window_end")
        batch_op.drop_column("window_start")
