"""The wording filters (gateway.outbound.wording) and French typography
(gateway.outbound.typography), in both languages and a zone other than UTC."""

from __future__ import annotations

import datetime as dt

import jinja2
import pytest

from gateway.app import make_template_environment
from gateway.outbound.typography import NBSP
from gateway.outbound.typography import french
from gateway.outbound.typography import french_html
from gateway.outbound.wording import ago
from gateway.outbound.wording import day
from gateway.outbound.wording import duration
from gateway.outbound.wording import language_of
from gateway.outbound.wording import month_name
from gateway.outbound.wording import plural
from gateway.outbound.wording import time

# Tuesday 1 December 2026 at 23:30 UTC: already Wednesday the 2nd in Berlin.
LATE = dt.datetime(2026, 12, 1, 23, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("count", "english", "french_form"),
    [
        (0, "0 messages", "0 message"),  # French: 0 is singular
        (1, "1 message", "1 message"),
        (2, "2 messages", "2 messages"),
        (1500, "1,500 messages", f"1{chr(0x202F)}500 messages"),
    ],
)
def test_plural_forms_follow_each_language(count: int, english: str, french_form: str) -> None:
    assert plural(count, "# message", "# messages", "en") == english
    assert plural(count, "# message", "# messages", "fr") == french_form


def test_a_plural_form_without_the_count_is_only_the_word() -> None:
    assert plural(1, "has", "have", "en") == "has"
    assert plural(0, "a", "ont", "fr") == "a"
    assert plural(0, "has", "have", "en") == "have"


def test_dates_are_said_in_the_zone_and_the_language() -> None:
    assert day(LATE, "en", "UTC") == "1 December 2026"
    assert day(LATE, "en", "Europe/Berlin") == "2 December 2026"
    assert day(LATE, "fr", "Europe/Berlin") == "2 décembre 2026"
    assert day(LATE, "en", "Europe/Berlin", year=False) == "Wednesday 2 December"
    # French writes the first of a month as an ordinal, and only the first.
    assert day(LATE, "fr", "America/New_York", year=False) == "mardi 1er décembre"
    assert day(dt.date(2026, 3, 1), "fr", "Europe/Paris") == "1er mars 2026"
    assert day(dt.date(2026, 3, 11), "fr", "Europe/Paris") == "11 mars 2026"
    assert day(dt.date(2026, 3, 1), "en", "Europe/Paris") == "1 March 2026"
    assert month_name(LATE, "en", "Europe/Berlin") == "December 2026"
    assert month_name(dt.datetime(2026, 10, 31, 23, 30, tzinfo=dt.UTC), "fr", "Europe/Paris") == (
        "novembre 2026"
    )


def test_times_are_said_in_the_zone_with_its_city() -> None:
    assert time(LATE, "en", "Europe/Berlin") == "00:30 (Berlin)"
    assert time(LATE, "fr", "America/New_York") == "18:30 (New York)"
    assert time(LATE.replace(tzinfo=None), "en", "Europe/Paris") == "00:30 (Paris)"  # naive: UTC
    assert "UTC" not in time(LATE, "en", "Europe/Berlin")


def test_durations_are_words_rounded_to_one_unit() -> None:
    assert duration(1.6, "en", "hours") == "2 hours"
    assert duration(1.6, "fr", "hours") == f"2{NBSP}heures"  # CLDR's French form
    assert duration(0.1, "en", "hours") == "6 minutes"
    assert duration(30.4, "fr", "hours") == f"30{NBSP}heures"  # under a day and a half
    assert duration(dt.timedelta(days=1), "en") == "24 hours"
    assert duration(dt.timedelta(hours=50), "en") == "2 days"


def test_how_long_ago_in_both_languages() -> None:
    three_days = LATE - dt.timedelta(days=3, hours=2)
    assert ago(three_days, LATE, "en") == "3 days ago"
    assert ago(three_days, LATE, "fr") == "il y a 3 jours"
    assert ago(LATE - dt.timedelta(minutes=5), LATE, "en") == "5 minutes ago"


def test_the_filters_take_the_language_from_the_template_name() -> None:
    environment = make_template_environment()
    environment.loader = jinja2.DictLoader(
        {
            name: '{{ n|plural("# nouveau message", "# nouveaux messages") }}, {{ at|day }}, '
            '{{ at|time }}, {{ hours|duration("hours") }}'
            for name in ("mail/x.fr.txt", "mail/x.en.txt")
        }
    )
    values = {"n": 0, "at": LATE, "hours": 2, "zone": "Europe/Berlin"}
    assert environment.get_template("mail/x.fr.txt").render(values) == (
        f"0 nouveau message, 2 décembre 2026, 00:30 (Berlin), 2{NBSP}heures"
    )
    assert environment.get_template("mail/x.en.txt").render(values) == (
        "0 nouveaux messages, 2 December 2026, 00:30 (Berlin), 2 hours"
    )
    assert language_of("mail/digest_thread.fr.html") == "fr"
    with pytest.raises(ValueError, match="names no language"):
        language_of("mail/digest.txt")


def test_french_spaces_become_no_break_and_nothing_else_changes() -> None:
    text = "Objet : « Bonjour » ; vraiment ? Oui ! mailto:a@b.fr https://x.fr/ 06:00 x:y"
    assert french(text) == (
        f"Objet{NBSP}: «{NBSP}Bonjour{NBSP}»{NBSP}; vraiment{NBSP}? Oui{NBSP}! "
        "mailto:a@b.fr https://x.fr/ 06:00 x:y"
    )
    assert french("déjà :\tfait") == f"déjà{NBSP}:\tfait"


def test_french_html_changes_the_text_not_the_markup() -> None:
    html = (
        '<style>a { color: red !important; }</style><a href="mailto:a@b.fr" title="x ?">'
        "Écrire :</a> « oui » <!-- a : b -->"
    )
    assert french_html(html) == (
        '<style>a { color: red !important; }</style><a href="mailto:a@b.fr" title="x ?">'
        f"Écrire{NBSP}:</a> «{NBSP}oui{NBSP}» <!-- a : b -->"
    )
