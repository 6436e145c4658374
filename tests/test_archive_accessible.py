"""archive/accessible.py: tables of a mail body in a labelled scrolling box, images named."""

from __future__ import annotations

import itertools

from markupsafe import Markup

from archive.accessible import images_with_alt
from archive.accessible import scrolling_tables

BOX = '<div class="scroll" role="region" tabindex="0" aria-label="Table {}: scrolls">'
LABEL = "Table {number}: scrolls"


def test_a_body_without_tables_is_returned_as_it_is() -> None:
    html = Markup("<p>No table here, only a <a href='x'>link</a>.</p>")
    assert scrolling_tables(html, LABEL, itertools.count(1)) is html


def test_each_outermost_table_gets_a_box_and_nested_ones_do_not() -> None:
    html = Markup(
        "<p>a</p><TABLE width=600><tr><td><table><tr><td>in</td></tr></table></td></tr></TABLE>"
        "<p>b</p><table><tr><td>two</td></tr></table>"
    )
    numbers = itertools.count(3)  # the page's first two boxes are in an earlier body
    assert scrolling_tables(html, LABEL, numbers) == (
        f"<p>a</p>{BOX.format(3)}<TABLE width=600><tr><td><table><tr><td>in</td></tr></table>"
        f"</td></tr></TABLE></div><p>b</p>{BOX.format(4)}<table><tr><td>two</td></tr></table></div>"
    )


def test_a_table_left_open_is_boxed_to_the_end_and_a_stray_end_tag_ignored() -> None:
    html = Markup("</table><p>x</p><table><tr><td>open")
    assert scrolling_tables(html, LABEL, itertools.count(1)) == (
        f"</table><p>x</p>{BOX.format(1)}<table><tr><td>open</div>"
    )


def test_the_label_is_escaped() -> None:
    boxed = scrolling_tables(Markup("<table></table>"), '"><script>', itertools.count(1))
    assert 'aria-label="&#34;&gt;&lt;script&gt;"' in boxed
    assert "<script>" not in boxed


def test_an_image_without_alt_is_named_by_its_file_and_one_with_alt_keeps_it() -> None:
    html = Markup(
        '<img apple-inline="yes" src="../../files/ab/abc/IMG%202041.png">'
        '<IMG SRC="data:," width=1><img alt="" src="x.png"><img src="a&quot;.png" alt="Logo">'
    )
    assert images_with_alt(html, "Image") == (
        '<img alt="IMG 2041.png" apple-inline="yes" src="../../files/ab/abc/IMG%202041.png">'
        '<img alt="Image" SRC="data:," width=1><img alt="" src="x.png">'
        '<img src="a&quot;.png" alt="Logo">'
    )


def test_a_file_name_used_as_alt_text_is_escaped() -> None:
    named = images_with_alt(Markup('<img src="files/%22%3E%3Cb%3E.png">'), "Image")
    assert named == '<img alt="&#34;&gt;&lt;b&gt;.png" src="files/%22%3E%3Cb%3E.png">'
