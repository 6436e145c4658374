"""changes on someone's behalf (profile, delivery, mute) may wait for a confirmation

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 09:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

BEFORE = ("join", "admit", "leave", "approve", "reject")
AFTER = (*BEFORE, "profile", "delivery", "mute")


def _checked(values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(
        *values, name="pendingaction", native_enum=False, create_constraint=True, length=32
    )


def _change(before: tuple[str, ...], after: tuple[str, ...]) -> None:
    with op.batch_alter_table("confirmations", schema=None) as batch_op:
        batch_op.alter_column(
            "action",
            existing_type=_checked(before),
            type_=_checked(after),
            existing_nullable=False,
        )


def upgrade() -> None:
    _change(BEFORE, AFTER)


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM confirmations WHERE action IN ('profile', 'delivery', 'mute')"))
    _change(AFTER, BEFORE)
