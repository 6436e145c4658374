"""When digests are due (gateway.digests.periods) and what a post's excerpt keeps
(gateway.digests.excerpts): pure functions, no database."""

from __future__ import annotations

import datetime as dt

import pytest

from gateway.digests.excerpts import LIMIT
from gateway.digests.excerpts import excerpt
from gateway.digests.periods import Due
from gateway.digests.periods import latest_due
from gateway.settings import DigestSettings
from gateway.store.models import Cadence

SETTINGS = DigestSettings()  # daily "07:00", weekly "mon 07:00", Europe/Paris
DAILY = Cadence.DAILY
WEEKLY = Cadence.WEEKLY
SECOND = dt.timedelta(seconds=1)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


# --- latest_due, daily


@pytest.mark.parametrize(
    ("zone", "due_at", "period"),
    [
        # Thursday 26 November 2026, 07:00 local time, as UTC.
        ("Europe/Paris", utc(2026, 11, 26, 6, 0), "2026-11-26"),
        ("", utc(2026, 11, 26, 6, 0), "2026-11-26"),  # no zone of one's own: the settings'
        ("UTC", utc(2026, 11, 26, 7, 0), "2026-11-26"),
        ("America/New_York", utc(2026, 11, 26, 12, 0), "2026-11-26"),
        ("Asia/Kolkata", utc(2026, 11, 26, 1, 30), "2026-11-26"),
        # Tokyo's 07:00 on the 26th is still the 25th in UTC: the period is the local date.
        ("Asia/Tokyo", utc(2026, 11, 25, 22, 0), "2026-11-26"),
        ("Pacific/Auckland", utc(2026, 11, 25, 18, 0), "2026-11-26"),
    ],
)
def test_a_daily_digest_is_due_at_seven_local_time(
    zone: str, due_at: dt.datetime, period: str
) -> None:
    due = latest_due(DAILY, due_at, zone, SETTINGS)
    assert due == Due(DAILY, period, due_at)
    assert due.at.tzinfo == dt.UTC
    # A second before, it is the day before's digest that was due last.
    before = latest_due(DAILY, due_at - SECOND, zone, SETTINGS)
    previous = (dt.date.fromisoformat(period) - DAY).isoformat()
    assert before == Due(DAILY, previous, due_at - DAY)
    # All day long until the next one, the same digest is the latest due.
    assert latest_due(DAILY, due_at + DAY - SECOND, zone, SETTINGS) == due
    assert (
        latest_due(DAILY, due_at + DAY, zone, SETTINGS).period
        == (dt.date.fromisoformat(period) + DAY).isoformat()
    )


def test_the_same_moment_is_a_different_period_in_different_zones() -> None:
    moment = utc(2026, 11, 26, 6, 0)  # 07:00 in Paris, 01:00 in New York, 15:00 in Tokyo
    assert latest_due(DAILY, moment, "Europe/Paris", SETTINGS).period == "2026-11-26"
    assert latest_due(DAILY, moment, "America/New_York", SETTINGS) == Due(
        DAILY, "2026-11-25", utc(2026, 11, 25, 12, 0)
    )
    assert latest_due(DAILY, moment, "Asia/Tokyo", SETTINGS) == Due(
        DAILY, "2026-11-26", utc(2026, 11, 25, 22, 0)
    )


def test_a_moment_given_with_another_offset_is_the_same_moment() -> None:
    paris_seven = dt.datetime(2026, 11, 26, 7, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert latest_due(DAILY, paris_seven, "Europe/Paris", SETTINGS) == Due(
        DAILY, "2026-11-26", utc(2026, 11, 26, 6, 0)
    )


def test_the_configured_time_and_zone_are_used() -> None:
    settings = DigestSettings(daily="18:30", weekly="fri 17:00", timezone="America/New_York")
    # 18:30 in New York on 26 November (EST, UTC-5) is 23:30 UTC.
    assert latest_due(DAILY, utc(2026, 11, 26, 23, 30), "", settings) == Due(
        DAILY, "2026-11-26", utc(2026, 11, 26, 23, 30)
    )
    assert latest_due(DAILY, utc(2026, 11, 26, 23, 29), "", settings).period == "2026-11-25"
    # A profile's zone wins over the configured one.
    assert latest_due(DAILY, utc(2026, 11, 26, 17, 30), "Europe/Paris", settings) == Due(
        DAILY, "2026-11-26", utc(2026, 11, 26, 17, 30)
    )
    # Friday 27 November 2026, 17:00 in New York.
    assert latest_due(WEEKLY, utc(2026, 11, 27, 22, 0), "", settings) == Due(
        WEEKLY, "2026-W48", utc(2026, 11, 27, 22, 0)
    )
    assert latest_due(WEEKLY, utc(2026, 11, 27, 21, 59), "", settings) == Due(
        WEEKLY, "2026-W47", utc(2026, 11, 20, 22, 0)
    )


# --- latest_due, weekly


@pytest.mark.parametrize(
    ("zone", "due_at"),
    [
        # Monday 23 November 2026 (ISO week 48), 07:00 local time, as UTC.
        ("Europe/Paris", utc(2026, 11, 23, 6, 0)),
        ("America/New_York", utc(2026, 11, 23, 12, 0)),
        ("Asia/Tokyo", utc(2026, 11, 22, 22, 0)),  # still Sunday in UTC
    ],
)
def test_a_weekly_digest_is_due_on_monday_at_seven_local_time(
    zone: str, due_at: dt.datetime
) -> None:
    due = latest_due(WEEKLY, due_at, zone, SETTINGS)
    assert due == Due(WEEKLY, "2026-W48", due_at)
    assert latest_due(WEEKLY, due_at - SECOND, zone, SETTINGS) == Due(
        WEEKLY, "2026-W47", due_at - dt.timedelta(days=7)
    )
    # Every day of that week, up to the next Monday's time, has the same latest digest.
    for days in range(7):
        assert latest_due(WEEKLY, due_at + dt.timedelta(days=days), zone, SETTINGS) == due
    assert latest_due(WEEKLY, due_at + dt.timedelta(days=7) - SECOND, zone, SETTINGS) == due
    assert latest_due(WEEKLY, due_at + dt.timedelta(days=7), zone, SETTINGS).period == "2026-W49"


def test_on_the_weekly_day_before_the_time_the_week_before_is_due() -> None:
    monday_early = utc(2026, 11, 23, 5, 0)  # 06:00 in Paris
    assert latest_due(WEEKLY, monday_early, "Europe/Paris", SETTINGS) == Due(
        WEEKLY, "2026-W47", utc(2026, 11, 16, 6, 0)
    )
    thursday = utc(2026, 11, 26, 21, 0)
    assert latest_due(WEEKLY, thursday, "Europe/Paris", SETTINGS).period == "2026-W48"


@pytest.mark.parametrize(
    ("monday", "period"),
    [
        (dt.date(2026, 12, 28), "2026-W53"),  # 2026 has 53 ISO weeks
        (dt.date(2027, 1, 4), "2027-W01"),
        (dt.date(2025, 12, 29), "2026-W01"),  # a December Monday in the next ISO year
        (dt.date(2026, 1, 5), "2026-W02"),
    ],
)
def test_weekly_periods_are_iso_weeks(monday: dt.date, period: str) -> None:
    due_at = dt.datetime(monday.year, monday.month, monday.day, 6, 0, tzinfo=dt.UTC)
    assert latest_due(WEEKLY, due_at + HOUR, "Europe/Paris", SETTINGS) == Due(
        WEEKLY, period, due_at
    )


# --- daylight saving time


def test_the_daily_digest_stays_at_seven_across_the_spring_change_in_paris() -> None:
    # 29 March 2026: 02:00 CET becomes 03:00 CEST; 07:00 is 05:00 UTC from that day on.
    day_before = latest_due(DAILY, utc(2026, 3, 28, 12, 0), "Europe/Paris", SETTINGS)
    assert day_before == Due(DAILY, "2026-03-28", utc(2026, 3, 28, 6, 0))
    change_day = latest_due(DAILY, utc(2026, 3, 29, 5, 0), "Europe/Paris", SETTINGS)
    assert change_day == Due(DAILY, "2026-03-29", utc(2026, 3, 29, 5, 0))
    # 04:59 UTC is 06:59 CEST: not yet, although it is past 06:00 UTC the day before + 23 h.
    assert latest_due(DAILY, utc(2026, 3, 29, 4, 59), "Europe/Paris", SETTINGS) == day_before
    # The window chained from the day before is 23 hours long.
    start = change_day.window_start(day_before.at)
    assert start == utc(2026, 3, 28, 6, 0)
    assert change_day.at - start == dt.timedelta(hours=23)
    next_day = latest_due(DAILY, utc(2026, 3, 30, 5, 0), "Europe/Paris", SETTINGS)
    assert next_day == Due(DAILY, "2026-03-30", utc(2026, 3, 30, 5, 0))
    assert next_day.at - next_day.window_start(change_day.at) == dt.timedelta(hours=24)


def test_the_daily_digest_stays_at_seven_across_the_autumn_change_in_paris() -> None:
    # 25 October 2026: 03:00 CEST becomes 02:00 CET; 07:00 is 06:00 UTC from that day on.
    day_before = latest_due(DAILY, utc(2026, 10, 24, 12, 0), "Europe/Paris", SETTINGS)
    assert day_before == Due(DAILY, "2026-10-24", utc(2026, 10, 24, 5, 0))
    change_day = latest_due(DAILY, utc(2026, 10, 25, 6, 0), "Europe/Paris", SETTINGS)
    assert change_day == Due(DAILY, "2026-10-25", utc(2026, 10, 25, 6, 0))
    # 05:00 UTC is 06:00 CET on that day: the day before's digest is still the latest.
    assert latest_due(DAILY, utc(2026, 10, 25, 5, 0), "Europe/Paris", SETTINGS) == day_before
    assert latest_due(DAILY, utc(2026, 10, 25, 5, 59), "Europe/Paris", SETTINGS) == day_before
    start = change_day.window_start(day_before.at)
    assert change_day.at - start == dt.timedelta(hours=25)


def test_the_weekly_digest_stays_at_seven_across_a_change() -> None:
    # Monday 30 March 2026 (W14) is the first Monday on summer time.
    before = latest_due(WEEKLY, utc(2026, 3, 23, 6, 0), "Europe/Paris", SETTINGS)
    assert before == Due(WEEKLY, "2026-W13", utc(2026, 3, 23, 6, 0))
    after = latest_due(WEEKLY, utc(2026, 3, 30, 5, 0), "Europe/Paris", SETTINGS)
    assert after == Due(WEEKLY, "2026-W14", utc(2026, 3, 30, 5, 0))
    assert after.at - after.window_start(before.at) == dt.timedelta(days=7, hours=-1)


def test_new_york_changes_on_its_own_dates() -> None:
    # 8 March 2026: New York is on summer time (UTC-4) three weeks before Paris.
    assert latest_due(DAILY, utc(2026, 3, 7, 12, 0), "America/New_York", SETTINGS).at == (
        utc(2026, 3, 7, 12, 0)
    )
    assert latest_due(DAILY, utc(2026, 3, 8, 11, 0), "America/New_York", SETTINGS) == Due(
        DAILY, "2026-03-08", utc(2026, 3, 8, 11, 0)
    )
    # 1 November 2026: back to UTC-5.
    assert latest_due(DAILY, utc(2026, 11, 1, 12, 0), "America/New_York", SETTINGS) == Due(
        DAILY, "2026-11-01", utc(2026, 11, 1, 12, 0)
    )
    assert latest_due(DAILY, utc(2026, 11, 1, 11, 59), "America/New_York", SETTINGS).at == (
        utc(2026, 10, 31, 11, 0)
    )


def test_a_time_skipped_or_repeated_by_a_change_resolves_to_one_moment() -> None:
    settings = DigestSettings(daily="02:30")
    # 02:30 does not exist in Paris on 29 March 2026: it resolves forward (03:30 CEST).
    assert latest_due(DAILY, utc(2026, 3, 29, 1, 30), "Europe/Paris", settings) == Due(
        DAILY, "2026-03-29", utc(2026, 3, 29, 1, 30)
    )
    assert latest_due(DAILY, utc(2026, 3, 29, 1, 29), "Europe/Paris", settings).period == (
        "2026-03-28"
    )
    # 02:30 happens twice on 25 October 2026: the first one (CEST) is the digest's.
    assert latest_due(DAILY, utc(2026, 10, 25, 0, 30), "Europe/Paris", settings) == Due(
        DAILY, "2026-10-25", utc(2026, 10, 25, 0, 30)
    )
    # The second 02:30 (CET, 01:30 UTC) is the same period, not a second one.
    assert latest_due(DAILY, utc(2026, 10, 25, 1, 30), "Europe/Paris", settings).period == (
        "2026-10-25"
    )


# --- Due.window_start


def test_the_first_digest_covers_one_period_back() -> None:
    daily = Due(DAILY, "2026-11-26", utc(2026, 11, 26, 6, 0))
    assert daily.window_start(None) == utc(2026, 11, 25, 6, 0)
    weekly = Due(WEEKLY, "2026-W48", utc(2026, 11, 23, 6, 0))
    assert weekly.window_start(None) == utc(2026, 11, 16, 6, 0)


def test_the_first_digest_on_a_change_day_starts_at_the_previous_local_time() -> None:
    change_day = latest_due(DAILY, utc(2026, 3, 29, 5, 0), "Europe/Paris", SETTINGS)
    assert change_day.window_start(None) == utc(2026, 3, 28, 6, 0)  # 07:00 CET


def test_a_window_starts_where_the_last_digest_ended() -> None:
    daily = Due(DAILY, "2026-11-26", utc(2026, 11, 26, 6, 0))
    # The day before's digest (a normal chain), or after downtime, days back.
    assert daily.window_start(utc(2026, 11, 25, 6, 0)) == utc(2026, 11, 25, 6, 0)
    assert daily.window_start(utc(2026, 11, 22, 6, 0)) == utc(2026, 11, 22, 6, 0)
    # A last digest that ended at an odd time (another time zone then): from there.
    assert daily.window_start(utc(2026, 11, 25, 12, 0)) == utc(2026, 11, 25, 12, 0)
    weekly = Due(WEEKLY, "2026-W48", utc(2026, 11, 23, 6, 0))
    assert weekly.window_start(utc(2026, 11, 2, 6, 0)) == utc(2026, 11, 2, 6, 0)


def test_a_catch_up_window_is_capped() -> None:
    daily = Due(DAILY, "2026-11-26", utc(2026, 11, 26, 6, 0))
    assert daily.window_start(utc(2026, 11, 19, 6, 0)) == utc(2026, 11, 19, 6, 0)  # 7 days
    assert daily.window_start(utc(2026, 11, 10, 6, 0)) == utc(2026, 11, 19, 6, 0)
    assert daily.window_start(utc(2025, 1, 1)) == utc(2026, 11, 19, 6, 0)
    weekly = Due(WEEKLY, "2026-W48", utc(2026, 11, 23, 6, 0))
    assert weekly.window_start(utc(2026, 10, 19, 6, 0)) == utc(2026, 10, 19, 6, 0)  # 35 days
    assert weekly.window_start(utc(2026, 10, 1, 6, 0)) == utc(2026, 10, 19, 6, 0)


# --- excerpts


def test_a_short_message_is_kept_whole_on_one_line() -> None:
    assert excerpt("Which blue do we use?\n") == "Which blue do we use?"
    assert excerpt("  Hello,\n\nthe   mock-ups\tare ready.\n\n") == "Hello, the mock-ups are ready."
    assert excerpt("") == ""


def test_quoted_lines_are_dropped() -> None:
    text = "I agree.\n> Shall we use the darker blue?\n>> Which blue?\nLet's do it.\n"
    assert excerpt(text) == "I agree. Let's do it."
    # All quotes: shown whole rather than empty (issue 18, item 3).
    assert excerpt("> only quoted\n>also quoted\n   > indented quote\n") == (
        "only quoted also quoted indented quote"
    )


@pytest.mark.parametrize(
    "attribution",
    [
        "On Tue, 24 Nov 2026 at 10:00, Alice <alice@example.com> wrote:",
        "On 24/11/2026 10:00, Alice Martin wrote :",
        "Alice writes:",
        "Le mar. 24 nov. 2026 à 10:00, Alice <alice@example.com> a écrit :",
        "Le 24/11/2026 à 10:00, Alice Martin a écrit:",
        "Alice schrieb:",
        "Am 24.11.2026 um 10:00 schrieb Alice <alice@example.com>:",
    ],
)
def test_attribution_lines_are_dropped(attribution: str) -> None:
    text = f"Sounds good to me.\n\n{attribution}\n> Shall we meet on Friday?\n"
    assert excerpt(text) == "Sounds good to me."


def test_a_wrapped_attribution_is_dropped_whole() -> None:
    text = (
        "Sounds good to me.\n\nOn Tue, Aug 3, 2010 at 7:17 AM, Bounine, Alexandre\n"
        "<Alexandre.Bounine@idt.com> wrote:\n> Shall we meet on Friday?\n"
    )
    assert excerpt(text) == "Sounds good to me."


def test_a_signature_ends_the_excerpt() -> None:
    text = "See the attached draft.\n-- \nAlice Martin\nDesign lead, +33 1 23 45 67 89\n"
    assert excerpt(text) == "See the attached draft."
    # Clients that strip the trailing space of the delimiter.
    assert excerpt("See you.\n--\nAlice\n") == "See you."


def test_an_outlook_original_message_ends_the_excerpt() -> None:
    text = (
        "Yes, Friday works.\n\n-----Original Message-----\nFrom: Bob\nSent: Tuesday\n"
        "Subject: Meeting\n\nCan we meet?\n"
    )
    assert excerpt(text) == "Yes, Friday works."
    assert excerpt("Oui.\n\n-----Message d'origine-----\nDe : Bob\n") == "Oui."


@pytest.mark.parametrize(
    "footer",
    [
        "_______________________________________________\nDesign mailing list\n"
        "design@lists.example.com\nhttps://lists.example.com/listinfo/design",
        "________________________________\nFrom: Bob\nSent: Tuesday",
        "------------------------------------------\nTo unsubscribe, write to design-leave",
    ],
)
def test_list_footers_end_the_excerpt(footer: str) -> None:
    assert excerpt(f"The new logo is in the shared folder.\n{footer}\n") == (
        "The new logo is in the shared folder."
    )


def test_a_long_message_is_cut_at_a_word_with_an_ellipsis() -> None:
    words = [f"word{n}" for n in range(200)]
    text = "\n".join(" ".join(words[i : i + 10]) for i in range(0, 200, 10))
    cut = excerpt(text)
    assert cut.endswith("…")
    assert len(cut) <= LIMIT + 1
    kept = cut.removesuffix("…").split(" ")
    assert kept == words[: len(kept)]  # whole words only, in order
    assert len(" ".join(words[: len(kept) + 1])) > LIMIT  # as many as fit


def test_the_cut_drops_trailing_punctuation_and_respects_a_given_limit() -> None:
    text = "First point, second point, third point, fourth point, and more to come."
    cut = excerpt(text, limit=30)
    assert cut == "First point, second point…"
    assert excerpt(text, limit=len(text)) == text
    assert excerpt("a" * 50, limit=20) == "a" * 20 + "…"  # one long word: cut inside it


def test_quotes_signatures_and_footers_together() -> None:
    text = (
        "Hi all,\n\nthe print run is booked for Monday.\n\n"
        "On Mon, 23 Nov 2026, Bob <bob@example.com> wrote:\n"
        "> When is the print run?\n> \n> Bob\n\n"
        "-- \nAlice\n_______________________________________________\nDesign\n"
    )
    assert excerpt(text) == "Hi all, the print run is booked for Monday."
