"""Plain text laid out for reading (gateway.mail.flowed, archive.reflow, archive.bodies):
format=flowed noted at parse and decoded, hard-wrapped paragraphs joined again, and
what must keep its lines (lists, quotes, signatures, short lines, code, tables) kept.

The real shapes come from tests/fixtures/mail (origins in its README): Apple Mail's
flowed text with delsp=yes and Thunderbird 3's without it, from the notmuch test
corpus' linux-kernel mail; Gmail's hard wrap at 70 columns, from fedora-devel-list.
"""

from __future__ import annotations

import email
import email.policy
import random
import re
import time
from html import unescape

import pytest

from archive.bodies import FoldLabels
from archive.bodies import body_html
from archive.bodies import plain_text_html
from archive.reflow import Block
from archive.reflow import blocks
from archive.reflow import wrap_column
from archive.snapshot import MessageBody
from gateway.mail.flowed import FLOWED
from gateway.mail.flowed import FLOWED_DECODED
from gateway.mail.flowed import text_flags
from gateway.mail.flowed import unflowed
from gateway.mail.parse import parse_message
from tests.corpus import sample

LABELS = FoldLabels("Quoted text", "Signature")
APPLE_MAIL = "notmuch/lkml/cur/1382298805.004551.eml"
THUNDERBIRD = "notmuch/lkml/cur/1382298587.002228.eml"
GMAIL = "mbox/fedora-devel-list-2010-01.mbox#29"


def paragraphs(html: str) -> list[str]:
    """The text of each <p> of the new text, its <br> as newlines."""
    return [
        unescape(re.sub(r"<[^>]+>", "", p.replace("<br>\n", "\n")))
        for p in re.findall(r"<p>(.*?)</p>", html, re.DOTALL)
    ]


def rendered(location: str) -> tuple[str, tuple[str, ...]]:
    parsed = parse_message(sample(location))
    return shown(parsed.body_text, parsed.text_format), parsed.text_format


def shown(body_text: str, flags: tuple[str, ...]) -> str:
    """The body as the archive shows a message stored with these flags."""
    return str(body_html(MessageBody("", None, body_text, "", (), flags), file_url, LABELS))


def file_url(sha256: str, filename: str) -> str:
    return f"/files/{sha256}/{filename}"


def test_apple_mail_flowed_with_delsp_is_noted_and_joined_without_extra_spaces() -> None:
    html, text_format = rendered(APPLE_MAIL)
    assert text_format == (FLOWED_DECODED,)
    texts = paragraphs(html)
    assert (
        "I can try at another bisect, but might take some time.. let me know if there is "
        "something I can test\nor do." in texts
    )
    # A flowed log line: joined, its wrap space taken out (delsp), its own space kept.
    logs = next(p for p in texts if p.startswith("Feb 13"))
    assert "Listening for HCI events on hci0\n" in logs and "matching adapter" in logs


def test_thunderbird_flowed_without_delsp_keeps_the_space_between_words() -> None:
    html, text_format = rendered(THUNDERBIRD)
    assert text_format == (FLOWED_DECODED,)
    assert (
        "I reworked the CIFS mount option parsing a while back; I'm not sure whether that "
        "patch was going to be in the 2.6.35 tree or not (the window just opened, didn't it?)."
    ) in paragraphs(html)
    # The quoted patch stays folded, line for line.
    folded = html[html.index("<details") :]
    assert "\n&gt; +\t\t} else if (strnicmp(data, &#34;fsc&#34;, 3) == 0) {\n" in folded


def test_a_text_that_does_not_declare_flowed_is_not_unflowed() -> None:
    parsed = parse_message(sample(GMAIL))
    assert parsed.text_format == ()


def test_gmail_hard_wrapped_at_70_columns_reads_as_one_paragraph() -> None:
    html, _ = rendered(GMAIL)
    texts = paragraphs(html)
    [long] = [p for p in texts if p.startswith("Sometime")]
    assert "\n" not in long
    assert "the package owner for emacs, without actually requesting it." in long
    assert "If so, I think" in long and long.endswith("when it happens.")
    assert "Cheers,\nJonathan." in texts  # short lines keep their breaks


def test_the_wrap_column_is_the_second_longest_line_that_could_be_wrapped() -> None:
    text = "a" * 72 + "\n" + "b" * 70 + "\n" + "c" * 79 + "\n" + "d" * 120 + "\n> " + "e" * 78
    assert wrap_column(text) == 72
    assert wrap_column("short\nlines only\n") is None


# Outlook and the others that wrap at 76 (a French paragraph written for this test, the
# shape of an Outlook plain-text reply: no format=flowed, wrapped at 76).
FRENCH = """Bonjour à tous,

Suite à la réunion de jeudi, je vous propose de reprendre le calendrier du
projet : la première livraison serait décalée à la fin du mois de mars, et
l’équipe d’intégration pourrait commencer les essais dès la semaine suivante.
Qu’en pensez-vous ? Merci de me répondre avant vendredi, si possible avec vos
disponibilités pour une nouvelle réunion.

Les points ouverts :
- le budget des licences, qui doit encore être validé par la direction des
achats ;
- la formation des utilisateurs.

Cordialement,
Camille
"""


def test_a_french_paragraph_wrapped_at_76_is_joined_and_its_list_kept() -> None:
    html = plain_text_html(FRENCH, LABELS)
    texts = paragraphs(html)
    assert texts[1] == (
        "Suite à la réunion de jeudi, je vous propose de reprendre le calendrier du projet : "
        "la première livraison serait décalée à la fin du mois de mars, et l’équipe "
        "d’intégration pourrait commencer les essais dès la semaine suivante. Qu’en "
        "pensez-vous ? Merci de me répondre avant vendredi, si possible avec vos "
        "disponibilités pour une nouvelle réunion."
    )
    # A list: its items keep their lines (a wrapped item's tail too: never joined).
    assert texts[2].startswith("Les points ouverts :\n- le budget des licences")
    assert "\nachats ;\n- la formation" in texts[2]
    assert texts[3] == "Cordialement,\nCamille"


WIDE = "x" * 60 + " the line is long enough to be wrapped here"  # 103 columns


@pytest.mark.parametrize(
    "text",
    [
        # A short line and then a new sentence: the sender's own break.
        "Thanks for the quick answer, it works now.\nAnother question about the build.",
        # A line the next word would have fitted on.
        "This line is long, but the following short word fits in the column.\nok then",
        # Lines longer than any wrap column were not wrapped by a client.
        f"{WIDE}\nand this is not its continuation",
        # A quote, interleaved, and one in the initials style.
        "I would rather keep the old rules for the community pages, honestly.\n> no",
        "DC> I was using 'unused-patches' until the packaging guidelines had us\n"
        "DC> change Patch lines to use %{name} if that applied.",
        # Lines laid out by their sender (real shapes from fedora-devel-list and lkml).
        "      VFP context is not saved to allow lazy save and restore\n"
        "   Thread 2 initiates suspend",
        "X-TMASE-SNAP-Result: 1.821001.0001-0-1-12:0,22:0,33:0,34:0,39:0-0\n"
        "X-TM-Deliver-Signature: A1F966477493E8CC077EFBFD2963EE52",
        "***********************************************************************\n"
        "This list is being decommissioned.  Please join one or more of the new",
        "-extra_cflags = `pkg-config --cflags glib-2.0 gmime-2.4 talloc`\n"
        "-extra_cxxflags = `xapian-config --cxxflags`",
        "iEYEARECAAYFAktEWLUACgkQVTRddCFHw10RhwCePBIwfDvFvvRC+UFKqn0+RnYU\n"
        "Mj8AoNr6cwPIJ5r3eD/YE26OqvibJqen",
    ],
)
def test_lines_that_do_not_look_wrapped_are_not_joined(text: str) -> None:
    lines = tuple(text.split("\n"))
    found = blocks(text, 72)
    assert [line for block in found for line in block.lines] == list(lines)


def test_code_indented_fenced_or_looking_like_code_keeps_its_lines_in_monospace() -> None:
    text = (
        "Try this, it should print the path of the configuration file that the\n"
        "gateway reads at start-up:\n"
        "\n"
        "    import gateway\n"
        "    print(gateway.config_path())\n"
        "\n"
        "    # and then\n"
        "\tgateway serve\n"
        "\n"
        "```\n"
        "gateway archive build --full\n"
        "\n"
        "gateway archive serve\n"
        "```\n"
        "\n"
        "if (ready) {\n"
        "  start();\n"
        "}\n"
    )
    found = blocks(text, 72)
    assert found[0] == Block(
        (
            "Try this, it should print the path of the configuration file that the "
            "gateway reads at start-up:",
        )
    )
    assert found[1] == Block(
        (
            "    import gateway",
            "    print(gateway.config_path())",
            "",
            "    # and then",
            "\tgateway serve",
        ),
        preformatted=True,
    )
    assert found[2].preformatted and found[2].lines[2] == ""  # the fence holds blank lines
    assert found[3] == Block(("if (ready) {", "  start();", "}"), preformatted=True)
    html = plain_text_html(text, LABELS)
    assert html.count('<pre class="code">') == 3 and "<br>" not in html


def test_tables_keep_their_columns() -> None:
    text = (
        "Here are the figures for the last three months of the year, per site:\n"
        "\n"
        "Site      Posts   Members\n"
        "Lyon        120        45\n"
        "Paris       310        98\n"
        "\n"
        "| a | b |\n"
        "|---|---|\n"
    )
    found = blocks(text, 72)
    assert [block.preformatted for block in found] == [False, True, True]
    assert found[1].lines[1] == "Lyon        120        45"


def test_a_signature_is_never_joined_into_the_text() -> None:
    text = (
        "We will meet on Thursday at the usual place, bring the printed agenda\n"
        "please.\n"
        "-- \n"
        "Ann Example, design team lead at the Example company, Lyon and Paris\n"
        "office hours on Tuesdays\n"
    )
    html = plain_text_html(text, LABELS)
    assert paragraphs(html)[0] == (
        "We will meet on Thursday at the usual place, bring the printed agenda please."
    )
    folded = html[html.index('<details class="signature">') :]
    assert "Lyon and Paris\noffice hours" in folded


@pytest.mark.parametrize(
    ("flowed", "delsp", "plain"),
    [
        ("one \ntwo \nthree\n", False, "one two three\n"),
        ("one\ntwo\n", False, "one\ntwo\n"),
        ("hyphen-\nated \nword", False, "hyphen-\nated word"),
        ("wrapped wor \nd here\n", True, "wrapped word here\n"),
        ("> quoted \n> more\nmine\n", False, "> quoted more\nmine\n"),
        ("> quoted \nmine\n", False, "> quoted \nmine\n"),  # a change of depth ends it
        (" >stuffed\n", False, ">stuffed\n"),
        ("-- \nAnn\n", False, "-- \nAnn\n"),  # the signature mark is never flowed
    ],
)
def test_rfc_3676_unflowing(flowed: str, delsp: bool, plain: str) -> None:
    assert unflowed(flowed, delsp) == plain


# Lines of only blanks, in every place a block can begin, end or go on: after a
# blank line a blank line of spaces once looked indented and blocks() never returned.
BLANK_SHAPES = ["    ", "\t", " ", "        ", "  \t "]


@pytest.mark.parametrize("blank", BLANK_SHAPES)
@pytest.mark.parametrize(
    "template",
    [
        "Hello\n\n{b}\nBye",
        "{b}\nHello",
        "Hello\n{b}",
        "{b}",
        "\n{b}\n",
        "Hello\n\n{b}\n{b}\n\nBye",
        "Hello\n\n    code\n{b}\n    more\n{b}\nBye",
        "```\n{b}\n```\n{b}",
        "- item\n{b}\n- item",
    ],
)
def test_lines_of_only_blanks_end_and_lose_nothing(template: str, blank: str) -> None:
    text = template.format(b=blank)
    found = blocks(text, 70)
    assert _words(found) == text.split()
    assert all(block.lines for block in found)


def _words(found: list[Block]) -> list[str]:
    return [word for block in found for line in block.lines for word in line.split()]


# Line shapes that mail is made of, for the random sweep below.
LINE_SHAPES = [
    "",
    " ",
    "    ",
    "\t",
    "  \t",
    "```",
    "    indented code();",
    "\tcode",
    "- a list item",
    "> a quote of someone",
    "-- ",
    "Short line.",
    "the rest of a sentence that was wrapped by the client of the sender at",
    "A sentence that goes on and on until the column where the client wraps.",
    "word  with  double  spaces  typed  by  someone  who  likes  them  a  lot",
    "Site      Posts   Members",
    "Lyon        120        45",
    "| a | b |",
    "----  ----",
    "X-Header-Field: value",
    "x" * 90,
]


def test_blocks_always_end_and_keep_every_word_of_random_texts() -> None:
    """A seeded sweep of short texts made of the shapes above (hypothesis is not a
    dependency): every one returns, and its words come out in order, none lost."""
    rng = random.Random(19)
    for _ in range(3000):
        text = "\n".join(rng.choice(LINE_SHAPES) for _ in range(rng.randint(0, 12)))
        for column in (None, 70, 76):
            found = blocks(text, column)
            assert _words(found) == text.split(), text
        html = plain_text_html(text, LABELS)
        assert html is not None


def test_a_long_paragraph_is_joined_in_linear_time() -> None:
    line = "a sentence that goes on past the end of the line where it was wrapped at"
    lines = [line] * 20_000
    start = time.perf_counter()
    [block] = blocks("\n".join(lines), 72)
    elapsed = time.perf_counter() - start
    assert block.lines == (" ".join(lines),)
    assert elapsed < 1.0  # 6 s when each line copied the paragraph joined so far


WRAPPED_WITH_DOUBLE_SPACE = (
    "I think  that we should move the meeting to Thursday, since most of us are\n"
    "travelling on Wednesday and the room is booked by the other team anyway;\n"
    "so tell me if that does not work for you.\n"
)


@pytest.mark.parametrize(
    "text",
    [
        WRAPPED_WITH_DOUBLE_SPACE,
        # Two spaces after each sentence, the old typewriter habit, on every line.
        "We met on Monday.  The build was green, and the release went out in time\n"
        "for the evening.  Nobody complained, which for a Monday is a small wonder\n"
        "and worth noting.\n",
        # A tab typed once inside a sentence.
        "The value is\tforty-two, as the documentation of the module says it should\n"
        "be, and as everyone who has read the guide to the galaxy would expect it.\n",
        # Wide gaps that do not line up from one line to the next.
        "The plan:   first we move the servers to the new room, then we test the\n"
        "backups over the weekend and then,   if all goes well, we tell the users.\n",
    ],
)
def test_a_double_space_or_a_tab_in_a_sentence_is_not_a_table(text: str) -> None:
    [block] = blocks(text, wrap_column(text))
    assert not block.preformatted
    assert len(block.lines) == 1


@pytest.mark.parametrize(
    "text",
    [
        "Site      Posts   Members\nLyon        120        45\nParis       310        98",
        "Name\tRole\nAnn\tOwner\nBob\tMember",
        "Name   Role\n----   -----\nAnn    Owner",
        "| a | b |\n|---|---|",
        # Right-aligned figures: the cells end at the same column.
        "Total posts       1200\nNew members         45",
    ],
)
def test_columns_that_line_up_are_a_table(text: str) -> None:
    [block] = blocks(text, 76)
    assert block.preformatted
    assert block.lines == tuple(text.split("\n"))


@pytest.mark.parametrize("location", [APPLE_MAIL, THUNDERBIRD])
def test_a_message_stored_before_flowed_was_decoded_at_parse_still_reads_the_same(
    location: str,
) -> None:
    """Stored before: the body as sent (soft breaks and stuffing in it), FLOWED and
    DELSP in the flags. It is decoded when shown, into the same page as now."""
    raw = sample(location)
    part = email.message_from_bytes(raw, policy=email.policy.compat32)
    flags = tuple(sorted(text_flags(part.get_params() or ())))
    as_sent = part.get_payload(decode=True).decode(part.get_content_charset())
    as_sent = as_sent.replace("\r\n", "\n")
    assert FLOWED in flags and as_sent != parse_message(raw).body_text
    html, _ = rendered(location)
    assert shown(as_sent.rstrip("\n"), flags) == html


# A body of two plain parts: a table that is not flowed, then a note.txt shown inline
# that is. Decoded as one, the table became one line and lost its leading spaces.
MIXED = b"""From: Ann <ann@example.com>
To: design@example.com
Subject: Figures
Message-ID: <mixed@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b"

--b
Content-Type: text/plain; charset=utf-8

 Site      Posts   Members{space}
 Lyon        120        45{space}
 Paris       310        98

--b
Content-Type: text/plain; charset=utf-8; format=flowed
Content-Disposition: inline; filename="note.txt"

The figures above are for the last three months of the year, counted by{space}
the gateway itself.
--b--
""".replace(b"{space}", b" ")


def test_flowed_is_decoded_per_part_and_leaves_the_other_parts_as_sent() -> None:
    parsed = parse_message(MIXED.replace(b"\n", b"\r\n"))
    assert parsed.body_text.split("\n")[:3] == [
        " Site      Posts   Members ",
        " Lyon        120        45 ",
        " Paris       310        98",
    ]
    assert (
        "The figures above are for the last three months of the year, counted by the "
        "gateway itself." in parsed.body_text.split("\n")
    )
    assert parsed.text_format == ()  # not every part was flowed: reflow may still join
    html = shown(parsed.body_text, parsed.text_format)
    assert " Lyon        120        45 \n Paris" in unescape(html)
    assert '<pre class="code">' in html


@pytest.mark.parametrize(
    "second",
    [
        "let me know if the new time does not suit you, and we will find another.",
        "return the keys to the front desk before you leave for the holidays, please.",
        "public transport will be on strike that day, so plan for a longer journey.",
        "import duties on the new laptops were higher than the supplier had said.",
        "class of students who will join the course in the autumn term this year.",
        "function of the new committee, which still has to be agreed by the board.",
    ],
)
def test_a_wrapped_line_starting_with_a_keyword_in_prose_is_not_code(second: str) -> None:
    first = "We moved the meeting to Thursday at ten in the usual room; if you cannot come,"
    text = f"{first}\n{second}"
    [block] = blocks(text, wrap_column(text))
    assert block == Block((f"{first} {second}",))


@pytest.mark.parametrize(
    "line",
    [
        "def build(site):",
        "class Page(Base):",
        "let total = 0",
        "const seen = new Set()",
        "import gateway.archive",
        "from archive import reflow",
        "#include <stdio.h>",
        "public static void main(String[] args)",
        "function start() {",
        "if (ready) start()",
        "while (true)",
        "return",
    ],
)
def test_a_line_in_the_shape_of_code_is_code(line: str) -> None:
    [block] = blocks(line, 72)
    assert block.preformatted
