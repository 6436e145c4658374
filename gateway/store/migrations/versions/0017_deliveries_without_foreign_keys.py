"""deliveries: no foreign keys and no index of their person

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 08:00:00

Upgrade: the deliveries' keys to their message, community and person are dropped, and
the index of their person (it served only the key's cascade). Each copy of a post
writes its row three times; PostgreSQL checked the three keys on every insert, 60% of
the time queueing a post took (bench/fanout.py --database postgresql).
Downgrade: the deliveries whose message, community or person no longer exists are
deleted, then the keys and the index come back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

KEYS = (("message_id", "messages"), ("community_id", "communities"), ("person_id", "people"))
# The tables whose rows name a delivery (ON DELETE SET NULL).
LINKED = ("digest_runs", "monthly_runs")


@contextmanager
def links_kept() -> Iterator[None]:
    """SQLite alters deliveries by copying the table and dropping the old one, and the
    drop deletes its rows first: the digests' and monthly mails' links to their
    delivery would be set to NULL. They are read before and written back after."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":  # PostgreSQL alters the table in place
        yield
        return
    kept = {
        table: bind.execute(
            sa.text(f"SELECT id, delivery_id FROM {table} WHERE delivery_id IS NOT NULL")
        ).all()
        for table in LINKED
    }
    yield
    for table, rows in kept.items():
        if rows:
            bind.execute(
                sa.text(f"UPDATE {table} SET delivery_id = :delivery WHERE id = :id"),
                [{"id": id_, "delivery": delivery} for id_, delivery in rows],
            )


def upgrade() -> None:
    with links_kept(), op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deliveries_person_id"))
        for column, table in KEYS:
            batch_op.drop_constraint(
                batch_op.f(f"fk_deliveries_{column}_{table}"), type_="foreignkey"
            )


def downgrade() -> None:
    for column, table in KEYS:
        op.execute(
            f"DELETE FROM deliveries WHERE {column} IS NOT NULL"
            f" AND {column} NOT IN (SELECT id FROM {table})"
        )
    with links_kept(), op.batch_alter_table("deliveries", schema=None) as batch_op:
        for column, table in KEYS:
            batch_op.create_foreign_key(
                batch_op.f(f"fk_deliveries_{column}_{table}"),
                table,
                [column],
                ["id"],
                ondelete="CASCADE",
            )
        batch_op.create_index(batch_op.f("ix_deliveries_person_id"), ["person_id"], unique=False)
