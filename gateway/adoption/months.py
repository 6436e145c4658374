"""When the monthly mails are due: on [adoption] monthly_day at the daily digest's time,
in the digests' time zone; a month is named "2026-12" and covers the month before."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from gateway.settings import Settings


@dataclass(frozen=True)
class Month:
    period: str  # the month the mail is sent in: "2026-12"
    due: dt.datetime  # UTC
    start: dt.datetime  # the previous month's due time: the mail looks back to here
    # start's day in the configured zone: what the mails name ("November 2026", "since
    # 1 November"), the same for every reader (a moment would be October in Los Angeles).
    since: dt.date


def latest_month(at: dt.datetime, settings: Settings) -> Month:
    """The latest monthly mail due at or before `at`."""
    tz = zoneinfo.ZoneInfo(settings.digests.timezone)
    local = at.astimezone(tz)
    year, month = local.year, local.month
    due = _due(year, month, settings, tz)
    if due > at:
        year, month = _before(year, month)
        due = _due(year, month, settings, tz)
    start = _due(*_before(year, month), settings, tz)
    return Month(f"{year}-{month:02d}", due, start, start.astimezone(tz).date())


def _before(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


def _due(year: int, month: int, settings: Settings, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    hour, minute = (int(part) for part in settings.digests.daily.split(":"))
    local = dt.datetime(year, month, settings.adoption.monthly_day, hour, minute, tzinfo=tz)
    return local.astimezone(dt.UTC)
