"""engagement: reactions on messages, a thread's accepted answer, folding thanks

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 22:00:00

Upgrade: a reactions table (one row per message, person and emoji); thread_answers
(a thread's accepted answer, who chose it and when); communities.fold_thanks (true: a
reply that only says thanks or "+1" becomes a reaction); "answer" among the action
kinds (answer+TOKEN@) and the pending actions.
Downgrade: reactions, answers and the setting are dropped.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

ACTION_KINDS = (
    "join", "leave", "owner", "instant", "daily", "weekly", "nomail", "help", "profile",
    "postmaster", "abuse", "confirm", "bounces", "mute", "unmute", "held",
)  # fmt: skip
PENDING_ACTIONS = ("join", "admit", "leave", "approve", "reject", "profile", "delivery", "mute")


def _checked(values: tuple[str, ...], name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def _kinds(table: str, name: str, before: tuple[str, ...], after: tuple[str, ...]) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.alter_column(
            "action",
            existing_type=_checked(before, name),
            type_=_checked(after, name),
            existing_nullable=False,
        )


def upgrade() -> None:
    op.create_table(
        "reactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("emoji", sa.String(length=32), nullable=False),
        sa.Column(
            "source",
            sa.Enum(
                "rfc9078",
                "gmail",
                "reply",
                "import",
                "cli",
                name="reactionsource",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mail_message_id", sa.String(length=998), nullable=False),
        sa.Column("raw_sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_reactions_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_reactions_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reactions")),
        sa.UniqueConstraint(
            "message_id", "person_id", "emoji", name=op.f("uq_reactions_message_id_person_id_emoji")
        ),
    )
    op.create_index(op.f("ix_reactions_message_id"), "reactions", ["message_id"])
    op.create_index(op.f("ix_reactions_person_id"), "reactions", ["person_id"])
    op.create_index(op.f("ix_reactions_mail_message_id"), "reactions", ["mail_message_id"])
    op.create_table(
        "thread_answers",
        sa.Column("thread_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("answered_by_id", sa.Integer(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["answered_by_id"],
            ["people.id"],
            name=op.f("fk_thread_answers_answered_by_id_people"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_thread_answers_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["threads.id"],
            name=op.f("fk_thread_answers_thread_id_threads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("thread_id", name=op.f("pk_thread_answers")),
    )
    op.create_index(op.f("ix_thread_answers_message_id"), "thread_answers", ["message_id"])
    # A plain ADD COLUMN: a batch copy of communities would, on SQLite, delete the rows
    # that reference it (ON DELETE CASCADE) when the old table is dropped.
    op.add_column(
        "communities",
        sa.Column("fold_thanks", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    _kinds("action_mail", "actionkind", ACTION_KINDS, (*ACTION_KINDS, "answer"))
    _kinds("confirmations", "pendingaction", PENDING_ACTIONS, (*PENDING_ACTIONS, "answer"))


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM action_mail WHERE action = 'answer'"))
    op.execute(sa.text("DELETE FROM confirmations WHERE action = 'answer'"))
    _kinds("confirmations", "pendingaction", (*PENDING_ACTIONS, "answer"), PENDING_ACTIONS)
    _kinds("action_mail", "actionkind", (*ACTION_KINDS, "answer"), ACTION_KINDS)
    # DROP COLUMN in place (SQLite 3.35 and later), for the same reason.
    op.execute(sa.text("ALTER TABLE communities DROP COLUMN fold_thanks"))
    op.drop_index(op.f("ix_thread_answers_message_id"), table_name="thread_answers")
    op.drop_table("thread_answers")
    op.drop_index(op.f("ix_reactions_mail_message_id"), table_name="reactions")
    op.drop_index(op.f("ix_reactions_person_id"), table_name="reactions")
    op.drop_index(op.f("ix_reactions_message_id"), table_name="reactions")
    op.drop_table("reactions")
