"""A community's threads by the month they started: the site's browsing by date.

A thread belongs to the month of its first shown message (for imported history, its
original date), so it never moves: a new reply rewrites the page of the month the
thread started in, not the current month's. Months are "YYYY-MM" keys, which sort.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from archive.snapshot import SiteThread


@dataclass(frozen=True)
class Month:
    key: str  # "2026-11"
    threads: tuple[SiteThread, ...]  # by start, oldest first
    previous: str | None  # the nearest earlier month with threads
    following: str | None  # the nearest later one

    @property
    def year(self) -> int:
        return int(self.key[:4])


def month_number(key: str) -> int:
    """1 for "2026-01": a month key's month (a neighbour is only known by its key)."""
    return int(key[5:])


def month_of(thread: SiteThread) -> str:
    return thread.first.received_at.strftime("%Y-%m")


def threads_by_month(threads: Iterable[SiteThread]) -> list[Month]:
    """The months that have threads, newest first, each linked to its neighbours."""
    grouped: dict[str, list[SiteThread]] = defaultdict(list)
    for thread in threads:
        grouped[month_of(thread)].append(thread)
    keys = sorted(grouped, reverse=True)
    return [
        Month(
            key,
            tuple(sorted(grouped[key], key=lambda t: (t.first.received_at, t.id))),
            keys[index + 1] if index + 1 < len(keys) else None,
            keys[index - 1] if index > 0 else None,
        )
        for index, key in enumerate(keys)
    ]


def months_by_year(months: Iterable[Month]) -> list[tuple[int, list[Month]]]:
    """The months grouped by year, newest year first and January first in a year."""
    years: dict[int, list[Month]] = defaultdict(list)
    for month in months:
        years[month.year].append(month)
    return [
        (year, sorted(years[year], key=lambda m: m.key)) for year in sorted(years, reverse=True)
    ]
