"""When digests are due: per person, at the configured local time in their own time zone.

A period is named by the local date its digest is due ("2026-11-26") or, for
weekly digests, by that date's ISO week ("2026-W48"); (person, cadence, period)
is unique in digest_runs, which is what makes a digest go out once. Local times
are resolved with zoneinfo, so a daily digest stays at 07:00 across a change of
daylight saving time (that day's window is 23 or 25 hours long).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from dataclasses import field

from gateway.settings import WEEKDAYS
from gateway.settings import DigestSettings
from gateway.store.models import Cadence

# A catch-up after downtime covers at most this much; older posts are in the archive.
LONGEST_WINDOW = {Cadence.DAILY: dt.timedelta(days=7), Cadence.WEEKLY: dt.timedelta(days=35)}
NOMINAL = {Cadence.DAILY: dt.timedelta(days=1), Cadence.WEEKLY: dt.timedelta(days=7)}


@dataclass(frozen=True)
class Due:
    """The latest digest of a cadence due at or before a moment, in one time zone."""

    cadence: Cadence
    period: str
    at: dt.datetime  # UTC
    # The due time of the period before, in the same zone (23 or 25 hours back
    # across a DST change); None: one nominal period back.
    previous: dt.datetime | None = field(default=None, compare=False)

    def window_start(self, last_end: dt.datetime | None) -> dt.datetime:
        """Where this digest's window begins: where the last one ended, else at the
        previous due time; never further back than LONGEST_WINDOW."""
        if last_end is not None:
            start = last_end
        else:
            start = self.previous or self.at - NOMINAL[self.cadence]
        return max(start, self.at - LONGEST_WINDOW[self.cadence])


def latest_due(cadence: Cadence, now: dt.datetime, zone: str, settings: DigestSettings) -> Due:
    """The most recent scheduled time of `cadence` at or before `now`, in `zone`."""
    tz = zoneinfo.ZoneInfo(zone or settings.timezone)
    local_now = now.astimezone(tz)
    if cadence is Cadence.DAILY:
        hour, minute = _clock(settings.daily)
        day = local_now.date()
        if _at(day, hour, minute, tz) > now:
            day -= dt.timedelta(days=1)
        before = day - dt.timedelta(days=1)
        return Due(
            cadence, day.isoformat(), _at(day, hour, minute, tz), _at(before, hour, minute, tz)
        )
    weekday_name, clock = settings.weekly.split()
    hour, minute = _clock(clock)
    back = (local_now.weekday() - WEEKDAYS.index(weekday_name)) % 7
    day = local_now.date() - dt.timedelta(days=back)
    if _at(day, hour, minute, tz) > now:
        day -= dt.timedelta(days=7)
    year, week, _ = day.isocalendar()
    before = day - dt.timedelta(days=7)
    return Due(
        cadence, f"{year}-W{week:02d}", _at(day, hour, minute, tz), _at(before, hour, minute, tz)
    )


def _clock(text: str) -> tuple[int, int]:
    hour, minute = text.split(":")
    return int(hour), int(minute)


def _at(day: dt.date, hour: int, minute: int, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """A local wall-clock time as UTC. A time skipped by a DST change (02:30 on the
    spring-forward night) resolves forward, as zoneinfo's fold=0 does."""
    local = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)
    return local.astimezone(dt.UTC)
