"""write to: each person's choice of a "Write to" link on their archive page

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 19:00:00

Upgrade: people.show_write_to, nullable: NULL (every existing person) follows
[archive] show_write_to; true or false is the person's own choice (profile@ or
`gateway profile set --write-to`). Downgrade: the choices are dropped.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(sa.Column("show_write_to", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_column("show_write_to")
