"""The README's pictures of the archive: a thread page and a person page, at desktop
and phone width, from a small network made with the gateway's own commands (`init`,
`community create`, `profile set`, `import eml` with reactions among the mail,
`thread answer`, `archive build`) in a temporary
folder, served on loopback and shot in the headless Chromium of the tests.

    .venv/bin/python docs/archive_screenshots.py [--out docs] [--language en]

Writes archive-thread.png, archive-thread-390.png, archive-person.png and
archive-person-390.png (1280 and 390 px wide).
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
from email.message import EmailMessage
from email.utils import format_datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402
from PIL import ImageDraw  # noqa: E402

from tests.browser import LAUNCH_ARGS  # noqa: E402
from tests.browser import find_chromium  # noqa: E402
from tests.browser import serving  # noqa: E402

sys.path.insert(0, str(ROOT / "docs"))
from screenshots import save_picture  # noqa: E402

DOMAIN = "lists.example.com"
# Width and height of each picture: the thread down to its pictures, the person whole.
SIZES = {
    "thread": {"": (1280, 1250), "-390": (390, 1700)},
    "person": {"": (1280, 560), "-390": (390, 820)},
}
PEOPLE = (
    ("alice.martin@example.com", "Alice Martin", "Design", "accessibility, design systems"),
    ("bruno.lefevre@example.com", "Bruno Lefèvre", "Engineering", "front-end performance"),
    ("chloe.dubois@example.com", "Chloé Dubois", "Research", "user research, usability testing"),
)
THREAD = (
    (
        "alice.martin@example.com",
        "Thu, 12 Nov 2026 09:14:00 +0100",
        "Colour contrast in the new dashboard",
        None,
        "Hi all,\n\nThe new dashboard uses light grey labels on white. Several people told "
        "me they cannot read them on their phones outdoors.\n\nBefore I change the palette: "
        "has anyone measured the contrast ratios we ship today, and do we have a target "
        "(WCAG AA, 4.5:1)?\n\nAlice\n",
    ),
    (
        "bruno.lefevre@example.com",
        "Thu, 12 Nov 2026 10:02:00 +0100",
        "Re: Colour contrast in the new dashboard",
        0,
        "The labels are #9AA0A6 on #FFFFFF, which is 2.6:1: well below AA.\n\n"
        "Our design tokens have a darker grey (#5F6368, 6.0:1). Switching the label token "
        "is a one-line change, I can do it this week.\n\nOn Thu, 12 Nov 2026, Alice Martin "
        "wrote:\n> Before I change the palette: has anyone measured the contrast ratios we "
        "ship today?\n",
    ),
    (
        "chloe.dubois@example.com",
        "Fri, 13 Nov 2026 16:40:00 +0100",
        "Re: Colour contrast in the new dashboard",
        1,
        "We tested both greys with eight people last month. Everyone read the darker one "
        "at arm's length; three of eight missed labels with the current one. The chart of "
        "the results is attached.\n\nChloé\n",
    ),
    (
        "alice.martin@example.com",
        "Mon, 16 Nov 2026 08:55:00 +0100",
        "Re: Colour contrast in the new dashboard",
        2,
        "Thank you both: the darker token it is. The updated palette is attached as a PDF "
        "for the brand team.\n",
    ),
)


def chart() -> bytes:
    """A small bar chart as a PNG: what a real post's attachment looks like."""
    image = Image.new("RGB", (480, 280), "white")
    draw = ImageDraw.Draw(image)
    for n, (height, colour) in enumerate(((230, "#5F6368"), (140, "#9AA0A6"))):
        left = 90 + n * 190
        draw.rectangle((left, 250 - height, left + 110, 250), fill=colour)
    draw.line((40, 250, 440, 250), fill="black", width=2)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def pdf() -> bytes:
    return b"%PDF-1.4\n% palette\n" + b"0" * 40_000 + b"\n%%EOF\n"


def mails() -> list[EmailMessage]:
    names = {address: name for address, name, _, _ in PEOPLE}
    written: list[EmailMessage] = []
    for n, (sender, date, subject, parent, text) in enumerate(THREAD):
        mail = EmailMessage()
        mail["From"] = f"{names[sender]} <{sender}>"
        mail["To"] = f"design@{DOMAIN}"
        mail["Subject"] = subject
        mail["Date"] = format_datetime(parsedate_to_datetime(date))
        mail["Message-ID"] = f"<contrast-{n}@example.com>"
        if parent is not None:
            mail["In-Reply-To"] = f"<contrast-{parent}@example.com>"
            mail["References"] = " ".join(f"<contrast-{p}@example.com>" for p in range(n))
        mail.set_content(text)
        if n == 2:
            mail.add_attachment(chart(), "image", "png", filename="contrast-results.png")
        if n == 3:
            mail.add_attachment(pdf(), "application", "pdf", filename="palette-v2.pdf")
        written.append(mail)
    return written


# Reactions as mail clients send them (RFC 9078: a part of emoji; Gmail: a json part),
# each (sender, date, emoji, the message it answers).
REACTIONS = (
    ("alice.martin@example.com", "Thu, 12 Nov 2026 10:20:00 +0100", "👍", 1),
    ("chloe.dubois@example.com", "Thu, 12 Nov 2026 11:05:00 +0100", "👍", 1),
    ("alice.martin@example.com", "Fri, 13 Nov 2026 17:02:00 +0100", "🎉", 2),
    ("bruno.lefevre@example.com", "Fri, 13 Nov 2026 17:30:00 +0100", "🙏", 2),
)


def reactions() -> list[EmailMessage]:
    names = {address: name for address, name, _, _ in PEOPLE}
    written: list[EmailMessage] = []
    for n, (sender, date, emoji, answered) in enumerate(REACTIONS):
        mail = EmailMessage()
        mail["From"] = f"{names[sender]} <{sender}>"
        mail["To"] = f"design@{DOMAIN}"
        mail["Subject"] = f"Re: {THREAD[0][2]}"
        mail["Date"] = format_datetime(parsedate_to_datetime(date))
        mail["Message-ID"] = f"<reaction-{n}@example.com>"
        mail["In-Reply-To"] = f"<contrast-{answered}@example.com>"
        if n % 2:  # Gmail's shape
            mail.set_content(f"Reacted {emoji}\n")
            reaction = json.dumps({"version": 1, "emoji": emoji})
            mail.add_alternative(reaction, subtype="vnd.google.email-reaction+json")
        else:
            mail.set_content(f"{emoji}\n", disposition="reaction")
        written.append(mail)
    return written


def gateway(folder: Path, *arguments: str) -> str:
    command = [str(Path(sys.executable).parent / "gateway")]
    if "--config" not in arguments:
        command += ["--config", "gateway.toml"]
    done = subprocess.run(
        [*command, *arguments], cwd=folder, capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise SystemExit(f"gateway {' '.join(arguments)}: {done.stderr.strip()}")
    return done.stdout


def build_site(folder: Path, language: str) -> Path:
    gateway(folder, "--config", "gateway.toml", "init")
    config = folder / "gateway.toml"
    text = config.read_text().replace('domain = "lists.example.com"', f'domain = "{DOMAIN}"')
    config.write_text(text.replace('language = "en"', f'language = "{language}"'))
    gateway(
        folder, "community", "create", "design", "--name", "Design practice",
        "--kind", "practice", "--policy", "open",
        "--description", "Interfaces, accessibility and the design system, across teams.",
    )  # fmt: skip
    for address, name, department, expertise in PEOPLE:
        gateway(
            folder, "profile", "set", address, "--name", name,
            "--department", department, "--expertise", expertise,
        )  # fmt: skip
        gateway(folder, "member", "add", "design", address)
    gateway(folder, "member", "set", "design", PEOPLE[0][0], "--role", "owner")
    files = []
    for n, mail in enumerate([*mails(), *reactions()]):
        path = folder / f"mail-{n}.eml"
        path.write_bytes(mail.as_bytes())
        files.append(str(path))
    gateway(folder, "import", "eml", "design", *files, "--quiet")
    # Alice asked; Chloé's test results answered it.
    [thread] = json.loads(gateway(folder, "thread", "list", "design", "--json"))
    gateway(folder, "thread", "answer", str(thread["id"]), "contrast-2@example.com")
    gateway(folder, "archive", "build", "--out", "site", "--quiet")
    return folder / "site"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--language", default="en", choices=("en", "fr"))
    arguments = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as data, sync_playwright() as playwright:
        site = build_site(Path(data), arguments.language)
        thread = next(site.glob("t/*/index.html")).parent.relative_to(site).as_posix()
        # The first profile made (Alice, the community's owner) has the lowest id.
        person = f"people/{min(int(p.parent.name) for p in site.glob('people/*/index.html'))}"
        browser = playwright.chromium.launch(executable_path=find_chromium(), args=LAUNCH_ARGS)
        with serving(site) as server:
            for name, path in (("thread", thread), ("person", person)):
                for suffix, (width, height) in SIZES[name].items():
                    page = browser.new_page(viewport={"width": width, "height": height})
                    page.goto(server.url(path + "/"))
                    target = arguments.out / f"archive-{name}{suffix}.png"
                    save_picture(page, target)
                    page.close()
                    print(target, f"{target.stat().st_size:,} bytes")
        browser.close()


if __name__ == "__main__":
    main()
