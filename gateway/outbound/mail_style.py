"""The one visual style of the gateway's HTML mail, as inline CSS (mail clients drop
<style> blocks and external sheets): the layout, the text conversion and the digest
templates all take their declarations from here, so that every kind looks the same.

System fonts; one column at most 600 px wide, fluid below; colours set on every block
(text, background, border) and of middling lightness, so that a client that inverts
them for dark mode keeps the contrast; long words and URLs break instead of
widening the page.
"""

from __future__ import annotations

from markupsafe import Markup

FONT = (
    "-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,'Helvetica Neue',Arial,"
    "'Noto Sans',sans-serif"
)
TEXT = "#1f2328"
MUTED = "#57606a"
ACCENT = "#1a4d8f"
PAGE = "#f3f4f6"
CARD = "#ffffff"
RULE = "#d8dee4"
SOFT = "#eef3fa"
DONE = "#1e5631"  # a dark green: a thread's accepted answer

WRAP = "overflow-wrap:anywhere;word-break:break-word"
BODY = f"margin:0;padding:0;background-color:{PAGE};color:{TEXT}"
OUTER = f"width:100%;background-color:{PAGE};padding:16px 0"
CONTAINER = (
    f"max-width:600px;margin:0 auto;background-color:{CARD};border:1px solid {RULE};"
    f"border-radius:8px;font-family:{FONT};color:{TEXT};{WRAP}"
)
HEADER = (
    f"padding:14px 20px;border-bottom:3px solid {ACCENT};font-size:13px;font-weight:600;"
    f"letter-spacing:0.02em;color:{ACCENT};{WRAP}"
)
CONTENT = f"padding:8px 20px 16px;font-size:15px;line-height:1.5;color:{TEXT};{WRAP}"
FOOTER = (
    f"padding:12px 20px 16px;border-top:1px solid {RULE};font-size:12px;line-height:1.5;"
    f"color:{MUTED};{WRAP}"
)
PREHEADER = "display:none;max-height:0;max-width:0;overflow:hidden;opacity:0;font-size:1px"
P = f"margin:12px 0;color:{TEXT}"
H2 = f"margin:20px 0 8px;font-size:17px;line-height:1.3;color:{TEXT}"
H3 = f"margin:16px 0 6px;font-size:15px;line-height:1.3;color:{TEXT}"
UL = "margin:8px 0 12px;padding-left:20px"
LI = "margin:0 0 6px"
LINK = f"color:{ACCENT};text-decoration:underline;{WRAP}"
QUIET_LINK = f"color:{MUTED};text-decoration:underline;{WRAP}"
LINKS = f"margin:12px 0;font-size:14px;color:{MUTED}"
BUTTON_LINE = "margin:12px 0"
BUTTON = (
    f"display:inline-block;max-width:100%;box-sizing:border-box;padding:9px 16px;"
    f"border-radius:6px;background-color:{ACCENT};color:#ffffff;font-weight:600;"
    f"text-decoration:none;{WRAP}"
)
EXAMPLE = (
    f"margin:8px 0 12px;padding:8px 12px;border-left:3px solid {RULE};"
    f"background-color:{SOFT};color:{TEXT};font-size:14px"
)
TABLE = "border-collapse:collapse;margin:8px 0 12px;width:100%;table-layout:fixed"
LABEL_CELL = (
    f"padding:3px 12px 3px 0;vertical-align:top;width:38%;color:{MUTED};font-size:14px;{WRAP}"
)
VALUE_CELL = f"padding:3px 0;vertical-align:top;font-size:14px;color:{TEXT};{WRAP}"
NOTE = f"margin:16px 0 0;padding:10px 12px;background-color:{SOFT};border-radius:6px;font-size:14px"
META = f"font-size:13px;color:{MUTED}"
THREAD = f"margin:0 0 18px;padding:0 0 12px;border-bottom:1px solid {RULE}"
THREAD_TITLE = f"font-size:16px;font-weight:600;line-height:1.35;color:{TEXT}"
ENTRY = "margin:6px 0 0;font-size:14px"
THUMBS = "margin:8px 0 0"
ANSWERED = f"color:{DONE}"
THUMB = f"display:inline-block;margin:0 6px 6px 0;border:1px solid {RULE};border-radius:4px"


def as_dict() -> dict[str, Markup]:
    """The declarations by name, for the templates (`style.LINK`): Markup, as they are
    our own CSS, so that the hundreds of style attributes of a digest are not escaped
    again for every reader."""
    return {name: Markup(value) for name, value in globals().items() if name.isupper()}
