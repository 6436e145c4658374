"""templates/archive/labels.*.toml: every visible word of the archive, one convention a
language (French: a non-breaking space before : ; ? ! and inside « », one apostrophe),
and the punctuation after a label inside it, never hard-coded by a template."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).parent.parent / "templates" / "archive"


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def labels(language: str) -> dict[str, Any]:
    return tomllib.loads((TEMPLATES / f"labels.{language}.toml").read_text())


def test_french_labels_keep_french_typography() -> None:
    for text in strings(labels("fr")):
        assert not re.search(r"[ \t][:;?!]", text), text  # a plain space breaks the line
        assert not re.search(r"(?<=\w)[:;?!]", text), text  # no space at all
        assert "« " not in text and " »" not in text, text
        assert "’" not in text, text  # the file's apostrophe is the straight one


def test_both_languages_have_the_same_labels() -> None:
    assert labels("en").keys() == labels("fr").keys()


def test_templates_put_no_colon_after_a_label() -> None:
    for page in TEMPLATES.glob("*.html"):
        # "Type:People" is a Pagefind filter, not words: only ": " reads as text.
        assert not re.search(r"\{\{ t\.\w+ \}\}: ", page.read_text()), page.name
