"""The whole numbers the commands take, bounded: a value out of range is a one-line usage
error (exit 2), never an overflow traceback from the database."""

from __future__ import annotations

import click

# A row id: the databases store ids as 64-bit signed integers.
ID = click.IntRange(1, 2**63 - 1)
# How many rows a listing shows: at least one, at most a million.
LIMIT = click.IntRange(1, 1_000_000)
