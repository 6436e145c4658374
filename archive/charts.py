"""The figures behind the inline SVG charts: posts over time, and the most active people.

Only numbers, bar geometry and the dates of the time axis are computed here;
templates/archive/charts.html draws them as SVG, so the charts need no script and no
remote library. The posts chart spans the whole history shown (imported archives keep
their original dates as received_at): by week while it is young, then by month, then
by year, so that ten years of imported mail still fit in one chart.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass

from archive.snapshot import MessageEntry

WEEKS = 26
MONTHS = 120  # a longer history is drawn by year
CONTRIBUTOR_DAYS = 90
TOP_CONTRIBUTORS = 10
# Drawing area of the posts chart, in SVG user units; the axis's dates go below it.
WIDTH, HEIGHT = 520, 120
AXIS_HEIGHT = 18
TICK_SPACING = 80  # the least room between two dates of the axis
# The first and last dates are drawn beside their edge, not centred: a date between
# keeps this much room from them ("30 Nov 2026" and half of "Nov 2026").
EDGE_SPACING = 110


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    x: float
    y: float
    width: float
    height: float
    start: dt.date | None = None  # the first day of its week, month or year


@dataclass(frozen=True)
class Tick:
    """A date written under the axis: "day", "month" or "year" says how precisely."""

    x: float
    day: dt.date
    precision: str
    anchor: str = "middle"  # SVG text-anchor: the first date starts, the last ends


@dataclass(frozen=True)
class WeeklyChart:
    bars: tuple[Bar, ...]
    total: int
    peak: int
    width: int = WIDTH
    height: int = HEIGHT
    unit: str = "week"  # each bar's period: "week", "month" or "year"
    ticks: tuple[Tick, ...] = ()
    axis_height: int = AXIS_HEIGHT


def week_start(moment: dt.date) -> dt.date:
    """The Monday of its week (a datetime's in its own zone: the archive's are UTC)."""
    day = moment.date() if isinstance(moment, dt.datetime) else moment
    return day - dt.timedelta(days=day.weekday())


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def posts_over_time(messages: Iterable[MessageEntry], now: dt.datetime) -> WeeklyChart:
    """Every post shown, imported history included: the last WEEKS weeks by week if
    nothing is older, else by month from the first post's month (by year beyond MONTHS)."""
    days = Counter(m.received_at.date() for m in messages)
    first = min(days, default=now.date())
    if first >= week_start(now) - dt.timedelta(weeks=WEEKS - 1):
        return weekly_bars(_summed(days, week_start), now, WEEKS)
    months = _months_between(month_start(first), month_start(now.date()))
    if len(months) <= MONTHS:
        return _bars(_summed(days, month_start), months, "month")
    years = [dt.date(year, 1, 1) for year in range(first.year, now.year + 1)]
    return _bars(_summed(days, lambda d: d.replace(month=1, day=1)), years, "year")


def weekly_bars(counts: Mapping[dt.date, int], now: dt.datetime, weeks: int = WEEKS) -> WeeklyChart:
    """Bars of counts per week (keyed by their Monday) for the last `weeks` weeks."""
    last = week_start(now)
    first = last - dt.timedelta(weeks=weeks - 1)
    return _bars(counts, [first + dt.timedelta(weeks=n) for n in range(weeks)], "week")


def _summed(days: Mapping[dt.date, int], period: Callable[[dt.date], dt.date]) -> Counter[dt.date]:
    """Counts per day added up per period (keyed by the period's first day)."""
    totals: Counter[dt.date] = Counter()
    for day, count in days.items():
        totals[period(day)] += count
    return totals


def _months_between(first: dt.date, last: dt.date) -> list[dt.date]:
    count = (last.year - first.year) * 12 + last.month - first.month + 1
    return [
        dt.date(first.year + (first.month - 1 + n) // 12, (first.month - 1 + n) % 12 + 1, 1)
        for n in range(count)
    ]


def _bars(counts: Mapping[dt.date, int], starts: list[dt.date], unit: str) -> WeeklyChart:
    """One bar per period (keyed by its first day), and the dates of the axis."""
    shown = set(starts)
    counts = {start: value for start, value in counts.items() if start in shown}
    peak = max(counts.values(), default=0)
    slot = WIDTH / len(starts)
    bars = []
    for index, start in enumerate(starts):
        value = counts.get(start, 0)
        height = (HEIGHT - 4) * value / peak if peak else 0.0
        bars.append(
            Bar(
                start.isoformat(), value, index * slot + 1, HEIGHT - height, slot - 2, height, start
            )
        )
    return WeeklyChart(tuple(bars), sum(counts.values()), peak, unit=unit, ticks=_ticks(bars, unit))


def _ticks(bars: list[Bar], unit: str) -> tuple[Tick, ...]:
    """The first and last periods, and between them the starts of months (weekly bars)
    or of years (monthly bars) where there is room for them."""
    precision = {"week": "day", "month": "month", "year": "year"}[unit]
    first = Tick(bars[0].x, bars[0].start or dt.date.min, precision, "start")
    last_bar = bars[-1]
    last = Tick(last_bar.x + last_bar.width, last_bar.start or dt.date.min, precision, "end")
    ticks = [first]
    for previous, bar in zip(bars, bars[1:], strict=False):
        assert previous.start is not None and bar.start is not None
        if unit == "week" and bar.start.month != previous.start.month:
            tick = Tick(bar.x + bar.width / 2, bar.start.replace(day=1), "month")
        elif unit == "month" and bar.start.year != previous.start.year:
            tick = Tick(bar.x + bar.width / 2, bar.start, "year")
        else:
            continue
        room = EDGE_SPACING if ticks[-1] is first else TICK_SPACING
        if tick.x - ticks[-1].x >= room and last.x - tick.x >= EDGE_SPACING:
            ticks.append(tick)
    return (*ticks, last) if len(bars) > 1 else (first,)


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
