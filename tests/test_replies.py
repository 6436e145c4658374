"""Replies from anywhere, on small inputs: which digest thread a reply answers, the
gateway's own Message-IDs, the Reply links (RFC 6068), and what confirms a request."""

from __future__ import annotations

import urllib.parse

import pytest

from gateway.actions.confirm_questions import after_yes
from gateway.actions.confirm_questions import approves
from gateway.actions.confirm_questions import says_yes
from gateway.actions.reply_thread import Candidate
from gateway.actions.reply_thread import Choice
from gateway.actions.reply_thread import choose
from gateway.links import thread_ids_in
from gateway.links import thread_url
from gateway.mail.own_ids import DigestId
from gateway.mail.own_ids import digest_id
from gateway.mail.own_ids import digest_message_id
from gateway.mail.own_ids import is_own
from gateway.mail.recipients import Kind
from gateway.mail.recipients import parse_recipient
from gateway.outbound.reply_links import reply_mailto
from gateway.outbound.reply_links import reply_subject
from gateway.store.models import ActionKind

DOMAIN = "lists.example.com"
COLOURS = Candidate(
    1, ("m2@example.com", "m2%40example.com", "mute+1@lists.example.com", "colours")
)
FONTS = Candidate(2, ("m3@example.com", "m3%40example.com", "mute+2@lists.example.com", "fonts"))
BRAND = Candidate(3, ("m4@example.com", "colours of the brand"))
DIGEST = """Hello Bob,

* Colours - 2 new messages
  - Alice: Which blue?
  - Carol: The darker one.
  Reply: mailto:design@lists.example.com?subject=Re%3A%20Colours&In-Reply-To=%3Cm2%40example.com%3E
  (mute this thread: mailto:mute+1@lists.example.com?subject=mute)
* Fonts - 1 new message
  - Alice: Inter or Source Sans?
  Reply: mailto:design@lists.example.com?subject=Re%3A%20Fonts&In-Reply-To=%3Cm3%40example.com%3E
  (mute this thread: mailto:mute+2@lists.example.com?subject=mute)
"""


def quoted(text: str) -> str:
    return "".join(f"> {line}\n" for line in text.splitlines())


def between(after: str, own: str) -> str:
    """The digest quoted, with `own` written just after the line holding `after`."""
    head, _, tail = DIGEST.partition(after)
    line_end = tail.index("\n") + 1
    return (
        "On Thu, 3 Dec 2026, digest@lists.example.com wrote:\n"
        + quoted(head + after + tail[:line_end])
        + f"\n{own}\n\n"
        + quoted(tail[line_end:])
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # Interleaved: the block the own text follows.
        (between("mute+2@", "Inter."), Choice(2, "interleaved", "Inter.")),
        (between("The darker one.", "Yes, darker."), Choice(1, "interleaved", "Yes, darker.")),
        (between("Which blue?", "Navy."), Choice(1, "interleaved", "Navy.")),
        # Answers after two blocks: no telling which one.
        (
            between("mute+1@", "Navy.") + "\nAnd Inter.\n",
            Choice(None, "ambiguous", "Navy.\n\nAnd Inter."),
        ),
        # Top-posted above the whole digest: every thread is quoted.
        ("Agreed.\n\n" + quoted(DIGEST), Choice(None, "ambiguous", "Agreed.")),
        # Top-posted above one block only (a client that quotes what was selected).
        (
            "Navy, I think.\n\n"
            + quoted(DIGEST[DIGEST.index("* Colours") : DIGEST.index("* Fonts")]),
            Choice(1, "quoted", "Navy, I think."),
        ),
        # Outlook's header block instead of '>' quoting: the history starts there.
        (
            "Inter.\n\nFrom: digest@lists.example.com\nSent: Thursday, December 3, 2026 7:00 AM\n"
            "To: Bob Durand <bob@example.com>\nSubject: Your daily digest\n\n"
            + DIGEST[DIGEST.index("* Fonts") :],
            Choice(2, "quoted", "Inter."),
        ),
        # Thunderbird's signature above the quote: the quote still names the thread.
        (
            "Inter.\n-- \nBob Durand\n\nOn Thu, digest wrote:\n"
            + quoted(DIGEST[DIGEST.index("* Fonts") :]),
            Choice(2, "quoted", "Inter."),
        ),
        # Only quotes, no own words.
        (quoted(DIGEST), Choice(None, "empty", "")),
        ("\n\n-- \nBob\n", Choice(None, "empty", "")),
        # A signature under the own text is not posted.
        (
            between("mute+2@", "Inter.\n-- \nBob Durand, Design team"),
            Choice(2, "interleaved", "Inter."),
        ),
    ],
)
def test_which_thread_a_reply_to_a_digest_answers(body: str, expected: Choice) -> None:
    assert choose(body, [COLOURS, FONTS]) == expected


def test_a_digest_of_one_thread_is_never_ambiguous() -> None:
    assert choose("Agreed.\n\n" + quoted(DIGEST), [COLOURS]) == Choice(1, "single", "Agreed.")
    assert choose("Agreed.\n", [COLOURS]) == Choice(1, "single", "Agreed.")
    assert choose("Agreed.\n", []) == Choice(None, "ambiguous", "Agreed.")


def test_the_longest_marker_on_a_line_names_the_thread() -> None:
    body = "> * Colours of the brand - 1 new message\n\nBlue.\n"
    assert choose(body, [COLOURS, BRAND]).thread == 3
    body = "> * Colours - 1 new message\n\nBlue.\n"
    assert choose(body, [COLOURS, BRAND]).thread == 1


def test_own_text_before_any_thread_is_not_guessed() -> None:
    body = "> Hello Bob,\n\nHello!\n\n" + quoted(DIGEST)
    assert choose(body, [COLOURS, FONTS]) == Choice(None, "ambiguous", "Hello!")


@pytest.mark.parametrize(
    ("message_id", "own", "digest"),
    [
        ("digest.daily.2026-12-03.17@lists.example.com", True, DigestId("daily", "2026-12-03", 17)),
        ("digest.weekly.2026-W49.3@lists.example.com", True, DigestId("weekly", "2026-W49", 3)),
        ("176.2.9.action-welcome@lists.example.com", True, None),
        ("176.2.9.action-welcome@LISTS.example.com.", True, None),
        ("digest.daily.2026-12-03.17@example.com", False, None),
        ("digest.daily.2026-12-03.x@lists.example.com", True, None),
        ("m1@example.com", False, None),
        ("lists.example.com", False, None),
    ],
)
def test_the_gateways_own_message_ids(message_id: str, own: bool, digest: DigestId | None) -> None:
    assert is_own(message_id, DOMAIN) is own
    assert digest_id(message_id, DOMAIN) == digest


def test_a_digests_message_id_is_read_back() -> None:
    made = digest_message_id("weekly", "2026-W49", 7, DOMAIN)
    assert digest_id(made, DOMAIN) == DigestId("weekly", "2026-W49", 7)


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Colours", "Re: Colours"),
        ("Re: Colours", "Re: Colours"),
        ("RE : Re: [design] Colours", "Re: Colours"),
        ("TR: Colours", "Re: Colours"),
        ("", "Re:"),
    ],
)
def test_a_reply_subject_is_never_doubled(subject: str, expected: str) -> None:
    assert reply_subject(subject) == expected


def test_reply_links_parse_back_as_rfc_6068_says() -> None:
    link = reply_mailto("design@lists.example.com", "Prix & coûts: 1+1?", "a+b/c@example.com")
    assert link.startswith("mailto:design@lists.example.com?subject=Re%3A%20Prix%20%26%20")
    assert " " not in link and "<" not in link and "+" not in link.split("?")[1]
    parts = urllib.parse.urlsplit(link)
    assert (parts.scheme, parts.path) == ("mailto", "design@lists.example.com")
    assert urllib.parse.parse_qs(parts.query) == {
        "subject": ["Re: Prix & coûts: 1+1?"],
        "In-Reply-To": ["<a+b/c@example.com>"],
    }
    assert reply_mailto("a@example.com", "x") == "mailto:a@example.com?subject=Re%3A%20x"


def test_digest_at_is_read_as_help_at() -> None:
    assert parse_recipient(f"digest@{DOMAIN}", DOMAIN) == parse_recipient(
        f"Digest@{DOMAIN}", DOMAIN
    )
    recipient = parse_recipient(f"digest@{DOMAIN}", DOMAIN)
    assert (recipient.kind, recipient.action) == (Kind.ACTION, ActionKind.HELP)
    assert parse_recipient(f"digest+x@{DOMAIN}", DOMAIN).kind is Kind.UNKNOWN


@pytest.mark.parametrize(
    ("text", "yes"),
    [
        ("yes", True),
        ("Yes, please", True),
        ("OK.", True),
        ("Oui !", True),
        ("oui\u00a0!", True),
        ("D'accord", True),
        ("d’accord, merci", True),
        ("Je confirme", True),
        ("Ja", True),
        ("👍", True),
        ("Is this list in English?", False),
        ("Yesterday I asked", False),
        ("Je ne comprends pas", False),
        ("okay-ish", True),
        ("Why?", False),
    ],
)
def test_what_says_yes_to_a_confirmation(text: str, yes: bool) -> None:
    assert says_yes(text) is yes


def test_what_follows_the_yes_is_kept() -> None:
    assert after_yes("Yes, thanks") == ""
    assert after_yes("Oui merci") == after_yes("Yes please.") == ""
    assert after_yes("Yes\nAnd can I get the weekly digest?") == "And can I get the weekly digest?"
    same_line = "Yes, but can I also get the weekly digest instead?"
    assert after_yes(same_line) == "but can I also get the weekly digest instead?"
    assert after_yes("Yes, thanks?") == "thanks?"  # a question is never mere courtesy


@pytest.mark.parametrize(
    ("text", "approves_it"),
    [
        ("", True),
        ("yes", True),
        ("Approve", True),
        ("approved, thanks!", True),
        ("Publier", True),
        ("OK merci", True),
        ("👍", True),
        ("No, spam", False),
        ("no", False),
        ("Yes, but fix the subject first", False),
        ("OK?", False),
        ("Approve? Is this on topic?", False),
        ("Who is this?", False),
    ],
)
def test_what_approves_a_held_post(text: str, approves_it: bool) -> None:
    assert approves(text) is approves_it


def test_a_notice_is_answered_only_below_a_thread_it_lists() -> None:
    welcome = "Welcome to Design.\n  - Colours\n    http://x/t/1/\n  - Fonts\n    http://x/t/2/\n"
    colours, fonts = Candidate(1, ("http://x/t/1/",)), Candidate(2, ("http://x/t/2/",))
    below = quoted(welcome[: welcome.index("  - Fonts")]) + "\nNavy.\n\n" + quoted("  - Fonts")
    assert choose(below, [colours, fonts], interleaved_only=True) == Choice(
        1, "interleaved", "Navy."
    )
    # Above the quote, even of one thread: a thanks for the notice, not an answer.
    above = "Thanks!\n\n" + quoted(welcome)
    assert choose(above, [colours], interleaved_only=True) == Choice(None, "ambiguous", "Thanks!")
    assert choose(quoted(welcome), [colours], interleaved_only=True).how == "empty"


def test_the_thread_links_a_notice_holds() -> None:
    base = "https://x.example/archive/"
    text = f"See {thread_url(base, 12)} and\n<{thread_url(base, 3)}>, not https://y/t/4/."
    assert thread_ids_in(base, text) == [12, 3]
