"""A text mail's shapes as HTML (gateway.outbound.text_html): each shape becomes its
HTML form, everything is escaped, and every link of the text is a link."""

from __future__ import annotations

import re

from gateway.outbound.text_html import convert
from gateway.outbound.text_html import linkify
from gateway.outbound.text_html import preheader


def tags(html: str) -> str:
    """The HTML without its style attributes, to compare shapes."""
    return re.sub(r' style="[^"]*"', "", str(html))


def test_wrapped_lines_reflow_into_one_paragraph_and_blank_lines_cut_them() -> None:
    html = tags(convert("Hello,\n\nTo post, write to the address;\nto answer, reply.\n").body)
    assert html == "<p>Hello,</p>\n<p>To post, write to the address; to answer, reply.</p>\n"


def test_everything_is_escaped() -> None:
    html = str(convert('Subject: <script>alert("x")</script> & more\n').body)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; more" in html


def test_urls_mailtos_and_addresses_become_links_without_their_end_punctuation() -> None:
    html = tags(linkify("See https://x.example.com/t/1/. Or write to a.b+c@example.com, or"))
    assert html == (
        'See <a href="https://x.example.com/t/1/">https://x.example.com/t/1/</a>. '
        'Or write to <a href="mailto:a.b+c@example.com">a.b+c@example.com</a>, or'
    )


def test_list_items_keep_their_indented_lines() -> None:
    text = (
        "Threads:\n"
        "  - Grid systems (4 messages)\n"
        "    https://x.example.com/t/4/\n"
        "  - Typo\n"
        "    join with one click: mailto:typo-join@example.com?subject=join\n"
    )
    html = tags(convert(text).body)
    assert html == (
        "<p>Threads:</p>\n<ul>"
        '<li>Grid systems (4 messages)<br><a href="https://x.example.com/t/4/">'
        "https://x.example.com/t/4/</a></li>"
        '<li>Typo<br><a href="mailto:typo-join@example.com?subject=join">'
        "join with one click</a></li></ul>\n"
    )


def test_a_short_line_above_a_list_is_its_title() -> None:
    html = tags(convert("Most active\n  - Alice: 3 posts\n").body)
    assert html == "<h3>Most active</h3>\n<ul><li>Alice: 3 posts</li></ul>\n"


def test_aligned_lines_are_a_table_even_where_a_label_leaves_one_space() -> None:
    text = "Members            12 (3 new)\nThreads replied to 84%\nFirst reply        5 hours\n"
    html = tags(convert(text).body)
    assert html.count("<tr>") == 3
    assert "<td>Threads replied to</td><td>84%</td>" in html


def test_a_lone_labelled_link_is_a_button_and_several_are_a_row_of_links() -> None:
    one = tags(convert("Every community's figures: https://x.example.com/stats/\n").body)
    assert (
        one == '<p><a href="https://x.example.com/stats/">Every community&#39;s figures</a></p>\n'
    )
    several = tags(
        convert(
            "Daily: mailto:d-daily@example.com?subject=daily\n"
            "No mail: mailto:d-nomail@example.com\n"
        ).body
    )
    assert several == (
        '<p><a href="mailto:d-daily@example.com?subject=daily">Daily</a> &middot; '
        '<a href="mailto:d-nomail@example.com">No mail</a></p>\n'
    )


def test_an_address_alone_on_its_line_is_a_button_and_a_url_a_link() -> None:
    html = tags(convert("To confirm, write to:\n\n    confirm+abc@example.com\n").body)
    assert '<a href="mailto:confirm+abc@example.com">confirm+abc@example.com</a>' in html
    assert "<p><a" in html
    url = tags(convert("The archive:\n    https://x.example.com/c/d/\n").body)
    assert '<a href="https://x.example.com/c/d/">https://x.example.com/c/d/</a>' in url


def test_indented_examples_keep_their_lines() -> None:
    html = tags(
        convert("Lines such as\n\n    Expertise: typography\n    Interests: cycling\n").body
    )
    assert "<p>Expertise: typography<br>Interests: cycling</p>" in html


def test_the_signature_is_the_footer_and_the_greeting_is_not_the_preheader() -> None:
    converted = convert("Hello,\n\nWelcome to Design!\n\n-- \nThe gateway (help@example.com)\n")
    assert "gateway" not in converted.body
    assert tags(converted.footer) == (
        'The gateway (<a href="mailto:help@example.com">help@example.com</a>)'
    )
    assert converted.preheader == "Welcome to Design!"
    # A kind with its own HTML asks for the preheader alone: the same one.
    assert preheader("Hello,\n\nWelcome to Design!\n\n-- \nThe gateway\n") == converted.preheader


def test_headings() -> None:
    html = tags(convert("=== Design (design@example.com) ===\n").body)
    assert html == (
        '<h2>Design (<a href="mailto:design@example.com">design@example.com</a>)</h2>\n'
    )
