"""Benchmark of reply trimming on the labelled replies (tests/fixtures/replies/).

Each reply is parsed as ingest parses it (gateway.mail.parse: the HTML sanitized), then
trimmed in each of its views: the plain text (digest excerpts, actions) and the HTML
when it has one (the archive). Two shares are printed, for gateway.mail.trim and for
the libraries compared (issue 18, item 2):

- new text kept whole: every word the sender wrote now is in the new text, in order
  (goal 100%);
- history and signature folded: the new text is those words and nothing else (goal
  at least 95%).

A reply counts only if every view of it passes. The libraries see the plain text
(quotequail also the HTML: quote_html); mail-parser-reply reads plain text only.
    python bench/trim.py [--verbose]

The libraries compared are in the `bench` extra (`pip install -e '.[bench]'`); without
them the bench prints the gateway's figures and says which library is missing.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lxml import html as lxml_html

try:
    import quotequail
except ImportError:  # the bench extra is not installed
    quotequail = None
try:
    from mailparser_reply import EmailReplyParser
except ImportError:
    EmailReplyParser = None

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.mail.parse import parse_message  # noqa: E402
from gateway.mail.trim import trim_html  # noqa: E402
from gateway.mail.trim import trim_text  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "replies"
_MARKDOWN = re.compile(r"[*_`\\]+")


@dataclass(frozen=True)
class Labelled:
    name: str
    text: str
    html: str
    expected: str


def labelled() -> list[Labelled]:
    replies = []
    for path in sorted(FIXTURES.glob("*.eml")):
        parsed = parse_message(path.read_bytes())
        expected = path.with_name(path.name.removesuffix(".eml") + ".expected.txt")
        replies.append(
            Labelled(path.stem, parsed.body_text, parsed.body_html, expected.read_text("utf-8"))
        )
    return replies


def words(text: str) -> str:
    """Text compared word by word: spacing, line breaks and the markdown that
    html2text adds to HTML-only mail do not count."""
    return " ".join(_MARKDOWN.sub("", text).split())


def kept_whole(new: str, expected: str) -> bool:
    return words(expected) in words(new)


def folded(new: str, expected: str) -> bool:
    return words(new) == words(expected)


def _html_text(markup: str) -> str:
    if not markup.strip():
        return ""
    tree = lxml_html.fragment_fromstring(markup, create_parent="div")
    for element in tree.iter("div", "p", "br", "blockquote", "li", "tr", "pre"):
        element.tail = "\n" + (element.tail or "")
    return str(tree.text_content())


def ours_text(reply: Labelled) -> str:
    return trim_text(reply.text).new_text


def ours_html(reply: Labelled) -> str:
    return trim_html(reply.html).new_text


def quotequail_text(reply: Labelled) -> str:
    return "\n".join(
        part for shown, part in quotequail.quote(reply.text, quote_intro_line=True) if shown
    )


def quotequail_html(reply: Labelled) -> str:
    parts = quotequail.quote_html(reply.html, quote_intro_line=True)
    return _html_text("".join(part for shown, part in parts if shown))


def mail_parser_reply_text(reply: Labelled) -> str:
    parser = EmailReplyParser(languages=["en", "fr", "de"])
    return str(parser.parse_reply(text=reply.text))


Method = dict[str, Callable[[Labelled], str]]
METHODS: dict[str, Method | None] = {
    "gateway.mail.trim": {"text": ours_text, "html": ours_html},
    "quotequail 0.5": (
        {"text": quotequail_text, "html": quotequail_html} if quotequail is not None else None
    ),
    "mail-parser-reply 1.36": (
        {"text": mail_parser_reply_text} if EmailReplyParser is not None else None
    ),
}


def score(method: Method, replies: list[Labelled]) -> tuple[list[str], list[str]]:
    """The names of the replies whose new text was cut, and of those not folded."""
    cut: list[str] = []
    unfolded: list[str] = []
    for reply in replies:
        views = [view for name, view in method.items() if name == "text" or reply.html.strip()]
        results = [view(reply) for view in views]
        if not all(kept_whole(new, reply.expected) for new in results):
            cut.append(reply.name)
        elif not all(folded(new, reply.expected) for new in results):
            unfolded.append(reply.name)
    return cut, unfolded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--verbose", action="store_true", help="name the replies that fail")
    args = parser.parse_args()
    replies = labelled()
    print(f"{len(replies)} labelled replies in {FIXTURES.relative_to(ROOT)}")
    print(f"{'method':<24} {'new text kept whole':>20} {'history and signature folded':>30}")
    for name, method in METHODS.items():
        if method is None:
            print(f"{name:<24} not installed: pip install -e '.[bench]'")
            continue
        cut, unfolded = score(method, replies)
        kept = len(replies) - len(cut)
        folded_count = kept - len(unfolded)
        print(
            f"{name:<24} {kept / len(replies):>19.1%} {folded_count / len(replies):>29.1%}"
            f"   ({kept}/{len(replies)}, {folded_count}/{len(replies)})"
        )
        if args.verbose:
            for reply in cut:
                print(f"    cut: {reply}")
            for reply in unfolded:
                print(f"    not folded: {reply}")


if __name__ == "__main__":
    main()
