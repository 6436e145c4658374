"""gateway.mail.reactions: the reaction a mail carries (RFC 9078, Gmail) and the replies
that only say thanks or "+1", on mail as the clients write it (tests/fixtures/reactions:
RFC 9078's own example, a Gmail reaction, Apple Mail's and Outlook's replies)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.mail.parse import REACTION_GMAIL
from gateway.mail.parse import REACTION_RFC9078
from gateway.mail.parse import parse_message
from gateway.mail.reactions import FOLDED_HANDS
from gateway.mail.reactions import MAX_EMOJI
from gateway.mail.reactions import THUMBS_UP
from gateway.mail.reactions import emoji_sequences
from gateway.mail.reactions import gmail_emoji
from gateway.mail.reactions import reaction_of
from gateway.mail.reactions import rfc9078_emoji
from gateway.mail.reactions import thanks_or_plus_one
from gateway.mail.trim import new_text

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
FIXTURES = Path(__file__).parent / "fixtures" / "reactions"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def rfc9078_mail(body: str, *, disposition: str = "reaction", headers: str = "") -> bytes:
    return (
        "From: Bob <bob@example.com>\r\nTo: design@lists.example.com\r\nSubject: Re: Colours\r\n"
        f"Message-ID: <r1@example.com>\r\nIn-Reply-To: <m1@example.com>\r\n{headers}"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Disposition: {disposition}\r\n\r\n{body}"
    ).encode()


def test_rfc_9078_own_example_is_a_thumbs_up_to_the_message_of_in_reply_to() -> None:
    parsed = parse_message(fixture("rfc9078-example.eml"))
    reaction = reaction_of(parsed)
    assert reaction is not None
    assert (reaction.kind, reaction.emoji, reaction.answers) == (
        REACTION_RFC9078,
        (THUMBS_UP,),
        ("12345@example.com",),
    )


def test_a_gmail_reaction_is_read_from_its_json_part_not_from_its_text() -> None:
    raw = fixture("gmail-reaction.eml")
    parsed = parse_message(raw)
    assert "reacted via Gmail" in parsed.body_text  # what other clients show
    reaction = reaction_of(parsed)
    assert reaction is not None
    assert (reaction.kind, reaction.emoji, reaction.answers) == (
        REACTION_GMAIL,
        (THUMBS_UP,),
        ("planning-1@example.org",),
    )
    # The same part, base64 and alone as the whole body (Gmail's documented variants).
    single = (
        b"From: a@example.com\r\nMessage-ID: <g2@mail.gmail.com>\r\n"
        b"In-Reply-To: <planning-1@example.org>\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/vnd.google.email-reaction+json\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        b"ewogICJlbW9qaSI6ICLwn46JIiwKICAidmVyc2lvbiI6IDEKfQ==\r\n"
    )
    alone = reaction_of(parse_message(single))
    assert alone is not None and alone.emoji == ("\U0001f389",)


def test_a_gmail_part_as_an_attachment_or_without_in_reply_to_is_no_reaction() -> None:
    raw = fixture("gmail-reaction.eml")
    attached = raw.replace(
        b'Content-Type: text/vnd.google.email-reaction+json; charset="UTF-8"\r\n',
        b'Content-Type: text/vnd.google.email-reaction+json; charset="UTF-8"\r\n'
        b"Content-Disposition: attachment\r\n",
    ).replace(
        b'Content-Type: text/vnd.google.email-reaction+json; charset="UTF-8"\n',
        b'Content-Type: text/vnd.google.email-reaction+json; charset="UTF-8"\n'
        b"Content-Disposition: attachment\n",
    )
    assert attached != raw
    assert reaction_of(parse_message(attached)) is None
    unanswered = raw.replace(b"In-Reply-To: <planning-1@example.org>", b"X-Was: nothing")
    assert reaction_of(parse_message(unanswered)) is None


@pytest.mark.parametrize(
    ("body", "emoji"),
    [
        ("\U0001f44d", (THUMBS_UP,)),
        ("\U0001f44d\r\n", (THUMBS_UP,)),
        ("\U0001f44d \U0001f389\t\U0001f600", (THUMBS_UP, "\U0001f389", "\U0001f600")),
        ("\U0001f44d \U0001f44d", (THUMBS_UP,)),  # once each
        ("\U0001f44d\U0001f3fd", ("\U0001f44d\U0001f3fd",)),  # a skin tone
        ("\u2764\ufe0f", ("\u2764\ufe0f",)),  # a presentation sequence
        ("\u2639", ("\u2639",)),  # RFC 9078's frowning-face, a base emoji
        (FAMILY, (FAMILY,)),  # a ZWJ sequence
        ("\U0001f1eb\U0001f1f7", ("\U0001f1eb\U0001f1f7",)),  # a flag
        ("1\ufe0f\u20e3", ("1\ufe0f\u20e3",)),  # a keycap
        ("\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",
         ("\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",)),
        ("\U0001f44d\U0001f389", (THUMBS_UP, "\U0001f389")),  # no space: split all the same
        # Not a reaction: words, two lines, nothing, a lone joiner or indicator, too many.
        ("+1", ()),
        ("Thanks \U0001f44d", ()),
        ("\U0001f44d\r\n\U0001f44d", ()),
        ("", ()),
        ("   ", ()),
        ("\U0001f44d\u200d", ()),
        ("\U0001f1eb", ()),
        ("1", ()),
        (" ".join(chr(0x1F600 + i) for i in range(MAX_EMOJI + 1)), ()),
    ],
)  # fmt: skip
def test_an_rfc_9078_part_is_one_line_of_emoji(body: str, emoji: tuple[str, ...]) -> None:
    assert rfc9078_emoji(body) == emoji
    reaction = reaction_of(parse_message(rfc9078_mail(body)))
    assert (reaction.emoji if reaction else ()) == emoji


def test_rfc_9078_places_the_reaction_part_first_or_alone() -> None:
    first = (
        "From: bob@example.com\r\nMessage-ID: <r2@example.com>\r\nIn-Reply-To: <m1@example.com>\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Disposition: reaction\r\n\r\n"
        "\U0001f389\r\n--b\r\nContent-Type: text/plain\r\n\r\nSent from my phone\r\n--b--\r\n"
    ).encode()
    reaction = reaction_of(parse_message(first))
    assert reaction is not None and reaction.emoji == ("\U0001f389",)
    reaction_part = b"--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-D"
    text_part = b"--b\r\nContent-Type: text/plain\r\n\r\nHi\r\n"
    second = first.replace(reaction_part, text_part + reaction_part, 1)
    assert second != first
    assert reaction_of(parse_message(second)) is None


def test_a_reaction_needs_its_disposition_and_in_reply_to() -> None:
    assert reaction_of(parse_message(rfc9078_mail("\U0001f44d", disposition="inline"))) is None
    no_parent = rfc9078_mail("\U0001f44d").replace(b"In-Reply-To: <m1@example.com>\r\n", b"")
    assert reaction_of(parse_message(no_parent)) is None


@pytest.mark.parametrize(
    ("text", "emoji"),
    [
        ('{"emoji":"\U0001f643","version":1}', ("\U0001f643",)),
        ('{"version": 1, "emoji": " \U0001f44d "}', (THUMBS_UP,)),
        ('{"emoji":"\U0001f643\U0001f643","version":1}', ()),  # exactly one emoji
        ('{"emoji":"\U0001f643","version":2}', ()),
        ('{"emoji":"\U0001f643","version":true}', ()),
        ('{"emoji":"\U0001f643"}', ()),
        ('{"emoji":"ok","version":1}', ()),
        ('{"emoji":1,"version":1}', ()),
        ("[1]", ()),
        ("not json", ()),
    ],
)
def test_a_gmail_part_holds_version_1_and_exactly_one_emoji(
    text: str, emoji: tuple[str, ...]
) -> None:
    assert gmail_emoji(text) == emoji


def test_an_emoji_sequence_is_at_most_32_characters() -> None:
    assert emoji_sequences("\U0001f44d") == ["\U0001f44d"]
    long_zwj = "\u200d".join(["\U0001f468"] * 17)  # 33 characters
    assert emoji_sequences(long_zwj) is None


@pytest.mark.parametrize(
    ("text", "emoji"),
    [
        ("Thanks!", FOLDED_HANDS),
        ("Thank you so much", FOLDED_HANDS),
        ("thx", FOLDED_HANDS),
        ("Many thanks.", FOLDED_HANDS),
        ("THANK YOU!!!", FOLDED_HANDS),
        ("Thanks, that fixed it", FOLDED_HANDS),
        ("Thanks Alice!", FOLDED_HANDS),  # the answered author's name
        ("Thanks! :)", FOLDED_HANDS),
        ("Thanks \U0001f60a", FOLDED_HANDS),
        ("\U0001f64f", FOLDED_HANDS),
        ("Merci !", FOLDED_HANDS),
        ("Merci\u00a0!", FOLDED_HANDS),
        ("Merci\u202f!", FOLDED_HANDS),
        ("merci beaucoup", FOLDED_HANDS),
        ("Super, merci", FOLDED_HANDS),
        ("Top merci", FOLDED_HANDS),
        ("Merci à tous !", FOLDED_HANDS),
        ("Merci pour ton retour !", FOLDED_HANDS),
        ("Thanks for the quick reply!", FOLDED_HANDS),
        ("Un grand merci", FOLDED_HANDS),
        ("Mille mercis !", FOLDED_HANDS),
        ("Merci !\n\nCordialement,\nHugo Lefèvre", FOLDED_HANDS),  # the sender's name
        ("+1", THUMBS_UP),
        ("+ 1", THUMBS_UP),
        ("+1 from me", THUMBS_UP),
        ("\U0001f44d", THUMBS_UP),
        ("\U0001f44d\U0001f3fb", THUMBS_UP),
        ("+1, thanks", FOLDED_HANDS),
        # Not only thanks: posts.
        ("Thanks, but the build still fails", None),
        ("Thanks! Could you also send the slides?", None),
        ("Merci, mais ça ne marche toujours pas", None),
        ("Merci d'avance pour votre aide", None),
        ("+10", None),
        ("+1 but we need a second room", None),
        ("Thanks Carol", None),  # a name that is neither the sender's nor the author's
        ("Super", None),
        ("ok", None),
        ("\U0001f389", None),
        ("спасибо", None),
        ("", None),
        ("!!!", None),
        ("Thanks " + "a lot " * 20, None),  # past the length cap
        # Questions: posts.
        ("Thanks?", None),
        ("+1 ?", None),
        ("Merci\u00a0?", None),
        ("Merci \uff1f", None),  # a full-width question mark, folded by NFKC
        ("\U0001f44d?", None),
    ],
)
def test_a_reply_that_only_says_thanks_or_plus_one(text: str, emoji: str | None) -> None:
    assert thanks_or_plus_one(text, ["Hugo Lefèvre", "Alice Martin"]) == emoji


def test_apple_mail_merci_above_a_quoted_french_original_is_a_thank_you() -> None:
    parsed = parse_message(fixture("apple-mail-fr-merci.eml"))
    assert "a écrit :" in parsed.body_text
    assert reaction_of(parsed) is None
    assert thanks_or_plus_one(new_text(parsed.body_text), [parsed.from_name]) == FOLDED_HANDS


def test_outlook_thanks_above_its_from_sent_block_is_a_thank_you() -> None:
    parsed = parse_message(fixture("outlook-desktop-en-thanks.eml"))
    assert "Sent: Tuesday" in parsed.body_text
    assert thanks_or_plus_one(new_text(parsed.body_text), [parsed.from_name]) == FOLDED_HANDS


def test_the_same_replies_with_more_words_are_not() -> None:
    for name, old, new in [
        ("apple-mail-fr-merci.eml", b"Merci !", b"Merci, mais la date ne va pas."),
        ("outlook-desktop-en-thanks.eml", b"Thanks\r\n", b"Thanks, room 4B is taken.\r\n"),
    ]:
        raw = fixture(name).replace(old, new, 1)
        parsed = parse_message(raw)
        assert thanks_or_plus_one(new_text(parsed.body_text), [parsed.from_name]) is None
