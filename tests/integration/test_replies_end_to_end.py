"""Replies from anywhere, end to end through a real `gateway serve` over SMTP: a reply to a
digest (built from the digest's bytes as a mail client does) is posted to its thread and
delivered; an ambiguous one is answered, not posted; a reply through a digest's Reply
link lands in its thread; a reply to a welcome notice gets "not posted", not the help
text; a question sent in reply to a confirmation reaches the owners."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
import re
import urllib.parse
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from sqlalchemy import func
from sqlalchemy import select

from gateway.app import App
from gateway.community.communities import create_community
from gateway.community.members import add_members
from gateway.digests.periods import latest_due
from gateway.digests.runner import run_digests
from gateway.settings import Settings
from gateway.store.db import transaction
from gateway.store.models import ActionMail
from gateway.store.models import Cadence
from gateway.store.models import DeliveryMode
from gateway.store.models import DigestRun
from gateway.store.models import Message
from gateway.store.models import Role
from gateway.store.models import Thread
from gateway.store.models import utcnow
from tests.conftest import RunningGateway
from tests.conftest import running
from tests.conftest import wait_for
from tests.factories import post
from tests.integration.test_email_actions import WORDS
from tests.integration.test_email_actions import configured
from tests.integration.test_email_actions import handled
from tests.integration.test_email_actions import membership
from tests.received import parse_mail
from tests.received import plain_text
from tests.sink import Sink

DOMAIN = "lists.example.com"
DAY = dt.timedelta(days=1)
ALICE, BOB, CAROL, ERIN = (f"{n}@example.com" for n in ("alice", "bob", "carol", "erin"))


@dataclasses.dataclass
class Site:
    app: App
    gateway: RunningGateway
    sink: Sink

    def send(self, message: EmailMessage, to: str) -> None:
        sender = email.utils.parseaddr(str(message["From"]))[1]
        reply = self.gateway.send(message.as_bytes(), [to], sender=sender)
        assert reply.startswith("250"), reply

    def to(self, recipient: str) -> list[EmailMessage]:
        return [parse_mail(data) for _, rcpt, data in self.sink.copies() if rcpt == recipient]

    def wait(self, recipient: str, subject: str, count: int = 1) -> EmailMessage:
        def found() -> list[EmailMessage]:
            return [m for m in self.to(recipient) if subject in str(m["Subject"])]

        wait_for(lambda: len(found()) >= count, what=f"{subject!r} to {recipient}")
        return found()[-1]

    def stored(self, message_id: str) -> tuple[str, str, str, str] | None:
        """(thread subject, sender, body, In-Reply-To's post) of a stored post."""
        with transaction(self.app.read_sessions) as session:
            row = session.execute(
                select(Thread.subject, Message.sender_address, Message.body_text, Message.parent_id)
                .join(Thread, Thread.id == Message.thread_id)
                .where(Message.message_id == message_id.strip("<>"))
            ).one_or_none()
            if row is None:
                return None
            parent = session.get(Message, row.parent_id) if row.parent_id else None
            return row[0], row[1], row[2], parent.message_id if parent else ""

    def posts(self) -> int:
        with transaction(self.app.read_sessions) as session:
            return session.scalar(select(func.count()).select_from(Message)) or 0


@pytest.fixture(params=["en", "fr"])
def language(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def seed(app: App) -> None:
    """design: alice (owner) and carol get every post, bob a daily digest."""
    with transaction(app.sessions) as session:
        design = create_community(session, "design", "Design")
        add_members(session, design, [ALICE], role=Role.OWNER)
        add_members(session, design, [CAROL])
        add_members(session, design, [BOB], delivery=DeliveryMode.DAILY)


@pytest.fixture
def site(app: App, settings: Settings, sink: tuple[Sink, int], language: str) -> Iterator[Site]:
    seed(app)
    with running(configured(settings, sink[1], language)) as gateway:
        yield Site(app, gateway, sink[0])


def new_id() -> str:
    return email.utils.make_msgid(domain="example.com").strip("<>")


def digest_for_bob(site: Site) -> tuple[EmailMessage, dict[str, str]]:
    """Two threads (Colours: 2 posts, Fonts: 1) in bob's next daily digest, sent now; the
    digest and the Message-IDs of the posts."""
    wait_for(lambda: digest_runs(site.app) == 1, what="the start-up digest run")
    ids = {"colours": new_id(), "reply": new_id(), "fonts": new_id()}
    design = f"design@{DOMAIN}"
    site.send(post("Colours", "Which blue for the buttons?\n", message_id=ids["colours"]), design)
    site.send(
        post("Re: Colours", "The darker one.\n", message_id=ids["reply"], sender=CAROL,
             parent=ids["colours"]),
        f"design@{DOMAIN}",
    )  # fmt: skip
    site.send(post("Fonts", "Inter or Source Sans?\n", message_id=ids["fonts"]), f"design@{DOMAIN}")
    settings = site.app.settings
    next_due = latest_due(Cadence.DAILY, utcnow(), "", settings.digests).at + DAY
    run_digests(site.app, Cadence.DAILY, next_due + dt.timedelta(minutes=30), until=utcnow())
    wait_for(lambda: any(m["List-Id"] for m in site.to(BOB)), what="bob's digest")
    [digest] = [m for m in site.to(BOB) if m["List-Id"]]
    return digest, ids


def digest_runs(app: App) -> int:
    with transaction(app.read_sessions) as session:
        return session.scalar(select(func.count()).select_from(DigestRun)) or 0


def reply_to(message: EmailMessage, body: str, sender: str = BOB) -> EmailMessage:
    """What a mail client sends for Reply: To its Reply-To (else From), "Re: " subject,
    In-Reply-To and References its Message-ID."""
    reply = EmailMessage()
    reply["From"] = sender
    reply["To"] = str(message["Reply-To"] or message["From"])
    reply["Subject"] = f"Re: {message['Subject']}"
    reply["Message-ID"] = f"<{new_id()}>"
    reply["In-Reply-To"] = str(message["Message-ID"])
    reply["References"] = str(message["Message-ID"])
    reply.set_content(body)
    return reply


def quoted(text: str) -> str:
    return "".join(f"> {line}\n" if line else ">\n" for line in text.splitlines())


NOT_POSTED = {"en": "was not posted", "fr": "n'a pas été publiée"}
CONFIRM_QUESTION = {"en": "Not confirmed yet", "fr": "Pas encore confirmé"}


def test_a_reply_to_a_digest_is_posted_to_the_thread_it_answers(site: Site, language: str) -> None:
    digest, ids = digest_for_bob(site)
    assert email.utils.parseaddr(str(digest["From"]))[1] == f"digest@{DOMAIN}"
    text = plain_text(digest)
    # Interleaved: bob answers below the Fonts block, the rest of the digest quoted too.
    cut = text.index("mute+", text.index("* Fonts"))
    cut = text.index("\n", cut) + 1
    body = (
        f"On Thu, 3 Dec 2026, {digest['From']} wrote:\n"
        + quoted(text[:cut])
        + "\nInter, for its figures.\n\nBob\n\n"
        + quoted(text[cut:])
    )
    reply = reply_to(digest, body)
    assert email.utils.parseaddr(str(reply["To"]))[1] == f"digest@{DOMAIN}"
    site.send(reply, str(reply["To"]))
    wait_for(lambda: site.stored(str(reply["Message-ID"])) is not None, what="the reply posted")
    subject, sender, posted, parent = site.stored(str(reply["Message-ID"]))  # type: ignore[misc]
    assert (subject, sender, parent) == ("Fonts", BOB, ids["fonts"])
    assert posted.strip() == "Inter, for its figures.\n\nBob"
    for member in (ALICE, CAROL):
        copy = site.wait(member, "Re: [design] Fonts")
        assert copy["In-Reply-To"] == f"<{ids['fonts']}>"
        assert "Inter, for its figures." in plain_text(copy)

    # Top-posted above the whole digest: both threads are quoted, so no telling which.
    before = site.posts()
    ambiguous = reply_to(digest, "Agreed with all of this.\n\n" + quoted(text))
    site.send(ambiguous, f"digest@{DOMAIN}")
    answer = site.wait(BOB, NOT_POSTED[language])
    assert answer["In-Reply-To"] == str(ambiguous["Message-ID"])
    said = plain_text(answer)
    # Each thread's Reply link, and the community's address; not the help text.
    assert "mailto:design@lists.example.com?subject=Re%3A%20Colours&In-Reply-To=" in said
    assert f"design@{DOMAIN}" in said and "mailto:design-join@" not in said
    wait_for(lambda: handled(site.app), what="the reply handled")
    assert site.posts() == before

    # A reply quoting only the Colours block is clear enough.
    block = text[text.index("* Colours") : text.index("* Fonts")]
    selected = reply_to(digest, "Yes, the darker one.\n\n" + quoted(block))
    site.send(selected, f"digest@{DOMAIN}")
    wait_for(lambda: site.stored(str(selected["Message-ID"])) is not None, what="the 2nd reply")
    subject, _, _, parent = site.stored(str(selected["Message-ID"]))  # type: ignore[misc]
    assert (subject, parent) == ("Colours", ids["reply"])  # the newest post the digest showed

    # Someone else answering bob's digest (its id is easy to guess) learns nothing of it.
    forged = reply_to(digest, "Agreed.\n\n" + quoted(text), sender=CAROL)
    site.send(forged, f"digest@{DOMAIN}")
    told = plain_text(site.wait(CAROL, NOT_POSTED[language]))
    assert "Fonts" not in told and "In-Reply-To" not in told
    assert site.stored(str(forged["Message-ID"])) is None


def test_a_reply_through_the_digest_reply_link_lands_in_the_thread(site: Site) -> None:
    digest, ids = digest_for_bob(site)
    text = plain_text(digest)
    links = re.findall(r"^  \S+\u00a0?: (mailto:design@\S+)$", text, re.MULTILINE)
    assert len(links) == 2  # one Reply line per thread
    [link] = [link for link in links if "Colours" in urllib.parse.unquote(link)]
    # What a mail client does with the mailto: its address, subject and In-Reply-To.
    parts = urllib.parse.urlsplit(link)
    fields = {name: values[0] for name, values in urllib.parse.parse_qs(parts.query).items()}
    reply = EmailMessage()
    reply["From"] = BOB
    reply["To"] = urllib.parse.unquote(parts.path)
    reply["Subject"] = fields["subject"]
    reply["In-Reply-To"] = fields["In-Reply-To"]
    reply["Message-ID"] = f"<{new_id()}>"
    reply.set_content("Agreed, the darker one.\n")
    assert (reply["To"], reply["Subject"]) == (f"design@{DOMAIN}", "Re: Colours")
    site.send(reply, str(reply["To"]))
    stored = site.stored(str(reply["Message-ID"]))
    assert stored is not None and stored[0] == "Colours" and stored[3] == ids["reply"]
    site.wait(ALICE, "Re: [design] Colours", count=2)  # carol's reply, then bob's


def test_a_reply_to_a_welcome_notice_is_answered_not_with_the_help_text(
    site: Site, language: str
) -> None:
    colours = new_id()
    site.send(post("Colours", "Which blue?\n", message_id=colours), f"design@{DOMAIN}")
    join = post("join", "\n", message_id=new_id(), sender=ERIN, to=f"design-join@{DOMAIN}")
    site.send(join, f"design-join@{DOMAIN}")
    asked = site.wait(ERIN, WORDS[language]["confirm_join"])
    site.send(reply_to(asked, quoted(plain_text(asked)), sender=ERIN), str(asked["Reply-To"]))
    welcome = site.wait(ERIN, WORDS[language]["welcome"])
    assert email.utils.parseaddr(str(welcome["From"]))[1] == f"help@{DOMAIN}"
    thanks = reply_to(welcome, "Thanks, glad to be here!\n\n" + quoted(plain_text(welcome)), ERIN)
    site.send(thanks, f"help@{DOMAIN}")
    answer = site.wait(ERIN, NOT_POSTED[language])
    said = plain_text(answer)
    assert f"Design: design@{DOMAIN}" in said or f"Design\u00a0: design@{DOMAIN}" in said
    assert "help@" in said  # where the list of communities is
    assert site.stored(str(thanks["Message-ID"])) is None
    # Written below a thread the welcome lists: an answer to that thread.
    welcome_text = plain_text(welcome)
    cut = welcome_text.index("/t/")
    cut = welcome_text.index("\n", cut) + 1
    answer_body = (
        quoted(welcome_text[:cut]) + "\nNavy blue, as in the logo.\n\n" + quoted(welcome_text[cut:])
    )
    below = reply_to(welcome, answer_body, ERIN)
    site.send(below, f"help@{DOMAIN}")
    wait_for(lambda: site.stored(str(below["Message-ID"])) is not None, what="the answer")
    stored = site.stored(str(below["Message-ID"]))
    assert stored is not None and (stored[0], stored[1], stored[3]) == ("Colours", ERIN, colours)
    assert stored[2].strip() == "Navy blue, as in the logo."
    site.wait(ALICE, "Re: [design] Colours")
    # A plain mail to help@ still gets the help text.
    site.send(post("help", "\n", message_id=new_id(), sender=ERIN, to=f"help@{DOMAIN}"),
              f"help@{DOMAIN}")  # fmt: skip
    site.wait(ERIN, WORDS[language]["help"])


def test_a_reply_to_a_post_sent_to_help_is_posted_in_its_thread(site: Site) -> None:
    first = new_id()
    site.send(post("Colours", "Which blue?\n", message_id=first), f"design@{DOMAIN}")
    copy = site.wait(CAROL, "Colours")
    reply = reply_to(copy, "The darker one.\n\n" + quoted(plain_text(copy)), sender=CAROL)
    del reply["To"]
    reply["To"] = f"help@{DOMAIN}"  # a slip of the finger, or a client that answered help@
    site.send(reply, f"help@{DOMAIN}")
    wait_for(lambda: site.stored(str(reply["Message-ID"])) is not None, what="the reply posted")
    stored = site.stored(str(reply["Message-ID"]))
    assert stored is not None and (stored[0], stored[1], stored[3]) == ("Colours", CAROL, first)
    site.wait(ALICE, "Re: ")


def test_a_question_in_reply_to_a_confirmation_reaches_the_owners(
    site: Site, language: str
) -> None:
    join = post("join", "\n", message_id=new_id(), sender=ERIN, to=f"design-join@{DOMAIN}")
    site.send(join, f"design-join@{DOMAIN}")
    asked = site.wait(ERIN, WORDS[language]["confirm_join"])
    question = reply_to(
        asked, "Is this list in English?\n\n" + quoted(plain_text(asked)), sender=ERIN
    )
    site.send(question, str(asked["Reply-To"]))
    forwarded = site.wait(ALICE, WORDS[language]["owner"])
    assert forwarded["Reply-To"] == ERIN
    answer = site.wait(ERIN, CONFIRM_QUESTION[language])
    assert str(asked["Reply-To"]) in plain_text(answer)  # how to confirm
    wait_for(lambda: handled(site.app), what="the question handled")
    assert membership(site.app, "design", ERIN) is None  # a question confirms nothing
    # The bare reply still confirms.
    site.send(reply_to(asked, quoted(plain_text(asked)), sender=ERIN), str(asked["Reply-To"]))
    site.wait(ERIN, WORDS[language]["welcome"])
    assert membership(site.app, "design", ERIN) is not None


def test_the_digest_address_is_accepted_and_unknown_ones_still_refused(site: Site) -> None:
    message = post("hello", "Hi\n", message_id=new_id(), sender=BOB, to=f"digest@{DOMAIN}")
    assert site.gateway.send(message.as_bytes(), [f"digest@{DOMAIN}"], BOB).startswith("250")
    refused = site.gateway.send(message.as_bytes(), [f"digests@{DOMAIN}"], BOB)
    assert refused.startswith("550"), refused


def test_automatic_replies_are_ignored_and_answers_are_limited(
    app: App, settings: Settings, sink: tuple[Sink, int]
) -> None:
    seed(app)
    with running(configured(settings, sink[1], "en", replies_per_hour=1)) as gateway:
        site = Site(app, gateway, sink[0])
        digest, _ = digest_for_bob(site)
        text = plain_text(digest)
        before = site.posts()
        away = reply_to(digest, "I am away until Monday.\n\n" + quoted(text))
        away["Auto-Submitted"] = "auto-replied"
        site.send(away, f"digest@{DOMAIN}")
        for _ in range(2):
            site.send(reply_to(digest, "Agreed.\n\n" + quoted(text)), f"digest@{DOMAIN}")
        wait_for(lambda: handled(app) and outcomes(app) == ["answered", "limited"], what="both")
        site.wait(BOB, NOT_POSTED["en"])
        assert len([m for m in site.to(BOB) if NOT_POSTED["en"] in str(m["Subject"])]) == 1
        assert site.posts() == before
        assert not [m for m in site.to(BOB) if "away" in plain_text(m)]


def outcomes(app: App) -> list[str]:
    with transaction(app.read_sessions) as session:
        return list(
            session.scalars(
                select(ActionMail.outcome)
                .where(ActionMail.recipient == f"digest@{DOMAIN}")
                .order_by(ActionMail.id)
            )
        )


def test_a_yes_with_a_question_confirms_and_a_question_without_community_says_whom_to_ask(
    site: Site, language: str
) -> None:
    join = post("join", "\n", message_id=new_id(), sender=ERIN, to=f"design-join@{DOMAIN}")
    site.send(join, f"design-join@{DOMAIN}")
    asked = site.wait(ERIN, WORDS[language]["confirm_join"])
    yes = reply_to(
        asked, "Yes please.\nIs there a weekly digest?\n\n" + quoted(plain_text(asked)), ERIN
    )
    site.send(yes, str(asked["Reply-To"]))
    site.wait(ERIN, WORDS[language]["welcome"])
    assert membership(site.app, "design", ERIN) is not None
    forwarded = site.wait(ALICE, WORDS[language]["owner"])  # what followed the yes
    assert forwarded["Reply-To"] == ERIN

    # A profile change has no community: the answer names the owners to ask.
    change = post(
        "profile", "Name: Erin\n", message_id=new_id(), sender=ERIN, to=f"profile@{DOMAIN}"
    )
    site.send(change, f"profile@{DOMAIN}")
    asked = site.wait(ERIN, WORDS[language]["confirm_profile"])
    site.send(reply_to(asked, "What is this about?\n", ERIN), str(asked["Reply-To"]))
    answer = plain_text(site.wait(ERIN, CONFIRM_QUESTION[language]))
    assert f"design-owner@{DOMAIN}" in answer and str(asked["Reply-To"]) in answer
    wait_for(lambda: handled(site.app), what="the question handled")
    owners = [m for m in site.to(ALICE) if WORDS[language]["owner"] in str(m["Subject"])]
    assert len(owners) == 1  # only the join's question went to design's owners
