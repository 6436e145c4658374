"""Dates, times, durations and plurals as people write them, in the reader's language and
time zone: the Jinja filters every mail template uses (Babel's CLDR data does the words).

A template's language is the one in its name (digest.fr.txt), so a filter never needs
to be told it; the reader's zone is the `zone` the template was given (Composer.render
gives the configured one, `[digests] timezone`, unless the caller passes the reader's
own). Values are aware datetimes and timedeltas, never preformatted strings, so that
each mail says them in its reader's words.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from typing import Any

import jinja2
from babel import Locale
from babel.dates import format_date
from babel.dates import format_time
from babel.dates import format_timedelta
from babel.dates import get_timezone_location
from babel.numbers import format_decimal

from gateway.store.models import as_utc  # the store keeps UTC; SQLite gives it back naive

# The count in a plural form: "# new messages".
COUNT = "#"
LANGUAGES = ("en", "fr")


def language_of(template_name: str | None) -> str:
    """The language of a template from its name: mail/digest.fr.txt is French."""
    parts = (template_name or "").split(".")
    if len(parts) >= 3 and parts[-2] in LANGUAGES:
        return parts[-2]
    raise ValueError(f"template {template_name!r} names no language (kind.LANG.txt)")


@functools.lru_cache(maxsize=4096)
def plural(count: int, one: str, other: str, language: str) -> str:
    """The form the language's plural rule picks for `count` (CLDR: in English only 1 is
    singular, in French 0 and 1 are), with # replaced by the count as the language
    writes numbers ("1 000" in French). Kept: a digest run says the same few counts
    thousands of times, and Babel parses its locale on every call."""
    category = Locale.parse(language).plural_form(abs(count))
    form = one if category == "one" else other
    return form.replace(COUNT, format_decimal(count, locale=language))


def day(value: dt.datetime | dt.date, language: str, zone: str, year: bool = True) -> str:
    """A day as people write it: "1 December 2026" / "1er décembre 2026"; without the
    year, with the weekday: "Tuesday 1 December" / "mardi 1er décembre" (French writes
    the first of a month as an ordinal, and only the first)."""
    local = _local(value, zone)
    number = "d'er'" if language == "fr" and local.day == 1 else "d"
    pattern = f"{number} MMMM y" if year else f"EEEE {number} MMMM"
    return format_date(local, pattern, locale=language)


def month_name(value: dt.datetime | dt.date, language: str, zone: str) -> str:
    """A month and its year: "November 2026" / "novembre 2026"."""
    return format_date(_local(value, zone), "LLLL y", locale=language)


def time(value: dt.datetime, language: str, zone: str) -> str:
    """A time of day in the zone, the zone's city after it: "06:00 (Berlin)". The city is
    always said: the reader may not be where the configured zone is, and "UTC" alone
    reads like a machine."""
    local = as_utc(value).astimezone(_zone(zone))
    return f"{format_time(local, 'HH:mm', locale=language)} ({_city(zone, language)})"


def duration(value: dt.timedelta | float, language: str, unit: str = "seconds") -> str:
    """A duration rounded to the one unit that says it best: "2 hours" / "2 heures",
    "3 days" / "3 jours". A number is taken in `unit` (hours for the monthly figures).
    The template says "about" / "environ" in front when it is an estimate."""
    if not isinstance(value, dt.timedelta):
        value = dt.timedelta(**{unit: float(value)})
    return format_timedelta(value, granularity="minute", threshold=1.5, locale=language)


def ago(value: dt.datetime, reference: dt.datetime, language: str) -> str:
    """How long before `reference` (the mail's own moment) `value` was: "3 days ago" /
    "il y a 3 jours"."""
    delta = as_utc(value) - as_utc(reference)
    return format_timedelta(
        delta, granularity="minute", threshold=1.5, add_direction=True, locale=language
    )


def _local(value: dt.datetime | dt.date, zone: str) -> dt.datetime | dt.date:
    if isinstance(value, dt.datetime):
        return as_utc(value).astimezone(_zone(zone))
    return value


@functools.cache
def _zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


@functools.cache
def _city(zone: str, language: str) -> str:
    return get_timezone_location(_zone(zone), locale=language, return_city=True)


def _context_language(context: jinja2.runtime.Context) -> str:
    return language_of(context.name)


@jinja2.pass_context
def _plural_filter(context: jinja2.runtime.Context, count: int, one: str, other: str) -> str:
    return plural(count, one, other, _context_language(context))


@jinja2.pass_context
def _day_filter(context: jinja2.runtime.Context, value: Any, year: bool = True) -> str:
    return day(value, _context_language(context), context["zone"], year=year)


@jinja2.pass_context
def _month_filter(context: jinja2.runtime.Context, value: Any) -> str:
    return month_name(value, _context_language(context), context["zone"])


@jinja2.pass_context
def _time_filter(context: jinja2.runtime.Context, value: dt.datetime) -> str:
    return time(value, _context_language(context), context["zone"])


@jinja2.pass_context
def _ago_filter(context: jinja2.runtime.Context, value: dt.datetime, reference: dt.datetime) -> str:
    return ago(value, reference, _context_language(context))


@jinja2.pass_context
def _duration_filter(
    context: jinja2.runtime.Context, value: dt.timedelta | float, unit: str = "seconds"
) -> str:
    return duration(value, _context_language(context), unit)


FILTERS = {
    "plural": _plural_filter,
    "day": _day_filter,
    "month_name": _month_filter,
    "time": _time_filter,
    "duration": _duration_filter,
    "ago": _ago_filter,
}


def register(environment: jinja2.Environment) -> None:
    """Add the wording filters to a template environment (gateway.app builds it)."""
    environment.filters.update(FILTERS)
