"""The reaction a mail carries, if any: an RFC 9078 reaction, a Gmail reaction, or a reply
whose own words are only a thank-you or a "+1" (issue 22, point 1). Pure: no I/O.

RFC 9078 section 3: a part with Content-Disposition: reaction (the single body, or
the first part of the top multipart), its content one line of emoji separated by
white space, each an emoji sequence of Unicode's UTS #51 (ED-17: a character, a
presentation, modifier, keycap, flag or tag sequence, or several joined by ZWJ).
Emoji written without a space between them are split where one sequence ends.
Gmail (developers.google.com/gmail/reactions/format): a text/vnd.google.email-
reaction+json part, {"version": 1, "emoji": "<exactly one emoji>"}. Both answer
the message of In-Reply-To. Anything else (text, a second line, an unknown version,
more than MAX_EMOJI emoji) is not a reaction, and the mail stays an ordinary post.

Which characters are emoji is read from their Unicode block and category (no emoji
data file): close enough to tell "👍 🎉" from words, which is all this needs.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from gateway.mail.parse import REACTION_GMAIL
from gateway.mail.parse import REACTION_RFC9078
from gateway.mail.parse import ParsedMessage

MAX_EMOJI = 8  # distinct emoji in one RFC 9078 reaction; more is not a reaction
MAX_SEQUENCE = 32  # characters of one emoji sequence (the store's reactions.emoji)
MAX_REACTION_TEXT = 400  # characters of a reaction part, white space included
MAX_THANKS_TEXT = 80  # characters of a reply's own text that may fold into a reaction
MAX_THANKS_WORDS = 10

THUMBS_UP = "\U0001f44d"
FOLDED_HANDS = "\U0001f64f"

_ZWJ = "\u200d"
_VS16 = "\ufe0f"
_KEYCAP = "\u20e3"
_TAG_END = "\U000e007f"
_BLACK_FLAG = "\U0001f3f4"


@dataclass(frozen=True)
class MailReaction:
    """The emoji a reaction mail carries, from which standard (REACTION_RFC9078 or
    REACTION_GMAIL), and the Message-IDs it answers (In-Reply-To)."""

    kind: str
    emoji: tuple[str, ...]
    answers: tuple[str, ...]


def reaction_of(parsed: ParsedMessage) -> MailReaction | None:
    """The RFC 9078 or Gmail reaction of a parsed mail, or None if it carries none."""
    if not parsed.in_reply_to:
        return None  # both standards answer the message of In-Reply-To
    for part in parsed.reaction_parts:
        if part.kind == REACTION_RFC9078:
            emoji = rfc9078_emoji(part.text)
        elif part.kind == REACTION_GMAIL:
            emoji = gmail_emoji(part.text)
        else:
            continue
        if emoji:
            return MailReaction(part.kind, emoji, parsed.in_reply_to)
    return None


def rfc9078_emoji(text: str) -> tuple[str, ...]:
    """The distinct emoji of an RFC 9078 part-content, in order; () if it is not one
    line of emoji (RFC 9078 section 3: emoji-string [CRLF])."""
    if len(text) > MAX_REACTION_TEXT:
        return ()
    line = text.removesuffix("\n").removesuffix("\r")
    if "\n" in line or "\r" in line:
        return ()
    found: list[str] = []
    for token in line.split():
        sequences = emoji_sequences(token)
        if sequences is None:
            return ()
        found.extend(s for s in sequences if s not in found)
    if not found or len(found) > MAX_EMOJI:
        return ()
    return tuple(found)


def gmail_emoji(text: str) -> tuple[str, ...]:
    """The emoji of a Gmail reaction part, or () if the part does not follow Gmail's
    definition (version 1, exactly one emoji)."""
    if len(text) > MAX_REACTION_TEXT:
        return ()
    try:
        data = json.loads(text)
    except ValueError:
        return ()
    if not isinstance(data, dict) or data.get("version") != 1 or data.get("version") is True:
        return ()
    emoji = data.get("emoji")
    if not isinstance(emoji, str):
        return ()
    sequences = emoji_sequences(emoji.strip())
    if sequences is None or len(sequences) != 1:
        return ()
    return (sequences[0],)


def emoji_sequences(text: str) -> list[str] | None:
    """`text` cut into emoji sequences (UTS #51 ED-17), or None if anything in it is
    not part of one (a letter, a lone joiner, a lone regional indicator...)."""
    sequences: list[str] = []
    position = 0
    while position < len(text):
        end = _sequence_end(text, position)
        if end is None or end - position > MAX_SEQUENCE:
            return None
        sequences.append(text[position:end])
        position = end
    return sequences or None


def _sequence_end(text: str, start: int) -> int | None:
    """Where the emoji sequence starting at `start` ends, or None if none starts there."""
    end = _element_end(text, start)
    if end is None:
        return None
    # emoji_zwj_sequence: elements joined by ZERO WIDTH JOINER
    while end < len(text) - 1 and text[end] == _ZWJ:
        following = _element_end(text, end + 1)
        if following is None:
            return None
        end = following
    return end


def _element_end(text: str, start: int) -> int | None:
    """The end of one element: a keycap, flag, tag, modifier or presentation sequence,
    or a single emoji character."""
    char = text[start]
    after = start + 1
    if char in "0123456789#*":  # emoji_keycap_sequence: [0-9#*] FE0F 20E3
        if text[after : after + 2] == _VS16 + _KEYCAP:
            return after + 2
        return None
    if _regional_indicator(char):  # emoji_flag_sequence: two regional indicators
        if after < len(text) and _regional_indicator(text[after]):
            return after + 1
        return None
    if not _emoji_character(char):
        return None
    if char == _BLACK_FLAG and after < len(text) and _tag(text[after]):
        # emoji_tag_sequence (subdivision flags): tags, then CANCEL TAG
        while after < len(text) and _tag(text[after]):
            after += 1
        if after < len(text) and text[after] == _TAG_END:
            return after + 1
        return None
    if after < len(text) and (text[after] == _VS16 or _modifier(text[after])):
        return after + 1
    return after


# Blocks that hold the emoji characters (UTS #51 emoji-data: Emoji=Yes), symbols only.
_EMOJI_BLOCKS = (
    (0x1F000, 0x1FAFF),  # Mahjong to Symbols and Pictographs Extended-A
    (0x2600, 0x27BF),  # Miscellaneous Symbols, Dingbats
    (0x2300, 0x23FF),  # Miscellaneous Technical (⌚ ⏰ ⏳)
    (0x2190, 0x21FF),  # Arrows
    (0x2B00, 0x2BFF),  # Miscellaneous Symbols and Arrows (⭐ ⬆)
    (0x25A0, 0x25FF),  # Geometric Shapes (▶ ◀)
    (0x2900, 0x297F),  # Supplemental Arrows-B (⤴ ⤵)
)
_EMOJI_SINGLES = frozenset("\u00a9\u00ae\u203c\u2049\u2122\u2139\u24c2\u3030\u303d\u3297\u3299")


def _emoji_character(char: str) -> bool:
    if char in _EMOJI_SINGLES:
        return True
    point = ord(char)
    if _modifier(char) or _regional_indicator(char):
        return False
    return any(low <= point <= high for low, high in _EMOJI_BLOCKS) and (
        unicodedata.category(char) == "So"
    )


def _modifier(char: str) -> bool:
    return 0x1F3FB <= ord(char) <= 0x1F3FF  # skin tones (Fitzpatrick modifiers)


def _regional_indicator(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF


def _tag(char: str) -> bool:
    return 0xE0020 <= ord(char) <= 0xE007E


# --- replies that only say thanks or "+1"

# What a thank-you or a "+1" is made of, folded (lowercase, no accents, apostrophes as
# spaces): at least one core phrase, with words that often come around it. Nothing
# else may be written: "Thanks, but the build still fails" is a post.
_THANKS = frozenset(
    {
        ("thanks",),
        ("thank", "you"),
        ("thank", "u"),
        ("thankyou",),
        ("thx",),
        ("thnx",),
        ("thks",),
        ("tx",),
        ("ty",),
        ("tyvm",),
        ("cheers",),
        ("much", "appreciated"),
        ("greatly", "appreciated"),
        ("appreciated",),
        ("merci",),
        ("mercii",),
        ("merciii",),
        ("mci",),
        ("mille", "mercis"),
        ("mille", "merci"),
        ("grand", "merci"),
        ("un", "grand", "merci"),
        ("je", "vous", "remercie"),
        ("je", "te", "remercie"),
    }
)
_PLUS_ONE = frozenset({("+1",), ("plus", "one"), ("plus", "un")})
# Words around the core: "Super, merci", "Thank you so much", "Merci à tous".
_AROUND = frozenset(
    {
        ("many",),
        ("so", "much"),
        ("very", "much"),
        ("a", "lot"),
        ("lots",),
        ("a", "million"),
        ("again",),
        ("heaps",),
        ("loads",),
        ("tons",),
        ("all",),
        ("everyone",),
        ("everybody",),
        ("guys",),
        ("folks",),
        ("team",),
        ("for", "that"),
        ("for", "this"),
        ("for", "the", "help"),
        ("for", "your", "help"),
        ("for", "the", "info"),
        ("for", "the", "tip"),
        ("for", "sharing"),
        ("for", "the", "update"),
        ("for", "the", "answer"),
        ("for", "your", "answer"),
        ("for", "the", "reply"),
        ("for", "your", "reply"),
        ("for", "the", "quick", "reply"),
        ("for", "the", "quick", "answer"),
        ("for", "the", "link"),
        ("that", "fixed", "it"),
        ("that", "worked"),
        ("that", "works"),
        ("it", "works"),
        ("works", "now"),
        ("ca", "marche"),
        ("ca", "fonctionne"),
        ("c", "est", "bon"),
        ("from", "me"),
        ("here",),
        ("great",),
        ("perfect",),
        ("awesome",),
        ("excellent",),
        ("brilliant",),
        ("wonderful",),
        ("fantastic",),
        ("nice",),
        ("cool",),
        ("ok",),
        ("okay",),
        ("oh",),
        ("ah",),
        ("wow",),
        ("yes",),
        ("big",),
        ("beaucoup",),
        ("bien",),
        ("encore",),
        ("infiniment",),
        ("mille", "fois"),
        ("a", "tous"),
        ("a", "toutes"),
        ("a", "tous", "et", "toutes"),
        ("a", "toi"),
        ("a", "vous"),
        ("pour", "ca"),
        ("pour", "cela"),
        ("pour", "l", "info"),
        ("pour", "l", "aide"),
        ("pour", "ton", "aide"),
        ("pour", "votre", "aide"),
        ("pour", "le", "partage"),
        ("pour", "ta", "reponse"),
        ("pour", "votre", "reponse"),
        ("pour", "la", "reponse"),
        ("pour", "ton", "retour"),
        ("pour", "votre", "retour"),
        ("pour", "le", "retour"),
        ("pour", "les", "infos"),
        ("pour", "le", "lien"),
        ("super",),
        ("top",),
        ("parfait",),
        ("genial",),
        ("bravo",),
        ("nickel",),
        ("impeccable",),
        ("oui",),
        ("d", "accord"),
        ("daccord",),
        # sign-offs that trimming leaves with the new text when no signature follows
        ("cordialement",),
        ("bien", "cordialement"),
        ("bonne", "journee"),
        ("bonne", "soiree"),
        ("a", "bientot"),
        ("bises",),
        ("best",),
        ("regards",),
        ("best", "regards"),
        ("kind", "regards"),
        ("br",),
    }
)
_PHRASES = (
    [(words, "thanks") for words in _THANKS]
    + [(words, "plus") for words in _PLUS_ONE]
    + [(words, "around") for words in _AROUND]
)
_PHRASES.sort(key=lambda phrase: -len(phrase[0]))  # longest first
_WORD = re.compile(r"\+\s?1(?!\d)|[a-z0-9]+")
_APOSTROPHES = re.compile(r"['’`]")


def thanks_or_plus_one(new_text: str, names: Iterable[str] = ()) -> str | None:
    """FOLDED_HANDS for a reply whose own text is only a thank-you, THUMBS_UP for one
    that is only "+1" or 👍; None for anything else.

    `new_text` is the reply's own text (gateway.mail.trim: quotes and signature left
    out). `names` are words that may stand beside the thanks: the sender's and the
    answered author's names ("Thanks Alice!", "Merci !\\nBob"). Case, accents,
    punctuation and emoji are tolerated, but not a question mark ("Thanks?" asks);
    anything longer than MAX_THANKS_TEXT is not a thank-you.
    """
    text = new_text.strip()
    if not text or len(text) > MAX_THANKS_TEXT:
        return None
    folded = _fold(text)
    if "?" in folded:  # "Thanks?", "+1 ?" (and a full-width "？", folded): a question
        return None
    words = [w.replace(" ", "") for w in _WORD.findall(folded)]
    rest = _WORD.sub(" ", folded)
    emoji = _emoji_in(rest)
    if emoji is None:  # a character that is neither a word, punctuation nor emoji
        return None
    if len(words) > MAX_THANKS_WORDS:
        return None
    allowed_names = {word for name in names for word in _WORD.findall(_fold(name))}
    if not words:  # emoji alone: 👍 is a "+1", 🙏 a thank-you
        if THUMBS_UP in emoji:
            return THUMBS_UP
        return FOLDED_HANDS if FOLDED_HANDS in emoji else None
    kinds = _phrase_kinds(words, allowed_names)
    if kinds is None:
        return None
    return FOLDED_HANDS if "thanks" in kinds else THUMBS_UP


def _fold(text: str) -> str:
    """Lowercase, accents off, apostrophes as spaces: "Merci à toi" -> "merci a toi"."""
    decomposed = unicodedata.normalize("NFKD", _APOSTROPHES.sub(" ", text.casefold()))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _emoji_in(rest: str) -> set[str] | None:
    """The emoji base characters left once the words are out; None if something else
    than punctuation, white space and emoji is left."""
    found: set[str] = set()
    for char in rest:
        if char.isspace() or unicodedata.category(char).startswith("P"):
            continue
        if char in (_ZWJ, _VS16) or _modifier(char):
            continue
        if _emoji_character(char):
            found.add(char)
            continue
        if unicodedata.category(char) in ("Sm", "Sk", "So"):  # ":)" and "=)" are "P"/"Sm"
            continue
        return None
    return found


def _phrase_kinds(words: list[str], names: set[str]) -> set[str] | None:
    """The kinds of phrase ("thanks", "plus", "around") that make up `words` whole, or
    None if a word is left over or no core phrase ("thanks", "plus") is among them."""
    kinds: set[str] = set()
    position = 0
    while position < len(words):
        for phrase, kind in _PHRASES:
            if tuple(words[position : position + len(phrase)]) == phrase:
                kinds.add(kind)
                position += len(phrase)
                break
        else:
            if words[position] not in names:
                return None
            position += 1
    if not kinds & {"thanks", "plus"}:
        return None
    return kinds
