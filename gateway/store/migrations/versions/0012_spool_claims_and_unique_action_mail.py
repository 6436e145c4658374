"""spooled mail names the node that claimed it and its lease; action mail is unique by
Message-ID and recipient

The upgrade first deletes the action_mail rows that repeat a (message_id, recipient)
already stored, keeping the lowest id of each (the first taken in; the repeats are
the double answers of issue 21), then adds the unique key. The downgrade drops the
key and the columns; the deleted repeats are not brought back.

The SQLite spool file (spool.sqlite3) is not the store: Alembic does not migrate it,
the gateway adds the new inbox columns there when it opens it (gateway.ingest.spool_file).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 13:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# NOT IN a grouped subquery rather than a correlated EXISTS: with no index on the pair
# yet, SQLite would scan the table once per row; both databases build the set once.
REPEATS = """
DELETE FROM action_mail WHERE id NOT IN (
    SELECT min(id) FROM action_mail GROUP BY message_id, recipient
)
"""


def upgrade() -> None:
    # Mail spooled by an older gateway gets no claim: any node's processor takes it.
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
    op.execute(REPEATS)
    with op.batch_alter_table("action_mail", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            op.f("uq_action_mail_message_id_recipient"), ["message_id", "recipient"]
        )


def downgrade() -> None:
    with op.batch_alter_table("action_mail", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_action_mail_message_id_recipient"), type_="unique")
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_column("lease_until")
        batch_op.drop_column("claimed_by")
