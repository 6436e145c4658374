"""gateway.adoption.topics.tag_matches: how a stated tag answers a query, for
`gateway experts` and the archive alike (words, case and accent folding, no prefixes)."""

from __future__ import annotations

import pytest

from gateway.adoption.topics import tag_matches

MATCHES = [
    ("HDS certification", "HDS"),  # a word of the tag
    ("HDS certification", "hds"),  # in any case
    ("Penetration testing", "testing"),
    ("Penetration testing", "penetration testing"),
    ("Penetration testing", "testing penetration"),  # words in any order
    ("Sécurité", "securite"),  # French accents fold away...
    ("securite", "Sécurité"),  # ...both ways
    ("Sécurité des systèmes", "SYSTEMES"),
    ("Données de santé", "donnees sante"),  # "de" is a stop word
    ("Accessibility", "web accessibility audit"),  # the whole tag inside the query
    ("Colour science", "colour-science"),  # punctuation is a space
    ("Ressources humaines", "l'équipe ressources humaines"),
]

MISSES = [
    ("Party planning", "art"),  # no prefix or inner-word hits
    ("Article writing", "art"),
    ("Testing", "test"),  # nor stems: "test" is not "testing"
    ("Penetration testing", "penetration audit"),  # every query word must be there
    ("HDS certification", "certification audit"),  # the tag is not a run of the query
    ("Sécurité", ""),
    ("", "security"),
    ("Security", "the"),  # stop words alone say nothing
]


@pytest.mark.parametrize(("tag", "query"), MATCHES)
def test_a_tag_matches_by_words_and_folded_forms(tag: str, query: str) -> None:
    assert tag_matches(tag, query)


@pytest.mark.parametrize(("tag", "query"), MISSES)
def test_a_tag_does_not_match_part_of_a_word_or_a_missing_word(tag: str, query: str) -> None:
    assert not tag_matches(tag, query)
