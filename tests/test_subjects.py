"""A post's Subject for one community: its prefix once, after the reply markers, and no
other community's prefix (gateway.mail.subjects)."""

from __future__ import annotations

import pytest

from gateway.mail.subjects import community_subject

KNOWN = ("[atlas]", "[design]", "[design-ux]")


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Colours", "[design] Colours"),
        ("[design] Colours", "[design] Colours"),
        ("[DESIGN] Colours", "[design] Colours"),
        ("Re: [design] Colours", "Re: [design] Colours"),
        ("[design] Re: Colours", "Re: [design] Colours"),
        # a reply to another community's copy of a cross-post
        ("Re: [atlas] Colours", "Re: [design] Colours"),
        ("[design] Re: [atlas] Colours", "Re: [design] Colours"),
        ("Re: [atlas] Re: [design] Colours", "Re: [design] Colours"),
        ("[atlas] Colours", "[design] Colours"),
        # French and Outlook spellings
        ("RE : [atlas] Couleurs", "RE : [design] Couleurs"),
        ("TR : [atlas] Couleurs", "TR : [design] Couleurs"),
        ("TR : RE : [atlas] Couleurs", "TR : RE : [design] Couleurs"),
        ("RE: RE : [design] Couleurs", "RE: [design] Couleurs"),
        ("Réf. : [atlas] Couleurs", "Réf. : [design] Couleurs"),
        # German, forwards, counters
        ("AW: [atlas] Farben", "AW: [design] Farben"),
        ("AW: AW: [design] Farben", "AW: [design] Farben"),
        ("WG: [atlas] Farben", "WG: [design] Farben"),
        ("Fwd: [atlas] Colours", "Fwd: [design] Colours"),
        ("Fwd: Re: [atlas] Colours", "Fwd: Re: [design] Colours"),
        ("Re[2]: [atlas] Colours", "Re[2]: [design] Colours"),
        # a list the gateway does not run keeps its tag; a prefix in the words stays
        ("Re: [fedora] Colours", "Re: [design] [fedora] Colours"),
        ("Notes on [atlas] maps", "[design] Notes on [atlas] maps"),
        ("[design-ux] Grids", "[design] Grids"),
        ("  Re:   [atlas]   Colours  ", "Re: [design] Colours"),
        ("", "[design]"),
        ("Re:", "Re: [design]"),
    ],
)
def test_a_subject_carries_its_communitys_prefix_once(subject: str, expected: str) -> None:
    assert community_subject(subject, "[design]", KNOWN) == expected


def test_without_a_prefix_the_subject_is_kept() -> None:
    assert community_subject("Re: [atlas] Colours", "", KNOWN) == "Re: [atlas] Colours"


def test_a_prefix_the_gateway_does_not_know_is_kept() -> None:
    assert community_subject("Re: [atlas] Colours", "[design]") == "Re: [design] [atlas] Colours"


def test_the_markers_are_the_ones_threading_knows() -> None:
    """A Nordic forward is taken apart like the others (gateway.threads.rules)."""
    assert community_subject("VS: [atlas] Farger", "[design]", KNOWN) == "VS: [design] Farger"
    assert community_subject("SV: SV: [design] Färger", "[design]") == "SV: [design] Färger"
