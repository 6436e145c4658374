"""deliveries: a claim keeps the row pending, and the due index holds pending rows only

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 08:00:00

Upgrade: rows stored "sending" become "pending" with their claim (node and lease), which
is how a claimed row is kept from now on; the due index becomes an index of pending rows
by time; on PostgreSQL inserts fill the table's pages by half (fillfactor 50), leaving
room for a claimed version of each row. A claim then writes no column an index reads,
so PostgreSQL updates the row within its page without a new entry in every index (a
HOT update). The pages written before the upgrade stay full until rewritten (VACUUM
FULL deliveries): their rows are claimed the old way, with index entries.
Downgrade: claimed pending rows are "sending" again, the index of status and time and
the default fillfactor come back.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.execute("UPDATE deliveries SET status = 'pending' WHERE status = 'sending'")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_due")
        batch_op.create_index(
            "ix_deliveries_due",
            ["next_attempt_at"],
            unique=False,
            sqlite_where=PENDING,
            postgresql_where=PENDING,
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE deliveries SET (fillfactor = 50)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE deliveries RESET (fillfactor)")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_due")
        batch_op.create_index("ix_deliveries_due", ["status", "next_attempt_at"], unique=False)
    op.execute(
        "UPDATE deliveries SET status = 'sending'"
        " WHERE status = 'pending' AND claimed_by IS NOT NULL"
    )
