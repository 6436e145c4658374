"""The fold_reactions ingest stage and gateway.engagement.reactions, on a real store: reaction
mails and thank-you replies recorded instead of posted, who may react, replays, RFC 9078's
replaced sets, reactions within one batch, imports, and the archive told of a change."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlalchemy import select

from archive.publisher import store_fingerprint
from gateway.app import App
from gateway.community.communities import create_community
from gateway.community.members import add_members
from gateway.engagement.reactions import Lookup
from gateway.engagement.reactions import answered_message
from gateway.engagement.reactions import record_reaction
from gateway.ingest.batch import ingest_now
from gateway.ingest.context import Disposition
from gateway.ingest.context import InboundMail
from gateway.ingest.errors import DiscardReason
from gateway.ingest.errors import HoldReason
from gateway.ingest.processor import InboxProcessor
from gateway.ingest.spool import Spool
from gateway.store.db import transaction
from gateway.store.models import ActionMail
from gateway.store.models import Community
from gateway.store.models import Delivery
from gateway.store.models import DiscardedMail
from gateway.store.models import Message
from gateway.store.models import Origin
from gateway.store.models import Person
from gateway.store.models import Reaction
from gateway.store.models import ReactionSource
from tests.factories import AT
from tests.factories import as_bytes
from tests.factories import community_address
from tests.factories import ingest
from tests.factories import post

FIXTURES = Path(__file__).parent / "fixtures" / "reactions"
THUMBS_UP = "\U0001f44d"
FOLDED_HANDS = "\U0001f64f"
PARTY = "\U0001f389"


@pytest.fixture
def design(app: App) -> App:
    """`design` (members only: alice, bob, hugo, instant) and `ops` (alice), one post in
    each: planning-1@example.org in design, ops-1@example.org in ops."""
    with transaction(app.sessions) as session:
        design = create_community(session, "design", "Design")
        ops = create_community(session, "ops", "Ops")
        add_members(session, design, ["alice@example.com", "bob@example.com", "hugo@example.com"])
        add_members(session, ops, ["alice@example.com"])
    ingest(app, post("Planning", "When is lot 3 due?\n", message_id="planning-1@example.org"))
    ingest(app, post("Outage", "The VPN is down.\n", message_id="ops-1@example.org", to="ops"),
           ("ops",))  # fmt: skip
    return app


def reaction_mail(emoji: str, *, message_id: str, parent: str = "planning-1@example.org",
                  sender: str = "Bob <bob@example.com>") -> EmailMessage:  # fmt: skip
    """An RFC 9078 reaction, as Thunderbird-like clients write it."""
    message = post("Re: Planning", f"{emoji}\n", message_id=message_id, sender=sender,
                   parent=parent)  # fmt: skip
    message.replace_header("Content-Type", 'text/plain; charset="utf-8"')
    message["Content-Disposition"] = "reaction"
    return message


def reply(body: str, *, message_id: str, sender: str = "Bob <bob@example.com>") -> EmailMessage:
    return post("Re: Planning", body, message_id=message_id, sender=sender,
                parent="planning-1@example.org")  # fmt: skip


def reactions(app: App) -> list[tuple[str, str, str, str]]:
    """(reacting address, answered Message-ID, emoji, source), in a stable order."""
    with app.read_sessions() as session:
        rows = session.execute(
            select(Person.address, Message.message_id, Reaction.emoji, Reaction.source)
            .join(Person, Person.id == Reaction.person_id)
            .join(Message, Message.id == Reaction.message_id)
            .order_by(Person.address, Message.message_id, Reaction.emoji)
        )
        return [(a, m, e, s.value) for a, m, e, s in rows]


def counts(app: App) -> dict[str, int]:
    with app.read_sessions() as session:
        return {
            "messages": session.scalar(select(func.count()).select_from(Message)) or 0,
            "deliveries": session.scalar(select(func.count()).select_from(Delivery)) or 0,
            "actions": session.scalar(select(func.count()).select_from(ActionMail)) or 0,
        }


def test_an_rfc_9078_reaction_is_recorded_not_posted(design: App) -> None:
    before = counts(design)
    mail = reaction_mail(THUMBS_UP, message_id="r1@example.com")

    outcome = ingest(design, mail, sender="bob@example.com")

    assert (outcome.disposition, outcome.reasons) == (Disposition.REACTION, (THUMBS_UP,))
    assert outcome.communities == ("design",)
    assert reactions(design) == [
        ("bob@example.com", "planning-1@example.org", THUMBS_UP, "rfc9078")
    ]
    assert counts(design) == before  # no message row, no delivery, no answer to the sender
    with design.read_sessions() as session:
        row = session.scalars(select(Reaction)).one()
        assert row.mail_message_id == "r1@example.com"
        assert row.created_at == AT
        assert design.blobs.get(row.raw_sha256) == as_bytes(mail)  # the raw mail is kept


def test_a_replayed_reaction_changes_nothing(design: App) -> None:
    mail = reaction_mail(THUMBS_UP, message_id="r1@example.com")
    ingest(design, mail, sender="bob@example.com")
    later = AT + dt.timedelta(hours=1)

    again = ingest(design, mail, sender="bob@example.com", at=later)

    assert again.disposition == Disposition.DUPLICATE
    with design.read_sessions() as session:
        assert [r.created_at for r in session.scalars(select(Reaction))] == [AT]


def test_a_later_rfc_9078_reaction_replaces_the_persons_set(design: App) -> None:
    ingest(design, reaction_mail(f"{THUMBS_UP} {PARTY}", message_id="r1@example.com"),
           sender="bob@example.com")  # fmt: skip
    ingest(design, reply("+1\n", message_id="r2@example.com"), sender="bob@example.com")
    assert {r[2] for r in reactions(design)} == {THUMBS_UP, PARTY}  # "+1" renewed 👍

    ingest(design, reaction_mail(PARTY, message_id="r3@example.com"), sender="bob@example.com",
           at=AT + dt.timedelta(minutes=5))  # fmt: skip

    # 👍 came last from the "+1" reply, which a reaction mail does not take away.
    assert {(r[2], r[3]) for r in reactions(design)} == {(THUMBS_UP, "reply"), (PARTY, "rfc9078")}
    ingest(design, reaction_mail("\U0001f600", message_id="r4@example.com"),
           sender="bob@example.com")  # fmt: skip
    assert {r[2] for r in reactions(design)} == {THUMBS_UP, "\U0001f600"}


def test_gmail_reactions_add_up_and_the_same_emoji_is_renewed(design: App) -> None:
    raw = (FIXTURES / "gmail-reaction.eml").read_bytes()
    assert ingest(design, raw, sender="alice@example.com").disposition == Disposition.REACTION
    party = raw.replace(b"=F0=9F=91=8D", b"=F0=9F=8E=89").replace(b"CAFx7", b"CAFx8")
    ingest(design, party, sender="alice@example.com")
    again = raw.replace(b"CAFx7", b"CAFx9")
    later = AT + dt.timedelta(days=1)
    ingest(design, again, sender="alice@example.com", at=later)

    assert {(r[2], r[3]) for r in reactions(design)} == {(THUMBS_UP, "gmail"), (PARTY, "gmail")}
    with design.read_sessions() as session:
        thumbs = session.scalars(select(Reaction).where(Reaction.emoji == THUMBS_UP)).one()
        assert thumbs.created_at == later
        assert thumbs.mail_message_id.startswith("CAFx9")


def test_a_reaction_to_an_unknown_message_or_another_community_is_discarded(
    design: App,
) -> None:
    unknown = ingest(design, reaction_mail(THUMBS_UP, message_id="r1@example.com",
                                           parent="nowhere@example.org"),
                     sender="bob@example.com")  # fmt: skip
    elsewhere = ingest(design, reaction_mail(THUMBS_UP, message_id="r2@example.com",
                                             parent="ops-1@example.org",
                                             sender="alice@example.com"),
                       sender="alice@example.com")  # fmt: skip

    assert (unknown.disposition, unknown.reasons) == (
        Disposition.DISCARDED,
        (DiscardReason.REACTION_UNKNOWN_MESSAGE,),
    )
    assert (elsewhere.disposition, elsewhere.reasons) == (
        Disposition.DISCARDED,
        (DiscardReason.REACTION_ELSEWHERE,),
    )
    assert reactions(design) == []
    with design.read_sessions() as session:
        discarded = session.scalars(select(DiscardedMail).order_by(DiscardedMail.id)).all()
        assert [(d.message_id, d.reason) for d in discarded] == [
            ("r1@example.com", "reaction-to-unknown-message"),
            ("r2@example.com", "reaction-to-another-community"),
        ]


def test_a_sender_who_may_not_post_gets_what_a_post_gets(design: App) -> None:
    mail = reaction_mail(THUMBS_UP, message_id="r1@example.com", sender="eve@example.org")
    outcome = ingest(design, mail, sender="eve@example.org")
    text = ingest(design, reply("+1\n", message_id="r2@example.com", sender="eve@example.org"),
                  sender="eve@example.org")  # fmt: skip

    assert (outcome.disposition, outcome.reasons) == (Disposition.HELD, (HoldReason.NOT_MEMBER,))
    assert (text.disposition, text.reasons) == (Disposition.HELD, (HoldReason.NOT_MEMBER,))
    assert reactions(design) == []


@pytest.mark.parametrize(
    ("body", "emoji"),
    [
        ("+1\n\n> When is lot 3 due?\n", THUMBS_UP),
        ("Thanks Alice!\n\nOn Tue, Mar 3, 2026 at 10:12 AM Alice <alice@example.com> wrote:\n"
         "> When is lot 3 due?\n", FOLDED_HANDS),
        ("Merci beaucoup !\n-- \nBob\nDSI\n", FOLDED_HANDS),
    ],
)  # fmt: skip
def test_a_reply_that_only_says_thanks_or_plus_one_is_a_reaction(
    design: App, body: str, emoji: str
) -> None:
    before = counts(design)
    outcome = ingest(design, reply(body, message_id="r1@example.com"), sender="bob@example.com")
    assert (outcome.disposition, outcome.reasons) == (Disposition.REACTION, (emoji,))
    assert reactions(design) == [("bob@example.com", "planning-1@example.org", emoji, "reply")]
    assert counts(design) == before


def test_client_replies_merci_and_thanks_fold(design: App) -> None:
    for name, sender in [
        ("apple-mail-fr-merci.eml", "hugo@example.com"),
        ("outlook-desktop-en-thanks.eml", "hugo@example.com"),
    ]:
        raw = (FIXTURES / name).read_bytes()
        assert ingest(design, raw, sender=sender).disposition == Disposition.REACTION
    # The second is the same emoji from the same person: renewed, still one.
    assert reactions(design) == [
        ("hugo@example.com", "planning-1@example.org", FOLDED_HANDS, "reply")
    ]


def test_a_longer_reply_and_a_thanks_to_an_unknown_message_are_posts(design: App) -> None:
    longer = reply("Thanks, but the build still fails on ARM.\n", message_id="r1@example.com")
    stray = post("Re: Old", "Thanks!\n", message_id="r2@example.com",
                 sender="bob@example.com", parent="gone@example.org")  # fmt: skip
    fresh = post("Thanks", "Thanks!\n", message_id="r3@example.com", sender="bob@example.com")

    outcomes = [ingest(design, mail, sender="bob@example.com") for mail in (longer, stray, fresh)]

    assert [o.disposition for o in outcomes] == [Disposition.PUBLISHED] * 3
    assert reactions(design) == []


def test_a_community_that_does_not_fold_thanks_posts_them(design: App) -> None:
    with transaction(design.sessions) as session:
        session.scalars(
            select(Community).where(Community.slug == "design")
        ).one().fold_thanks = False
    plus_one = ingest(design, reply("+1\n", message_id="r1@example.com"), sender="bob@example.com")
    mail = reaction_mail(THUMBS_UP, message_id="r2@example.com")
    reaction = ingest(design, mail, sender="bob@example.com")

    assert plus_one.disposition == Disposition.PUBLISHED
    assert reaction.disposition == Disposition.REACTION  # a reaction mail is one anyway


def test_a_reaction_to_a_post_of_the_same_batch_waits_for_it(design: App) -> None:
    question = post("Lunch", "Pizza?\n", message_id="q1@example.com")
    plus_one = post("Re: Lunch", "+1\n", message_id="q2@example.com", sender="bob@example.com",
                    parent="q1@example.com")  # fmt: skip
    thumbs = reaction_mail(PARTY, message_id="q3@example.com", parent="q1@example.com")
    recipients = (community_address("design"),)
    mails = [
        InboundMail(as_bytes(m), s, recipients, AT)
        for m, s in [(thumbs, "bob@example.com"), (question, "alice@example.com"),
                     (plus_one, "bob@example.com")]
    ]  # fmt: skip

    outcomes = ingest_now(design, mails)

    assert [o.disposition for o in outcomes if not isinstance(o, Exception)] == [
        Disposition.REACTION,
        Disposition.PUBLISHED,
        Disposition.REACTION,
    ]
    assert {(r[1], r[2]) for r in reactions(design)} == {
        ("q1@example.com", THUMBS_UP),
        ("q1@example.com", PARTY),
    }


def test_imported_reaction_mails_are_reactions_and_imported_thanks_stay_posts(
    design: App,
) -> None:
    mail = reaction_mail(THUMBS_UP, message_id="r1@example.com", sender="zoe@example.net")
    thanks = reply("Thanks!\n", message_id="r2@example.com", sender="zoe@example.net")

    imported = [ingest(design, m, sender="", origin=Origin.IMPORT) for m in (mail, thanks)]

    assert [o.disposition for o in imported] == [Disposition.REACTION, Disposition.PUBLISHED]
    assert reactions(design) == [("zoe@example.net", "planning-1@example.org", THUMBS_UP, "import")]


def test_a_reaction_mail_first_stored_as_a_post_stays_that_post(design: App) -> None:
    mail = reaction_mail(THUMBS_UP, message_id="r1@example.com", sender="eve@example.org")
    assert ingest(design, mail, sender="eve@example.org").disposition == Disposition.HELD
    with transaction(design.sessions) as session:
        design_row = session.scalars(select(Community).where(Community.slug == "design")).one()
        add_members(session, design_row, ["eve@example.org"])

    assert ingest(design, mail, sender="eve@example.org").disposition == Disposition.DUPLICATE
    assert reactions(design) == []


def test_the_answered_message_is_in_reply_to_then_the_nearest_reference(design: App) -> None:
    ingest(design, reply("The 20th.\n", message_id="a1@example.com",
                         sender="alice@example.com"), sender="alice@example.com")  # fmt: skip
    with design.read_sessions() as session:
        design_id = session.scalar(select(Community.id).where(Community.slug == "design"))
        assert design_id is not None
        ids = {m: i for m, i in session.execute(select(Message.message_id, Message.id))}
        first = answered_message(session, ["x@y"], ["planning-1@example.org", "a1@example.com"],
                                 [design_id])  # fmt: skip
        direct = answered_message(session, ["planning-1@example.org"], ["a1@example.com"],
                                  [design_id])  # fmt: skip
        assert (first.lookup, first.message_id) == (Lookup.FOUND, ids["a1@example.com"])
        assert (direct.lookup, direct.message_id) == (Lookup.FOUND, ids["planning-1@example.org"])
        assert answered_message(session, [], [], [design_id]).lookup is Lookup.UNKNOWN


def test_the_archive_publisher_sees_a_reaction_come_and_be_renewed(design: App) -> None:
    with design.read_sessions() as session:
        before = store_fingerprint(session)
    ingest(design, reaction_mail(THUMBS_UP, message_id="r1@example.com"), sender="bob@example.com")
    with design.read_sessions() as session:
        after = store_fingerprint(session)
    with transaction(design.sessions) as session:
        row = session.scalars(select(Reaction)).one()
        record_reaction(session, row.message_id, row.person_id, THUMBS_UP, ReactionSource.CLI,
                        at=AT + dt.timedelta(days=2))  # fmt: skip
    with design.read_sessions() as session:
        renewed = store_fingerprint(session)
    assert len({before, after, renewed}) == 3


def test_the_inbox_processor_logs_a_reaction_as_such(
    design: App, caplog: pytest.LogCaptureFixture
) -> None:
    raw = as_bytes(reaction_mail(THUMBS_UP, message_id="r1@example.com"))
    writer = Spool(design.spool_engine, design.blobs, on_commit=lambda: None)
    future = writer.submit(InboundMail(raw, "bob@example.com", (community_address("design"),), AT))
    writer.start()
    writer.stop(60)
    assert future.result(0) is None

    with caplog.at_level("INFO", logger="gateway.ingest"):
        assert InboxProcessor(design).process_batch() == 1

    [line] = [r.getMessage() for r in caplog.records if "disposition=reaction" in r.getMessage()]
    assert "message-id=<r1@example.com> from=bob@example.com communities=design" in line
    assert f"reasons={THUMBS_UP}" in line
    assert len(reactions(design)) == 1


def test_a_thanks_with_an_attachment_or_an_inline_image_is_a_post(design: App) -> None:
    attached = reply("Thanks!\n", message_id="r1@example.com")
    attached.add_attachment(b"%PDF-1.4\n", maintype="application", subtype="pdf",
                            filename="plan.pdf")  # fmt: skip
    pictured = reply("+1\n", message_id="r2@example.com")
    pictured.add_alternative('<p>+1</p><img src="cid:logo@example.com">', subtype="html")
    pictured.get_payload()[1].add_related(b"\x89PNG\r\n", maintype="image", subtype="png",
                                          cid="<logo@example.com>")  # fmt: skip

    outcomes = [ingest(design, mail, sender="bob@example.com") for mail in (attached, pictured)]

    assert [o.disposition for o in outcomes] == [Disposition.PUBLISHED] * 2
    assert reactions(design) == []


def test_a_thanks_with_a_postscript_under_its_signature_is_a_post(design: App) -> None:
    signed = "Merci !\n-- \nBob Martin\nDSI\n+33 1 23 45 67 89\n"
    postscript = (
        signed
        + "\nP.S. the room on the 3rd floor\nis booked until noon,\n"
        + "so we meet at 2 pm,\nand bring the badges\nfor the visitors.\n"
    )
    short = ingest(design, reply(signed, message_id="r1@example.com"), sender="bob@example.com")
    long = ingest(design, reply(postscript, message_id="r2@example.com"),
                  sender="bob@example.com")  # fmt: skip

    assert (short.disposition, long.disposition) == (Disposition.REACTION, Disposition.PUBLISHED)


def test_a_thanks_with_answers_inside_the_quoted_history_is_a_post(design: App) -> None:
    ingest(design, post("Workshop", "We need a room for the workshop.\n\nAbout fifteen people.\n"
                        "\nWho brings the projector?\n", message_id="workshop@example.org",
                        sender="Alice Martin <alice@example.com>"))  # fmt: skip
    header = (
        "Thanks\n\n\nFrom: Alice Martin <alice@example.com>\nSent: Tuesday, March 3, 2026\n"
        "To: design@lists.example.com\nSubject: Workshop\n\n"
    )
    plain = header + (
        "We need a room for the workshop.\n\nAbout fifteen people.\n\nWho brings the projector?\n"
        "\n--\nYou receive this as a member of Design: unsubscribe at design-leave@example.com\n"
    )
    inline = header + (
        "We need a room for the workshop.\n\nRoom 4B is free on Monday.\n\n"
        "About fifteen people.\n\nWho brings the projector?\n"
    )

    outcomes = [
        ingest(design, post("RE: Workshop", body, message_id=f"r{n}@example.com",
                            sender="Bob <bob@example.com>", parent="workshop@example.org"),
               sender="bob@example.com")
        for n, body in enumerate((plain, inline))
    ]  # fmt: skip

    assert [o.disposition for o in outcomes] == [Disposition.REACTION, Disposition.PUBLISHED]


def test_a_reaction_to_a_cross_post_needs_the_right_to_post_in_every_community(
    design: App,
) -> None:
    """A member of design only must not appear on ops' pages through a cross-post."""
    ingest(design, post("Both", "Shared plan.\n", message_id="both@example.org",
                        to=["design", "ops"]), ("design", "ops"))  # fmt: skip
    mail = reaction_mail(THUMBS_UP, message_id="r1@example.com", parent="both@example.org")
    bob = ingest(design, mail, sender="bob@example.com")
    thanks = post("Re: Both", "Thanks!\n", message_id="r2@example.com",
                  sender="Bob <bob@example.com>", parent="both@example.org")  # fmt: skip
    bob_thanks = ingest(design, thanks, sender="bob@example.com")
    alice = ingest(design, reaction_mail(PARTY, message_id="r3@example.com",
                                         parent="both@example.org",
                                         sender="Alice <alice@example.com>"),
                   sender="alice@example.com")  # fmt: skip

    assert (bob.disposition, bob.reasons) == (
        Disposition.DISCARDED,
        (DiscardReason.REACTION_NOT_ALLOWED,),
    )
    assert bob_thanks.disposition == Disposition.PUBLISHED  # a post, as before
    assert alice.disposition == Disposition.REACTION
    assert reactions(design) == [("alice@example.com", "both@example.org", PARTY, "rfc9078")]
