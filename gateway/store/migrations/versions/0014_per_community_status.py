"""a post's status per community: a cross-post is published where its sender may post
and held only where a policy holds it

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 16:20:00

Upgrade: each link takes its message's status (a post held before 0014 was held in
all its communities). From this version digest@ is the gateway's own address (replies
to digests): the upgrade refuses, and says why, when a community already has it.
Downgrade: the links' statuses are dropped; a message keeps its own, which is
published when it was published in any community.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.errors import InvalidInput

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def _status() -> sa.Enum:
    return sa.Enum(
        "published",
        "held",
        "rejected",
        name="messagestatus",
        native_enum=False,
        create_constraint=True,
        length=16,
    )


def upgrade() -> None:
    taken = op.get_bind().execute(sa.text("SELECT 1 FROM communities WHERE slug = 'digest'"))
    if taken.first() is not None:
        raise InvalidInput(
            "the community 'digest' has the address digest@, which this version gives to"
            " replies to digests: keep the previous version until that community has"
            " moved to another address"
        )
    with op.batch_alter_table("message_communities", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", _status(), nullable=False, server_default="published")
        )
    op.execute(
        "UPDATE message_communities SET status = (SELECT messages.status FROM messages"
        " WHERE messages.id = message_communities.message_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("message_communities", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_message_communities_messagestatus"), type_="check")
        batch_op.drop_column("status")
