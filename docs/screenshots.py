"""The README's pictures of the mail: a digest and a member's copy of a post (with its
footer), rendered from the long test samples (tests/mail_samples.py) in the headless
Chromium of the tests, and written as small PNGs under docs/.

    .venv/bin/python docs/screenshots.py [--width 640] [--out docs]

`--width 390` shows them as a phone would (the README's pictures are 640 px wide).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

from tests import mail_samples  # noqa: E402
from tests.browser import LAUNCH_ARGS  # noqa: E402
from tests.browser import find_chromium  # noqa: E402
from tests.test_mail_html import render  # noqa: E402
from tests.test_mail_html import with_inline_images  # noqa: E402

# How much of each mail is shown: its top, where a reader decides to read on.
HEIGHTS = {"digest": 1100, "notification": 300}


def save_picture(page: Any, target: Path) -> None:
    """The page as a PNG in 256 colours: a third of the size, and text stays sharp."""
    page.screenshot(path=str(target))
    with Image.open(target) as shot:
        shot.convert("RGB").quantize(256).save(target, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--language", default="en", choices=("en", "fr"))
    arguments = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as data, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=find_chromium(), args=LAUNCH_ARGS)
        for name, height in HEIGHTS.items():
            rendered = render(name, arguments.language, Path(data))
            page = browser.new_page(viewport={"width": arguments.width, "height": height})
            page.set_content(with_inline_images(rendered))
            suffix = "" if arguments.width == 640 else f"-{arguments.width}"
            target = arguments.out / f"mail-{name}{suffix}.png"
            save_picture(page, target)
            page.close()
            print(target, f"({mail_samples.LONG_NAME[:20]}...: {target.stat().st_size} bytes)")
        browser.close()


if __name__ == "__main__":
    main()
