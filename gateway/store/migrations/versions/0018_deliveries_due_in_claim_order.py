"""deliveries: the index of due rows ends with their id, the claim's order

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 20:00:00

Upgrade: ix_deliveries_due is (status, next_attempt_at, id), the order a claim takes
due rows in. On (status, next_attempt_at) alone PostgreSQL sorted every due row on
each claim (a post's copies share one next_attempt_at): a fan-out of 200,000 copies
sorted 100,000 rows a claim on average (bench/fanout.py --database postgresql).
SQLite's index ended with the rowid already and walked in this order; it now holds
the id twice, a few bytes a row.
Downgrade: the index is (status, next_attempt_at) again.
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

INDEX = "ix_deliveries_due"


def upgrade() -> None:
    op.drop_index(INDEX, table_name="deliveries")
    op.create_index(INDEX, "deliveries", ["status", "next_attempt_at", "id"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name="deliveries")
    op.create_index(INDEX, "deliveries", ["status", "next_attempt_at"])
