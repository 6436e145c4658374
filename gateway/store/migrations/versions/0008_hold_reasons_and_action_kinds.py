"""hold reasons per community of a held post; action kinds checked like the other enums

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 08:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# The values as they were stored when they were plain strings: no row changes.
ACTION_KINDS = (
    "join",
    "leave",
    "owner",
    "instant",
    "daily",
    "weekly",
    "nomail",
    "help",
    "profile",
    "postmaster",
    "abuse",
    "confirm",
    "bounces",
    "mute",
    "unmute",
    "held",
)
PENDING_ACTIONS = ("join", "admit", "leave", "approve", "reject")


def _checked(values: tuple[str, ...], name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def upgrade() -> None:
    with op.batch_alter_table("message_communities", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("hold_reasons", sa.JSON(), nullable=False, server_default="[]")
        )
    with op.batch_alter_table("action_mail", schema=None) as batch_op:
        batch_op.alter_column(
            "action",
            existing_type=sa.String(length=32),
            type_=_checked(ACTION_KINDS, "actionkind"),
            existing_nullable=False,
        )
    with op.batch_alter_table("confirmations", schema=None) as batch_op:
        batch_op.alter_column(
            "action",
            existing_type=sa.String(length=32),
            type_=_checked(PENDING_ACTIONS, "pendingaction"),
            existing_nullable=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("confirmations", schema=None) as batch_op:
        batch_op.alter_column(
            "action",
            existing_type=_checked(PENDING_ACTIONS, "pendingaction"),
            type_=sa.String(length=32),
            existing_nullable=False,
        )
    with op.batch_alter_table("action_mail", schema=None) as batch_op:
        batch_op.alter_column(
            "action",
            existing_type=_checked(ACTION_KINDS, "actionkind"),
            type_=sa.String(length=32),
            existing_nullable=False,
        )
    with op.batch_alter_table("message_communities", schema=None) as batch_op:
        batch_op.drop_column("hold_reasons")
