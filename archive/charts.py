"""The figures behind the inline SVG charts: posts per week, and the most active people.

Only numbers and bar geometry are computed here; templates/archive/charts.html draws
them as SVG, so the charts need no script and no remote library.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass

from archive.snapshot import MessageEntry

WEEKS = 26
CONTRIBUTOR_DAYS = 90
TOP_CONTRIBUTORS = 10
# Drawing area of the weekly chart, in SVG user units.
WIDTH, HEIGHT = 520, 120


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class WeeklyChart:
    bars: tuple[Bar, ...]
    total: int
    peak: int
    width: int = WIDTH
    height: int = HEIGHT


def week_start(moment: dt.datetime) -> dt.date:
    day = moment.date()
    return day - dt.timedelta(days=day.weekday())


def posts_per_week(
    messages: Iterable[MessageEntry], now: dt.datetime, weeks: int = WEEKS
) -> WeeklyChart:
    """Posts in each of the last `weeks` weeks (Monday to Sunday, UTC), oldest first."""
    counts = Counter(week_start(m.received_at) for m in messages)
    return weekly_bars(counts, now, weeks)


def weekly_bars(counts: Mapping[dt.date, int], now: dt.datetime, weeks: int = WEEKS) -> WeeklyChart:
    """Bars of counts per week (keyed by their Monday) for the last `weeks` weeks."""
    last = week_start(now)
    first = last - dt.timedelta(weeks=weeks - 1)
    counts = {start: value for start, value in counts.items() if first <= start <= last}
    peak = max(counts.values(), default=0)
    slot = WIDTH / weeks
    bars = []
    for index in range(weeks):
        start = first + dt.timedelta(weeks=index)
        value = counts.get(start, 0)
        height = (HEIGHT - 4) * value / peak if peak else 0.0
        bars.append(
            Bar(start.isoformat(), value, index * slot + 1, HEIGHT - height, slot - 2, height)
        )
    return WeeklyChart(tuple(bars), sum(counts.values()), peak)


@dataclass(frozen=True)
class Contributor:
    person_id: int | None
    name: str
    posts: int
    share: float  # of the top contributor's count, 0..1, for the bar's length


def shares(items: Iterable[tuple[str, int]]) -> list[Contributor]:
    """Labelled counts as bars of the contributors' chart (departments, delivery modes)."""
    ranked = sorted(((label, count) for label, count in items if count), key=lambda i: -i[1])
    peak = ranked[0][1] if ranked else 0
    return [Contributor(None, label, count, count / peak) for label, count in ranked]


def top_contributors(
    messages: Iterable[MessageEntry],
    names: dict[int, str],
    now: dt.datetime,
    days: int = CONTRIBUTOR_DAYS,
    limit: int = TOP_CONTRIBUTORS,
) -> list[Contributor]:
    since = now - dt.timedelta(days=days)
    counts: Counter[tuple[int | None, str]] = Counter()
    for message in messages:
        if message.received_at >= since:
            key = message.sender_id, "" if message.sender_id else message.sender_address
            counts[key] += 1
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0][1], item[0][0] or 0))
    top = ranked[:limit]
    peak = top[0][1] if top else 0
    return [
        Contributor(person_id, names.get(person_id or 0) or address, posts, posts / peak)
        for (person_id, address), posts in top
    ]
