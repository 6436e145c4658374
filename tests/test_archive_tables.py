"""archive/tables.py: the outermost tables of a mail body go in a labelled scrolling box."""

from __future__ import annotations

from markupsafe import Markup

from archive.tables import scrolling_tables

BOX = '<div class="scroll" role="region" tabindex="0" aria-label="Table: scrolls">'


def test_a_body_without_tables_is_returned_as_it_is() -> None:
    html = Markup("<p>No table here, only a <a href='x'>link</a>.</p>")
    assert scrolling_tables(html, "Table: scrolls") is html


def test_each_outermost_table_gets_a_box_and_nested_ones_do_not() -> None:
    html = Markup(
        "<p>a</p><TABLE width=600><tr><td><table><tr><td>in</td></tr></table></td></tr></TABLE>"
        "<p>b</p><table><tr><td>two</td></tr></table>"
    )
    assert scrolling_tables(html, "Table: scrolls") == (
        f"<p>a</p>{BOX}<TABLE width=600><tr><td><table><tr><td>in</td></tr></table></td></tr>"
        f"</TABLE></div><p>b</p>{BOX}<table><tr><td>two</td></tr></table></div>"
    )


def test_a_table_left_open_is_boxed_to_the_end_and_a_stray_end_tag_ignored() -> None:
    html = Markup("</table><p>x</p><table><tr><td>open")
    assert scrolling_tables(html, "Table: scrolls") == (
        f"</table><p>x</p>{BOX}<table><tr><td>open</div>"
    )


def test_the_label_is_escaped() -> None:
    boxed = scrolling_tables(Markup("<table></table>"), '"><script>')
    assert 'aria-label="&#34;&gt;&lt;script&gt;"' in boxed
    assert "<script>" not in boxed
