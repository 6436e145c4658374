"""Each ingest stage on its own: screen's rules as tables, route and authorize on a real store,
and the batch's promise that a failing mail does not take its neighbours down."""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.app import App
from gateway.community.communities import create_community
from gateway.community.members import add_members
from gateway.ingest import pipeline
from gateway.ingest.batch import ingest_now
from gateway.ingest.context import Disposition
from gateway.ingest.context import InboundMail
from gateway.ingest.context import IngestContext
from gateway.ingest.discards import list_discarded
from gateway.ingest.errors import Discard
from gateway.ingest.errors import DiscardReason
from gateway.ingest.errors import HoldReason
from gateway.ingest.stages import authorize
from gateway.ingest.stages import parse
from gateway.ingest.stages import route
from gateway.ingest.stages import screen
from gateway.store.db import transaction
from gateway.store.models import ActionKind
from gateway.store.models import Community
from gateway.store.models import Message
from gateway.store.models import MessageCommunity
from gateway.store.models import MessageStatus
from gateway.store.models import Origin
from gateway.store.models import Policy
from gateway.store.models import Role
from tests.faults import FailsOnBadSubject

DOMAIN = "lists.example.com"
NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def context(session: Session, app: App, *recipients: str, sender: str = "alice@example.com",
            headers: str = "", envelope_sender: str | None = None) -> IngestContext:  # fmt: skip
    raw = f"From: {sender}\r\nSubject: Hello\r\nMessage-ID: <m@x>\r\n{headers}\r\nBody\r\n"
    mail = InboundMail(raw.encode(), sender if envelope_sender is None else envelope_sender,
                       tuple(recipients), NOW)  # fmt: skip
    ctx = IngestContext(mail=mail, session=session, blobs=app.blobs, domain=DOMAIN,
                        allowed_domains=("example.com",))  # fmt: skip
    parse.run(ctx)
    return ctx


@pytest.mark.parametrize(
    ("headers", "verdict"),
    [
        ("", None),
        ("Auto-Submitted: no\r\n", None),
        ("Auto-Submitted: auto-replied\r\n", DiscardReason.AUTO_REPLY),
        ("Auto-Submitted: auto-generated\r\n", DiscardReason.AUTO_REPLY),
        # Precedence alone does not say a post is automatic: lists relay people's mail with it.
        ("Precedence: bulk\r\n", None),
        ("Precedence: junk\r\n", None),
        ("Precedence: list\r\n", None),
        ("Precedence: list\r\nList-Id: <fedora-devel-list.redhat.com>\r\n", None),
        ("Precedence: first-class\r\n", None),
        ("X-Autoreply: yes\r\n", DiscardReason.AUTO_REPLY),
        ("X-Autorespond: yes\r\n", DiscardReason.AUTO_REPLY),
        ("Precedence: bulk\r\nAuto-Submitted: auto-generated\r\n", DiscardReason.AUTO_REPLY),
        (f"X-Gateway-Loop: {DOMAIN}\r\n", DiscardReason.LOOP),
        ("X-Gateway-Loop: lists.other.org\r\n", None),
        (f"List-Id: Design <design.{DOMAIN}>\r\n", DiscardReason.LOOP),
        ("List-Id: <fedora-devel-list.redhat.com>\r\n", None),
    ],
)
def test_screen_discards_a_post_only_when_it_says_it_is_automatic(
    session: Session, app: App, headers: str, verdict: DiscardReason | None
) -> None:
    ctx = context(session, app, f"design@{DOMAIN}", headers=headers)
    if verdict is None:
        screen.run(ctx)
        assert not ctx.is_report
    else:
        with pytest.raises(Discard) as discarded:
            screen.run(ctx)
        assert discarded.value.reason is verdict


@pytest.mark.parametrize(
    ("headers", "sender", "envelope_sender"),
    [
        ("Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n",
         "mailer-daemon@example.org", "mailer-daemon@example.org"),
        ("Content-Type: message/delivery-status\r\n", "someone@example.org", ""),
        ("Auto-Submitted: auto-replied\r\n", "MAILER-DAEMON@example.org", ""),
        ("", "postmaster@example.org", ""),
    ],
)  # fmt: skip
def test_screen_spots_delivery_reports_before_auto_replies(
    session: Session, app: App, headers: str, sender: str, envelope_sender: str
) -> None:
    ctx = context(session, app, f"design@{DOMAIN}", sender=sender, headers=headers,
                  envelope_sender=envelope_sender)  # fmt: skip
    screen.run(ctx)
    assert ctx.is_report


def test_mail_with_a_null_sender_is_never_a_post(session: Session, app: App) -> None:
    """RFC 5321 section 4.5.5: only notifications use the null sender; one our readers
    do not recognise still goes to bounce handling, never to the community."""
    ctx = context(session, app, f"design@{DOMAIN}", sender="notify@example.org",
                  envelope_sender="")  # fmt: skip
    screen.run(ctx)
    assert ctx.is_report


def test_a_bounce_only_flufl_bounce_reads_is_a_report(session: Session, app: App) -> None:
    qmail = (
        "Hi. This is the qmail-send program at mx.example.net.\r\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\r\n"
        "This is a permanent error; I've given up. Sorry it didn't work out.\r\n\r\n"
        "<carol@example.net>:\r\nSorry, no mailbox here by that name. (#5.1.1)\r\n"
    )
    raw = f"From: postmaster@mx.example.net\r\nSubject: failure notice\r\n\r\n{qmail}"
    mail = InboundMail(raw.encode(), "postmaster@mx.example.net", (f"design@{DOMAIN}",), NOW)
    ctx = IngestContext(mail=mail, session=session, blobs=app.blobs, domain=DOMAIN)
    parse.run(ctx)
    screen.run(ctx)
    assert ctx.is_report


def test_a_postmaster_with_a_sender_is_not_a_report(session: Session, app: App) -> None:
    ctx = context(session, app, f"design@{DOMAIN}", sender="postmaster@example.org")
    screen.run(ctx)
    assert not ctx.is_report


def test_route_finds_communities_and_actions(session: Session, app: App) -> None:
    create_community(session, "design", "Design")
    create_community(session, "ux", "UX")
    ctx = context(session, app, f"ux@{DOMAIN}", f"Design@{DOMAIN}", f"design-join@{DOMAIN}",
                  f"profile@{DOMAIN}")  # fmt: skip
    route.run(ctx)
    assert [c.slug for c in ctx.communities] == ["design", "ux"]
    assert [(a.slug, a.action) for a in ctx.actions] == [("design", "join"), ("", "profile")]
    assert ctx.status is MessageStatus.PUBLISHED


def test_route_sends_reports_to_bounce_handling(session: Session, app: App) -> None:
    create_community(session, "design", "Design")
    ctx = context(session, app, f"design@{DOMAIN}")
    ctx.is_report = True
    route.run(ctx)
    assert ctx.communities == []
    assert [(a.address, a.action) for a in ctx.actions] == [(f"design@{DOMAIN}", "bounces")]


@pytest.mark.parametrize(
    ("policy", "sender", "held_for"),
    [
        (Policy.OPEN, "zoe@example.com", []),
        (Policy.OPEN, "zoe@elsewhere.org", [HoldReason.DOMAIN_NOT_ALLOWED]),
        (Policy.OPEN, "member@elsewhere.org", []),  # members of an open community may post
        (Policy.MEMBERS, "member@elsewhere.org", []),
        (Policy.MEMBERS, "zoe@example.com", [HoldReason.NOT_MEMBER]),
        (Policy.MODERATED, "owner@example.com", [HoldReason.MODERATED]),
        (Policy.ANNOUNCE, "owner@example.com", []),
        (Policy.ANNOUNCE, "moderator@example.com", []),
        (Policy.ANNOUNCE, "member@elsewhere.org", [HoldReason.ANNOUNCE_ONLY]),
    ],
)
def test_authorize(
    session: Session, app: App, policy: Policy, sender: str, held_for: list[HoldReason]
) -> None:
    community = create_community(session, "design", "Design", policy=policy)
    add_members(session, community, ["member@elsewhere.org"])
    add_members(session, community, ["owner@example.com"], role=Role.OWNER)
    add_members(session, community, ["moderator@example.com"], role=Role.MODERATOR)
    ctx = context(session, app, f"design@{DOMAIN}", sender=sender)
    route.run(ctx)
    authorize.run(ctx)
    assert ctx.reasons == held_for
    assert ctx.status is (MessageStatus.HELD if held_for else MessageStatus.PUBLISHED)


@pytest.mark.parametrize(
    ("headers", "hold_list_mail", "held_for"),
    [
        ("Precedence: list\r\n", True, [HoldReason.LIST_MAIL]),
        ("Precedence: bulk\r\n", True, [HoldReason.LIST_MAIL]),
        ("List-Id: <fedora-devel-list.redhat.com>\r\n", True, [HoldReason.LIST_MAIL]),
        ("Precedence: junk\r\n", True, []),
        ("", True, []),
        ("Precedence: list\r\nList-Id: <fedora-devel-list.redhat.com>\r\n", False, []),
    ],
)
def test_a_community_may_hold_mail_from_another_list(
    session: Session, app: App, headers: str, hold_list_mail: bool, held_for: list[HoldReason]
) -> None:
    create_community(session, "open", "Open", policy=Policy.OPEN, hold_list_mail=hold_list_mail)
    ctx = context(session, app, f"open@{DOMAIN}", sender="zoe@example.com", headers=headers)
    screen.run(ctx)
    route.run(ctx)
    authorize.run(ctx)
    assert ctx.reasons == held_for


def test_a_cross_post_is_held_if_any_community_holds_it(session: Session, app: App) -> None:
    create_community(session, "open", "Open", policy=Policy.OPEN)
    moderated = create_community(session, "mod", "Moderated", policy=Policy.MODERATED)
    ctx = context(session, app, f"open@{DOMAIN}", f"mod@{DOMAIN}")
    route.run(ctx)
    authorize.run(ctx)
    assert (ctx.status, ctx.reasons) == (MessageStatus.HELD, [HoldReason.MODERATED])
    assert ctx.holds == {moderated.id: [HoldReason.MODERATED]}  # open holds nothing itself


def test_each_community_keeps_its_own_reasons(session: Session, app: App) -> None:
    members = create_community(session, "design", "Design", policy=Policy.MEMBERS)
    announce = create_community(session, "news", "News", policy=Policy.ANNOUNCE)
    moderated = create_community(session, "board", "Board", policy=Policy.MODERATED)
    add_members(session, announce, ["zoe@example.com"])
    ctx = context(session, app, f"design@{DOMAIN}", f"news@{DOMAIN}", f"board@{DOMAIN}",
                  sender="zoe@example.com")  # fmt: skip
    route.run(ctx)
    authorize.run(ctx)
    assert ctx.holds == {
        members.id: [HoldReason.NOT_MEMBER],
        announce.id: [HoldReason.ANNOUNCE_ONLY],
        moderated.id: [HoldReason.MODERATED],
    }


@pytest.mark.parametrize("origin", [Origin.SMTP, Origin.IMPORT])
def test_a_community_closed_after_the_edge_accepted_holds_in_authorize_not_route(
    session: Session, app: App, origin: Origin
) -> None:
    create_community(session, "open", "Open", policy=Policy.OPEN)
    closed = create_community(session, "old", "Old", policy=Policy.OPEN)
    closed.closed_at = NOW
    session.flush()
    ctx = context(session, app, f"open@{DOMAIN}", f"old@{DOMAIN}")
    ctx.mail = dataclasses.replace(ctx.mail, origin=origin)
    route.run(ctx)
    assert [c.slug for c in ctx.communities] == ["old", "open"]
    assert ctx.holds == {}  # routing finds where it goes; it decides nothing
    authorize.run(ctx)
    assert ctx.holds == {closed.id: [HoldReason.COMMUNITY_CLOSED]}


def test_a_held_post_is_stored_with_its_reasons_per_community(app: App) -> None:
    with transaction(app.sessions) as session:
        create_community(session, "design", "Design", policy=Policy.MEMBERS)
        create_community(session, "board", "Board", policy=Policy.MODERATED)
        create_community(session, "open", "Open", policy=Policy.OPEN)
    raw = b"From: zoe@example.com\r\nSubject: Plans\r\nMessage-ID: <p@x>\r\n\r\nBody\r\n"
    to = tuple(f"{slug}@{DOMAIN}" for slug in ("design", "board", "open"))
    [result] = ingest_now(app, [InboundMail(raw, "zoe@example.com", to, NOW)])
    assert not isinstance(result, Exception), result
    assert result.disposition is Disposition.HELD
    assert result.reasons == (HoldReason.MODERATED, HoldReason.NOT_MEMBER)  # board, design
    with transaction(app.read_sessions) as session:
        rows = session.execute(
            select(Community.slug, MessageCommunity.hold_reasons).join(
                MessageCommunity, MessageCommunity.community_id == Community.id
            )
        )
        stored = {slug: reasons for slug, reasons in rows}
    assert stored == {"design": ["not-member"], "board": ["moderated"], "open": []}


def test_a_published_post_has_no_hold_reason(app: App) -> None:
    with transaction(app.sessions) as session:
        create_community(session, "open", "Open", policy=Policy.OPEN)
    raw = b"From: zoe@example.com\r\nSubject: Hi\r\nMessage-ID: <h@x>\r\n\r\nBody\r\n"
    [result] = ingest_now(app, [InboundMail(raw, "zoe@example.com", (f"open@{DOMAIN}",), NOW)])
    assert not isinstance(result, Exception), result
    assert (result.disposition, result.reasons) == (Disposition.PUBLISHED, ())
    with transaction(app.read_sessions) as session:
        assert session.scalars(select(MessageCommunity.hold_reasons)).all() == [[]]


def test_a_failing_mail_fails_alone_and_its_batch_is_committed(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "STAGES", (*pipeline.STAGES, FailsOnBadSubject))
    with transaction(app.sessions) as session:
        create_community(session, "design", "Design", policy=Policy.OPEN)
    mails = [
        InboundMail(f"Subject: {subject}\r\nMessage-ID: <{subject}@x>\r\n\r\nx\r\n".encode(),
                    "a@example.com", (f"design@{DOMAIN}",), NOW)
        for subject in ("one", "bad", "two", "three")
    ]  # fmt: skip
    outcomes = ingest_now(app, mails)
    assert [isinstance(outcome, Exception) for outcome in outcomes] == [False, True, False, False]
    with transaction(app.read_sessions) as session:
        stored = sorted(session.scalars(select(Message.message_id)))
    assert stored == ["one@x", "three@x", "two@x"]


def test_each_disposition_says_what_became_of_a_mail(app: App) -> None:
    with transaction(app.sessions) as session:
        create_community(session, "open", "Open", policy=Policy.OPEN)

    def mail(message_id: str, to: str, headers: str = "") -> InboundMail:
        raw = f"From: zoe@example.com\r\nMessage-ID: <{message_id}>\r\n{headers}\r\nHi\r\n"
        return InboundMail(raw.encode(), "zoe@example.com", (f"{to}@{DOMAIN}",), NOW)

    results = ingest_now(
        app,
        [
            mail("a@x", "open"),
            mail("b@x", "open", "Auto-Submitted: auto-replied\r\n"),
            mail("c@x", "open-join"),
            mail("d@x", "open", "Precedence: list\r\nList-Id: <other.example.org>\r\n"),
        ],
    )
    [again] = ingest_now(app, [mail("a@x", "open")])
    said = [(r.disposition, r.reasons) for r in [*results, again] if not isinstance(r, Exception)]
    assert said == [
        (Disposition.PUBLISHED, ()),
        (Disposition.DISCARDED, (DiscardReason.AUTO_REPLY,)),
        (Disposition.ACTION, (ActionKind.JOIN,)),
        (Disposition.PUBLISHED, ()),
        (Disposition.DUPLICATE, ()),
    ]


def test_every_discard_leaves_a_record_admins_can_list(app: App) -> None:
    raw = (
        "From: Zoe <zoe@example.com>\r\nSubject: Out of office\r\nMessage-ID: <ooo@x>\r\n"
        "Auto-Submitted: auto-replied\r\n\r\nBack Monday\r\n"
    )
    ingest_now(app, [InboundMail(raw.encode(), "zoe@example.com", (f"open@{DOMAIN}",), NOW)])
    with transaction(app.read_sessions) as session:
        [record] = list_discarded(session, 10)
    assert record | {"id": 0, "discarded_at": ""} == {
        "id": 0, "sender": "zoe@example.com", "recipients": [f"open@{DOMAIN}"],
        "message_id": "ooo@x", "subject": "Out of office", "reason": "auto-reply",
        "received_at": NOW.isoformat(), "discarded_at": "",
    }  # fmt: skip


def test_every_stage_is_a_mail_stage_or_a_batch_stage_and_none_imports_another() -> None:
    """The pipeline calls run(ctx) or run_batch(ctxs): a stage with both would keep a path
    that never runs. Stages share code through plain modules (gateway.ingest.action_rows)."""
    for stage in pipeline.STAGES:
        assert hasattr(stage, "run") != isinstance(stage, pipeline.BatchStage), stage.__name__
        tree = ast.parse(Path(stage.__file__).read_text())
        imported = {
            node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module is not None
        }
        assert not {m for m in imported if m.startswith("gateway.ingest.stages")}, stage.__name__
