"""monthly mail: each person's opt-out, and a run row per monthly mail sent

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 23:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("monthly_mail", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    op.create_table(
        "monthly_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_monthly_runs_delivery_id_deliveries"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_monthly_runs_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monthly_runs")),
        sa.UniqueConstraint(
            "person_id",
            "kind",
            "community_id",
            "period",
            name=op.f("uq_monthly_runs_person_id_kind_community_id_period"),
        ),
    )


def downgrade() -> None:
    op.drop_table("monthly_runs")
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_column("monthly_mail")
