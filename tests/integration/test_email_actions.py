"""Email actions end to end: mail to the action addresses over SMTP to a real gateway, the
answers captured by a loopback SMTP sink, in English and in French."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.message
import email.policy
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import select

from gateway.actions.tokens import new_token
from gateway.app import App
from gateway.community.communities import create_community
from gateway.community.members import add_members
from gateway.community.people import ProfileChanges
from gateway.community.people import find_person
from gateway.community.people import set_profile
from gateway.settings import Settings
from gateway.store.db import transaction
from gateway.store.models import ActionMail
from gateway.store.models import Community
from gateway.store.models import Confirmation
from gateway.store.models import DeliveryMode
from gateway.store.models import Membership
from gateway.store.models import Message
from gateway.store.models import MessageCommunity
from gateway.store.models import MessageStatus
from gateway.store.models import PendingAction
from gateway.store.models import Person
from gateway.store.models import Policy
from gateway.store.models import Role
from gateway.store.models import ThreadMute
from gateway.store.models import Visibility
from gateway.store.models import utcnow
from tests.conftest import RunningGateway
from tests.conftest import running
from tests.conftest import wait_for
from tests.factories import new_message_id
from tests.factories import post
from tests.received import parse_mail
from tests.sink import Sink

DOMAIN = "lists.example.com"
HOST = "127.0.0.1"
# Words each language's answers are recognized by (their subjects).
WORDS = {
    "en": {
        "confirm_join": "please confirm that you want to join",
        "welcome": "Welcome to",
        "already": "you are already a member",
        "now_daily": "you now get one digest a day",
        "not_member": "you are not a member",
        "confirm_leave": "please confirm that you want to leave",
        "left": "you left",
        "profile": "Your profile",
        "help": "The communities and how to use them",
        "community_help": "Design: how it works",
        "owner": "a message for the owners",
        "expired": "This confirmation has expired",
        "used": "This confirmation was already used",
        "forged": "This confirmation address is not valid",
        "pending": "your request was sent to its owners",
        "request": "asks to join",
        "admitted": "is now a member",
        "admitted_already": "was already a member",
        "held": "a post waits for your approval",
        "held_sender": "your post waits for a moderator",
        "approved": "Approved",
        "already_decided": "Already decided",
        "rejected": "Your post was not published",
        "muted": "Thread muted",
        "unmuted": "Thread unmuted",
        "confirm_delivery": "please confirm you want",
        "confirm_profile": "Please confirm the change to your profile",
        "confirm_mute": "Please confirm:",
        "staff_question": "Nothing done",
    },
    "fr": {
        "confirm_join": "confirmez votre inscription",
        "welcome": "Bienvenue dans",
        "already": "vous êtes déjà membre",
        "now_daily": "vous recevez maintenant un résumé par jour",
        "not_member": "vous n'êtes pas membre",
        "confirm_leave": "confirmez votre départ",
        "left": "départ confirmé",
        "profile": "Votre profil",
        "help": "Les communautés et leur mode d'emploi",
        "community_help": "Design\u00a0: mode d'emploi",  # French typography
        "owner": "un message pour les responsables",
        "expired": "Cette confirmation a expiré",
        "used": "Cette confirmation a déjà servi",
        "forged": "Cette adresse de confirmation n'est pas valable",
        "pending": "votre demande a été transmise aux responsables",
        "request": "demande à entrer",
        "admitted": "est maintenant membre",
        "admitted_already": "était déjà membre",
        "held": "un message attend votre accord",
        "held_sender": "votre message attend un modérateur",
        "approved": "Publié",
        "already_decided": "Déjà traité",
        "rejected": "Votre message n'a pas été publié",
        "muted": "Discussion mise en sourdine",
        "unmuted": "Discussion de nouveau suivie",
        "confirm_delivery": "confirmez que vous voulez",
        "confirm_profile": "Confirmez la modification de votre profil",
        "confirm_mute": "Confirmez\u00a0:",
        "staff_question": "Rien n'a été fait",
    },
}


@pytest.fixture
def seeded(app: App) -> App:
    """design (public): alice owner, bob member; secret (private): olga and otto owners;
    board (moderated): alice owner, mona moderator. Some history in design."""
    with transaction(app.sessions) as session:
        design = create_community(session, "design", "Design", description="Shapes, colours, type")
        secret = create_community(session, "secret", "Secret", visibility=Visibility.PRIVATE)
        board = create_community(session, "board", "Board", policy=Policy.MODERATED)
        add_members(session, design, ["alice@example.com"], role=Role.OWNER)
        add_members(session, design, ["bob@example.com"])
        add_members(session, secret, ["olga@example.com", "otto@example.com"], role=Role.OWNER)
        add_members(session, board, ["alice@example.com"], role=Role.OWNER)
        add_members(session, board, ["mona@example.com"], role=Role.MODERATOR)
    return app


def configured(settings: Settings, port: int, language: str, **actions: Any) -> Settings:
    return dataclasses.replace(
        settings,
        gateway=dataclasses.replace(settings.gateway, language=language),
        relay=dataclasses.replace(settings.relay, backend="smtp", host=HOST, port=port),
        actions=dataclasses.replace(settings.actions, **actions),
    )


class Mail:
    """Send to the gateway, and read what the sink got."""

    def __init__(self, gateway: RunningGateway, sink: Sink, language: str) -> None:
        self.gateway = gateway
        self.sink = sink
        self.words = WORDS[language]

    def send(
        self,
        sender: str,
        to: str,
        subject: str = "",
        body: str = "",
        **headers: str,
    ) -> str:
        message_id = email.utils.make_msgid(domain="example.com").strip("<>")
        message = post(
            subject, body or "\n", message_id=message_id, sender=sender, to=to, **headers
        )
        reply = self.gateway.send(message.as_bytes(), [to], sender=sender)
        assert reply.startswith("250"), reply
        return str(message["Message-ID"])

    def to(self, recipient: str) -> list[EmailMessage]:
        return [parse_mail(data) for _, rcpt, data in self.sink.copies() if rcpt == recipient]

    def wait(self, recipient: str, word: str, count: int = 1) -> EmailMessage:
        """The newest mail to `recipient` whose subject holds the language's `word`."""
        text = self.words[word]

        def found() -> list[EmailMessage]:
            return [m for m in self.to(recipient) if text in str(m["Subject"])]

        wait_for(lambda: len(found()) >= count, what=f"{word!r} to {recipient}")
        return found()[-1]


def text(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    content = body.get_content()
    assert isinstance(content, str)
    return content


def confirm_address(message: EmailMessage) -> str:
    reply_to = str(message["Reply-To"])
    assert reply_to.startswith("confirm+") and reply_to.endswith("@" + DOMAIN), reply_to
    assert reply_to in text(message)
    return reply_to


def membership(app: App, slug: str, address: str) -> Membership | None:
    with transaction(app.read_sessions) as session:
        return session.scalar(
            select(Membership)
            .join(Person, Person.id == Membership.person_id)
            .join(Community, Community.id == Membership.community_id)
            .where(Community.slug == slug, Person.address == address)
        )


def handled(app: App) -> bool:
    with transaction(app.read_sessions) as session:
        return not session.scalars(
            select(ActionMail.id).where(ActionMail.handled_at.is_(None))
        ).all()


@pytest.fixture(params=["en", "fr"])
def language(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def mail(seeded: App, settings: Settings, sink: tuple[Sink, int], language: str) -> Iterator[Mail]:
    with running(configured(settings, sink[1], language)) as gateway:
        yield Mail(gateway, sink[0], language)
    assert_both_parts(sink[0])


def assert_both_parts(sink: Sink) -> None:
    """Every mail the gateway wrote itself in a test (answers, confirmations, welcomes,
    notices to owners: marked Auto-Submitted) left with a text and an HTML part."""
    for _, recipient, data in sink.copies():
        message = parse_mail(data)
        if message["Auto-Submitted"] is None:
            continue  # a post's copy keeps its author's parts
        parts = {p.get_content_type() for p in message.walk() if not p.is_multipart()}
        assert {"text/plain", "text/html"} <= parts, (recipient, message["Subject"], parts)


def test_join_confirm_welcome_delivery_and_leave(mail: Mail, seeded: App) -> None:
    carol = "carol@example.com"
    mail.send(carol, f"design-join@{DOMAIN}", "join")
    asked = mail.wait(carol, "confirm_join")
    assert asked["Auto-Submitted"] == "auto-generated"
    assert asked["X-Gateway-Loop"] == DOMAIN
    assert membership(seeded, "design", carol) is None  # nothing before the reply
    confirm = confirm_address(asked)
    # A reply, quoting the request, as a mail client sends it.
    mail.send(carol, confirm, f"Re: {asked['Subject']}", "> " + text(asked).replace("\n", "\n> "))
    welcome = mail.wait(carol, "welcome")
    joined = membership(seeded, "design", carol)
    assert joined is not None and joined.delivery is DeliveryMode.INSTANT
    body = text(welcome)
    assert "Shapes, colours, type" in body
    assert "http://localhost:8000/c/design/" in body
    assert f"design-daily@{DOMAIN}" in body and f"design@{DOMAIN}" in body
    assert f"profile@{DOMAIN}" in body  # carol has no expertise yet

    # The same token again: used; joining again: already a member.
    mail.send(carol, confirm, "again")
    mail.wait(carol, "used")
    mail.send(carol, f"design-join@{DOMAIN}")
    mail.wait(carol, "already")

    mail.send(carol, f"design-daily@{DOMAIN}")
    asked = mail.wait(carol, "confirm_delivery")
    assert membership(seeded, "design", carol).delivery is DeliveryMode.INSTANT  # type: ignore[union-attr]
    mail.send(carol, confirm_address(asked))
    changed = mail.wait(carol, "now_daily")
    assert f"design-instant@{DOMAIN}" in text(changed)  # how to undo it
    joined = membership(seeded, "design", carol)
    assert joined is not None and joined.delivery is DeliveryMode.DAILY

    mail.send(carol, f"design-leave@{DOMAIN}")
    leaving = mail.wait(carol, "confirm_leave")
    assert membership(seeded, "design", carol) is not None
    mail.send(carol, confirm_address(leaving))
    mail.wait(carol, "left")
    assert membership(seeded, "design", carol) is None

    # From a non-member: how to join.
    mail.send(carol, f"design-weekly@{DOMAIN}")
    answer = mail.wait(carol, "not_member")
    assert f"design-join@{DOMAIN}" in text(answer)


def test_the_welcome_catches_up_on_the_busiest_threads(mail: Mail, seeded: App) -> None:
    mail.send("alice@example.com", f"design@{DOMAIN}", "Quiet thread", "One post.")
    first = mail.send("alice@example.com", f"design@{DOMAIN}", "Busy thread", "Hello")
    mail.send("bob@example.com", f"design@{DOMAIN}", "Re: Busy thread", "Reply", In_Reply_To=first)
    with transaction(seeded.sessions) as session:
        erin = find_person(session, "erin@example.com")
        assert erin is None
    mail.send("erin@example.com", f"design-join@{DOMAIN}")
    mail.send("erin@example.com", confirm_address(mail.wait("erin@example.com", "confirm_join")))
    body = text(mail.wait("erin@example.com", "welcome"))
    assert body.index("Busy thread") < body.index("Quiet thread")
    assert "http://localhost:8000/t/" in body


def test_the_welcome_suggests_communities_that_match_the_profile(mail: Mail, seeded: App) -> None:
    frank = "frank@example.com"
    with transaction(seeded.sessions) as session:
        set_profile(session, frank, ProfileChanges(interests=["colours"]))
    mail.send(frank, f"board-join@{DOMAIN}")
    mail.send(frank, confirm_address(mail.wait(frank, "confirm_join")))
    body = text(mail.wait(frank, "welcome"))
    assert f"mailto:design-join@{DOMAIN}?subject=join" in body
    assert "Shapes, colours, type" in body


def test_the_monthly_mail_is_stopped_and_started_by_a_profile_line(mail: Mail, seeded: App) -> None:
    bob = "bob@example.com"

    def monthly() -> bool:
        with transaction(seeded.read_sessions) as session:
            person = find_person(session, bob)
            assert person is not None
            return person.monthly_mail

    mail.send(bob, f"profile@{DOMAIN}", "monthly off", "Monthly: off")
    asked = mail.wait(bob, "confirm_profile")
    assert monthly() is True  # nothing before the reply
    mail.send(bob, confirm_address(asked))
    mail.wait(bob, "profile")
    assert monthly() is False
    mail.send(bob, f"profile@{DOMAIN}", "mensuel", "Mensuel: oui\nMonthly: maybe")
    asked = mail.wait(bob, "confirm_profile", count=2)
    assert "Monthly: maybe" in text(asked)  # reported, not guessed
    mail.send(bob, confirm_address(asked))
    mail.wait(bob, "profile", count=2)
    assert monthly() is True


def test_the_write_to_link_is_chosen_by_a_profile_line(
    mail: Mail, seeded: App, language: str
) -> None:
    bob = "bob@example.com"

    def chosen() -> bool | None:
        with transaction(seeded.read_sessions) as session:
            person = find_person(session, bob)
            assert person is not None
            return person.show_write_to

    line = "Write to: off" if language == "en" else "Écrire : non"
    mail.send(bob, f"profile@{DOMAIN}", "no write to", line)
    asked = text(mail.wait(bob, "confirm_profile"))
    assert ("Write to:    off" if language == "en" else "Écrire\u00a0:              non") in asked
    assert chosen() is None  # nothing before the reply
    mail.send(bob, confirm_address(mail.wait(bob, "confirm_profile")))
    answer = text(mail.wait(bob, "profile")).replace("\r\n", "\n")
    assert chosen() is False
    # Shown in the answer, and in the lines to edit.
    assert ("\n  Write to:    off\n" if language == "en" else "\n  Écrire\u00a0:") in answer
    assert ("\n    Write to: off\n" if language == "en" else "\n    Écrire\u00a0: non\n") in answer
    line = "Write to: default" if language == "en" else "Écrire : par défaut"
    mail.send(bob, f"profile@{DOMAIN}", "default", line)
    mail.send(bob, confirm_address(mail.wait(bob, "confirm_profile", count=2)))
    answer = text(mail.wait(bob, "profile", count=2)).replace("\r\n", "\n")
    assert chosen() is None
    # "default" says what the gateway does now ([archive] show_write_to = true).
    assert ("default (on)" if language == "en" else "par défaut (oui)") in answer


def test_a_private_community_asks_its_owners(mail: Mail, seeded: App) -> None:
    dave = "dave@example.com"
    mail.send(dave, f"secret-join@{DOMAIN}")
    mail.send(dave, confirm_address(mail.wait(dave, "confirm_join")))
    mail.wait(dave, "pending")
    assert membership(seeded, "secret", dave) is None
    request = mail.wait("olga@example.com", "request")
    owner_confirm = confirm_address(request)
    # Only the owner's own address can use the owner's token.
    mail.send(dave, owner_confirm)
    mail.wait(dave, "forged")
    wait_for(lambda: handled(seeded))
    assert membership(seeded, "secret", dave) is None
    mail.send("olga@example.com", owner_confirm)
    welcome = mail.wait(dave, "welcome")
    assert "/c/secret/" not in text(welcome)  # a private community has no public archive
    assert membership(seeded, "secret", dave) is not None
    mail.wait("olga@example.com", "admitted")
    # The other owner's yes comes second: nothing more happens.
    mail.send("otto@example.com", confirm_address(mail.wait("otto@example.com", "request")))
    mail.wait("otto@example.com", "admitted_already")
    assert len([m for m in mail.to(dave) if mail.words["welcome"] in str(m["Subject"])]) == 1


def test_profile_by_mail(mail: Mail, seeded: App, language: str) -> None:
    bob = "bob@example.com"
    mail.send(bob, f"profile@{DOMAIN}")
    shown = text(mail.wait(bob, "profile"))
    assert f"profile@{DOMAIN}" in shown
    lines = (
        "Name: Bob Chen\nExpertise: accessibility, typography\nInterests: cycling\n"
        "Department: Design\nBio: Ten years of UX.\nFavourite colour: blue\n"
        if language == "en"
        else "Nom: Bob Chen\nExpertise: accessibilité, typographie\n"
        "Centres d'intérêt: vélo\nService: Design\nBio: Dix ans d'UX.\nCouleur préférée: bleu\n"
    )
    quoted = "\n> Name: Mallory\n> Expertise: lock picking\n"
    mail.send(bob, f"profile@{DOMAIN}", "profile", lines + quoted)
    asked = text(mail.wait(bob, "confirm_profile"))
    assert "Bob Chen" in asked and "Mallory" not in asked  # what will change
    mail.send(bob, confirm_address(mail.wait(bob, "confirm_profile")))
    answer = text(mail.wait(bob, "profile", count=2))
    assert "Bob Chen" in answer
    # The lines to change it are bob's own, ready to edit.
    assert (
        "\n    Name: Bob Chen\n    Department: Design\n    Expertise: accessibility, typography\n"
        if language == "en"
        else "\n    Nom\u00a0: Bob Chen\n    Service\u00a0: Design\n"
        "    Expertise\u00a0: accessibilité, typographie\n"
    ) in answer.replace("\r\n", "\n")
    with transaction(seeded.read_sessions) as session:
        person = find_person(session, bob)
        assert person is not None
        assert person.name == "Bob Chen" and person.department == "Design"
        expertise = sorted(t.label for t in person.tags if t.kind.value == "expertise")
        interests = [t.label for t in person.tags if t.kind.value == "interest"]
    assert expertise == (
        ["accessibility", "typography"] if language == "en" else ["accessibilité", "typographie"]
    )
    assert interests == (["cycling"] if language == "en" else ["vélo"])
    # The unknown line is reported, the quoted ones are ignored.
    assert ("Favourite colour: blue" if language == "en" else "Couleur préférée: bleu") in asked
    assert "Mallory" not in answer and "lock picking" not in answer


def test_help_and_community_help(mail: Mail, seeded: App) -> None:
    mail.send("zoe@example.com", f"help@{DOMAIN}")
    body = text(mail.wait("zoe@example.com", "help"))
    assert f"design@{DOMAIN}" in body and "Shapes, colours, type" in body
    assert f"design-join@{DOMAIN}" in body
    assert f"secret@{DOMAIN}" not in body  # private communities are not listed
    mail.send("zoe@example.com", f"design-help@{DOMAIN}")
    body = text(mail.wait("zoe@example.com", "community_help"))
    assert f"design-nomail@{DOMAIN}" in body


def test_owner_address_reaches_owners_and_moderators(mail: Mail, seeded: App) -> None:
    mail.send("zoe@example.com", f"board-owner@{DOMAIN}", "A question", "Can I present?")
    for person in ("alice@example.com", "mona@example.com"):
        forwarded = mail.wait(person, "owner")
        assert forwarded["Reply-To"] == "zoe@example.com"
        [attached] = [p for p in forwarded.iter_attachments()]
        assert attached.get_content_type() == "message/rfc822"
        assert "Can I present?" in attached.as_string()
    assert mail.to("bob@example.com") == []


def test_forged_and_expired_tokens_change_nothing(mail: Mail, seeded: App) -> None:
    mail.send("frank@example.com", f"confirm+{new_token()}@{DOMAIN}")
    mail.wait("frank@example.com", "forged")
    token = new_token()
    with transaction(seeded.sessions) as session:
        design = session.scalar(select(Community).where(Community.slug == "design"))
        assert design is not None
        session.add(
            Confirmation(
                token=token,
                action="join",
                address="frank@example.com",
                community_id=design.id,
                expires_at=utcnow() - dt.timedelta(minutes=1),
            )
        )
    mail.send("frank@example.com", f"confirm+{token}@{DOMAIN}")
    mail.wait("frank@example.com", "expired")
    assert membership(seeded, "design", "frank@example.com") is None


def test_moderation_by_mail(mail: Mail, seeded: App) -> None:
    zoe = "zoe@example.com"
    mail.send(zoe, f"board@{DOMAIN}", "Budget 2027", "Here are the figures.")
    mail.wait(zoe, "held_sender")
    notices = {p: mail.wait(p, "held") for p in ("alice@example.com", "mona@example.com")}
    mona = notices["mona@example.com"]
    [attached] = list(mona.iter_attachments())
    assert attached.get_content_type() == "message/rfc822"
    assert "Here are the figures." in attached.as_string()
    approve, reject = (
        line.strip() for line in text(mona).splitlines() if line.strip().startswith("confirm+")
    )
    mail.send("mona@example.com", approve, "approve")
    mail.wait("mona@example.com", "approved")
    # Published and delivered as if just arrived: alice (owner, instant) gets the post.
    wait_for(lambda: any("Budget 2027" in str(m["Subject"]) for m in mail.to("alice@example.com")
                         if m["List-Id"]), what="the approved post")  # fmt: skip
    # Alice's own approval now comes too late.
    alice_approve = next(
        line.strip()
        for line in text(notices["alice@example.com"]).splitlines()
        if line.strip().startswith("confirm+")
    )
    mail.send("alice@example.com", alice_approve)
    mail.wait("alice@example.com", "already_decided")
    # Mona's reject token is unused but the post is decided: nothing changes.
    mail.send("mona@example.com", reject, "no", "Too late")
    mail.wait("mona@example.com", "already_decided")
    with transaction(seeded.read_sessions) as session:
        statuses = set(session.scalars(select(Message.status)))
    assert statuses == {MessageStatus.PUBLISHED}


def test_a_reply_to_a_held_notice_that_says_no_publishes_nothing(mail: Mail, seeded: App) -> None:
    """The notice's Reply-To is mona's approve address: her "No, spam" approves nothing,
    goes to the other moderators (alice), and she is told how to approve or reject."""
    zoe, mona, alice = "zoe@example.com", "mona@example.com", "alice@example.com"
    mail.send(zoe, f"board@{DOMAIN}", "Cheap watches", "Buy now.")
    notice = mail.wait(mona, "held")
    approve = str(notice["Reply-To"])
    quoted = "".join(f"> {line}\n" for line in text(notice).splitlines())
    mail.send(mona, approve, "Re: held", "No, spam.\n\n" + quoted)
    answer = text(mail.wait(mona, "staff_question"))
    reject = [
        line.strip() for line in text(notice).splitlines() if line.strip().startswith("confirm+")
    ][1]
    assert approve in answer and reject in answer and "Cheap watches" in answer
    forwarded = mail.wait(alice, "owner")
    assert forwarded["Reply-To"] == mona
    assert "No, spam." in next(forwarded.iter_attachments()).as_string()
    assert not [m for m in mail.to(mona) if mail.words["owner"] in str(m["Subject"])]
    wait_for(lambda: handled(seeded), what="the reply handled")
    with transaction(seeded.read_sessions) as session:
        assert set(session.scalars(select(Message.status))) == {MessageStatus.HELD}
        token = session.scalar(select(Confirmation).where(Confirmation.address == mona,
                               Confirmation.action == PendingAction.APPROVE))  # fmt: skip
        assert token is not None and token.used_at is None  # still usable
    # A yes with thanks approves.
    mail.send(mona, approve, "Re: held", "Approve, thanks!\n\n" + quoted)
    mail.wait(mona, "approved")
    with transaction(seeded.read_sessions) as session:
        assert set(session.scalars(select(Message.status))) == {MessageStatus.PUBLISHED}


def test_an_owners_reply_that_asks_admits_nobody(mail: Mail, seeded: App) -> None:
    dave, olga, otto = "dave@example.com", "olga@example.com", "otto@example.com"
    mail.send(dave, f"secret-join@{DOMAIN}")
    mail.send(dave, confirm_address(mail.wait(dave, "confirm_join")))
    request = mail.wait(olga, "request")
    mail.send(olga, confirm_address(request), "Re: request", "Who is this? Not in my team.")
    answer = text(mail.wait(olga, "staff_question"))
    assert confirm_address(request) in answer and dave in answer
    assert mail.wait(otto, "owner")["Reply-To"] == olga
    wait_for(lambda: handled(seeded), what="the reply handled")
    assert membership(seeded, "secret", dave) is None
    mail.send(olga, confirm_address(request), "Re: request", "Oui")
    mail.wait(olga, "admitted")
    assert membership(seeded, "secret", dave) is not None


def test_rejection_by_mail_tells_the_sender_why(mail: Mail, seeded: App) -> None:
    zoe = "zoe@example.com"
    mail.send(zoe, f"board@{DOMAIN}", "Party", "Who is coming?")
    notice = mail.wait("mona@example.com", "held")
    reject = [
        line.strip() for line in text(notice).splitlines() if line.strip().startswith("confirm+")
    ][1]
    mail.send("mona@example.com", reject, "reject", "Not the place for this.\n\n> quoted")
    rejected = mail.wait(zoe, "rejected")
    assert "Not the place for this." in text(rejected)
    assert "quoted" not in text(rejected)
    with transaction(seeded.read_sessions) as session:
        assert set(session.scalars(select(Message.status))) == {MessageStatus.REJECTED}


# How each language says why a post waits (templates/mail/action_macros.*.txt).
WHY = {
    "en": {"design": "not a member of Design", "board": "every post to Board is moderated"},
    "fr": {"design": "pas membre de Design", "board": "tous les messages de Board sont modérés"},
}


def test_a_cross_post_held_in_two_communities_sends_a_notice_per_community_and_reason(
    mail: Mail, seeded: App, language: str
) -> None:
    """zoe is not a member of design (members only) and board is moderated: a notice per
    community, to that community's moderators, naming that community and its reason
    only; zoe is told once per community."""
    zoe = "zoe@example.com"
    message = EmailMessage()
    message["From"] = zoe
    message["To"] = f"design@{DOMAIN}, board@{DOMAIN}"
    message["Subject"] = "Offsite plans"
    message["Message-ID"] = email.utils.make_msgid(domain="example.com")
    message.set_content("Where shall we go?\n")
    reply = mail.gateway.send(message.as_bytes(), [f"design@{DOMAIN}", f"board@{DOMAIN}"], zoe)
    assert reply.startswith("250"), reply
    mail.wait(zoe, "held_sender", count=2)
    mona = text(mail.wait("mona@example.com", "held"))  # board's moderator
    mail.wait("alice@example.com", "held", count=2)  # she owns both: a notice for each
    wait_for(lambda: handled(seeded), what="the held rows handled")
    why = WHY[language]
    told = [text(m) for m in mail.to(zoe) if mail.words["held_sender"] in str(m["Subject"])]
    alice = [text(m) for m in mail.to("alice@example.com") if mail.words["held"] in m["Subject"]]
    assert len(told) == 2 and len(alice) == 2
    assert why["board"] in mona and why["design"] not in mona, mona
    for notices in (told, alice):
        [design] = [n for n in notices if why["design"] in n]
        [board] = [n for n in notices if why["board"] in n]
        assert why["board"] not in design and why["design"] not in board
    [design_told] = [n for n in told if why["design"] in n]
    assert f"design-join@{DOMAIN}" in design_told  # where membership is the reason, how to join
    assert all(f"board-join@{DOMAIN}" not in n for n in told)
    with transaction(seeded.read_sessions) as session:
        rows = session.execute(
            select(Community.slug, MessageCommunity.hold_reasons, MessageCommunity.status).join(
                MessageCommunity, MessageCommunity.community_id == Community.id
            )
        )
        stored = {slug: (reasons, status.value) for slug, reasons, status in rows}
    assert stored == {"design": (["not-member"], "held"), "board": (["moderated"], "held")}


def test_mute_and_unmute_a_thread(mail: Mail, seeded: App) -> None:
    first = mail.send("alice@example.com", f"design@{DOMAIN}", "Colours", "Blue?")
    wait_for(lambda: len(mail.to("bob@example.com")) == 1)
    [copy] = mail.to("bob@example.com")
    [mute] = [w for w in text(copy).split() if w.startswith("mailto:mute+")]
    mute_address = mute.removeprefix("mailto:").split("?")[0]
    mail.send("bob@example.com", mute_address, "mute")
    asked = mail.wait("bob@example.com", "confirm_mute")
    with transaction(seeded.read_sessions) as session:
        assert session.scalars(select(ThreadMute)).all() == []  # nothing before the reply
    mail.send("bob@example.com", confirm_address(asked))
    muted = mail.wait("bob@example.com", "muted")
    with transaction(seeded.read_sessions) as session:
        assert len(session.scalars(select(ThreadMute)).all()) == 1
    mail.send("alice@example.com", f"design@{DOMAIN}", "Re: Colours", "Or red?", In_Reply_To=first)
    mail.send("alice@example.com", f"design@{DOMAIN}", "Other", "Another thread")
    wait_for(lambda: any("Other" in str(m["Subject"]) for m in mail.to("bob@example.com")))
    assert not any("Re: " in str(m["Subject"]) and m["List-Id"] for m in mail.to("bob@example.com"))
    unmute = f"unmute+{mute_address.split('+')[1]}"
    assert unmute in text(muted)
    assert "http://localhost:8000/t/" in text(muted)
    mail.send("bob@example.com", unmute, "unmute")
    mail.send("bob@example.com", confirm_address(mail.wait("bob@example.com", "confirm_mute", 2)))
    mail.wait("bob@example.com", "unmuted")
    with transaction(seeded.read_sessions) as session:
        assert session.scalars(select(ThreadMute)).all() == []


@pytest.mark.parametrize("language", ["en"])
def test_automatic_mail_is_never_answered(mail: Mail, seeded: App) -> None:
    for sender, headers in [
        ("zoe@example.com", {"Auto_Submitted": "auto-replied"}),
        ("zoe@example.com", {"Precedence": "bulk"}),
        ("zoe@example.com", {"X_Gateway_Loop": DOMAIN}),
        ("noreply@example.com", {}),
        ("MAILER-DAEMON@example.com", {}),
    ]:
        mail.send(sender, f"help@{DOMAIN}", "help", **headers)
    mail.send("yves@example.com", f"help@{DOMAIN}")  # a person: answered
    mail.wait("yves@example.com", "help")
    wait_for(lambda: handled(seeded))
    assert {rcpt for _, rcpt, _ in mail.sink.copies()} == {"yves@example.com"}


@pytest.mark.parametrize("language", ["en"])
def test_an_owners_out_of_office_reply_admits_nobody(mail: Mail, seeded: App) -> None:
    """Issue 16: an owner's automatic reply to the admit confirmation let an outsider in.
    Each responder's way of saying it is automatic is heard; the owner's own reply is."""
    dave, olga = "dave@example.com", "olga@example.com"
    mail.send(dave, f"secret-join@{DOMAIN}")
    mail.send(dave, confirm_address(mail.wait(dave, "confirm_join")))
    owner_confirm = confirm_address(mail.wait(olga, "request"))

    def out_of_office(envelope_sender: str = olga, **headers: str) -> EmailMessage:
        reply = post("Out of office", "Back on Monday.\n", message_id=new_message_id(),
                     sender=olga, to=owner_confirm, **headers)  # fmt: skip
        answer = mail.gateway.send(reply.as_bytes(), [owner_confirm], sender=envelope_sender)
        assert answer.startswith("250"), answer
        return reply

    out_of_office(envelope_sender="")  # the null sender, as many responders send
    out_of_office(Precedence="auto_reply")
    out_of_office(X_Precedence="auto_reply")
    out_of_office(X_Autogenerated="Reply")
    out_of_office(X_Auto_Response_Suppress="All")
    twice = post("Out of office", "Back on Monday.\n", message_id=new_message_id(), sender=olga,
                 to=owner_confirm, Auto_Submitted="no")  # fmt: skip
    twice["Auto-Submitted"] = "auto-replied"  # a second copy, added by the responder
    assert mail.gateway.send(twice.as_bytes(), [owner_confirm], sender=olga)[:3] == "250"
    wait_for(lambda: handled(seeded))
    assert membership(seeded, "secret", dave) is None
    with transaction(seeded.read_sessions) as session:
        unused = session.scalars(
            select(Confirmation.id).where(
                Confirmation.action == PendingAction.ADMIT, Confirmation.used_at.is_(None)
            )
        ).all()
    assert len(unused) == 2  # olga's and otto's tokens: neither redeemed
    assert not mail.to(olga)[1:]  # no answer to any of them: only the request itself
    mail.send(olga, owner_confirm)  # olga herself
    mail.wait(dave, "welcome")
    assert membership(seeded, "secret", dave) is not None


def test_answers_are_limited_per_hour(
    seeded: App, settings: Settings, sink: tuple[Sink, int]
) -> None:
    handler, port = sink
    with running(configured(settings, port, "en", replies_per_hour=2)) as gateway:
        mail = Mail(gateway, handler, "en")
        for _ in range(4):
            mail.send("zoe@example.com", f"help@{DOMAIN}")
        wait_for(lambda: handled(seeded))
        mail.wait("zoe@example.com", "help", count=2)
    assert len(mail.to("zoe@example.com")) == 2
    with transaction(seeded.read_sessions) as session:
        outcomes = sorted(session.scalars(select(ActionMail.outcome)))
    assert outcomes == ["answered", "answered", "limited", "limited"]


def test_a_leave_through_a_trusted_relay_needs_no_confirmation(
    seeded: App, settings: Settings, sink: tuple[Sink, int]
) -> None:
    handler, port = sink
    with running(configured(settings, port, "en", trusted_relays=("127.0.0.1",))) as gateway:
        mail = Mail(gateway, handler, "en")
        # Another envelope sender than the From: the relay vouched for someone else.
        message = post(
            "leave", "\n", message_id=None, sender="alice@example.com", to=f"design-leave@{DOMAIN}"
        )
        gateway.send(message.as_bytes(), [f"design-leave@{DOMAIN}"], sender="eve@example.com")
        mail.wait("alice@example.com", "confirm_leave")
        mail.send("bob@example.com", f"design-leave@{DOMAIN}")
        mail.wait("bob@example.com", "left")
    assert membership(seeded, "design", "bob@example.com") is None
    assert membership(seeded, "design", "alice@example.com") is not None


AUTHENTICATED = (
    "mx.company.example; dkim=pass header.d=example.com; dmarc=pass header.from=example.com"
)


def forged(mail: Mail, sender: str, to: str, body: str = "\n", envelope: str = "eve@example.org",
           **headers: str) -> None:  # fmt: skip
    """A mail whose From is `sender`, sent by someone else (another envelope sender)."""
    message = post("change", body, message_id=new_message_id(), sender=sender, to=to, **headers)
    answer = mail.gateway.send(message.as_bytes(), [to], sender=envelope)
    assert answer.startswith("250"), answer


def profile_name(app: App, address: str) -> str:
    with transaction(app.read_sessions) as session:
        person = find_person(session, address)
        return person.name if person is not None else ""


@pytest.mark.parametrize("language", ["en"])
def test_a_forged_from_changes_nothing_and_the_address_is_asked(mail: Mail, seeded: App) -> None:
    """Issue 16: anyone could rename anyone (shown on the public archive), and change
    their delivery, mutes and monthly mail. An Authentication-Results header means
    nothing from a relay that is not trusted."""
    bob = "bob@example.com"
    mail.send("alice@example.com", f"design@{DOMAIN}", "Colours", "Blue?")
    wait_for(lambda: len(mail.to(bob)) == 1)
    [mute] = [w for w in text(mail.to(bob)[0]).split() if w.startswith("mailto:mute+")]
    for to, body in [
        (f"profile@{DOMAIN}", "Name: Mallory\nBio: I was hacked.\nMonthly: off\n"),
        (f"design-nomail@{DOMAIN}", "\n"),
        (mute.removeprefix("mailto:").split("?")[0], "\n"),
    ]:
        forged(mail, bob, to, body, Authentication_Results=AUTHENTICATED)
    asked = mail.wait(bob, "confirm_profile")
    assert "Mallory" in text(asked)  # what will change, before it does
    mail.wait(bob, "confirm_delivery")
    mail.wait(bob, "confirm_mute")
    wait_for(lambda: handled(seeded))
    assert profile_name(seeded, bob) != "Mallory"
    with transaction(seeded.read_sessions) as session:
        person = find_person(session, bob)
        assert person is not None and person.monthly_mail is True
        assert session.scalars(select(ThreadMute)).all() == []
    assert membership(seeded, "design", bob).delivery is DeliveryMode.INSTANT  # type: ignore[union-attr]
    assert not mail.to("eve@example.org")
    mail.send(bob, confirm_address(asked))  # bob himself says yes
    mail.wait(bob, "profile")
    assert profile_name(seeded, bob) == "Mallory"


def test_an_authenticated_change_through_a_trusted_relay_applies_at_once(
    seeded: App, settings: Settings, sink: tuple[Sink, int]
) -> None:
    handler, port = sink
    bob, carol = "bob@example.com", "carol@example.com"
    with running(configured(settings, port, "en", trusted_relays=("127.0.0.1",))) as gateway:
        mail = Mail(gateway, handler, "en")
        # The relay checked DKIM and DMARC for example.com: the envelope (a forwarder's,
        # say) need not be the From.
        forged(mail, bob, f"profile@{DOMAIN}", "Name: Bob Chen\n", envelope="srs@fwd.example.net",
               Authentication_Results=AUTHENTICATED)  # fmt: skip
        mail.wait(bob, "profile")
        assert profile_name(seeded, bob) == "Bob Chen"
        forged(mail, bob, f"design-daily@{DOMAIN}", envelope="srs@fwd.example.net",
               Authentication_Results=AUTHENTICATED)  # fmt: skip
        mail.wait(bob, "now_daily")
        assert membership(seeded, "design", bob).delivery is DeliveryMode.DAILY  # type: ignore[union-attr]
        # Envelope and From the same, as a relay that checks senders vouches: at once too.
        mail.send(bob, f"design-weekly@{DOMAIN}")
        wait_for(lambda: membership(seeded, "design", bob).delivery is DeliveryMode.WEEKLY)  # type: ignore[union-attr]
        # A signature of another domain, or a pass only in a lower header: asked.
        for results in [
            "mx.company.example; dkim=pass header.d=evil.org",
            "mx.company.example; dmarc=fail header.from=example.com",
        ]:
            forged(mail, bob, f"profile@{DOMAIN}", "Name: Mallory\n", envelope=carol,
                   Authentication_Results=results)  # fmt: skip
        relay_says = "mx.company.example; none"
        lower = post("change", "Name: Mallory\n", message_id=new_message_id(), sender=bob,
                     to=f"profile@{DOMAIN}", Authentication_Results=relay_says)  # fmt: skip
        lower["Authentication-Results"] = AUTHENTICATED  # below the relay's: the sender's own
        gateway.send(lower.as_bytes(), [f"profile@{DOMAIN}"], sender=carol)
        mail.wait(bob, "confirm_profile", count=3)
        wait_for(lambda: handled(seeded))
    assert profile_name(seeded, bob) == "Bob Chen"


def test_an_action_address_never_publishes_a_post(mail: Mail, seeded: App) -> None:
    mail.send("bob@example.com", f"design-owner@{DOMAIN}", "Hello owners")
    mail.wait("alice@example.com", "owner")
    with transaction(seeded.read_sessions) as session:
        assert session.scalars(select(Message)).all() == []


def test_joins_that_cannot_be_done_say_why(
    seeded: App, settings: Settings, sink: tuple[Sink, int], language: str
) -> None:
    handler, port = sink
    with transaction(seeded.sessions) as session:
        board = session.scalar(select(Community).where(Community.slug == "board"))
        assert board is not None
        board.closed_at = utcnow()
    restricted = configured(settings, port, language)
    restricted = dataclasses.replace(
        restricted,
        gateway=dataclasses.replace(restricted.gateway, allowed_domains=("example.com",)),
    )
    words = {"en": "your request could not be done", "fr": "votre demande n'a pas pu aboutir"}
    with running(restricted) as gateway:
        mail = Mail(gateway, handler, language)
        mail.send("mallory@elsewhere.org", f"design-join@{DOMAIN}")
        mail.send("zoe@example.com", f"board-join@{DOMAIN}")
        wait_for(lambda: handled(seeded))
        wait_for(lambda: len(handler.copies()) == 2)
    for person, expected in (
        ("mallory@elsewhere.org", "elsewhere.org"),
        ("zoe@example.com", "Board"),
    ):
        [answer] = mail.to(person)
        assert words[language] in str(answer["Subject"])
        assert expected in text(answer)
    assert membership(seeded, "design", "mallory@elsewhere.org") is None
    with transaction(seeded.read_sessions) as session:
        assert session.scalars(select(Confirmation)).all() == []
