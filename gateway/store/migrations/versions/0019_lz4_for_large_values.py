"""PostgreSQL compresses the large values of each mail with lz4 rather than pglz

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 12:00:00

A value over about 2 KB (a spooled mail's bytes, a message's text and HTML, a generated
copy's content) is compressed by PostgreSQL as it is written. Its default method,
pglz, took 180 us of the server's CPU per 5 KB mail spooled, lz4 70 to 86 (a loop of
5,000 commits of ten such mails on the benches' durable server), and ingest writes a
mail's text twice (spool, then message). SQLite compresses nothing: no change there,
nor on a PostgreSQL built without lz4 (its default_toast_compression offers no lz4).
Values written before keep their method; PostgreSQL reads both.
Downgrade: the columns go back to the server's default method.
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

LARGE_VALUES = [
    ("inbox", "raw"),
    ("messages", "body_text"),
    ("messages", "body_html"),
    ("deliveries", "content"),
]


def upgrade() -> None:
    if _offers_lz4():
        _compress_with("lz4")


def downgrade() -> None:
    if _offers_lz4():
        _compress_with("DEFAULT")


def _offers_lz4() -> bool:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return False
    offered = bind.exec_driver_sql(
        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
    ).scalar()
    return bool(offered)


def _compress_with(method: str) -> None:
    for table, column in LARGE_VALUES:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION {method}")
